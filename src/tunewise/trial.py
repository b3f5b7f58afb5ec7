"""Plain value types of a study's life: objective, trial and study states, trials, reports.

No I/O here. The legal trial state changes are declared once (:data:`TRANSITIONS`) and enforced
by the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tunewise.errors import SpecError


class Direction(StrEnum):
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


@dataclass(frozen=True)
class Objective:
    """The metric a study optimises and its direction, both required: a default direction
    would silently maximise a loss."""

    metric: str
    direction: Direction | str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise SpecError("objective.metric", "must be a non-empty metric name")
        if self.direction is None:
            raise SpecError(
                "objective.direction",
                f"is required: minimize or maximize (say whether a lower or a higher "
                f"{self.metric!r} is better; tunewise never guesses, so a loss is never "
                "maximized by mistake)",
            )
        try:
            direction = Direction(str(self.direction).lower())
        except ValueError:
            raise SpecError(
                "objective.direction", f"must be minimize or maximize, got {self.direction!r}"
            ) from None
        object.__setattr__(self, "direction", direction)

    @property
    def sign(self) -> float:
        """+1 when larger is better; multiply a value by it to maximise."""
        return 1.0 if self.direction == Direction.MAXIMIZE else -1.0

    def is_better(self, a: float, b: float | None) -> bool:
        """Whether value ``a`` is strictly better than ``b`` (``None``: nothing yet)."""
        if b is None or math.isnan(b):
            return not math.isnan(a)
        if math.isnan(a):
            return False
        return a * self.sign > b * self.sign

    def to_dict(self) -> dict[str, str]:
        return {"metric": self.metric, "direction": str(self.direction)}


@dataclass(frozen=True)
class Constraint:
    """A bound a trial's metric must respect for the trial to be feasible (``memory_mb`` at
    most 512, ``accuracy`` at least 0.9). Infeasible trials stay in the study (strategies learn
    from them) but are never a best trial nor on the Pareto front."""

    metric: str
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise SpecError("constraints.metric", "must be a non-empty metric name")
        if self.min is None and self.max is None:
            raise SpecError(
                "constraints.min", f"give min, max or both for {self.metric!r} (a bound to respect)"
            )
        for key in ("min", "max"):
            bound = getattr(self, key)
            if bound is None:
                continue
            if isinstance(bound, bool) or not isinstance(bound, int | float):
                raise SpecError(f"constraints.{key}", f"must be a number, got {bound!r}")
            if not math.isfinite(bound):
                raise SpecError(f"constraints.{key}", f"must be a finite number, got {bound!r}")
            object.__setattr__(self, key, float(bound))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SpecError(
                "constraints.max", f"{self.max} is below min {self.min}: nothing could be feasible"
            )

    def satisfied(self, metrics: Mapping[str, float]) -> bool:
        """Whether ``metrics`` respect the bound (a missing or NaN metric does not)."""
        return self.violation(metrics) == 0.0

    def violation(self, metrics: Mapping[str, float]) -> float:
        """0 when satisfied, else how far the value lies beyond the bound (inf when the metric
        is missing or NaN): a strategy can rank infeasible trials by it."""
        value = metrics.get(self.metric)
        if value is None or math.isnan(value):
            return math.inf
        below = self.min - value if self.min is not None else 0.0
        above = value - self.max if self.max is not None else 0.0
        return max(0.0, below, above)

    def describe(self) -> str:
        """``0.9 <= accuracy``, ``memory_mb <= 512``, ``1 <= x <= 2``."""
        low = f"{self.min:g} <= " if self.min is not None else ""
        high = f" <= {self.max:g}" if self.max is not None else ""
        return f"{low}{self.metric}{high}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        return out


def is_feasible(metrics: Mapping[str, float], constraints: Sequence[Constraint]) -> bool:
    """Whether every constraint holds for these metrics (always, without constraints)."""
    return all(c.satisfied(metrics) for c in constraints)


def objective_values(
    metrics: Mapping[str, float], objectives: Sequence[Objective]
) -> tuple[float, ...] | None:
    """The objectives' values in order, or None when one is missing or not finite."""
    values = []
    for objective in objectives:
        value = metrics.get(objective.metric)
        if value is None or not math.isfinite(value):
            return None
        values.append(float(value))
    return tuple(values)


def missing_metrics(
    metrics: Mapping[str, float],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint] = (),
) -> str | None:
    """Why a trial that finished with these metrics must fail, or None: every objective must
    be a finite number and every constrained metric must be reported (a trial that hides its
    memory use cannot be judged feasible)."""
    for objective in objectives:
        value = metrics.get(objective.metric)
        if value is None:
            return f"the objective {objective.metric!r} was not reported"
        if not math.isfinite(value):
            return f"the objective {objective.metric!r} is {value}, not a finite number"
    for constraint in constraints:
        value = metrics.get(constraint.metric)
        if value is None or math.isnan(value):
            return (
                f"the constrained metric {constraint.metric!r} ({constraint.describe()}) "
                "was not reported"
            )
    return None


class TrialState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def is_finished(self) -> bool:
        return self in _FINISHED  # a set: this runs once per trial on every history pass


_FINISHED = frozenset({TrialState.COMPLETED, TrialState.STOPPED, TrialState.FAILED})


#: The only state changes the store accepts; finished trials are read-only. RUNNING -> QUEUED
#: is a retry: the attempt that ended is kept in the trial's attempts, and a new one is queued.
TRANSITIONS: Mapping[TrialState, frozenset[TrialState]] = {
    TrialState.QUEUED: frozenset({TrialState.RUNNING, TrialState.FAILED}),
    TrialState.RUNNING: frozenset(
        {TrialState.COMPLETED, TrialState.STOPPED, TrialState.FAILED, TrialState.QUEUED}
    ),
    TrialState.COMPLETED: frozenset(),
    TrialState.STOPPED: frozenset(),
    TrialState.FAILED: frozenset(),
}


class FailureKind(StrEnum):
    """Why a trial failed; decides whether a failure may be retried (reliability issue)."""

    USER_ERROR = "user_error"  # the training code raised, or the command exited non-zero
    CRASHED = "crashed"  # the trial's process died from a signal
    TIMEOUT = "timeout"  # ran past the trial timeout and was killed
    METRIC_MISSING = "metric_missing"  # finished without reporting the objective
    LOST = "lost"  # its lease expired: the process running it vanished
    METRIC_INVALID = "metric_invalid"  # the objective was reported but is not a usable number
    INTERRUPTED = "interrupted"  # the driver was stopped (Ctrl-C) while the trial ran
    INFRASTRUCTURE = "infrastructure"  # tunewise itself could not start or watch it


class StudyState(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"  # a limit was reached
    FAILED = "failed"  # aborted: too many consecutive failed trials
    STOPPED = "stopped"  # a person stopped it on purpose; it can be resumed
    INTERRUPTED = "interrupted"  # its driver was interrupted (Ctrl-C) or died; run it again


@dataclass(frozen=True)
class Report:
    """Intermediate metric values of a trial at one step (an epoch)."""

    step: int
    values: Mapping[str, float]
    time: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    """An earlier attempt of a retried trial and why it ended."""

    number: int
    attempt: int
    failure_kind: FailureKind
    error: str | None
    owner: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class Trial:
    """A stored trial: immutable snapshot, as the store returned it."""

    study_id: int
    number: int
    state: TrialState
    params: Mapping[str, Any]
    value: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    failure_kind: FailureKind | None = None
    error: str | None = None
    attempt: int = 1
    lease_owner: str | None = None
    heartbeat_at: datetime | None = None
    lease_deadline: datetime | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    last_step: int | None = None
    #: JSON values the user attached (``trial.set_user_attr``), as Optuna's ``user_attrs``.
    user_attrs: Mapping[str, Any] = field(default_factory=dict)
    #: The version of the study's space it was suggested or added under (1 until an edit).
    space_version: int = 1
    #: What its suggestion was made from (strategy, seed, trials finished and pending), for
    #: ``tunewise replay``; ``None`` when no strategy suggested it.
    suggestion: Mapping[str, Any] | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or ``None`` while not both known)."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by ``tunewise trials --format json`` and exports)."""
        return {
            "trial": self.number,
            "state": str(self.state),
            "params": dict(self.params),
            "value": self.value,
            "metrics": dict(self.metrics),
            "failure_kind": str(self.failure_kind) if self.failure_kind else None,
            "error": self.error,
            "attempt": self.attempt,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "duration_s": self.duration,
            "user_attrs": dict(self.user_attrs),
        }


@dataclass(frozen=True)
class StudyRecord:
    """A stored study: its definition (as JSON) and its lifecycle fields."""

    id: int
    name: str
    definition: Mapping[str, Any]
    state: StudyState
    reason: str | None = None
    evidence: Mapping[str, Any] | None = None  # what the criterion that ended it compared
    created_at: datetime | None = None
    finished_at: datetime | None = None
    #: A uuid4 hex given at creation: the study's identity where a name is not enough (a name
    #: can be deleted and made again); trial folders and outside identifiers use it.
    uuid: str = ""
    #: JSON values the user attached (``study.set_user_attr``).
    user_attrs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SpaceVersion:
    """One version of a study's definition (its space, static values, ...) once the space was
    edited: ``version`` 1 is the definition the study began with."""

    version: int
    definition: Mapping[str, Any]
    #: What the edit said about itself (``tunewise edit``: removed parameters and the values
    #: they are fixed at, the earlier trials set aside and why).
    note: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
