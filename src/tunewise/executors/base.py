"""The executor contract: where trials run. ``submit / poll / cancel`` with a capacity.

An executor runs a runner for each submitted job and turns what happens into events the tuner
records: :class:`ReportEvent` for each intermediate value, :class:`DoneEvent` once per job.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass

from tunewise.runners.base import Outcome, Runner, TrialJob
from tunewise.trial import FailureKind


@dataclass(frozen=True)
class ReportEvent:
    number: int
    step: int
    values: Mapping[str, float]


@dataclass(frozen=True)
class DoneEvent:
    number: int
    outcome: Outcome


Event = ReportEvent | DoneEvent

#: Seconds a trial stopped by a person (dashboard, REST) has to end by itself before it is
#: killed: the study's stop takes effect within about a second.
PROMPT_GRACE = 0.5


class Executor(ABC):
    """Runs up to ``capacity`` trials at once."""

    capacity: int

    @property
    @abstractmethod
    def running(self) -> list[int]:
        """Numbers of the trials submitted and not yet reported done."""

    @property
    def free(self) -> int:
        return max(0, self.capacity - len(self.running))

    @abstractmethod
    def submit(self, job: TrialJob, runner: Runner) -> None:
        """Start the job; its events come from :meth:`poll`."""

    def _check_submit(self, number: int) -> None:
        """What every ``submit`` refuses: a trial already running here, or no free capacity."""
        if number in self.running:
            raise ValueError(f"trial {number} is already running")
        if self.free == 0:
            raise RuntimeError("no free capacity")

    def devices(self, number: int) -> tuple[str, ...]:
        """The GPUs trial ``number`` was given here (empty when the executor hands out none:
        a Ray executor leaves that to Ray)."""
        return ()

    def acknowledge(self, number: int) -> None:  # noqa: B027 - optional for executors
        """The study decided to let trial ``number`` go on after its last report (a trial
        that waits for decisions resumes; others ignore it)."""

    @abstractmethod
    def poll(self, timeout: float) -> list[Event]:
        """Events since the last call, waiting up to ``timeout`` seconds for the first."""

    @abstractmethod
    def cancel(
        self,
        number: int,
        reason: str,
        kind: FailureKind = FailureKind.TIMEOUT,
        keep_partial: bool = True,
    ) -> None:
        """Ask a trial to stop; it is killed after a grace period if it does not. It ends
        STOPPED at its last report when ``keep_partial`` and it reported the objective, else
        FAILED with ``kind`` and ``reason``."""

    def stop_promptly(
        self,
        number: int,
        reason: str,
        kind: FailureKind = FailureKind.TIMEOUT,
        keep_partial: bool = True,
    ) -> None:
        """:meth:`cancel`, for a person's stop: a trial that does not end by itself is killed
        after :data:`PROMPT_GRACE` seconds instead of the executor's grace period (executors
        that cannot shorten it cancel as usual)."""
        self.cancel(number, reason, kind, keep_partial)

    @abstractmethod
    def shutdown(self, reason: str, kind: FailureKind = FailureKind.INFRASTRUCTURE) -> list[Event]:
        """End every running trial now (process trees killed); returns their DoneEvents."""

    def close(self) -> None:  # noqa: B027 - optional for executors
        """Release what the executor holds (a Ray connection, a Ray it started) once no trial
        runs; called when the study's run ends, however it ends."""
