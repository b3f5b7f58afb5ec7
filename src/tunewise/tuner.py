"""The control loop of one study.

Fill free capacity with suggestions, record reports, finish trials, check the limits — and write
every transition to the store before acting on it, so that killing the driver at any moment
loses nothing but the trials in flight, and those are requeued as new attempts: by the next
driver (which sees their owner is gone, or their lease expired) or by this one on Ctrl-C.

Any number of tuners — drivers (``tunewise run``) and workers (``tunewise worker``), on any
machines — may run one study at once: each claims QUEUED trials first, suggests from the
study's trials as stored (its own and the others'), and adds a suggestion only under the trial
number it was made for (:meth:`Store.add_trial` with ``number``), so no configuration is added
twice and ``max_trials`` is never exceeded. Whoever sees the study complete ends it; the others
see that in the store and wind down.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from tunewise.cost import CostSummary
from tunewise.errors import IllegalTransition, LeaseLost, NumberTaken, SpecError, StudyAborted
from tunewise.executors.base import DoneEvent, Event, Executor, ReportEvent
from tunewise.history import TrialHistory
from tunewise.logs import get_logger, one_line
from tunewise.policies import CompletionCriteria
from tunewise.runners.base import Outcome, Runner, TrialJob
from tunewise.space import Space
from tunewise.space_versions import UsableCache, space_document
from tunewise.spec import LeasePolicy, Limits, RetryPolicy
from tunewise.stopping.completion import Completion, check_criteria, check_limits
from tunewise.stopping.rules import Curve, StoppingRule
from tunewise.store.base import Store
from tunewise.strategies.base import Strategy, strategy_rng
from tunewise.suggestion_record import suggestion_records
from tunewise.trial import FailureKind, Objective, StudyRecord, StudyState, Trial, TrialState

POLL_SECONDS = 0.25
#: Limits after which running trials are ended rather than awaited (SageMaker stops the
#: training jobs in progress when a completion criterion is met, too).
HARD_STOPS = frozenset(
    {
        "too_many_failures",
        "max_runtime",
        "target",
        "max_cost",
        "not_improving",
        "convergence",
        "stopped",
        "ended_elsewhere",
    }
)
#: Completions this tuner did not decide: it leaves the study's state as another process (or
#: nobody, for ``idle``) set it.
NOT_DECIDED_HERE = frozenset({"ended_elsewhere", "idle"})
#: How long a tuner waits for its turn to suggest before it goes on without it (a process that
#: holds the turn may be frozen; the trial-number check keeps suggestions right regardless).
SUGGESTION_LOCK_SECONDS = 0.5
INTERRUPTED = "interrupted (Ctrl-C or SIGTERM)"
#: How often the loop reads the study's stored state (a stop from the dashboard or REST).
STATE_POLL_SECONDS = 0.2


def process_owner() -> str:
    """A lease owner name unique to this process: host, pid and a random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def dead_owners(owners: Iterable[str | None]) -> list[str]:
    """Owners that are processes of this machine which no longer exist: their leases can be
    taken over at once instead of waiting for the deadline (a driver killed with -9)."""
    host = socket.gethostname()
    dead = []
    for owner in {o for o in owners if o}:
        owner_host, _, rest = owner.partition(":")
        pid_text = rest.partition(":")[0]
        if owner_host != host or not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
        except ProcessLookupError:
            dead.append(owner)
        except PermissionError:
            pass  # alive, someone else's
    return sorted(dead)


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
    cost: CostSummary | None = None  # spent and left, when the study declares a cost


ProgressCallback = Callable[[Progress], None]


def rate_eta(elapsed: float, finished: int, left: int | None) -> float | None:
    """Seconds until ``left`` more trials finish at this run's rate (``finished`` trials in
    ``elapsed`` seconds); ``None`` before the first one ends or when no trial count bounds the
    study. Never read from ``max_runtime``: a time limit says when a study must end, not when
    its trials will."""
    if left is None or finished <= 0:
        return None
    return elapsed / finished * left


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
        retries: RetryPolicy | None = None,
        lease: LeasePolicy | None = None,
        owner: str | None = None,
        stopping: StoppingRule | None = None,
        criteria: CompletionCriteria | None = None,
        prior_history: Sequence[Trial] = (),
        on_progress: ProgressCallback | None = None,
        worker: bool = False,
        leave_when_idle: bool = False,
        call_limit: Callable[[], Completion | None] | None = None,
        on_trial_finished: Callable[[Trial], None] | None = None,
    ) -> None:
        """``call_limit``: asked once per loop; when it returns a completion (this call's
        timeout, ``study.stop()``), no new trial starts and the run ends with it once the running
        ones have finished. ``on_trial_finished``: called in this process with each trial this
        tuner finishes (any finished state, not a retried attempt); what it raises ends the run
        as an error would. ``worker``: join a study others may run too — do not mark it running, nor
        interrupted when stopped (the others go on); still end it when this tuner sees it
        complete. ``leave_when_idle``: return (completion ``idle``) as soon as nothing is left
        for this tuner to start while trials of other processes still run."""
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
        self.retries = retries or RetryPolicy()
        self.lease = lease or LeasePolicy()
        self.owner = owner or process_owner()
        self.on_progress = on_progress
        self.stopping = stopping
        self.criteria = criteria or CompletionCriteria()
        #: Trials of warm-start parents the strategy learns from (identical warm start).
        self.prior_history = list(prior_history)
        self.worker = worker
        self.leave_when_idle = leave_when_idle
        self.call_limit = call_limit
        self.on_trial_finished = on_trial_finished
        self._call_ended: Completion | None = None
        self.max_trials = limits.max_trials or strategy.default_max_trials(space)
        if self.max_trials is None and limits.max_runtime is None and limits.max_cost is None:
            raise SpecError(
                "limits.max_trials", "is required (or give limits.max_runtime) so the study ends"
            )
        from tunewise.stopping.cost import CostMeter

        # None: no cost declared. A retried trial's earlier attempts are paid for too.
        self._cost = CostMeter.for_study(
            study.definition, limits, lambda number: store.get_attempts(study.id, number)
        )
        self._trials: dict[int, Trial] = {}
        self._history = TrialHistory(store, study.id)
        self._consecutive_failures = 0
        self._last_error: str | None = None
        self._started_at = 0.0
        self._done_this_run = 0
        self._interrupted = False
        self._exhausted = False
        self._stop_request: str | None = None  # a person stopped the study (dashboard)
        self._state_read_at = 0.0  # when the study's stored state was last read
        self._ended: StudyRecord | None = None  # another process ended the study
        self._curves: dict[int, dict[int, float]] = {}  # objective per step, current attempts
        self._stop_reasons: dict[int, str] = {}
        # Progress tallies, over the trials the history saw end (each read once).
        self._seen_ended = 0
        self._failed = 0
        self._best: Trial | None = None
        self._define_by_run = bool(study.definition.get("define_by_run"))
        #: The study's space as stored: an edit (``tunewise edit``, from any process) changes
        #: it, and the next read of the study's state takes the new one up.
        self._space_document = space_document(study.definition)
        #: Once the space was edited: the history the strategies get is the trials inside it,
        #: projected (:mod:`tunewise.space_versions`); ``None`` for a study never edited.
        self._usable: UsableCache | None = None
        versions = store.get_space_versions(study.id)
        #: The version ``self.space`` is, passed with every trial added: one suggested in a
        #: space edited meanwhile is refused by the store (``SpaceEdited``) and made again.
        self._space_version = versions[-1].version
        if not self._define_by_run and len(versions) > 1:
            self._usable = UsableCache(space)

    # The loop --------------------------------------------------------------------------
    def run(self) -> Completion:
        """Run to completion; returns why the study ended.

        Raises:
            StudyAborted: too many consecutive failures (the study is stored as failed).
            KeyboardInterrupt: after requeueing the running trials and storing the study
                interrupted (running the study again continues it).
        """
        sid = self.study.id
        if not self.worker:
            self.store.set_study_state(sid, StudyState.RUNNING)
        self._started_at = time.monotonic()
        self._maintain()
        try:
            with self._deferred_interrupt():
                completion = self._loop()
        except KeyboardInterrupt:
            self._handle(self.executor.shutdown(INTERRUPTED, FailureKind.INTERRUPTED))
            self._requeue_orphans(INTERRUPTED)
            if not self.worker:
                self.store.set_study_state(sid, StudyState.INTERRUPTED, INTERRUPTED)
            raise
        except BaseException:
            reason = f"the {'worker' if self.worker else 'driver'} stopped on an error"
            self._handle(self.executor.shutdown(reason, FailureKind.INTERRUPTED))
            self._requeue_orphans(reason)
            if not self.worker:
                self.store.set_study_state(sid, StudyState.INTERRUPTED, reason)
            raise
        self._emit_progress()
        if completion.reason in NOT_DECIDED_HERE:
            return completion
        if completion.reason == "too_many_failures":
            evidence = {"criterion": completion.reason, **completion.evidence}
            self.store.set_study_state(sid, StudyState.FAILED, completion.message, evidence)
            raise StudyAborted(completion.message)
        evidence = {"criterion": completion.reason, **completion.evidence}
        if completion.reason == "stopped":  # leave it stopped, as the person asked
            self.store.set_study_state(sid, StudyState.STOPPED, completion.message, evidence)
        else:
            self.store.set_study_state(sid, StudyState.COMPLETED, completion.message, evidence)
        return completion

    def _loop(self) -> Completion:
        hard_stop: Completion | None = None
        last_maintenance = time.monotonic()
        while True:
            if self._interrupted:
                raise KeyboardInterrupt
            if hard_stop is None and time.monotonic() - self._state_read_at >= STATE_POLL_SECONDS:
                self._read_study_state()
            if hard_stop is None:
                limit = self._check_limits()
                if limit is not None and limit.reason in HARD_STOPS:
                    hard_stop = limit
                    self._wind_down(hard_stop)
            if self._call_ended is None and self.call_limit is not None:
                self._call_ended = self.call_limit()
            if hard_stop is None and self._call_ended is None and self.executor.free > 0:
                self._start_trials()
            if not self.executor.running:
                if hard_stop is not None:
                    return hard_stop
                if self._call_ended is not None:
                    return self._call_ended
                self._trials = self._history.refresh()  # others' trials may have ended
                if not self._history.unfinished:
                    if self._exhausted and self._below_max_trials():
                        return Completion(
                            "search_exhausted",
                            f"the {self.strategy.name} strategy has no configuration left",
                            {"trials": len(self._trials)},
                        )
                    limit = self._check_limits()
                    if limit is not None:
                        return limit
                elif self.leave_when_idle and self._nothing_to_start():
                    running = sum(not t.state.is_finished for t in self._trials.values())
                    return Completion(
                        "idle",
                        "nothing left to start here; the other processes run the last trials",
                        {"unfinished": running},
                    )
            timeout = POLL_SECONDS if self._trials else 0.0
            self._handle(self.executor.poll(timeout))
            if time.monotonic() - last_maintenance >= self.lease.heartbeat:
                self._maintain()
                last_maintenance = time.monotonic()
            self._emit_progress()

    def _nothing_to_start(self) -> bool:
        """No queued trial, and no room for a new one (as of the last refresh)."""
        if any(t.state == TrialState.QUEUED for t in self._trials.values()):
            return False
        return self._exhausted or not self._below_max_trials()

    def _below_max_trials(self) -> bool:
        return self.max_trials is None or len(self._trials) < self.max_trials

    def _check_limits(self) -> Completion | None:
        if self._stop_request is not None:
            return Completion("stopped", self._stop_request, {})
        if self._ended is not None:
            message = f"another process ended the study ({self._ended.state})"
            if self._ended.reason:
                message += f": {self._ended.reason}"
            return Completion("ended_elsewhere", message, {})
        limit = self._check_basic_limits()
        if limit is not None or self.criteria == CompletionCriteria():
            return limit
        completed = [t for t in self._trials.values() if t.state == TrialState.COMPLETED]
        completed.sort(key=lambda t: (t.finished_at is None, t.finished_at, t.number))
        judged = [*self.prior_history, *completed]
        if self._usable is not None:  # an edited space: distances need the trials inside it
            judged = self._usable.kept(judged)
        multi = len(self.strategy.objectives) > 1 or isinstance(self.criteria.target, Mapping)
        if multi or self.strategy.constraints:
            from tunewise.stopping.completion_multi import check_criteria_for

            return check_criteria_for(
                self.criteria,
                judged,
                self.strategy.objectives,
                self.strategy.constraints,
                self.space,
            )
        return check_criteria(self.criteria, judged, self.objective.sign, self.space)

    def _check_basic_limits(self) -> Completion | None:
        limit = check_limits(
            started=len(self._trials),
            max_trials=self.max_trials,
            elapsed=time.monotonic() - self._started_at,
            max_runtime=self.limits.max_runtime,
            consecutive_failures=self._consecutive_failures,
            max_consecutive_failures=self.limits.max_consecutive_failures,
            last_error=self._last_error,
        )
        if self._cost is not None and (limit is None or limit.reason == "max_trials"):
            # before max_trials, which lets the running trials finish: max_cost stops them
            return self._cost.check(self._history) or limit
        return limit

    def _wind_down(self, completion: Completion) -> None:
        """End running trials when a hard limit says so: abort now, or stop them (each ends
        STOPPED at its last report) when max_runtime or a completion criterion is met."""
        if completion.reason == "too_many_failures":
            self._handle(
                self.executor.shutdown(
                    "the study aborted: " + completion.message, FailureKind.INFRASTRUCTURE
                )
            )
        elif completion.reason in ("stopped", "max_cost"):
            # a person asked, or the money ran out: running trials end within 1 s
            for number in self.executor.running:
                self.executor.stop_promptly(number, f"the study ended: {completion.message}")
        else:
            for number in self.executor.running:
                self.executor.cancel(number, f"the study ended: {completion.message}")

    def _start_trials(self) -> None:
        """Start trials into free capacity: queued ones (retries, trials other processes
        requeued or enqueued) first, then suggestions — made in turn with the other processes
        that suggest for this study (the store's suggestion lock), so none of them suggests in
        vain for a trial number another one took meanwhile."""
        if self._read_study_state():  # stopped (or ended) since the last look: start nothing
            return
        if self._cost is not None and self._cost.room(self._history) == 0:
            return  # the next trial is expected to overrun limits.max_cost
        self._claim_queued()
        if self.executor.free <= 0 or self._exhausted or not self._below_max_trials():
            return
        added: list[Trial] = []
        with self.store.suggestion_lock(self.study.id, SUGGESTION_LOCK_SECONDS):
            deadline = time.monotonic() + SUGGESTION_LOCK_SECONDS  # then back to heartbeats
            while not self._add_suggestions(added) and time.monotonic() < deadline:
                pass
        for trial in added:  # forked after the turn is passed on
            self._launch(trial)

    def _claim_queued(self) -> None:
        """Claim the QUEUED trials of the last refresh into free capacity, lowest number
        first — except a trial this tuner still runs an earlier attempt of (its lease was taken
        over while the attempt went on: it ends here when the next heartbeat finds that out)."""
        if self.executor.free <= 0:
            return
        running = set(self.executor.running)
        for queued in self._history.pending:
            if self.executor.free <= 0:
                return
            if queued.state != TrialState.QUEUED or queued.number in running:
                continue
            if self._cost is not None and self._cost.room(self._history) == 0:
                return
            if time.monotonic() - self._state_read_at > 0.05 and self._read_study_state():
                return  # stopped meanwhile (the suggestion turn may have taken a while)
            claimed = self.store.claim_trial(
                self.study.id, self.owner, self.lease.grace, number=queued.number
            )
            if claimed is not None:  # else another process claimed it first
                self._launch(claimed)

    def _add_suggestions(self, added: list[Trial]) -> bool:
        """Suggest into the free capacity (less the trials in ``added``, to be launched) from
        the study's trials as stored now, and add each suggestion under the number it was made
        for, to ``added``. False when another process added a trial first (the rest of the
        suggestions are dropped: they did not know of it)."""
        free = self.executor.free - len(added)
        if free <= 0 or self._exhausted:
            return True
        self._trials = self._history.refresh()
        self._claim_queued()  # queued since the last refresh (requeued by others, enqueued)
        free = self.executor.free - len(added)
        if free <= 0:
            return True
        budget = free
        remaining = None if self.max_trials is None else self.max_trials - len(self._trials)
        if remaining is not None:
            budget = min(budget, remaining)
        fits = None if self._cost is None else self._cost.room(self._history)
        if fits is not None:  # as many as limits.max_cost leaves room for
            budget = min(budget, fits - len(added))
        if budget <= 0:
            return True
        # The history's own lists, kept in number order as trials end: no pass over the study
        # per trial, so starting one costs the same with 100 trials stored as with 100,000.
        finished = self._history.finished
        history = [*self.prior_history, *finished] if self.prior_history else finished
        pending = self._history.pending
        if self._usable is not None:  # an edited space: the trials inside it, projected
            history = self._usable.kept(history)
            pending = self._usable.kept(pending, finished=False)
        space = self.space
        number = len(self._trials)  # the history holds every trial: numbers are contiguous
        rng = strategy_rng(self.strategy.seed, number)
        suggestions = self.strategy.suggest(
            self.space, history, pending, budget, rng, remaining=remaining
        )
        self._exhausted = not suggestions
        if suggestions and self._read_study_state():  # stopped while suggesting
            return True
        if self.space is not space:  # edited while suggesting: suggest again in the new space
            return False
        records = suggestion_records(  # what `tunewise replay` needs to re-derive them
            self.strategy,
            suggestions,
            space=self.space,
            number=number,
            n=budget,
            finished=finished,
            pending=pending,
            remaining=remaining,
            prior=self.prior_history,
        )
        for params, record in zip(suggestions, records, strict=True):
            try:
                trial = self.store.add_trial(
                    self.study.id,
                    params,
                    owner=self.owner,
                    lease_seconds=self.lease.grace,
                    number=number,
                    suggestion=record,
                    space_version=None if self._define_by_run else self._space_version,
                )
            except NumberTaken:  # or SpaceEdited: the next state read takes the new space
                self._exhausted = False  # the others' trials may leave room for new ones
                return False
            number += 1
            self._trials[trial.number] = trial
            self._history.update(trial)
            added.append(trial)
        return True

    def _launch(self, trial: Trial) -> None:
        self._trials[trial.number] = trial
        self._history.update(trial)
        job = TrialJob(
            study=self.study.name,
            number=trial.number,
            params=self.space.with_static(trial.params),
            trial_dir=self.runs_dir / f"{trial.number:05d}",
            objective=self.objective.metric,
            attempt=trial.attempt,
            timeout=self.timeout,
            wait_for_decision=self.stopping is not None,
            # define-by-run: the trial asks its params against the space seen so far
            space=self.space.to_dict()["params"] if self._define_by_run else None,
            seed=self.strategy.seed,
        )
        try:
            self.executor.submit(job, self.runner)
        except Exception as exc:  # record it: a trial must never stay RUNNING unattended
            self._finish(
                trial.number,
                Outcome.failed(FailureKind.INFRASTRUCTURE, f"could not start the trial: {exc}"),
            )
            return
        devices = self.executor.devices(trial.number)
        if devices:  # the GPUs it was given, kept with the trial (`tunewise trials`, dashboard)
            from tunewise.devices import DEVICES_ATTR
            from tunewise.errors import StoreError

            shown = [int(d) if d.isdigit() else d for d in devices]
            with contextlib.suppress(StoreError):  # finished meanwhile: it keeps no record
                self.store.set_trial_user_attr(self.study.id, trial.number, DEVICES_ATTR, shown)

    # Events ----------------------------------------------------------------------------
    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ReportEvent):
                # A trial taken over (or expired) is recorded by its new owner, not here.
                with contextlib.suppress(LeaseLost, IllegalTransition):
                    self.store.add_report(self.study.id, event.number, event.step, event.values)
                    self._apply_stopping(event)
                    if self._cost is not None:
                        self._cost.record_report(event.number, event.values)
                if event.number not in self._stop_reasons:
                    self.executor.acknowledge(event.number)
            elif isinstance(event, DoneEvent):
                self._finish(event.number, event.outcome)

    def _apply_stopping(self, event: ReportEvent) -> None:
        """Record the objective's curve point and ask the stopping rule about the trial."""
        value = event.values.get(self.objective.metric)
        if value is None or self.stopping is None:
            return
        self._curves.setdefault(event.number, {})[event.step] = value
        if event.number in self._stop_reasons or event.number not in self.executor.running:
            return
        completed = [n for n, t in self._trials.items() if t.state == TrialState.COMPLETED]
        curves: dict[int, Curve] = dict(self._curves)
        decision = self.stopping.decide(event.number, event.step, curves, completed)
        if decision.stop:
            self._stop_reasons[event.number] = decision.reason
            self.executor.cancel(event.number, decision.reason, FailureKind.USER_ERROR)

    def _finish(self, number: int, outcome: Outcome) -> None:
        """Record how an attempt ended: finish the trial, or requeue it as a new attempt when
        it was interrupted or the retry policy allows."""
        from tunewise.front import check_outcome

        # Every objective and constrained metric must be there (the runner checked the first).
        outcome = check_outcome(outcome, self.strategy.objectives, self.strategy.constraints)
        if self._cost is not None:  # a cost metric the trial did not report fails it
            outcome = self._cost.check_outcome(outcome)
        sid = self.study.id
        kind = outcome.failure_kind
        attempt = self._trials[number].attempt if number in self._trials else 1
        outcome = self._explain(number, outcome)
        for key, value in (outcome.user_attrs or {}).items():  # trial.set_user_attr in the trial
            with contextlib.suppress(IllegalTransition):
                self.store.set_trial_user_attr(sid, number, key, value)
        if outcome.params is not None and outcome.distributions is not None:
            from tunewise.define_by_run import record_suggested

            with contextlib.suppress(IllegalTransition):  # finished by another process
                grown = record_suggested(
                    self.store, self.study, number, outcome.params, outcome.distributions
                )
                if grown is not None:
                    self.space = grown
        try:
            if (
                outcome.state == TrialState.FAILED
                and kind is not None
                and (kind == FailureKind.INTERRUPTED or self.retries.allows(kind, attempt))
            ):
                trial = self.store.requeue_trial(
                    sid, number, failure_kind=kind, error=outcome.error, owner=self.owner
                )
            else:
                trial = self.store.finish_trial(
                    sid,
                    number,
                    outcome.state,
                    value=outcome.value,
                    metrics=outcome.metrics,
                    failure_kind=kind,
                    error=outcome.error,
                    owner=self.owner,
                )
        except LeaseLost:
            trial = self.store.get_trial(sid, number)
        self._trials[number] = trial
        self._history.update(trial)
        if trial.state == TrialState.QUEUED:
            self._curves.pop(number, None)  # the next attempt draws its own curve
            self._stop_reasons.pop(number, None)
        self._done_this_run += trial.state.is_finished
        if outcome.state == TrialState.FAILED and kind != FailureKind.INTERRUPTED:
            self._consecutive_failures += 1
            self._last_error = outcome.error
        elif outcome.state != TrialState.FAILED:
            self._consecutive_failures = 0
        if outcome.state == TrialState.FAILED and kind != FailureKind.INTERRUPTED:
            retry = ", retried" if trial.state == TrialState.QUEUED else ""
            get_logger().warning(
                "trial %d failed (%s%s): %s", number, kind, retry, one_line(outcome.error)
            )
        if trial.state.is_finished and self.on_trial_finished is not None:
            # Unset while it runs: once it has raised, the shutdown that follows (which may
            # finish more trials) does not call it again and hide its exception.
            hook, self.on_trial_finished = self.on_trial_finished, None
            hook(trial)
            self.on_trial_finished = hook

    def _explain(self, number: int, outcome: Outcome) -> Outcome:
        """Say why a trial ended early, and when a stopping rule could not judge a trial that
        reported no intermediate value (so nobody mistakes it for an early-stopped result)."""
        if outcome.state == TrialState.STOPPED and number in self._stop_reasons:
            return replace(outcome, error=f"stopped early: {self._stop_reasons[number]}")
        if (
            self.stopping is not None
            and outcome.state == TrialState.COMPLETED
            and not self._curves.get(number)
        ):
            note = (
                "never reported an intermediate value of "
                f"{self.objective.metric!r}, so early stopping could not judge it: report "
                "each step with trial.report(value, step) or tunewise.report(step=..., ...)"
            )
            return replace(outcome, error=note)
        return outcome

    def _maintain(self) -> None:
        """Renew our leases, take over those of dead owners or past their deadline, and
        refresh what we know of trials other processes run."""
        sid = self.study.id
        self._read_study_state()
        for number in self.executor.running:
            try:
                self.store.heartbeat(sid, number, self.owner, self.lease.grace)
            except LeaseLost:
                self.executor.cancel(
                    number, "its lease was taken over", FailureKind.LOST, keep_partial=False
                )
        self._trials = self._history.refresh()
        # The refresh re-read every unfinished trial: expire leases only when one is due.
        now = datetime.now(UTC)
        running = [t for t in self._history.pending if t.state == TrialState.RUNNING]
        gone = [o for o in dead_owners(t.lease_owner for t in running) if o != self.owner]
        if gone or any(t.lease_deadline and t.lease_deadline < now for t in running):
            max_attempts = self.retries.max_attempts if "lost" in self.retries.on else 1
            self.store.expire_leases(sid, owners=gone, max_attempts=max_attempts)
            self._trials = self._history.refresh()
        if self.stopping is not None:  # the curves of every process's trials, as stored
            metric = self.objective.metric
            self._curves = {
                number: {r.step: r.values[metric] for r in reports if metric in r.values}
                for number, reports in self.store.get_study_reports(sid).items()
            }

    def _read_study_state(self) -> bool:
        """Read the study's stored state: a person's stop (dashboard, REST) or another process
        ending it. True when no trial may start any more. Read every STATE_POLL_SECONDS and
        right before trials are added, so none starts after the stop is stored."""
        self._state_read_at = time.monotonic()
        record = self.store.get_study(self.study.name)
        if not self._define_by_run and space_document(record.definition) != self._space_document:
            self._take_space(record)
        if record.state == StudyState.STOPPED and self._stop_request is None:
            self._stop_request = record.reason or "stopped by a person"
        elif record.state in (StudyState.COMPLETED, StudyState.FAILED):
            self._ended = record
        return self._stop_request is not None or self._ended is not None

    def _take_space(self, record: StudyRecord) -> None:
        """Search the study's edited space from now on (another process, or this one, stored
        a new version): the next suggestions come from it and from the trials inside it."""
        from tunewise.spec import StudySpec

        # The definition and its number from one row: a second edit between two reads would
        # otherwise pair one version's space with the other's number.
        latest = self.store.get_space_versions(self.study.id)[-1]
        self.space = StudySpec.from_dict(dict(latest.definition)).space
        self._space_document = space_document(latest.definition)
        self._space_version = latest.version
        self._usable = UsableCache(self.space)
        self._exhausted = False  # a grid may have new points
        get_logger().info("study %s: its space was edited; searching the new one", record.name)

    @contextlib.contextmanager
    def _deferred_interrupt(self) -> Iterator[None]:
        """Turn the first Ctrl-C (or SIGTERM, which process managers and container
        orchestrators send first) into a flag the loop acts on between store writes, so no
        transition is cut in half and the running trials are requeued; a second one interrupts
        at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum: int, frame: object) -> None:
            if self._interrupted:
                raise KeyboardInterrupt
            self._interrupted = True

        previous = signal.signal(signal.SIGINT, on_sigint)
        previous_term = signal.signal(signal.SIGTERM, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            signal.signal(signal.SIGTERM, previous_term)

    def _requeue_orphans(self, reason: str) -> None:
        """Requeue trials this driver holds that no executor event ended (a launch cut short)."""
        for trial in self.store.get_trials(self.study.id, [TrialState.RUNNING]):
            if trial.lease_owner == self.owner:
                with contextlib.suppress(LeaseLost, IllegalTransition):
                    self.store.requeue_trial(
                        self.study.id,
                        trial.number,
                        failure_kind=FailureKind.INTERRUPTED,
                        error=reason,
                        owner=self.owner,
                    )

    # Progress --------------------------------------------------------------------------
    def _emit_progress(self) -> None:
        if self.on_progress is None:
            return
        ended = self._history.ended_since(self._seen_ended)
        self._seen_ended += len(ended)
        for t in ended:
            self._failed += t.state == TrialState.FAILED
            best = self._best
            if (
                t.state == TrialState.COMPLETED
                and t.value is not None
                and (
                    best is None
                    or self.objective.is_better(t.value, best.value)
                    or (t.value == best.value and t.number < best.number)  # lowest number wins
                )
            ):
                self._best = t
        best = self._best
        finished = self._history.finished
        elapsed = time.monotonic() - self._started_at
        left = None if self.max_trials is None else max(0, self.max_trials - len(finished))
        eta = rate_eta(elapsed, self._done_this_run, left)
        self.on_progress(
            Progress(
                total=self.max_trials,
                done=len(finished),
                running=len(self.executor.running),
                failed=self._failed,
                best=None if best is None else best.value,
                best_number=None if best is None else best.number,
                elapsed=elapsed,
                eta=eta,
                cost=None if self._cost is None else self._cost.summary(self._history),
            )
        )
