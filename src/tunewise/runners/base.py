"""The runner contract: run one trial and stream its reports back.

A runner is called inside the process the executor made for the trial. It gets the job (the
hyperparameters, the trial's folder, the timeout) and two callbacks: ``report`` to send an
intermediate value as soon as it is known, and ``should_stop`` to learn that the study wants the
trial to end early. It returns an :class:`Outcome`; it never touches the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tunewise.trial import FailureKind, TrialState

#: ``report(step, metrics)``; ``step`` None means "the next step" (count of reports so far).
ReportCallback = Callable[[int | None, Mapping[str, float]], None]
StopCheck = Callable[[], bool]

#: Lines of stderr kept with a failed trial.
ERROR_TAIL_LINES = 20


@dataclass(frozen=True)
class TrialJob:
    """Everything a runner needs to run one trial."""

    study: str
    number: int
    params: Mapping[str, Any]  # searched values merged over the static ones
    trial_dir: Path
    objective: str  # the metric whose last value is the trial's result
    attempt: int = 1
    timeout: float | None = None  # seconds
    #: Under a stopping rule each report waits for the study's decision before the trial goes
    #: on, so a trial told to stop never trains one more step than the rule allows.
    wait_for_decision: bool = False
    #: The GPUs the executor gave this trial (``CUDA_VISIBLE_DEVICES`` in its process); empty
    #: when it asked for none.
    devices: tuple[str, ...] = ()
    #: Define-by-run (``trial.suggest_*``): the study's space seen so far (name -> spec form)
    #: and its seed; None for a study whose space is declared.
    space: Mapping[str, Any] | None = None
    seed: int = 0


@dataclass(frozen=True)
class Outcome:
    """How a trial ended, as the runner saw it."""

    state: TrialState  # COMPLETED, STOPPED or FAILED
    value: float | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    failure_kind: FailureKind | None = None
    error: str | None = None
    #: Define-by-run: what the trial asked with ``suggest_*`` (values, and distributions in the
    #: spec's form); None when it ran a declared space.
    params: Mapping[str, Any] | None = None
    distributions: Mapping[str, Mapping[str, Any]] | None = None
    #: What the training function set with ``trial.set_user_attr`` (stored with the trial).
    user_attrs: Mapping[str, Any] | None = None

    @classmethod
    def failed(
        cls, kind: FailureKind, error: str, metrics: Mapping[str, float] | None = None
    ) -> Outcome:
        return cls(TrialState.FAILED, None, dict(metrics or {}), kind, error)


class Runner(Protocol):
    """Runs one trial. Implementations: PythonRunner, CommandRunner."""

    def run(self, job: TrialJob, report: ReportCallback, should_stop: StopCheck) -> Outcome:
        """Run the trial to its end and say how it ended; never raises for trial errors."""
        ...
