"""The Keras 3 callback against real Keras on the torch backend, on CPU: Hyperband stops a
trial mid-training (``model.stop_training``), a command trial ends cleanly on the runner's
SIGTERM, and outside any trial the callback only prints its report lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ["KERAS_BACKEND"] = "torch"  # before Keras is imported; trials inherit it

from tests.integrations.frameworks import (
    BAD_LR,
    check_hyperband_outcome,
    hyperband_study,
    run_command_trial,
)
from tunewise.trial import TrialState

pytestmark = [
    pytest.mark.timeout(120),
    # Keras's torch backend on NumPy 2 (keras/src/backend/torch/core.py), not ours
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept:DeprecationWarning"),
]

MODEL = """
import numpy as np
import keras
import torch

torch.set_num_threads(1)
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 4)).astype("float32")
Y = X @ np.array([[1.0], [-2.0], [0.5], [3.0]], dtype="float32")


def fit(lr, epochs, callback):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model.fit(X, Y, validation_data=(X, Y), batch_size=16, epochs=epochs, verbose=0,
                     callbacks=[callback])
"""

namespace: dict[str, Any] = {}


def model() -> dict[str, Any]:
    if not namespace:
        exec(compile(MODEL, "keras_model", "exec"), namespace)
    return namespace


def train(params: dict[str, Any], trial: Any) -> dict[str, int]:
    from tunewise.integrations.keras import TunewiseCallback

    callback = TunewiseCallback(monitor="val_loss", trial=trial)
    history = model()["fit"](params["lr"], params["epochs"], callback)
    return {"epochs_trained": len(history.history["loss"])}


def test_hyperband_stops_a_keras_trial_mid_training() -> None:
    model()  # import Keras before the trials fork
    study = hyperband_study("val_loss", "minimize", good_lr=0.05)
    study.optimize(train, n_trials=2, progress=False)
    check_hyperband_outcome(study, "val_loss")


COMMAND = (
    MODEL
    + """
import json, os
from tunewise.integrations.keras import TunewiseCallback

callback = TunewiseCallback(monitor="val_loss", metric="loss")
history = fit(0.05, 2000, callback)
# fit returned normally: the script goes on after a stop (saves its model, says how it ended)
with open(os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "done.json"), "w") as f:
    json.dump({"epochs": len(history.history["loss"]), "stopped_by": callback.stopped_by}, f)
"""
)


def test_a_command_trial_ends_cleanly_on_the_runners_sigterm(tmp_path: Path) -> None:
    outcome, recorder, trial_dir = run_command_trial(
        tmp_path, COMMAND, "loss", stop_after=1, env={"KERAS_BACKEND": "torch"}
    )
    assert outcome.state is TrialState.STOPPED, outcome
    assert recorder.reports[0][0] == 1  # steps are epochs, from 1
    assert outcome.value == recorder.reports[-1][1]["loss"]
    done = json.loads((trial_dir / "done.json").read_text())  # it finished its script
    assert done == {"epochs": done["epochs"], "stopped_by": "sigterm"}
    assert done["epochs"] < 2000


def test_outside_a_trial_the_callback_prints_report_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunewise.integrations.keras import TunewiseCallback

    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    callback = TunewiseCallback(monitor="val_loss")
    model()["fit"](BAD_LR, 2, callback)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("@tunewise")]
    assert [json.loads(line.split(" ", 1)[1])["step"] for line in lines] == [1, 2]
    assert callback.stopped_by is None and callback.last_value is not None


def test_a_metric_fit_never_logs_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from tunewise.integrations.keras import TunewiseCallback

    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    with pytest.raises(KeyError, match=r"val_accuracy.*logged: loss, val_loss"):
        model()["fit"](0.1, 1, TunewiseCallback(monitor="val_accuracy"))
