"""LightGBM: report an evaluation metric every boosting round, stop when the study says so.

::

    from tunewise.integrations.lightgbm import TunewiseCallback

    def train(params, trial):
        booster = lightgbm.train(
            {"objective": "binary", "learning_rate": params["lr"]}, train_set,
            num_boost_round=params["rounds"], valid_sets=[valid_set], valid_names=["valid"],
            callbacks=[TunewiseCallback("valid-binary_logloss")])

``monitor`` names the evaluation as LightGBM logs it, ``"<data>-<metric>"`` (``valid_0`` is
the first validation set's default name; the scikit-learn API uses ``valid_0``, ...), or just
the metric's name when one data set logs it. The callback reports the round's value at step
``round + 1`` under the name ``metric`` (default: ``monitor``; make it the study's objective,
so the last value is the trial's result), and ends training when the study's early-stopping
rule or Hyperband stops the trial: it raises LightGBM's own ``EarlyStopException``, which
``lightgbm.train`` (and ``LGBMModel.fit``) catch and end on cleanly, keeping the rounds trained
so far (``best_iteration`` is the last one). The same code works in a command trial
(``@tunewise`` lines; the runner's SIGTERM ends training after the current round) and outside
any trial (it only prints).

Needs ``pip install tunewise[lightgbm]``; importing this module imports LightGBM, importing
``tunewise`` does not.
"""

from __future__ import annotations

from typing import Any

import lightgbm

from tunewise.integrations._control import (
    LinkedCallback,
    TrialLike,
    missing_metric,
)

__all__ = ["TunewiseCallback"]


class TunewiseCallback(LinkedCallback):
    """A LightGBM callback (``callbacks=[TunewiseCallback(...)]``); ``last_value`` holds the
    last value reported, ``stopped_by`` why it stopped training (``None``, ``"study"``,
    ``"sigterm"``)."""

    #: After the evaluation of each round, where LightGBM's own early stopping runs.
    order = 30
    before_iteration = False

    def __init__(
        self,
        monitor: str = "valid_0-l2",
        *,
        metric: str | None = None,
        trial: TrialLike | None = None,
    ) -> None:
        super().__init__(monitor, metric=metric, trial=trial)

    def __call__(self, env: Any) -> None:
        if env.iteration == env.begin_iteration:
            self._link.begin()
        last_round = env.iteration + 1 >= env.end_iteration
        try:
            value = _latest(env.evaluation_result_list or [], self.monitor)
            stop = self._link.report(value, step=env.iteration - env.begin_iteration + 1)
        except BaseException:
            self._link.end()
            raise
        if stop or last_round:
            self._link.end()
        if stop:
            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list)


def _latest(results: list[Any], monitor: str) -> Any:
    """The round's value of ``monitor`` (``data-metric``, or a metric one data set logs).

    Each result is ``(data, metric, value, higher_is_better)`` (``lightgbm.cv`` adds std).
    """
    named = {f"{r[0]}-{r[1]}": r[2] for r in results}
    if monitor in named:
        return named[monitor]
    matches = [r[2] for r in results if r[1] == monitor]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise KeyError(
            f"LightGBM logs {monitor!r} for several data sets; set monitor= to one of "
            f"{', '.join(sorted(k for k in named if k.endswith('-' + monitor)))}"
        )
    where = "LightGBM's evaluation (give valid_sets to train, or eval_set to fit)"
    raise missing_metric(monitor, list(named), where)
