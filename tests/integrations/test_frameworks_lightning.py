"""The Lightning callback against real Lightning on CPU: Hyperband stops a trial mid-training
(``trainer.should_stop``), a command trial ends cleanly on the runner's SIGTERM, and outside any
trial the callback only prints its report lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.integrations.frameworks import (
    BAD_LR,
    check_hyperband_outcome,
    hyperband_study,
    run_command_trial,
)
from tunewise.trial import TrialState

torch.set_num_threads(1)  # trials are forked: no thread pool to inherit; 2 shared cores
pytestmark = pytest.mark.timeout(120)

MODEL = """
import lightning.pytorch as pl
import torch

torch.set_num_threads(1)


class Regression(pl.LightningModule):
    \"\"\"y = x @ w on 64 points; logs val_loss each validation run.\"\"\"

    def __init__(self, lr: float) -> None:
        super().__init__()
        self.lr = lr
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
    data = torch.utils.data.TensorDataset(x, y)
    return (torch.utils.data.DataLoader(data, batch_size=16),
            torch.utils.data.DataLoader(data, batch_size=64))


def trainer(epochs, callback):
    return pl.Trainer(max_epochs=epochs, callbacks=[callback], accelerator="cpu", devices=1,
                      logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, num_sanity_val_steps=0)
"""

namespace: dict[str, Any] = {}
exec(compile(MODEL, "lightning_model", "exec"), namespace)


def train(params: dict[str, Any], trial: Any) -> dict[str, int]:
    from tunewise.integrations.lightning import TunewiseCallback

    torch.manual_seed(0)
    train_loader, val_loader = namespace["loaders"]()
    model = namespace["Regression"](params["lr"])
    callback = TunewiseCallback(monitor="val_loss", trial=trial)
    trainer = namespace["trainer"](params["epochs"], callback)
    trainer.fit(model, train_loader, val_loader)
    return {"epochs_trained": trainer.current_epoch}


def train_without_trial(params: dict[str, Any]) -> dict[str, int]:
    """The callback given no trial finds the running Python trial by itself."""
    from tunewise.integrations.lightning import TunewiseCallback

    torch.manual_seed(0)
    train_loader, val_loader = namespace["loaders"]()
    model = namespace["Regression"](params["lr"])
    callback = TunewiseCallback(monitor="val_loss")
    trainer = namespace["trainer"](params["epochs"], callback)
    trainer.fit(model, train_loader, val_loader)
    return {"epochs_trained": trainer.current_epoch}


@pytest.mark.parametrize("func", [train, train_without_trial])
def test_hyperband_stops_a_lightning_trial_mid_training(func: Any) -> None:
    study = hyperband_study("val_loss", "minimize")
    study.optimize(func, n_trials=2, progress=False)
    check_hyperband_outcome(study, "val_loss")


COMMAND = (
    MODEL
    + """
import json, os, sys
from tunewise.integrations.lightning import TunewiseCallback

train_loader, val_loader = loaders()
callback = TunewiseCallback(monitor="val_loss", metric="loss")
fitter = trainer(int(sys.argv[1]), callback)
fitter.fit(Regression(0.05), train_loader, val_loader)
# fit returned normally: the script goes on after a stop (saves its model, says how it ended)
with open(os.path.join(os.environ.get("TUNEWISE_TRIAL_DIR", "."), "done.json"), "w") as f:
    json.dump({"epochs": fitter.current_epoch, "stopped_by": callback.stopped_by,
               "last": callback.last_value}, f)
"""
)


def test_a_command_trial_ends_cleanly_on_the_runners_sigterm(tmp_path: Path) -> None:
    # 2,000 epochs would take a minute: the stop after the first report must end it early.
    source = COMMAND.replace("int(sys.argv[1])", "2000")
    outcome, recorder, trial_dir = run_command_trial(tmp_path, source, "loss", stop_after=1)
    assert outcome.state is TrialState.STOPPED, outcome
    assert recorder.reports[0][0] == 1  # steps are epochs, from 1
    done = json.loads((trial_dir / "done.json").read_text())  # it finished its script
    assert done["stopped_by"] == "sigterm"
    assert done["epochs"] < 2000
    assert outcome.value == recorder.reports[-1][1]["loss"]


def test_outside_a_trial_the_callback_prints_report_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from tunewise.integrations.lightning import TunewiseCallback

    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    train_loader, val_loader = namespace["loaders"]()
    callback = TunewiseCallback(monitor="val_loss")
    namespace["trainer"](2, callback).fit(namespace["Regression"](BAD_LR), train_loader, val_loader)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("@tunewise")]
    steps = [json.loads(line.split(" ", 1)[1])["step"] for line in lines]
    assert steps == [1, 2]
    assert callback.stopped_by is None and callback.last_value is not None


def test_a_metric_the_module_never_logs_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from tunewise.integrations.lightning import TunewiseCallback

    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    train_loader, _ = namespace["loaders"]()
    callback = TunewiseCallback(monitor="val_acc")
    with pytest.raises(KeyError, match="val_acc"):
        namespace["trainer"](1, callback).fit(namespace["Regression"](0.1), train_loader)
