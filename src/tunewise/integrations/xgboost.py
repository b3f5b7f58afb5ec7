"""XGBoost: report an evaluation metric every boosting round, stop when the study says so.

::

    from tunewise.integrations.xgboost import TunewiseCallback

    def train(params, trial):
        model = xgboost.XGBClassifier(n_estimators=params["rounds"], eval_metric="logloss",
                                      callbacks=[TunewiseCallback("validation_0-logloss")])
        model.fit(x_train, y_train, eval_set=[(x_valid, y_valid)])

``monitor`` names the evaluation as XGBoost logs it, ``"<data>-<metric>"``: the scikit-learn
API names its eval sets ``validation_0``, ``validation_1``, ...; ``xgboost.train`` uses the
names given in ``evals`` (``"eval-auc"``). The callback reports the round's value at step
``round + 1`` under the name ``metric`` (default: ``monitor``; make it the study's objective, so
the last value is the trial's result), and ends training (``after_iteration`` returns True)
when the study's early-stopping rule or Hyperband stops the trial — with Hyperband, make the
number of rounds the resource (``static: {n_estimators: 200}``, ``hyperband: {resource:
n_estimators}``). The same code works in a command trial (``@tunewise`` lines; the runner's
SIGTERM ends training after the current round) and outside any trial (it only prints).

Needs ``pip install tunewise[xgboost]``; importing this module imports XGBoost, importing
``tunewise`` does not.
"""

from __future__ import annotations

from typing import Any

import xgboost

from tunewise.integrations._control import (
    LinkedCallback,
    TrialLike,
    missing_metric,
)

__all__ = ["TunewiseCallback"]


class TunewiseCallback(LinkedCallback, xgboost.callback.TrainingCallback):
    """An XGBoost training callback; ``last_value`` holds the last value reported,
    ``stopped_by`` why it stopped training (``None``, ``"study"``, ``"sigterm"``)."""

    def __init__(
        self,
        monitor: str = "validation_0-logloss",
        *,
        metric: str | None = None,
        trial: TrialLike | None = None,
    ) -> None:
        super().__init__(monitor, metric=metric, trial=trial)

    def before_training(self, model: Any) -> Any:
        self._link.begin()
        return model

    def after_training(self, model: Any) -> Any:
        self._link.end()
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
        value = _latest(evals_log, self.monitor)
        if value is None:
            self._link.end()
            keys = [f"{data}-{name}" for data, logs in evals_log.items() for name in logs]
            raise missing_metric(self.monitor, keys, "XGBoost's evaluation log")
        return self._link.report(value, step=epoch + 1)


def _latest(evals_log: Any, monitor: str) -> Any:
    """The last value of ``monitor`` (``data-metric``) in XGBoost's log, or None; data names
    may hold dashes, so each data set's prefix is tried. ``xgboost.cv`` logs (mean, std)."""
    for data, logs in evals_log.items():
        prefix = f"{data}-"
        if monitor.startswith(prefix) and monitor[len(prefix) :] in logs:
            history = logs[monitor[len(prefix) :]]
            if history:
                last = history[-1]
                return last[0] if isinstance(last, tuple) else last
    return None
