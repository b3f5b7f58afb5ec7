"""What a trial costs, and what a study has spent: budgets in money or GPU-hours.

A study says what its trials cost in one of two ways (``cost:`` in the spec):

- ``per_hour: 3.06`` — a price per trial-hour, times the GPUs each trial holds
  (``executor.resources_per_trial.gpu``; a trial without GPUs counts as one unit). With
  ``per_hour: 1`` the budget counts GPU-hours.
- ``metric: dollars`` — a metric each trial reports (``trial.report`` / ``tunewise.report``);
  its last value is the trial's cost, so a training script that knows its own bill (spot
  prices, tokens, an API's invoice) says it.

``limits.max_cost`` bounds the study's total: what finished trials cost (every finished state:
a failed or early-stopped trial was paid for too) plus what the running ones have cost so far
(elapsed time, or their last reported value). The decisions built on it live in
:mod:`tunewise.stopping.cost`; this module holds the value types and the arithmetic, without
I/O, so every face (the tuner, ``tunewise status``, the dashboard) counts the same way.

``aware: true`` asks ``bayesian`` to weigh expected improvement per unit of expected cost
(:mod:`tunewise.strategies.cost_model`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tunewise.errors import SpecError
from tunewise.trial import Attempt, Trial, TrialState
from tunewise.validation import check_keys

#: The finished states whose cost tells what the next trial will cost: trials that ran their
#: course (a failed trial usually stopped early, and would make the estimate too low).
_ESTIMATE_STATES = (TrialState.COMPLETED,)


@dataclass(frozen=True)
class CostSpec:
    """``cost: {per_hour: 3.06}`` or ``cost: {metric: dollars}``, and optionally ``aware``."""

    per_hour: float | None = None
    metric: str | None = None
    #: bayesian weighs expected improvement per unit of expected cost (EI / cost^alpha).
    aware: bool = False

    def __post_init__(self) -> None:
        if (self.per_hour is None) == (self.metric is None):
            raise SpecError(
                "cost", "give exactly one of per_hour (a price per trial-hour) or metric"
            )
        if self.per_hour is not None:
            value = self.per_hour
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SpecError("cost.per_hour", f"must be a number such as 3.06, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise SpecError("cost.per_hour", f"must be a positive, finite price, got {value!r}")
            object.__setattr__(self, "per_hour", float(value))
        if self.metric is not None and (not isinstance(self.metric, str) or not self.metric):
            raise SpecError(
                "cost.metric", f"must name a metric the trials report, got {self.metric!r}"
            )
        if not isinstance(self.aware, bool):
            raise SpecError("cost.aware", f"must be true or false, got {self.aware!r}")

    @property
    def label(self) -> str:
        """How the cost is counted, in a few words (status, dashboard)."""
        if self.metric is not None:
            return f"metric {self.metric}"
        return f"{self.per_hour:g} per trial-hour"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = (
            {"metric": self.metric} if self.metric is not None else {"per_hour": self.per_hour}
        )
        if self.aware:
            out["aware"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "cost") -> CostSpec | None:
        if data is None:
            return None
        data = check_keys(data, path, ("per_hour", "metric", "aware"))
        try:
            return cls(data.get("per_hour"), data.get("metric"), data.get("aware", False))
        except SpecError as exc:  # name the field where the caller put it
            field = exc.field.replace("cost", path, 1) if path != "cost" else exc.field
            raise SpecError(field, exc.message) from None


def check_max_cost(value: Any, path: str = "limits.max_cost") -> float | None:
    """``limits.max_cost``: a positive, finite amount (``None``: no cost budget)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SpecError(path, f"must be a number such as 50, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise SpecError(path, f"must be a positive, finite amount, got {value!r}")
    return float(value)


def check_cost_spec(spec: Any) -> None:
    """What a study spec's ``cost`` and ``limits.max_cost`` must agree on (a StudySpec)."""
    cost, limits = spec.cost, spec.limits
    if cost is not None and not isinstance(cost, CostSpec):
        raise SpecError("cost", "must be {per_hour: PRICE} or {metric: NAME}")
    if limits.max_cost is not None and cost is None:
        raise SpecError(
            "limits.max_cost",
            "needs to know what a trial costs: give cost: {per_hour: 3.06} (a price per "
            "trial-hour) or cost: {metric: dollars} (a metric the trials report)",
        )
    if cost is not None and cost.aware:
        if spec.strategy != "bayesian":
            raise SpecError(
                "cost.aware", f"applies only to strategy: bayesian, not {spec.strategy}"
            )
        if len(spec.objectives) > 1 or spec.constraints:
            raise SpecError(
                "cost.aware", "weighs one objective's expected improvement, without constraints"
            )


def units_per_trial(executor: Any) -> float:
    """What one trial-hour is multiplied by: the GPUs a trial holds (a share counts as its
    share), else 1. ``executor``: an :class:`~tunewise.policies.ExecutorSpec` or its dict."""
    if isinstance(executor, Mapping) or executor is None:
        from tunewise.policies import ExecutorSpec

        executor = ExecutorSpec.from_dict(executor)
    gpu = executor.gpu if executor.type == "ray" else executor.local_gpu
    return float(gpu) if gpu > 0 else 1.0


def _seconds(trial: Trial, now: datetime) -> float:
    if trial.started_at is None:
        return 0.0
    end = trial.finished_at or now
    return max(0.0, (end - trial.started_at).total_seconds())


def trial_cost(
    spec: CostSpec,
    trial: Trial,
    *,
    units: float = 1.0,
    now: datetime | None = None,
    reported: float | None = None,
) -> float:
    """What ``trial`` cost, or has cost so far while it runs.

    ``per_hour``: its run time (to ``now`` while it runs) times ``units`` times the price.
    ``metric``: the metric's value stored with the finished trial; while it runs, ``reported``
    (its last reported value), else 0. A finished trial that never reported it costs 0 here
    (the tuner fails a completed trial that lacks it, so the budget cannot be dodged).
    """
    if spec.per_hour is not None:
        return _seconds(trial, now or datetime.now(UTC)) / 3600.0 * units * spec.per_hour
    assert spec.metric is not None
    value = trial.metrics.get(spec.metric) if trial.state.is_finished else reported
    if value is None or not math.isfinite(value) or value < 0:
        return 0.0
    return float(value)


def attempts_cost(spec: CostSpec, attempts: Iterable[Attempt], *, units: float = 1.0) -> float:
    """What the earlier attempts of a retried trial cost: their run time for ``per_hour``
    (each attempt was paid for); nothing for ``metric`` (an attempt keeps no metrics)."""
    if spec.per_hour is None:
        return 0.0
    seconds = sum(
        max(0.0, (a.finished_at - a.started_at).total_seconds())
        for a in attempts
        if a.started_at is not None and a.finished_at is not None
    )
    return seconds / 3600.0 * units * spec.per_hour


def estimate_next(costs: Sequence[float]) -> float | None:
    """The expected cost of the next trial: the median cost of the completed trials (robust to
    the odd long one; cost varies with the hyperparameters, and the next configuration is not
    known when the decision to start a trial is made). ``None`` before any trial completed: the
    first trial is always allowed."""
    if not costs:
        return None
    ordered = sorted(costs)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class CostSummary:
    """A study's cost at one moment, as ``status``, the progress line and the dashboard show it."""

    spec: CostSpec
    spent: float  # finished trials plus running ones so far
    running: float  # the part of ``spent`` the running trials have cost so far
    limit: float | None  # limits.max_cost
    estimate: float | None  # the next trial's expected cost (see estimate_next)
    basis: int  # how many completed trials the estimate is the median of

    @property
    def left(self) -> float | None:
        return None if self.limit is None else max(0.0, self.limit - self.spent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "spent": round(self.spent, 6),
            "running": round(self.running, 6),
            "max_cost": self.limit,
            "left": None if self.left is None else round(self.left, 6),
            "next_estimate": None if self.estimate is None else round(self.estimate, 6),
            "estimated_from": self.basis,
            **self.spec.to_dict(),
        }

    def describe(self) -> str:
        """One line: ``spent 12.3 of 50 (37.7 left; next trial ~4.1); 3.06 per trial-hour``."""
        text = f"spent {self.spent:.4g}"
        if self.limit is not None:
            text += f" of {self.limit:g} ({self.left:.4g} left"
            if self.estimate is not None:
                text += f"; next trial ~{self.estimate:.3g}"
            text += ")"
        return f"{text}; {self.spec.label}"


def summarize(
    definition: Mapping[str, Any],
    trials: Iterable[Trial],
    now: datetime | None = None,
    reported: Mapping[int, float] | None = None,
    attempts: Mapping[int, Sequence[Attempt]] | None = None,
) -> CostSummary | None:
    """The cost of a stored study (its definition as the store keeps it), or ``None`` when it
    declares no cost. Running trials count by elapsed time (``per_hour``) or by their last
    reported value of the metric, given in ``reported`` (trial number to value; see
    :func:`reported_costs`), else not yet. ``attempts``: the earlier attempts of retried
    trials (see :func:`earlier_attempts`), whose run time counts too."""
    spec = CostSpec.from_dict(definition.get("cost"))
    if spec is None:
        return None
    limit = (definition.get("limits") or {}).get("max_cost")
    units = units_per_trial(definition.get("executor"))
    now = now or datetime.now(UTC)
    spent = running = 0.0
    for earlier in (attempts or {}).values():
        spent += attempts_cost(spec, earlier, units=units)
    completed: list[float] = []
    for trial in trials:
        if trial.state == TrialState.QUEUED:
            continue
        last = None if reported is None else reported.get(trial.number)
        cost = trial_cost(spec, trial, units=units, now=now, reported=last)
        spent += cost
        if trial.state == TrialState.RUNNING:
            running += cost
        elif trial.state in _ESTIMATE_STATES:
            completed.append(cost)
    return CostSummary(spec, spent, running, limit, estimate_next(completed), len(completed))


def reported_costs(
    store: Any, study_id: int, definition: Mapping[str, Any], trials: Iterable[Trial]
) -> dict[int, float]:
    """The last reported value of a ``cost: {metric}`` study's metric for each running trial,
    read from ``store`` (a :class:`~tunewise.store.base.Store`): what they have cost so far."""
    spec = CostSpec.from_dict(definition.get("cost"))
    if spec is None or spec.metric is None:
        return {}
    out: dict[int, float] = {}
    for trial in trials:
        if trial.state != TrialState.RUNNING:
            continue
        reports = store.get_reports(study_id, trial.number)
        values = [r.values[spec.metric] for r in reports if spec.metric in r.values]
        if values:
            out[trial.number] = values[-1]
    return out


def earlier_attempts(
    store: Any, study_id: int, definition: Mapping[str, Any], trials: Iterable[Trial]
) -> dict[int, list[Attempt]]:
    """The earlier attempts of the retried trials of a ``cost: {per_hour}`` study, read from
    ``store``: their run time was paid for too."""
    spec = CostSpec.from_dict(definition.get("cost"))
    if spec is None or spec.per_hour is None:
        return {}
    return {t.number: store.get_attempts(study_id, t.number) for t in trials if t.attempt > 1}
