"""The store contract: the single source of truth of every study.

Guarantees every implementation gives (checked by ``tests/store/test_conformance.py``, run
against SQLite in a file, SQLite in memory and PostgreSQL):

Concurrency
    A store object is safe to use from one thread at a time; many *processes* (and machines, on
    PostgreSQL) may open the same database and call any method concurrently. Every method is
    one transaction: it happens entirely or not at all. Write transactions take the write lock
    up front (SQLite ``BEGIN IMMEDIATE``; PostgreSQL row locks), so they never fail with
    "database is locked" under contention, only wait (up to 30 s on SQLite).

Trial numbers
    :meth:`add_trial` gives numbers 0, 1, 2, ... per study, contiguous, never reused and never
    duplicated, whatever the number of concurrent writers.

States
    A trial moves only along :data:`tunewise.trial.TRANSITIONS`: QUEUED -> RUNNING ->
    COMPLETED | STOPPED | FAILED (QUEUED -> FAILED too, for a trial that never started).
    Finished trials are read-only. Any other change raises :class:`IllegalTransition` and
    changes nothing.

Leases
    A RUNNING trial is leased to an ``owner`` (a string naming a process) until a deadline,
    pushed forward by :meth:`heartbeat`. Calls that pass ``owner`` are refused with
    :class:`LeaseLost` when someone else holds the lease. :meth:`expire_leases` fails RUNNING
    trials whose deadline passed, with kind ``lost``, so no trial stays RUNNING after the
    process that ran it died.

Values
    Returned records are immutable snapshots (:class:`Trial`, :class:`StudyRecord`); changing the
    store never changes an object already returned. Objective values and metrics keep +inf,
    -inf and NaN as they were given.

User attributes
    ``user_attrs`` of studies and trials are annotations (JSON values set by the user): they
    may be set in any state, finished trials included, and never change a result.

Errors
    Driver errors are mapped to :class:`StoreError`; a missing study raises
    :class:`StudyNotFound`; a missing trial raises :class:`StoreError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tunewise.store.table import TrialTable
from tunewise.trial import (
    Attempt,
    FailureKind,
    Report,
    SpaceVersion,
    StudyRecord,
    StudyState,
    Trial,
    TrialState,
)


@dataclass(frozen=True)
class StudyRows:
    """A study's rows in every table as the columns hold them, without the database's own
    keys (row ids, the study id, the uuid): what :meth:`Store.export_study` reads and
    :meth:`Store.import_study` writes. Both stores are at the same schema (each is upgraded on
    open), so the rows travel as they are and the copy is exact (NaN, times, JSON text)."""

    study: dict[str, Any]
    trials: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    reports: list[dict[str, Any]]
    space_versions: list[dict[str, Any]] = field(default_factory=list)


class Store(ABC):
    """Persistent studies, trials and reports. See the module docstring for the guarantees."""

    # Studies ---------------------------------------------------------------------------
    @abstractmethod
    def create_study(self, name: str, definition: Mapping[str, Any]) -> StudyRecord:
        """Create a study in state RUNNING.

        ``definition`` is the JSON form of the study's spec (space, objective, strategy, ...).

        Raises:
            StudyExists: a study of that name already exists (nothing is changed).
        """

    @abstractmethod
    def get_study(self, name: str) -> StudyRecord:
        """Raises:
        StudyNotFound: no study of that name."""

    @abstractmethod
    def list_studies(self) -> list[StudyRecord]:
        """All studies, oldest first."""

    @abstractmethod
    def set_study_state(
        self,
        study_id: int,
        state: StudyState,
        reason: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        *,
        only_from: Iterable[StudyState] | None = None,
    ) -> None:
        """Record the study's state and why: ``reason`` is shown to users as is, ``evidence``
        (JSON) holds what the deciding criterion compared. With ``only_from``, the write is
        one conditional update: it happens only if the stored state is one of those (a stop
        from the dashboard never overwrites a study that completed a moment before).

        Raises:
            IllegalTransition: ``only_from`` given and the stored state is not in it (nothing
                is written).
            StoreError: no study with that id.
        """

    @abstractmethod
    def update_study_definition(self, study_id: int, definition: Mapping[str, Any]) -> None:
        """Replace the stored definition (used when a resumed run raises a limit).

        Raises:
            StoreError: no study with that id.
        """

    @abstractmethod
    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        """Set one user attribute of the study (a JSON value), keeping the others.

        Raises:
            StoreError: no study with that id, or ``value`` is not JSON-serialisable.
        """

    @abstractmethod
    def delete_study(self, study_id: int) -> None:
        """Remove the study with its trials, attempts and reports, in one transaction.

        Raises:
            StoreError: no study with that id.
        """

    @abstractmethod
    def export_study(self, name: str) -> StudyRows:
        """Every row of the study, read in one transaction (for :meth:`import_study`).

        Raises:
            StudyNotFound: no study of that name.
        """

    @abstractmethod
    def import_study(self, rows: StudyRows, name: str) -> StudyRecord:
        """Write a study exported from another store, as ``name``, with a new uuid: its
        definition, state, trials with all their attempts, reports and user attributes.

        Raises:
            StudyExists: a study of that name exists (nothing is written).
        """

    # Trials ----------------------------------------------------------------------------
    @abstractmethod
    def add_trial(
        self,
        study_id: int,
        params: Mapping[str, Any],
        *,
        owner: str | None = None,
        lease_seconds: float | None = None,
        number: int | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        suggestion: Mapping[str, Any] | None = None,
        space_version: int | None = None,
    ) -> Trial:
        """Add a trial with the next number, QUEUED; or RUNNING leased to ``owner`` when given.

        The trial records the study's current space version (``Trial.space_version``) and
        ``suggestion``, what the strategy suggested it from (``Trial.suggestion``).

        ``number``: add it only if the next number is this one (the caller suggested ``params``
        from the study's trials ``0 .. number - 1``; processes sharing a study use it so that no
        two of them add the same suggestion, nor more trials than a limit allows).

        ``space_version``: add it only if the study's space is still at this version (the
        caller suggested ``params`` in that space; an edit stored meanwhile must not record the
        trial under the new version).

        Raises:
            NumberTaken: ``number`` is given and the study's next number is another one
                (nothing is added).
            SpaceEdited: ``space_version`` is given and the study's space is at another
                version (nothing is added; a :class:`NumberTaken`).
            StoreError: no study with that id, or ``owner`` without ``lease_seconds``.
        """

    @abstractmethod
    def add_space_version(
        self, study_id: int, definition: Mapping[str, Any], note: Mapping[str, Any]
    ) -> SpaceVersion:
        """Make ``definition`` the study's definition, as a new space version, in one
        transaction: the first edit also stores version 1 (the definition as it was). Trials
        added from then on record the new version.

        Raises:
            StoreError: no study with that id, or a document that is not JSON-serialisable.
        """

    @abstractmethod
    def get_space_versions(self, study_id: int) -> list[SpaceVersion]:
        """Every version of the study's definition, oldest first; a study never edited has
        one, its definition (version 1).

        Raises:
            StoreError: no study with that id.
        """

    @abstractmethod
    def record_trial(
        self,
        study_id: int,
        params: Mapping[str, Any],
        state: TrialState,
        *,
        value: float | None = None,
        metrics: Mapping[str, float] | None = None,
        failure_kind: FailureKind | None = None,
        error: str | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> Trial:
        """Add an already finished trial with the next number, in one transaction: a result
        obtained elsewhere (``study.add_trial``). Started and finished now.

        Raises:
            IllegalTransition: ``state`` is not a finished state.
            StoreError: no study with that id, or a ``failure_kind`` missing for a FAILED
                trial (or given for another state).
        """

    @abstractmethod
    def set_trial_user_attr(self, study_id: int, number: int, key: str, value: Any) -> None:
        """Set one user attribute of a trial (a JSON value), in any state.

        Raises:
            StoreError: no such trial, or ``value`` is not JSON-serialisable.
        """

    @abstractmethod
    def set_trial_params(self, study_id: int, number: int, params: Mapping[str, Any]) -> None:
        """Replace the params of a trial not yet finished: a define-by-run trial's params are
        known once its function has asked for them (:mod:`tunewise.define_by_run`).

        Raises:
            IllegalTransition: the trial is finished (finished trials are read-only).
            StoreError: no such trial, or ``params`` is not JSON-serialisable.
        """

    @abstractmethod
    def claim_trial(
        self, study_id: int, owner: str, lease_seconds: float, number: int | None = None
    ) -> Trial | None:
        """Move a QUEUED trial to RUNNING, leased to ``owner``; the lowest number unless given.

        Exactly one of concurrent claimers gets a given trial. Returns ``None`` when there is no
        QUEUED trial (or trial ``number`` is not QUEUED).
        """

    @abstractmethod
    def heartbeat(self, study_id: int, number: int, owner: str, lease_seconds: float) -> None:
        """Push the lease deadline of a RUNNING trial to now + ``lease_seconds``.

        Raises:
            LeaseLost: the trial is not RUNNING under ``owner`` any more.
        """

    @abstractmethod
    def add_report(
        self, study_id: int, number: int, step: int, values: Mapping[str, float]
    ) -> None:
        """Store intermediate values of a RUNNING trial at ``step``; a repeated step merges
        into that step's values: a metric given again replaces its earlier value, the others
        are kept (a command may print one metric per line).

        Raises:
            IllegalTransition: the trial is not RUNNING.
        """

    @abstractmethod
    def finish_trial(
        self,
        study_id: int,
        number: int,
        state: TrialState,
        *,
        value: float | None = None,
        metrics: Mapping[str, float] | None = None,
        failure_kind: FailureKind | None = None,
        error: str | None = None,
        owner: str | None = None,
    ) -> Trial:
        """Finish a trial: COMPLETED / STOPPED (with its value) or FAILED (with a kind).

        Clears the lease. Returns the finished trial.

        Raises:
            IllegalTransition: the move is not in TRANSITIONS (e.g. the trial is finished).
            LeaseLost: ``owner`` is given and does not hold the trial's lease.
        """

    @abstractmethod
    def requeue_trial(
        self,
        study_id: int,
        number: int,
        *,
        failure_kind: FailureKind,
        error: str | None = None,
        owner: str | None = None,
    ) -> Trial:
        """Retry a RUNNING trial: its current attempt ends with ``failure_kind`` (kept in
        :meth:`get_attempts`) and the trial is QUEUED again as attempt + 1, same params; its
        reports stay with the attempt that made them.

        Raises:
            IllegalTransition: the trial is not RUNNING.
            LeaseLost: ``owner`` is given and does not hold the trial's lease.
        """

    @abstractmethod
    def get_attempts(self, study_id: int, number: int) -> list[Attempt]:
        """The earlier (retried) attempts of a trial, oldest first; the trial holds the current
        one."""

    @abstractmethod
    def get_trial(self, study_id: int, number: int) -> Trial:
        """Raises:
        StoreError: no such trial."""

    @abstractmethod
    def get_trials(
        self,
        study_id: int,
        states: Iterable[TrialState] | None = None,
        *,
        min_number: int = 0,
    ) -> list[Trial]:
        """Trials of a study in number order, optionally only those in ``states`` and numbered
        ``min_number`` or more (finished trials never change, so readers that keep them ask
        only for the rest)."""

    @abstractmethod
    def get_trial_table(self, study_id: int, *, min_number: int = 0) -> TrialTable:
        """The trials :meth:`get_trials` gives (all states, numbered ``min_number`` or more),
        as a :class:`~tunewise.store.table.TrialTable`: read in one transaction, decoded a
        column or a trial at a time when asked, for readers of many trials that need a few
        columns of each (the dashboard reads 100,000 trials this way in under a second)."""

    @abstractmethod
    def count_trials(self, study_id: int) -> dict[TrialState, int]:
        """How many trials are in each state (every state present, zero included)."""

    @abstractmethod
    def get_reports(self, study_id: int, number: int) -> list[Report]:
        """The trial's intermediate reports in step order."""

    @abstractmethod
    def get_study_reports(self, study_id: int) -> dict[int, list[Report]]:
        """Every trial's reports of its current attempt, by trial number, in step order (one
        read, for stopping rules that compare learning curves)."""

    @abstractmethod
    def expire_leases(
        self,
        study_id: int,
        now: datetime | None = None,
        *,
        owners: Iterable[str] = (),
        max_attempts: int = 1,
    ) -> list[Trial]:
        """End the lease of every RUNNING trial whose deadline is before ``now``, or whose owner
        is in ``owners`` (known dead): the trial is requeued as a new attempt while its attempt
        is below ``max_attempts``, else FAILED with kind ``lost``. Returns the trials changed."""

    @abstractmethod
    def suggestion_lock(self, study_id: int, timeout: float) -> AbstractContextManager[bool]:
        """A context manager that takes turns with the other processes suggesting trials for the
        study: while one holds it, no other process acquires it. It yields whether it was
        acquired within ``timeout`` seconds; the block runs either way, since the lock spares
        work but guarantees nothing (:meth:`add_trial` with ``number`` does). Released when the
        block ends or the process dies.

        Raises:
            StoreError: the store cannot be reached.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""
