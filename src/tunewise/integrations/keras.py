"""Keras 3: report a logged metric every epoch, stop when the study says so.

::

    from tunewise.integrations.keras import TunewiseCallback

    def train(params, trial):
        model = build_model(params["lr"])
        model.fit(x, y, validation_split=0.2, epochs=params["epochs"],
                  callbacks=[TunewiseCallback(monitor="val_loss")])

The callback reports ``logs[monitor]`` at step ``epoch + 1`` at each epoch's end, under the
name ``metric`` (default: ``monitor``; make it the study's objective, so the last value is the
trial's result). When the study's early-stopping rule or Hyperband stops the trial it sets
``model.stop_training``, and ``fit`` returns normally with its history: the training function
goes on (return nothing to keep the last reported value as the result). The same code works in
a command trial (``@tunewise`` lines; the runner's SIGTERM ends training after the current
batch) and outside any trial (it only prints its lines). Any Keras 3 backend.

Needs ``pip install tunewise[keras]`` and a backend (``torch``, ``jax`` or ``tensorflow``);
importing this module imports Keras, importing ``tunewise`` does not.
"""

from __future__ import annotations

from typing import Any

import keras

from tunewise.integrations._control import (
    LinkedCallback,
    TrialLike,
    missing_metric,
)

__all__ = ["TunewiseCallback"]


class TunewiseCallback(LinkedCallback, keras.callbacks.Callback):
    """Reports ``monitor`` to the trial each epoch and sets ``model.stop_training`` when the
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

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._link.begin()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._link.end()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._link.signalled():
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.monitor not in logs:
            self._link.end()  # fit ends with the error: SIGTERM is the default's again
            raise missing_metric(self.monitor, [str(k) for k in logs], "Keras's fit")
        if self._link.report(logs[self.monitor], step=epoch + 1):
            self.model.stop_training = True
