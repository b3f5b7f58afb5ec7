"""Workers: processes on any machine that run the trials of the studies a shared store holds.

A worker needs only the storage URL: a study keeps its definition in the store — space,
strategy, limits, retries, lease and the trial to run (a command template, or a Python
``module:function`` importable from the worker's working folder) — so ``tunewise run SPEC
--workers-only`` once and ``tunewise worker --storage postgresql://...`` on many machines is a
distributed study. Each worker runs the study's own control loop (:class:`tunewise.tuner.Tuner`
in worker mode), exactly as a driver does: it claims QUEUED trials first, suggests new ones while
the study's budget allows, keeps its leases alive, takes over the trials of owners that died or
whose lease expired, applies the retry policy and the stopping rules, and ends the study when it
sees it complete. Any number of workers and drivers may share one study.

Which study a worker serves:

- ``study`` given: that one, until it ends (completed, stopped or failed) — like an Optuna
  process calling ``study.optimize`` until the budget is spent. It stays while others run the
  last trials, so it takes over any of them whose owner dies.
- no ``study``: the oldest running study that has something to do, then the next; a study is
  left once nothing is left to start there while other processes run its last trials.

When there is nothing to do the worker returns; with ``wait`` it looks again every
``poll_seconds`` until it is interrupted (a long-lived worker service, as SageMaker's training
instances wait for jobs). Ctrl-C (or SIGTERM, see the CLI) requeues the worker's running trials
as new attempts, for the other workers; the study's state is left as it is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from tunewise.errors import SpecError, StudyAborted, StudyNotFound
from tunewise.spec import StudySpec
from tunewise.stopping.completion import Completion
from tunewise.store.base import Store
from tunewise.study import DEFAULT_RUNS_DIR
from tunewise.trial import StudyRecord, StudyState, TrialState

POLL_SECONDS = 2.0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Served:
    """What a worker did for one study: how its run there ended, or why it could not run."""

    study: str
    completion: Completion | None = None
    error: str | None = None


class Worker:
    """Serves the studies of one store (see the module docstring)."""

    def __init__(
        self,
        storage: str,
        *,
        study: str | None = None,
        max_parallel: int = 1,
        wait: bool = False,
        poll_seconds: float = POLL_SECONDS,
        log: Callable[[str], None] = _stderr,
    ) -> None:
        if storage in ("", "sqlite://", "sqlite:///:memory:"):
            raise SpecError(
                "--storage",
                "a worker serves stored studies: give the store they are in "
                "(postgresql://user@host/db, or sqlite:///file.db on one machine)",
            )
        if max_parallel < 1:
            raise SpecError("--max-parallel", "must be at least 1")
        self.storage = storage
        self.study = study
        self.max_parallel = max_parallel
        self.wait = wait
        self.poll_seconds = poll_seconds
        self.log = log
        self._unservable: set[int] = set()  # studies this machine cannot run (logged once)

    def run(self) -> list[Served]:
        """Serve until there is nothing to do (forever with ``wait``).

        Raises:
            StudyNotFound: ``study`` is not in the store (and ``wait`` is off).
            SpecError: ``study`` cannot be run by a worker (no trial in its definition, or its
                command or Python target is not found here).
            KeyboardInterrupt: after requeueing the trials this worker was running.
        """
        from tunewise.store import open_store

        store = open_store(self.storage)
        try:
            return self._serve_named(store) if self.study else self._serve_any(store)
        finally:
            store.close()

    # Choosing studies ------------------------------------------------------------------
    def _serve_named(self, store: Store) -> list[Served]:
        assert self.study is not None
        served: list[Served] = []
        announced = False
        while True:
            try:
                record = store.get_study(self.study)
            except StudyNotFound:
                if not self.wait:
                    raise
                record = None
            if record is not None and record.state == StudyState.RUNNING:
                served.append(self._serve(store, record, leave_when_idle=False))
                announced = False
                if not self.wait:
                    return served
                continue
            if not self.wait:
                assert record is not None
                self.log(f"study {record.name} is {record.state}: nothing to do")
                return served
            if not announced:
                state = "not created yet" if record is None else str(record.state)
                self.log(f"study {self.study} is {state}: waiting until it runs")
                announced = True
            time.sleep(self.poll_seconds)

    def _serve_any(self, store: Store) -> list[Served]:
        served: list[Served] = []
        idle: set[int] = set()  # left for lack of work; looked at again after a pause
        announced = False
        while True:
            record = self._find_work(store, skip=idle | self._unservable)
            if record is not None:
                result = self._serve(store, record, leave_when_idle=True)
                served.append(result)
                if result.completion is not None and result.completion.reason == "idle":
                    idle.add(record.id)
                announced = False
                continue
            if not self.wait:
                self.log("no running study has work for this worker; exiting")
                return served
            if not announced:
                self.log("no running study has work for this worker; waiting for some")
                announced = True
            idle.clear()
            time.sleep(self.poll_seconds)

    def _find_work(self, store: Store, skip: set[int]) -> StudyRecord | None:
        """The oldest running study this worker can serve that has something to do."""
        for record in store.list_studies():
            if record.state != StudyState.RUNNING or record.id in skip:
                continue
            spec = self._servable(record)
            if spec is not None and _has_work(store, record, spec):
                return record
        return None

    def _servable(self, record: StudyRecord) -> StudySpec | None:
        """The study's spec, or None (said once) when a worker cannot run it."""
        try:
            spec = StudySpec.from_dict(dict(record.definition))
            if spec.trial is None:
                raise SpecError("study", "was created from Python, with no trial to run")
        except SpecError as exc:
            if self.study is not None:
                message = f"{record.name!r} cannot be run by a worker: {exc}"
                raise SpecError("study", message) from None
            if record.id not in self._unservable:
                self.log(f"skipping study {record.name}: {exc}")
                self._unservable.add(record.id)
            return None
        return spec

    # Serving one study -----------------------------------------------------------------
    def _serve(self, store: Store, record: StudyRecord, *, leave_when_idle: bool) -> Served:
        from tunewise.runners import build_runner
        from tunewise.study import Study

        spec = self._servable(record)
        if spec is None or spec.trial is None:
            return Served(record.name, error="cannot be run by a worker")
        try:
            runner = build_runner(spec.trial)  # the command or module must exist here
        except SpecError as exc:
            if self.study is not None:
                raise
            self.log(f"skipping study {record.name}: {exc}")
            self._unservable.add(record.id)
            return Served(record.name, error=str(exc))
        study = Study(store, record.name, runs_dir=spec.runs_dir or DEFAULT_RUNS_DIR)
        at_once = f"{self.max_parallel} trial{'s' if self.max_parallel > 1 else ''} at a time"
        self.log(
            f"serving study {record.name}: {spec.strategy} search, {at_once}, "
            f"trial logs in {study.runs_dir}/"
        )
        try:
            completion = study.run(
                runner,
                replace(spec.limits, max_parallel=self.max_parallel),
                timeout=spec.trial.timeout,
                worker=True,
                leave_when_idle=leave_when_idle,
            )
        except StudyAborted as exc:
            self.log(f"study {record.name} failed: {exc}")
            return Served(record.name, error=str(exc))
        if completion.reason == "idle":
            self.log(f"leaving study {record.name}: {completion.message}")
        elif completion.reason == "ended_elsewhere":
            self.log(f"study {record.name}: {completion.message}")
        else:
            self.log(f"study {record.name} {study.state}: {completion.message}")
        return Served(record.name, completion)


def _has_work(store: Store, record: StudyRecord, spec: StudySpec) -> bool:
    """Whether a worker could do something for a running study now: start a queued trial, add
    one within the budget, take over a trial whose lease ended, or end the finished study."""
    from tunewise.strategies.registry import strategy_for
    from tunewise.tuner import dead_owners

    counts = store.count_trials(record.id)
    if counts[TrialState.QUEUED] or not counts[TrialState.RUNNING]:
        return True
    max_trials = spec.limits.max_trials
    if max_trials is None:
        max_trials = strategy_for(spec).default_max_trials(spec.space)
    if max_trials is None or sum(counts.values()) < max_trials:
        return True
    running = store.get_trials(record.id, [TrialState.RUNNING])
    now = datetime.now(UTC)
    if any(t.lease_deadline is not None and t.lease_deadline < now for t in running):
        return True
    return bool(dead_owners(t.lease_owner for t in running))
