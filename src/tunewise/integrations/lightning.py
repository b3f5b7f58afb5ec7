"""PyTorch Lightning: report a logged metric every epoch, stop when the study says so.

::

    from tunewise.integrations.lightning import TunewiseCallback

    def train(params, trial):
        model = MyModule(lr=params["lr"])           # logs self.log("val_loss", ...)
        trainer = L.Trainer(max_epochs=params["epochs"],
                            callbacks=[TunewiseCallback(monitor="val_loss")])
        trainer.fit(model, train_loader, val_loader)

The callback reports ``trainer.callback_metrics[monitor]`` at step ``epoch + 1`` after each
validation run (or, without a validation loop, at each training epoch's end), under the name
``metric`` (default: ``monitor``; make it the study's objective, so the last value is the
trial's result). When the study's early-stopping rule or Hyperband stops the trial it sets
``trainer.should_stop``, and ``fit`` returns normally after the current step: the training
function goes on (return nothing to keep the last reported value as the result). The same code
works in a command trial (``@tunewise`` lines; the runner's SIGTERM ends training at the next
batch) and outside any trial (it only prints its lines). Single-process training: under DDP,
give the callback to every rank and let rank 0 decide (a limit of this version).

Needs ``pip install tunewise[lightning]``; importing this module imports Lightning, importing
``tunewise`` does not.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from tunewise.integrations._control import (
    LinkedCallback,
    TrialLike,
    missing_metric,
)

__all__ = ["TunewiseCallback"]


class TunewiseCallback(LinkedCallback, pl.Callback):
    """Reports ``monitor`` to the trial each epoch and sets ``trainer.should_stop`` when the
    study decides; ``last_value`` holds the last value reported, ``stopped_by`` why it
    stopped training (``None``, ``"study"``, ``"sigterm"``)."""

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        metric: str | None = None,
        trial: TrialLike | None = None,
    ) -> None:
        super().__init__(monitor, metric=metric, trial=trial)
        self._reported_epoch = -1
        self._from_validation = False

    # Lightning sets its own SIGTERM handler after on_fit_start (it makes the loops raise
    # SIGTERMException, which ends fit with an exception): ours replaces it once training
    # starts, so the runner's SIGTERM ends fit normally, and gives it back at the end.
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._link.begin()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._link.end()

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        self._link.end()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if self._link.signalled():
            trainer.should_stop = True

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self._from_validation = True
        self._report(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._from_validation or self._reported_epoch == trainer.current_epoch:
            return
        if self.monitor not in trainer.callback_metrics:
            if trainer.should_stop:  # stopped mid-epoch: nothing new to report
                return
            raise missing_metric(
                self.monitor, [str(k) for k in trainer.callback_metrics], "the LightningModule"
            )
        self._report(trainer)

    def _report(self, trainer: pl.Trainer) -> None:
        self._reported_epoch = trainer.current_epoch
        value = trainer.callback_metrics[self.monitor]
        if self._link.report(value, step=trainer.current_epoch + 1):
            trainer.should_stop = True
