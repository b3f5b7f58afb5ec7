"""The control loop of one study.

Fill free capacity with suggestions, record reports, finish trials, check the limits — and write
every transition to the store before acting on it, so that killing the driver at any moment
loses nothing but the trials in flight.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tunewise.errors import IllegalTransition, LeaseLost, SpecError, StudyAborted
from tunewise.executors.base import DoneEvent, Event, Executor, ReportEvent
from tunewise.runners.base import Outcome, Runner, TrialJob
from tunewise.space import Space
from tunewise.spec import Limits
from tunewise.stopping.completion import Completion, check_limits
from tunewise.store.base import Store
from tunewise.strategies.base import Strategy, strategy_rng
from tunewise.trial import FailureKind, Objective, StudyRecord, StudyState, Trial, TrialState

#: A running trial's lease; the driver renews it every third of this.
LEASE_SECONDS = 60.0
POLL_SECONDS = 0.25


def process_owner() -> str:
    """A lease owner name unique to this process: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays."""

    total: int | None
    done: int
    running: int
    failed: int
    best: float | None
    best_number: int | None
    elapsed: float
    eta: float | None


ProgressCallback = Callable[[Progress], None]


class Tuner:
    """Runs one study until a limit ends it. One tuner per driver process and study."""

    def __init__(
        self,
        store: Store,
        study: StudyRecord,
        *,
        space: Space,
        objective: Objective,
        strategy: Strategy,
        runner: Runner,
        executor: Executor,
        limits: Limits,
        runs_dir: Path,
        timeout: float | None = None,
        owner: str | None = None,
        on_progress: ProgressCallback | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.study = study
        self.space = space
        self.objective = objective
        self.strategy = strategy
        self.runner = runner
        self.executor = executor
        self.limits = limits
        self.runs_dir = runs_dir
        self.timeout = timeout
        self.owner = owner or process_owner()
        self.on_progress = on_progress
        self.lease_seconds = lease_seconds
        self.max_trials = limits.max_trials or strategy.default_max_trials(space)
        if self.max_trials is None and limits.max_runtime is None:
            raise SpecError(
                "limits.max_trials", "is required (or give limits.max_runtime) so the study ends"
            )
        self._trials: dict[int, Trial] = {}
        self._consecutive_failures = 0
        self._last_error: str | None = None
        self._started_at = 0.0
        self._done_this_run = 0
        self._interrupted = False

    # The loop --------------------------------------------------------------------------
    def run(self) -> Completion:
        """Run to completion; returns why the study ended.

        Raises:
            StudyAborted: too many consecutive failures (the study is stored as aborted).
            KeyboardInterrupt: after ending the running trials and storing the study stopped.
        """
        sid = self.study.id
        self.store.set_study_state(sid, StudyState.RUNNING)
        self.store.expire_leases(sid)
        self._trials = {t.number: t for t in self.store.get_trials(sid)}
        self._started_at = time.monotonic()
        try:
            with self._deferred_interrupt():
                completion = self._loop()
        except KeyboardInterrupt:
            self._handle(self.executor.shutdown("interrupted by the user (Ctrl-C)"))
            self._fail_orphans("interrupted by the user (Ctrl-C)")
            self.store.set_study_state(sid, StudyState.STOPPED, "interrupted by the user (Ctrl-C)")
            raise
        except BaseException:
            self._handle(self.executor.shutdown("the driver stopped on an error"))
            self._fail_orphans("the driver stopped on an error")
            raise
        self._emit_progress()
        if completion.reason == "too_many_failures":
            self.store.set_study_state(sid, StudyState.ABORTED, completion.message)
            raise StudyAborted(completion.message)
        self.store.set_study_state(sid, StudyState.COMPLETED, completion.message)
        return completion

    def _loop(self) -> Completion:
        completion: Completion | None = None
        last_heartbeat = self._started_at
        while True:
            if self._interrupted:
                raise KeyboardInterrupt
            if completion is None:
                completion = self._check_limits()
                if completion is not None:
                    self._wind_down(completion)
            if completion is None and self.executor.free > 0:
                completion = self._start_trials()
            if completion is not None and not self.executor.running:
                return completion
            timeout = POLL_SECONDS if self.executor.running else 0.0
            self._handle(self.executor.poll(timeout))
            now = time.monotonic()
            if now - last_heartbeat >= self.lease_seconds / 3:
                self._heartbeat()
                last_heartbeat = now
            self._emit_progress()

    @contextlib.contextmanager
    def _deferred_interrupt(self) -> Iterator[None]:
        """Turn the first Ctrl-C into a flag the loop acts on between store writes, so no
        transition is cut in half; a second Ctrl-C interrupts at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum: int, frame: object) -> None:
            if self._interrupted:
                raise KeyboardInterrupt
            self._interrupted = True

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _fail_orphans(self, reason: str) -> None:
        """Fail trials this driver holds that no executor event finished (a launch cut short)."""
        for trial in self.store.get_trials(self.study.id, [TrialState.RUNNING]):
            if trial.lease_owner == self.owner:
                with contextlib.suppress(LeaseLost, IllegalTransition):
                    self._finish(trial.number, Outcome.failed(FailureKind.INFRASTRUCTURE, reason))

    def _check_limits(self) -> Completion | None:
        return check_limits(
            started=len(self._trials),
            max_trials=self.max_trials,
            elapsed=time.monotonic() - self._started_at,
            max_runtime=self.limits.max_runtime,
            consecutive_failures=self._consecutive_failures,
            max_consecutive_failures=self.limits.max_consecutive_failures,
            last_error=self._last_error,
        )

    def _wind_down(self, completion: Completion) -> None:
        """End running trials when a limit says so: abort now, or stop at max_runtime."""
        if completion.reason == "too_many_failures":
            self._handle(self.executor.shutdown("the study aborted: " + completion.message))
        elif completion.reason == "max_runtime":
            for number in self.executor.running:
                self.executor.cancel(
                    number, "the study reached its max_runtime", FailureKind.TIMEOUT
                )

    def _start_trials(self) -> Completion | None:
        """Start trials into free capacity: queued ones first, then new suggestions."""
        sid = self.study.id
        budget = self.executor.free
        if self.max_trials is not None:
            budget = min(budget, self.max_trials - len(self._trials))
        while budget > 0:
            claimed = self.store.claim_trial(sid, self.owner, self.lease_seconds)
            if claimed is None:
                break
            self._launch(claimed)
            budget -= 1
        if budget <= 0:
            return None
        history = [t for t in self._trials.values() if t.state.is_finished]
        pending = [t for t in self._trials.values() if not t.state.is_finished]
        rng = strategy_rng(self.strategy.seed, len(self._trials))
        suggestions = self.strategy.suggest(self.space, history, pending, budget, rng)
        for params in suggestions:
            trial = self.store.add_trial(
                sid, params, owner=self.owner, lease_seconds=self.lease_seconds
            )
            self._launch(trial)
        if not suggestions and not self.executor.running:
            return Completion(
                "search_exhausted",
                f"the {self.strategy.name} strategy has no configuration left to try",
                {"trials": len(self._trials)},
            )
        return None

    def _launch(self, trial: Trial) -> None:
        self._trials[trial.number] = trial
        job = TrialJob(
            study=self.study.name,
            number=trial.number,
            params=self.space.with_static(trial.params),
            trial_dir=self.runs_dir / f"{trial.number:05d}",
            objective=self.objective.metric,
            attempt=trial.attempt,
            timeout=self.timeout,
        )
        try:
            self.executor.submit(job, self.runner)
        except Exception as exc:  # record it: a trial must never stay RUNNING unattended
            self._finish(
                trial.number,
                Outcome.failed(FailureKind.INFRASTRUCTURE, f"could not start the trial: {exc}"),
            )

    # Events ----------------------------------------------------------------------------
    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ReportEvent):
                # A trial taken over (or expired) is recorded by its new owner, not here.
                with contextlib.suppress(LeaseLost, IllegalTransition):
                    self.store.add_report(self.study.id, event.number, event.step, event.values)
            elif isinstance(event, DoneEvent):
                self._finish(event.number, event.outcome)

    def _finish(self, number: int, outcome: Outcome) -> None:
        try:
            trial = self.store.finish_trial(
                self.study.id,
                number,
                outcome.state,
                value=outcome.value,
                metrics=outcome.metrics,
                failure_kind=outcome.failure_kind,
                error=outcome.error,
                owner=self.owner,
            )
        except LeaseLost:
            trial = self.store.get_trial(self.study.id, number)
        self._trials[number] = trial
        self._done_this_run += 1
        if trial.state == TrialState.FAILED:
            self._consecutive_failures += 1
            self._last_error = trial.error
        else:
            self._consecutive_failures = 0

    def _heartbeat(self) -> None:
        for number in self.executor.running:
            try:
                self.store.heartbeat(self.study.id, number, self.owner, self.lease_seconds)
            except LeaseLost:
                self.executor.cancel(number, "its lease was taken over", FailureKind.LOST)

    # Progress --------------------------------------------------------------------------
    def _emit_progress(self) -> None:
        if self.on_progress is None:
            return
        finished = [t for t in self._trials.values() if t.state.is_finished]
        best: Trial | None = None
        for t in finished:
            if (
                t.state == TrialState.COMPLETED
                and t.value is not None
                and (best is None or self.objective.is_better(t.value, best.value))
            ):
                best = t
        elapsed = time.monotonic() - self._started_at
        eta = None
        if self.max_trials is not None and self._done_this_run:
            remaining = max(0, self.max_trials - len(finished))
            eta = elapsed / self._done_this_run * remaining
        if self.limits.max_runtime is not None:
            left = max(0.0, self.limits.max_runtime - elapsed)
            eta = left if eta is None or math.isnan(eta) else min(eta, left)
        self.on_progress(
            Progress(
                total=self.max_trials,
                done=len(finished),
                running=len(self.executor.running),
                failed=sum(t.state == TrialState.FAILED for t in finished),
                best=None if best is None else best.value,
                best_number=None if best is None else best.number,
                elapsed=elapsed,
                eta=eta,
            )
        )
