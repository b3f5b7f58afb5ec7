"""The cost budget's decisions: end the study at ``limits.max_cost``, and never start a trial
it expects to overrun.

How the next trial's cost is estimated: the median cost of the completed trials so far
(:func:`tunewise.cost.estimate_next`); before any trial completed there is no estimate and
trials start. A running trial is expected to cost at least that much too, so what is
*committed* is::

    committed = cost of the finished trials + sum over running trials of max(cost so far, estimate)

and a new trial starts only while ``committed + estimate <= max_cost`` (several start at once
only while each of them fits). The study ends with reason ``max_cost``:

- at once, when what was spent (finished trials plus the running ones so far) reaches
  ``max_cost`` — the running trials are stopped promptly (as a person's stop: a trial that
  does not end by itself is killed after about a second), each ending STOPPED at its last
  report, so the budget is overrun by at most that second;
- when nothing runs and the next trial would not fit (``spent + estimate > max_cost``).

Each completion's evidence gives what was spent, the limit and the estimate that decided.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tunewise.cost import (
    CostSpec,
    CostSummary,
    attempts_cost,
    estimate_next,
    trial_cost,
    units_per_trial,
)
from tunewise.stopping.completion import Completion
from tunewise.trial import Attempt, FailureKind, Trial, TrialState

if TYPE_CHECKING:
    from tunewise.history import TrialHistory
    from tunewise.policies import Limits
    from tunewise.runners.base import Outcome


def check_cost(summary: CostSummary, running: int) -> Completion | None:
    """Whether the cost budget ends the study now (``running``: trials running anywhere)."""
    limit = summary.limit
    if limit is None:
        return None
    evidence: dict[str, Any] = {
        "spent": round(summary.spent, 6),
        "max_cost": limit,
        "running_cost": round(summary.running, 6),
        "estimate": None if summary.estimate is None else round(summary.estimate, 6),
        "estimated_from": summary.basis,
        "cost": summary.spec.to_dict(),
    }
    if summary.spent >= limit:
        return Completion(
            "max_cost", f"spent {summary.spent:.4g} of max_cost ({limit:g})", evidence
        )
    estimate = summary.estimate
    if running == 0 and estimate is not None and summary.spent + estimate > limit:
        return Completion(
            "max_cost",
            f"the next trial would overrun max_cost ({limit:g}): spent {summary.spent:.4g} + "
            f"its estimated {estimate:.4g} (the median of {summary.basis} completed trials)",
            evidence,
        )
    return None


def room(summary: CostSummary, committed: float) -> int | None:
    """How many more trials may start (``None``: no bound from the cost) given what the
    running trials are ``committed`` to cost in all (see the module's docstring)."""
    limit, estimate = summary.limit, summary.estimate
    if limit is None or estimate is None:
        return None if limit is None or summary.spent < limit else 0
    if estimate <= 0:
        return None if summary.spent < limit else 0
    left = limit - committed
    # A hair of tolerance: a trial whose estimate fits exactly is allowed.
    return max(0, math.floor(left / estimate + 1e-9))


class CostMeter:
    """A study's cost as one tuner counts it: each finished trial once (from the history, as
    trials end), running trials live (elapsed time, or their last reported cost metric)."""

    def __init__(
        self,
        spec: CostSpec,
        limit: float | None,
        units: float,
        attempts: Callable[[int], Sequence[Attempt]] | None = None,
    ) -> None:
        """``attempts``: the earlier attempts of a trial (the store's ``get_attempts``): a
        retried trial's earlier attempts are counted once it finishes."""
        self.spec = spec
        self.attempts = attempts
        self.limit = limit
        self.units = units
        self._finished = 0.0
        self._completed: list[float] = []  # sorted: the median is read often
        self._seen = 0  # how many of the history's ended trials were counted
        self._reported: dict[int, float] = {}  # metric: the last value per running trial

    @classmethod
    def for_study(
        cls,
        definition: Mapping[str, Any],
        limits: Limits,
        attempts: Callable[[int], Sequence[Attempt]] | None = None,
    ) -> CostMeter | None:
        """The meter of a stored study's definition (``None`` when it declares no cost)."""
        spec = CostSpec.from_dict(definition.get("cost"))
        if spec is None:
            return None
        units = units_per_trial(definition.get("executor"))
        return cls(spec, limits.max_cost, units, attempts)

    def record_report(self, number: int, values: Mapping[str, float]) -> None:
        """A running trial reported: keep its cost metric's latest value."""
        if self.spec.metric is not None and self.spec.metric in values:
            self._reported[number] = values[self.spec.metric]

    def count_finished(self, trials: Sequence[Trial]) -> None:
        for trial in trials:
            cost = trial_cost(self.spec, trial, units=self.units)
            self._finished += cost
            if trial.attempt > 1 and self.attempts is not None and self.spec.per_hour:
                earlier = self.attempts(trial.number)
                self._finished += attempts_cost(self.spec, earlier, units=self.units)
            if trial.state == TrialState.COMPLETED:
                bisect.insort(self._completed, cost)
            self._reported.pop(trial.number, None)

    def _running(self, history: TrialHistory) -> list[Trial]:
        ended = history.ended_since(self._seen)
        self.count_finished(ended)
        self._seen += len(ended)
        return [t for t in history.pending if t.state == TrialState.RUNNING]

    def _summary(self, running: Iterable[Trial]) -> tuple[CostSummary, list[float]]:
        now = datetime.now(UTC)
        so_far = [
            trial_cost(
                self.spec, t, units=self.units, now=now, reported=self._reported.get(t.number)
            )
            for t in running
        ]
        spent = self._finished + sum(so_far)
        summary = CostSummary(
            self.spec,
            spent,
            sum(so_far),
            self.limit,
            estimate_next(self._completed),
            len(self._completed),
        )
        return summary, so_far

    def summary(self, history: TrialHistory) -> CostSummary:
        return self._summary(self._running(history))[0]

    def check(self, history: TrialHistory) -> Completion | None:
        running = self._running(history)
        return check_cost(self._summary(running)[0], len(running))

    def room(self, history: TrialHistory) -> int | None:
        """How many more trials may start now (``None``: no bound)."""
        summary, so_far = self._summary(self._running(history))
        estimate = summary.estimate or 0.0
        committed = self._finished + sum(max(cost, estimate) for cost in so_far)
        return room(summary, committed)

    def check_outcome(self, outcome: Outcome) -> Outcome:
        """A completed trial must report the cost metric, or the budget could not count it:
        it fails with kind ``metric_missing`` and a sentence that names the metric."""
        metric = self.spec.metric
        if metric is None or outcome.state != TrialState.COMPLETED:
            return outcome
        value = outcome.metrics.get(metric)
        if value is not None and math.isfinite(value) and value >= 0:
            return outcome
        if value is None:
            kind, what = FailureKind.METRIC_MISSING, "never reported"
        else:
            kind, what = FailureKind.METRIC_INVALID, f"reported {value!r} for"
        error = (
            f"the trial {what} {metric!r}, the study's cost.metric (a non-negative number): "
            f"report it (tunewise.report(step=..., {metric}=...)) or return it beside the "
            "objective in the function's dict"
        )
        return replace(outcome, state=TrialState.FAILED, value=None, failure_kind=kind, error=error)
