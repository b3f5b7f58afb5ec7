"""The XGBoost and LightGBM callbacks against the real libraries on CPU: Hyperband stops a
trial after its first boosting round (``after_iteration`` returns True; LightGBM's own
``EarlyStopException``), a command trial ends cleanly on the runner's SIGTERM, outside any trial
the callbacks only print their report lines, and a metric that is not logged is named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integrations.frameworks import (
    check_hyperband_outcome,
    hyperband_study,
    run_command_trial,
)
from tunewise.trial import TrialState

pytestmark = pytest.mark.timeout(120)

DATA = """
import numpy as np

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 4))
Y = (X[:, 0] - X[:, 1] > 0).astype(int)


def fit_xgboost(lr, rounds, callback):
    import xgboost

    model = xgboost.XGBClassifier(n_estimators=rounds, learning_rate=lr, max_depth=2,
                                  n_jobs=1, eval_metric="logloss", callbacks=[callback])
    return model.fit(X[:150], Y[:150], eval_set=[(X[150:], Y[150:])], verbose=False)


def fit_lightgbm(lr, rounds, callback):
    import lightgbm

    train = lightgbm.Dataset(X[:150], Y[:150])
    valid = lightgbm.Dataset(X[150:], Y[150:], reference=train)
    params = {"objective": "binary", "learning_rate": lr, "num_leaves": 4, "num_threads": 1,
              "min_data_in_leaf": 5, "verbose": -1}
    return lightgbm.train(params, train, num_boost_round=rounds, valid_sets=[valid],
                          valid_names=["valid"], callbacks=[callback])
"""

namespace: dict[str, Any] = {}
exec(compile(DATA, "boosting_data", "exec"), namespace)

LIBRARIES = {
    # library: (the callback's module, its monitor, the fit function)
    "xgboost": ("tunewise.integrations.xgboost", "validation_0-logloss", "fit_xgboost"),
    "lightgbm": ("tunewise.integrations.lightgbm", "valid-binary_logloss", "fit_lightgbm"),
}


def callback_for(library: str, **kwargs: Any) -> Any:
    import importlib

    module, monitor, _ = LIBRARIES[library]
    kwargs.setdefault("monitor", monitor)
    return importlib.import_module(module).TunewiseCallback(**kwargs)


def fit(library: str, lr: float, rounds: int, callback: Any) -> Any:
    return namespace[LIBRARIES[library][2]](lr, rounds, callback)


def train_xgboost(params: dict[str, Any], trial: Any) -> dict[str, int]:
    callback = callback_for("xgboost", metric="logloss", trial=trial)
    model = fit("xgboost", params["lr"], params["epochs"], callback)
    return {"epochs_trained": model.get_booster().num_boosted_rounds()}


def train_lightgbm(params: dict[str, Any]) -> dict[str, int]:
    callback = callback_for("lightgbm", metric="logloss")  # finds the running trial itself
    booster = fit("lightgbm", params["lr"], params["epochs"], callback)
    return {"epochs_trained": booster.current_iteration()}


@pytest.mark.parametrize("func", [train_xgboost, train_lightgbm])
def test_hyperband_stops_a_boosting_trial_after_its_first_round(func: Any) -> None:
    study = hyperband_study("logloss", "minimize", good_lr=0.5)
    study.optimize(func, n_trials=2, progress=False)
    check_hyperband_outcome(study, "logloss")


COMMAND = (
    DATA
    + """
import json, os, sys
import importlib

callback = importlib.import_module(module).TunewiseCallback(monitor, metric="logloss")
globals()[fit](0.01, 5000, callback)
# training returned normally: the script goes on after a stop
with open(os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "done.json"), "w") as f:
    json.dump({"rounds": callback._link.reports, "stopped_by": callback.stopped_by}, f)
"""
)


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_command_trial_ends_cleanly_on_the_runners_sigterm(library: str, tmp_path: Path) -> None:
    module, monitor, fit_name = LIBRARIES[library]
    source = f"module, monitor, fit = {module!r}, {monitor!r}, {fit_name!r}\n{COMMAND}"
    outcome, recorder, trial_dir = run_command_trial(tmp_path, source, "logloss", stop_after=1)
    assert outcome.state is TrialState.STOPPED, outcome
    assert recorder.reports[0][0] == 1  # steps are rounds, from 1
    assert outcome.value == recorder.reports[-1][1]["logloss"]
    done = json.loads((trial_dir / "done.json").read_text())  # it finished its script
    assert done["stopped_by"] == "sigterm"
    assert done["rounds"] < 5000


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_outside_a_trial_the_callback_prints_report_lines(
    library: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    callback = callback_for(library)
    fit(library, 0.3, 3, callback)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("@tunewise")]
    reported = [json.loads(line.split(" ", 1)[1]) for line in lines]
    assert [r["step"] for r in reported] == [1, 2, 3]
    assert reported[-1][LIBRARIES[library][1]] == callback.last_value
    assert callback.stopped_by is None


@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_a_metric_that_is_not_logged_is_named(
    library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    logged = LIBRARIES[library][1]
    with pytest.raises(KeyError, match=rf"'valid-auc'.*logged: {logged}"):
        fit(library, 0.3, 2, callback_for(library, monitor="valid-auc"))


def test_lightgbm_finds_a_metric_by_its_bare_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    callback = callback_for("lightgbm", monitor="binary_logloss")
    booster = fit("lightgbm", 0.3, 2, callback)
    assert callback.last_value == pytest.approx(booster.best_score["valid"]["binary_logloss"])
    assert np.isfinite(callback.last_value)
