"""Plain value types of a study's life: objective, trial and study states, trials, reports.

No I/O here. The legal trial state changes are declared once (:data:`TRANSITIONS`) and enforced
by the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
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
