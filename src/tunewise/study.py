"""The Python face of a study: create or load it, optimize a function, ask and tell, read results.

``create_study`` with the name and definition of a stored study continues it (as ``tunewise
run`` does with the same spec); with a different definition it refuses, naming what differs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.asked import AskedTrial
from tunewise.cost import CostSpec
from tunewise.errors import SpecError, StudyNotFound
from tunewise.heartbeat import Heartbeat
from tunewise.space import Param, Space
from tunewise.space_versions import space_document
from tunewise.spec import (
    DEFAULT_STRATEGY,
    CompletionCriteria,
    EarlyStopping,
    ExecutorSpec,
    Hyperband,
    LeasePolicy,
    Limits,
    RetryPolicy,
    StudySpec,
    WarmStart,
)
from tunewise.study_admin import finished_state as _finished_state
from tunewise.study_admin import study_name as _study_name
from tunewise.study_admin import trial_number as _trial_number
from tunewise.study_admin import user_attr as _user_attr
from tunewise.study_admin import user_attrs as _user_attrs
from tunewise.study_create import open_or_create
from tunewise.trial import (
    Attempt,
    Constraint,
    Objective,
    Report,
    SpaceVersion,
    StudyState,
    Trial,
    TrialState,
)

if TYPE_CHECKING:
    from tunewise.analysis.ranges import RangeProposals
    from tunewise.executors.base import Executor
    from tunewise.replay import ReplayReport
    from tunewise.runners.base import Runner
    from tunewise.stopping.completion import Completion
    from tunewise.store.base import Store
    from tunewise.study_ask import AskSuggester
    from tunewise.study_run import Callback
    from tunewise.tuner import ProgressCallback
    from tunewise.warmstart import ParentTrials

#: An in-memory study's asked trials cannot be taken over by another process: no heartbeat.
MEMORY_LEASE_SECONDS = 7 * 24 * 3600.0
DEFAULT_RUNS_DIR = "tunewise-runs"


def _open(storage: str | None, *, create: bool = True) -> Store:
    """The store at ``storage``; ``create=False``: an existing one only (a mistyped SQLite
    path is an error naming it, and leaves no empty database behind)."""
    from tunewise.store import open_store

    if storage is not None and not isinstance(storage, str):
        raise TypeError(
            "storage must be a database URL such as sqlite:///tunewise.db or "
            f"postgresql://user@host/db (None: in memory), got {storage!r}"
        )
    return open_store(storage, create=create)


class Study:
    """A stored study. Obtain one with :func:`create_study` or :func:`load_study`."""

    def __init__(
        self,
        store: Store,
        name: str,
        runs_dir: str | Path | None = None,
        storage: str | None = None,
    ) -> None:
        self._store = store
        record = store.get_study(name)
        self._id = record.id
        self.name = name
        self.spec = StudySpec.from_dict(dict(record.definition))
        self._definition = dict(record.definition)  # what ``spec`` was read from
        self._owner: str | None = None
        self._runs_dir = Path(runs_dir) if runs_dir is not None else None
        self._storage = storage  # None: in memory (no other process can take a lease over)
        self._heartbeat: Heartbeat | None = None
        self._parents: ParentTrials | None = None
        self._suggester: AskSuggester | None = None  # ask's suggestions (tunewise.study_ask)
        self._stop_requested = False  # study.stop(): read by optimize's loop

    # What the study is -----------------------------------------------------------------
    @property
    def objective(self) -> Objective:
        return self.spec.objective

    @property
    def space(self) -> Space:
        """The searched space, as stored now: a define-by-run study's is what its trials asked
        so far (it grows as they run); an edited study's is its current version (an edit made
        by another process too)."""
        definition = dict(self._store.get_study(self.name).definition)
        if self.spec.define_by_run:
            return StudySpec.from_dict(definition).space
        if space_document(definition) != space_document(self._definition):
            self.spec = StudySpec.from_dict(definition)  # edited (tunewise edit) meanwhile
            self._definition = definition
        return self.spec.space

    def set_space(
        self, space: Space | Mapping[str, Param], *, static: Mapping[str, Any] | None = None
    ) -> SpaceVersion:
        """Store ``space`` as the study's next space version, in the middle of the study: the
        next trials are suggested from it (a running ``optimize`` or ``tunewise run`` takes it
        up too), learning from the earlier trials that lie inside it. ``space`` and ``static``
        take :func:`create_study`'s forms; a parameter left out must be fixed by a ``static``
        value. Returns the version, whose ``note`` says what changed and which earlier trials
        are set aside. See :mod:`tunewise.space_edit`.

        Raises:
            SpecError: a type change, a removed parameter with no static value, a define-by-run
                study, an invalid or unchanged space (the field is named).
        """
        from tunewise.space_edit import edit_space

        version = edit_space(self._store, self.name, space, static)
        self.space  # noqa: B018  (reads the new definition)
        return version

    @property
    def space_versions(self) -> list[SpaceVersion]:
        """Every version of the study's space, oldest first (one until an edit)."""
        return self._store.get_space_versions(self._id)

    @property
    def static(self) -> dict[str, Any]:
        return dict(self.space.static)

    @property
    def seed(self) -> int:
        assert self.spec.seed is not None  # a stored study always has its seed
        return self.spec.seed

    @property
    def state(self) -> StudyState:
        """The stored state, except INTERRUPTED for a running study whose driver died (every
        running trial's lease is stale), as ``tunewise status`` shows it."""
        from tunewise.liveness import effective_state

        stored = self._store.get_study(self.name).state
        if stored != StudyState.RUNNING:
            return stored
        return effective_state(stored, self._store.get_trials(self._id, [TrialState.RUNNING]))

    @property
    def reason(self) -> str | None:
        """Why the study ended (``None`` while it runs)."""
        return self._store.get_study(self.name).reason

    @property
    def evidence(self) -> dict[str, Any] | None:
        """What the criterion that ended the study compared (``{"criterion": "target", ...}``)."""
        evidence = self._store.get_study(self.name).evidence
        return None if evidence is None else dict(evidence)

    @property
    def store(self) -> Store:
        return self._store

    @property
    def uuid(self) -> str:
        """The study's identity (a uuid4 hex given at creation; a copy gets its own)."""
        return self._store.get_study(self.name).uuid

    # User attributes -------------------------------------------------------------------
    @property
    def user_attrs(self) -> dict[str, Any]:
        """The JSON values attached with :meth:`set_user_attr`."""
        return dict(self._store.get_study(self.name).user_attrs)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON value (number, string, bool, None, list, dict) to the study."""
        self._store.set_study_user_attr(self._id, *_user_attr(key, value))

    def set_trial_user_attr(self, number: int, key: str, value: Any) -> None:
        """Attach a JSON value to trial ``number`` (any state: an annotation, not a result)."""
        self._store.set_trial_user_attr(self._id, _trial_number(number), *_user_attr(key, value))

    # Results ---------------------------------------------------------------------------
    @property
    def trials(self) -> list[Trial]:
        """Every trial, in number order."""
        return self._store.get_trials(self._id)

    def get_trials(self, states: Sequence[TrialState | str] | None = None) -> list[Trial]:
        """The trials in ``states`` (all when ``None``), in number order, as Optuna's."""
        if states is None:
            return self.trials
        if isinstance(states, str) or not isinstance(states, Sequence):
            raise TypeError(f"states must be a list of trial states, got {states!r}")
        try:
            wanted = [TrialState(str(state).lower()) for state in states]
        except ValueError:
            names = ", ".join(s.value for s in TrialState)
            raise ValueError(f"states must be among {names}, got {list(states)!r}") from None
        return self._store.get_trials(self._id, wanted)

    @property
    def best_trial(self) -> Trial:
        """The best COMPLETED trial (lowest number among equals); with constraints, the best
        feasible one.

        Raises:
            ValueError: no (feasible) trial has completed yet.
            RuntimeError: the study has several objectives (use :attr:`best_trials`).
        """
        from tunewise.front import refuse_single

        refuse_single(self.name, len(self.spec.objectives), "best trial")
        found = self.best_trials
        if not found:
            feasible = " feasible" if self.spec.constraints else ""
            raise ValueError(f"study {self.name!r} has no{feasible} completed trial yet")
        return found[0]

    @property
    def best_trials(self) -> list[Trial]:
        """The feasible Pareto front (trials no other feasible completed trial beats on every
        objective), in number order; a single-objective study's best feasible trial, in a list
        (empty when none has completed)."""
        from tunewise.front import front_trials

        candidates = self._store.get_trials(self._id, [TrialState.COMPLETED])
        if self.spec.warm_start is not None and self.spec.warm_start.type == "identical":
            candidates = [*self.parents().trials, *candidates]  # the best across all of them
        return front_trials(candidates, self.spec.objectives, self.spec.constraints)

    def parents(self) -> ParentTrials:
        """The warm-start parents' completed trials mapped into this study's space (their
        ``study_id`` is the parent's; :attr:`ParentTrials.names` names it)."""
        from tunewise.warmstart import ParentTrials, load_parents

        if self.spec.warm_start is None:
            return ParentTrials()
        if self._parents is None:
            self._parents = load_parents(
                self.spec.warm_start, self.space, self.objective, self._store
            )
        return self._parents

    @property
    def best_value(self) -> float:
        from tunewise.front import refuse_single

        refuse_single(self.name, len(self.spec.objectives), "best value")
        value = self.best_trial.value
        assert value is not None
        return value

    @property
    def best_params(self) -> dict[str, Any]:
        from tunewise.front import refuse_single

        refuse_single(self.name, len(self.spec.objectives), "best params")
        return dict(self.best_trial.params)

    def reports(self, number: int) -> list[Report]:
        """The intermediate reports of trial ``number`` (its learning curve)."""
        return self._store.get_reports(self._id, number)

    def curves(self) -> dict[int, list[tuple[int, float]]]:
        """Every trial's learning curve of the objective: ``{number: [(step, value), ...]}``
        (current attempts; trials that reported nothing are absent)."""
        metric = self.objective.metric
        return {
            number: [(r.step, r.values[metric]) for r in reports if metric in r.values]
            for number, reports in self._store.get_study_reports(self._id).items()
        }

    def counts(self) -> dict[TrialState, int]:
        return self._store.count_trials(self._id)

    def replay(self) -> ReplayReport:
        """Re-derive every stored suggestion and say per trial whether it reproduces exactly
        (``tunewise replay``; :mod:`tunewise.replay`): ``.ok``, ``.rate``, ``.to_dict()``."""
        from tunewise.replay import replay_study

        return replay_study(self)

    def why(self, number: int) -> dict[str, Any]:
        """Why the strategy suggested trial ``number`` (``tunewise why``; :mod:`tunewise.explain`).

        Raises:
            KeyError: no trial ``number``.
        """
        from tunewise.explain import explain_trial

        return explain_trial(self, number)

    def suggest_ranges(self) -> RangeProposals:
        """Proposals for the next study's space read from this one's trials (widen a pressed
        bound, narrow, switch linear/log, fix a negligible parameter, drop choices), each with
        its reason and numbers; ``.to_spec()`` / ``.write("next.yaml")`` make the next study,
        warm-started from this one. See :mod:`tunewise.analysis.ranges`.

        Raises:
            SpecError: no completed trial with a value, or several objectives.
        """
        from tunewise.analysis.ranges import for_study

        return for_study(self)

    def trials_dataframe(self) -> Any:
        """The trials as a pandas DataFrame, one row per trial in number order: ``number``,
        ``state``, ``value``, ``datetime_start``, ``datetime_complete``, ``duration``, one
        ``params_NAME`` column per hyperparameter, one ``metrics_NAME`` per metric and one
        ``user_attrs_KEY`` per user attribute, ``attempt``, ``failure_kind``, ``error``
        (Optuna's names, where it has them; ``state`` holds tunewise's state names: completed,
        stopped (Optuna's pruned), failed, running, queued (Optuna's waiting)). Several
        objectives add ``values_0``, ``values_1``, ... (each objective, in order); several
        objectives or constraints add ``feasible`` and ``on_front`` (the feasible Pareto front).

        Raises:
            ImportError: pandas is not installed (``pip install 'tunewise[dashboard]'``).
        """
        from tunewise.study_frame import trials_dataframe

        return trials_dataframe(self)

    # Running ---------------------------------------------------------------------------
    def optimize(
        self,
        func: Callable[..., Any],
        n_trials: int | None = None,
        timeout: float | str | None = None,
        *,
        trial_timeout: float | str | None = None,
        callbacks: Sequence[Callback] | None = None,
        progress: bool | None = None,
        max_trials: int | None = None,
        max_parallel: int = 1,
        max_runtime: float | str | None = None,
        max_consecutive_failures: int | None = None,
        on_progress: ProgressCallback | None = None,
        executor: str | Mapping[str, Any] | ExecutorSpec | None = None,
        max_cost: float | None = None,
    ) -> Completion:
        """Run ``func(params) -> float | dict`` (or ``func(params, trial)``) on new trials, each
        in its own process, as Optuna's ``optimize`` does. Returns why this call ended.

        - ``n_trials``: run that many more trials in this call (a study that ended, for instance
          at its ``max_trials``, is continued); trials enqueued and waiting are among them.
        - ``timeout``: this call's wall clock in seconds (or ``"10m"``): after it no trial
          starts and the running ones finish. ``max_runtime`` is the hard limit: it also stops
          the running trials (each ends STOPPED at its last report).
        - ``trial_timeout``: the limit of one trial; a trial past it fails with kind
          ``timeout``.
        - ``max_trials``: the study's total budget, counting every trial it ever ran.
        - ``callbacks``: functions ``fn(study, trial)`` called in this process after each trial
          this call finishes, whatever its state (a retried attempt is not finished). They may
          read the study, set user attributes and call :meth:`stop` (no new trial starts, the
          running ones finish); an exception they raise ends the call: the running trials are
          requeued, the study is left interrupted, and the exception propagates.
        - ``progress``: ``None`` shows a progress display on a terminal or in Jupyter and
          nothing in logs; ``True`` always; ``False`` never. ``on_progress`` receives the same
          :class:`~tunewise.tuner.Progress` snapshots.
        - ``executor`` takes the spec's form (``"ray"``, ``{"type": "ray", "address":
          "local"}``); default: the study's, else local processes.
        - ``max_cost``: the study's budget in the units of its ``cost`` (created with
          ``cost={"per_hour": 3.06}`` or ``cost={"metric": "dollars"}``), kept with the study;
          it ends with reason ``max_cost`` and never starts a trial expected to overrun it.

        Each failed trial logs one line with its reason (logger ``"tunewise"``).

        Raises:
            NoTrialCompleted: trials failed and none completed (the message gives the failure
                kinds with counts and the last failure).
            StudyAborted: too many trials failed in a row.
            TypeError, ValueError: an argument is wrong (the message names it).
        """
        from tunewise.study_run import optimize

        return optimize(
            self,
            func,
            n_trials,
            timeout,
            trial_timeout=trial_timeout,
            callbacks=callbacks,
            progress=progress,
            max_trials=max_trials,
            max_parallel=max_parallel,
            max_runtime=max_runtime,
            max_consecutive_failures=max_consecutive_failures,
            on_progress=on_progress,
            executor=executor,
            max_cost=max_cost,
        )

    def stop(self) -> None:
        """Ask the running :meth:`optimize` (from a callback, or another thread) to start no
        new trial and return once the running ones finish, as Optuna's ``study.stop()``."""
        self._stop_requested = True

    def run(
        self,
        runner: Runner,
        limits: Limits,
        *,
        timeout: float | None = None,
        on_progress: ProgressCallback | None = None,
        worker: bool = False,
        leave_when_idle: bool = False,
        executor: ExecutorSpec | Executor | None = None,
        call_limit: Callable[[], Completion | None] | None = None,
        on_trial_finished: Callable[[Trial], None] | None = None,
    ) -> Completion:
        """Run the study's loop with a given runner and limits (what ``tunewise run`` uses;
        ``tunewise worker`` passes ``worker``, and ``leave_when_idle``, ``call_limit`` and
        ``on_trial_finished``: see :class:`Tuner`). Trials run on ``executor`` (closed when
        the run ends), or where an ExecutorSpec or else the study's spec says."""
        from tunewise.executors import Executor, build_executor
        from tunewise.stopping import build_stopping_rule
        from tunewise.strategies import strategy_for
        from tunewise.tracking import chain, study_tracking
        from tunewise.tuner import Tuner

        record = self._store.get_study(self.name)
        # The spec's trackers log each trial this driver finishes (built first: a missing
        # library is an error before any trial runs).
        tracking = study_tracking(
            self._store, record.id, self.name, record.uuid, self.objective, self.spec.tracking
        )
        strategy = strategy_for(self.spec, self.seed)
        if self.spec.define_by_run:
            from tunewise.define_by_run import SeenSpaceStrategy

            strategy = SeenSpaceStrategy(strategy)
        chosen = executor or self.spec.executor
        trials_executor = (
            chosen if isinstance(chosen, Executor) else build_executor(chosen, limits.max_parallel)
        )
        try:
            tuner = Tuner(
                self._store,
                record,
                space=self.space,
                objective=self.objective,
                strategy=strategy,
                runner=runner,
                executor=trials_executor,
                limits=limits,
                runs_dir=self.runs_dir,
                timeout=timeout,
                retries=self.spec.retries,
                lease=self.spec.lease,
                stopping=build_stopping_rule(self.spec),
                criteria=self.spec.completion,
                prior_history=self._prior_history(),
                on_progress=on_progress,
                worker=worker,
                leave_when_idle=leave_when_idle,
                call_limit=call_limit,
                on_trial_finished=chain(tracking, on_trial_finished),
            )
            return tuner.run()
        finally:
            trials_executor.close()  # a Ray connection, a Ray it started
            if tracking is not None:
                tracking.close()

    def _prior_history(self) -> list[Trial]:
        warm = self.spec.warm_start
        return self.parents().trials if warm is not None and warm.type == "identical" else []

    @property
    def runs_dir(self) -> Path:
        """Where each trial's folder (logs, hyperparameters.json) goes: ``runs_dir/STUDY-ID``,
        ID the first 8 hex digits of the study's stored uuid, so that studies of one name in
        two stores never share (and overwrite) each other's trial folders."""
        base = self._runs_dir or Path(self.spec.runs_dir or DEFAULT_RUNS_DIR)
        identity = self._store.get_study(self.name).uuid
        return base / (f"{self.name}-{identity[:8]}" if identity else self.name)

    # Ask and tell ----------------------------------------------------------------------
    @property
    def owner(self) -> str:
        if self._owner is None:
            from tunewise.tuner import process_owner

            self._owner = process_owner()
        return self._owner

    def ask(self, *, remaining: int | None = None, lease: float | None = None) -> AskedTrial:
        """A new RUNNING trial leased to this caller: a queued one, else a fresh suggestion.

        A background thread renews the lease until :meth:`tell`; if this process dies, the
        trial is lost after the lease's grace period and requeued by the retry policy.

        ``remaining``: how many trials you will still ask for, this one included, when you
        work to a fixed budget (default: what the spec's ``limits.max_trials`` leaves, if it
        has one). The default strategy spends a budget's last rounds refining around the best
        trials, as ``optimize(max_trials=...)`` and ``tunewise run`` do.

        ``lease``: seconds the trial stays leased with no heartbeat, for a caller in another
        process or language (``tunewise ask``, REST) that tells before then; after it the trial
        is lost (requeued or failed by the retry policy), so a caller that never tells does not
        block the study. Its owner is ``ask:<tag>``, which no process's exit frees earlier.
        """
        from tunewise.study_ask import AskSuggester
        from tunewise.study_run import positive_int

        if remaining is not None:
            positive_int(remaining, "remaining")

        owner, beat = self.owner, lease is None
        if lease is None:
            lease = self._lease_seconds
        else:
            import uuid

            owner = f"ask:{uuid.uuid4().hex[:12]}"
        max_attempts = self.spec.retries.max_attempts if "lost" in self.spec.retries.on else 1
        self._store.expire_leases(self._id, max_attempts=max_attempts)
        claimed = self._store.claim_trial(self._id, owner, lease)
        if claimed is not None:
            return self._leased(claimed, beat)
        if self._suggester is None:
            self._suggester = AskSuggester(self._store, self._id)
        return self._leased(self._suggester.add(self, owner, lease, remaining), beat)

    @property
    def _lease_seconds(self) -> float:
        return MEMORY_LEASE_SECONDS if self._storage is None else self.spec.lease.grace

    def _leased(self, trial: Trial, beat: bool = True) -> AskedTrial:
        if self._storage is not None and beat:
            if self._heartbeat is None:
                self._heartbeat = Heartbeat(
                    self._storage,
                    self._id,
                    self.owner,
                    self.spec.lease.heartbeat,
                    self.spec.lease.grace,
                )
            self._heartbeat.add(trial.number)
        fields = {name: getattr(trial, name) for name in Trial.__dataclass_fields__}
        asked = AskedTrial(**fields, study=self, study_name=self.name)
        grows = self.spec.define_by_run  # else suggest_* may ask only the declared names
        asked._start_suggesting(self.space, trial.params, self.seed, trial.number, grows=grows)
        return asked

    def tell(
        self,
        trial: Trial | int,
        value: float | Sequence[float] | Mapping[str, float] | None = None,
        *,
        state: TrialState | str | None = None,
        error: str | None = None,
    ) -> Trial:
        """Finish a trial from :meth:`ask`: a number, a list (one value per objective) or a
        dict of metrics completes it;
        ``state="failed"`` (with ``error``) records a failure; ``state="stopped"`` an early stop
        at the last reported value.

        Raises:
            TypeError: ``trial`` is neither a trial nor a trial number.
            ValueError: ``trial`` belongs to another study, or ``state`` is not a finished one.
        """
        from tunewise.runners.python import interpret_result
        from tunewise.trial import FailureKind

        number = self._number_of(trial, "tell")
        target = None if state is None else _finished_state(state)
        if self._heartbeat is not None:
            self._heartbeat.discard(number)
        if self.spec.define_by_run and isinstance(trial, AskedTrial):
            from tunewise.define_by_run import record_suggested

            record = self._store.get_study(self.name)
            record_suggested(self._store, record, number, trial.suggested, trial.distributions)
        if target == TrialState.FAILED:
            return self._store.finish_trial(
                self._id,
                number,
                TrialState.FAILED,
                failure_kind=FailureKind.USER_ERROR,
                error=error or "reported failed by tell()",
                owner=self.owner,
            )
        reported: dict[str, float] = {}
        reports = self._store.get_reports(self._id, number)
        for report in reports:
            reported.update(report.values)
        from tunewise.front import as_metrics, check_outcome

        outcome = interpret_result(
            as_metrics(value, self.spec.objectives),
            self.objective.metric,
            reported,
            stopped=target == TrialState.STOPPED,
        )
        outcome = check_outcome(outcome, self.spec.objectives, self.spec.constraints)
        return self._store.finish_trial(
            self._id,
            number,
            outcome.state,
            value=outcome.value,
            metrics=outcome.metrics,
            failure_kind=outcome.failure_kind,
            error=outcome.error,
            owner=self.owner,
        )

    def report(self, trial: Trial | int, value: float | Mapping[str, float], step: int) -> None:
        """Store an intermediate value of an asked trial at ``step`` (your own training loop):
        the objective's value, or a dict of metrics. Optuna's order, ``trial.report(value,
        step)``; keywords work either way."""
        number = self._number_of(trial, "report")
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise TypeError(f"step must be a non-negative integer, got {step!r}")
        values = value if isinstance(value, Mapping) else {self.objective.metric: value}
        self._store.add_report(self._id, number, step, values)

    def _number_of(self, trial: Any, method: str) -> int:
        """The number of ``trial`` (a trial of this study, or a number), checked."""
        if isinstance(trial, bool) or not isinstance(trial, Trial | int):
            raise TypeError(
                f"{method}: trial must be a trial from study.ask() or a trial number, got {trial!r}"
            )
        if isinstance(trial, int):
            return _trial_number(trial)
        owner = trial.study_name if isinstance(trial, AskedTrial) else None
        if (owner is not None and owner != self.name) or (
            owner is None and trial.study_id != self._id
        ):
            theirs = owner or _study_name(self._store, trial.study_id)
            raise ValueError(
                f"{method}: trial {trial.number} belongs to study {theirs!r}, not to study "
                f"{self.name!r}; tell each study its own trials"
            )
        return trial.number

    # Adding trials -----------------------------------------------------------------------
    def enqueue_trial(
        self, params: Mapping[str, Any], *, user_attrs: Mapping[str, Any] | None = None
    ) -> Trial:
        """Queue a configuration to run before new suggestions: the next :meth:`optimize`,
        ``tunewise resume``, worker or :meth:`ask` takes it first. ``params`` must give every
        hyperparameter of the space, within its range.

        Raises:
            SpecError: a parameter is missing, unknown or out of range (named in the message).
        """
        from tunewise.study_admin import checked_params

        if self.spec.define_by_run:  # some names, used when the trial asks them
            from tunewise.define_by_run import checked_fixed

            checked = checked_fixed(self.space, params, "enqueue_trial")
        else:
            checked = checked_params(self.space, params, "enqueue_trial")
        attrs = dict(_user_attrs(user_attrs))
        return self._store.add_trial(self._id, checked, user_attrs=attrs)

    def add_trial(
        self,
        params: Mapping[str, Any],
        value: float | None = None,
        *,
        metrics: Mapping[str, float] | None = None,
        state: TrialState | str = TrialState.COMPLETED,
        error: str | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> Trial:
        """Record a trial run elsewhere (Optuna's ``add_trial``): completed with its ``value``
        (or ``metrics`` holding the objective), ``state="stopped"`` with its last value, or
        ``state="failed"`` with an ``error``. The strategies learn from it like any trial.

        Raises:
            SpecError: ``params`` do not fit the space (the parameter is named).
            ValueError: the result does not fit the state (no finite objective value for a
                completed trial, a value for a failed one).
        """
        from tunewise.study_admin import record_result

        return record_result(
            self, params, value, metrics=metrics, state=state, error=error,
            user_attrs=_user_attrs(user_attrs),
        )  # fmt: skip

    def attempts(self, number: int) -> list[Attempt]:
        """The earlier attempts of a retried trial, each with why it ended."""
        return self._store.get_attempts(self._id, number)

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._store.close()

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, strategy={self.spec.strategy!r})"


def _as_space(space: Space | Mapping[str, Param], static: Mapping[str, Any] | None) -> Space:
    if isinstance(space, Space):
        if static:
            return Space(space.params, {**space.static, **static})
        return space
    return Space(dict(space), static or {})


def create_study(
    name: str | None = None,
    *,
    objective: Objective | None = None,
    space: Space | Mapping[str, Param] | None = None,
    direction: str | None = None,
    study_name: str | None = None,
    strategy: str = DEFAULT_STRATEGY,
    storage: str | None = None,
    seed: int | None = None,
    static: Mapping[str, Any] | None = None,
    retries: Mapping[str, Any] | None = None,
    lease: Mapping[str, Any] | None = None,
    early_stopping: str | Mapping[str, Any] | None = None,
    hyperband: Mapping[str, Any] | None = None,
    completion: Mapping[str, Any] | None = None,
    warm_start: Mapping[str, Any] | None = None,
    enqueue: Sequence[Mapping[str, Any]] = (),
    objectives: Sequence[Objective] | None = None,
    directions: Sequence[str] | None = None,
    constraints: Sequence[Constraint] | None = None,
    tracking: Mapping[str, Mapping[str, str]] | None = None,
    cost: Mapping[str, Any] | None = None,
) -> Study:
    """Create a study, or continue the stored one of that name if its definition is the same.

    ``storage``: ``None`` keeps the study in memory; ``sqlite:///file.db`` or
    ``postgresql://…`` persist it. ``retries`` (``{"max_attempts": 3, "on": ["crashed",
    "lost"]}``), ``lease`` (``{"heartbeat": "10s", "grace": "30s"}``), ``early_stopping``
    (``"median"``) and ``hyperband`` (``{"max_resource": 27}``, with ``strategy="hyperband"``)
    ``completion`` (``{"target": 0.99, "not_improving": {"trials": 10}, "convergence":
    True}``), ``warm_start`` (``{"parents": ["a"], "type": "identical"}``) and ``enqueue`` (a
    list of configurations to run first; continuing a stored study queues those no trial of it
    has had yet, so each runs once) take the spec's forms.

    Optuna's form works too: ``create_study(direction="maximize")`` (the objective is the
    number the function returns, named ``value``), ``study_name=`` for ``name``; without a name
    one is generated (``no-name-<uuid>``). Without a ``space`` the study is define-by-run: its
    trials ask their hyperparameters with ``trial.suggest_float / suggest_int /
    suggest_categorical`` and the study stores the space they asked.

    Several objectives: ``objectives=[tw.Objective("accuracy", "maximize"),
    tw.Objective("latency_ms", "minimize")]`` (or Optuna's ``directions=["maximize",
    "minimize"]``, whose metrics are ``values_0``, ``values_1``); the result is
    :attr:`Study.best_trials`, the Pareto front. ``constraints=[tw.Constraint("memory_mb",
    max=512)]``: a trial is feasible when every one holds; only feasible trials can be best.

    ``tracking`` (``{"mlflow": {"tracking_uri": ..., "experiment": ...}}``, ``wandb``,
    ``tensorboard``): where every finished trial is also logged, as the spec's ``tracking``.

    ``cost`` (``{"per_hour": 3.06}`` or ``{"metric": "dollars"}``, and ``"aware": True`` for
    a cost-aware ``bayesian``): what a trial costs, as the spec's ``cost``; the budget is
    ``optimize(max_cost=...)``.

    Raises:
        TypeError: an argument of the wrong kind (``space=5``, ``storage=123``), named.
        SpecError: a value the spec would refuse, with its field path.
    """
    if study_name is not None:
        if name is not None and name != study_name:
            raise TypeError(f"give the study's name once: name={name!r} or study_name=...")
        name = study_name
    if name is None:
        import uuid

        name = f"no-name-{uuid.uuid4()}"
    from tunewise.front import check_constraints, resolve_objectives

    all_objectives = resolve_objectives(objective, direction, objectives, directions)
    objective = all_objectives[0]
    define_by_run = space is None
    if space is None:
        space = Space({}, static or {})
        static = None
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be tw.Objective(metric, direction), got {objective!r}")
    if not isinstance(space, Space | Mapping):
        raise TypeError(
            "space must be a dict of names to tw.Float / tw.Int / tw.Categorical (or a "
            f"tw.Space), got {space!r}"
        )
    if not isinstance(name, str):
        raise TypeError(f"name must be a study name (a string), got {name!r}")
    full_space = _as_space(space, static)
    if hyperband is not None and strategy != "hyperband":
        raise SpecError("hyperband", "applies only to strategy: hyperband")
    spec = StudySpec(
        name=name,
        objective=objective,
        objectives=all_objectives,
        constraints=check_constraints(constraints),
        space=full_space,
        strategy=strategy,
        seed=seed,
        storage=storage,
        retries=RetryPolicy.from_dict(retries),
        lease=LeasePolicy.from_dict(lease),
        early_stopping=EarlyStopping.from_dict(early_stopping),
        hyperband=None if hyperband is None else Hyperband.from_dict(hyperband, full_space.static),
        completion=CompletionCriteria.from_dict(completion),
        warm_start=WarmStart.from_dict(warm_start),
        enqueue=tuple(enqueue),
        define_by_run=define_by_run,
        tracking=tracking or {},
        cost=CostSpec.from_dict(cost),
    )
    store = _open(storage)
    # An in-memory study leaves its trial logs in a temporary folder, not in the working tree.
    runs_dir = tempfile.mkdtemp(prefix="tunewise-runs-") if storage is None else None
    try:
        name = open_or_create(store, spec).name
        return Study(store, name, runs_dir=runs_dir, storage=storage)
    except BaseException:
        store.close()
        raise


def load_study(name: str, *, storage: str | None = None) -> Study:
    """Open a stored study by name.

    Raises:
        StudyNotFound: there is no such study in ``storage``.
        SpecError: ``storage`` names a SQLite file that does not exist.
    """
    store = _open(storage, create=storage is None)
    try:
        return Study(store, name, storage=storage)
    except StudyNotFound:
        store.close()
        raise
