"""``SQLStore``: the store contract over SQLAlchemy Core, one code path for SQLite and PostgreSQL.

How the guarantees of :mod:`tunewise.store.base` are kept (the SQLite settings are the ones
that gave 0 errors in 2,000 writes from 4 processes, where a deferred ``BEGIN`` or a zero busy
timeout failed most of them and legacy implicit transactions duplicated trial numbers):

- Every method is one transaction run by :meth:`SQLStore._run`, which commits or rolls back,
  maps driver errors to :class:`StoreError` and retries PostgreSQL serialization failures and
  deadlocks a few times (the whole transaction is re-run, so that is safe).
- SQLite: WAL, ``busy_timeout=30000``, ``synchronous=NORMAL`` and ``foreign_keys=ON`` on every
  connection; pysqlite's own transaction handling is switched off and SQLAlchemy's "begin"
  event emits ``BEGIN IMMEDIATE`` for writes (plain ``BEGIN`` for reads), so a writer takes the
  lock up front and waits for it instead of failing with "database is locked" on upgrade.
- PostgreSQL: rows that decide a write are read ``FOR UPDATE`` (ignored by SQLite, where
  ``BEGIN IMMEDIATE`` already serialises writers); claims use ``SKIP LOCKED``.
- Trial numbers come from ``UPDATE studies SET next_number = next_number + 1 ... RETURNING``
  in the transaction that inserts the trial.
- The schema is created and upgraded by Alembic on open, under the same write lock (SQLite) or
  an advisory lock (PostgreSQL), so processes opening a new database at once do not race.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from tunewise.errors import (
    IllegalTransition,
    LeaseLost,
    NumberTaken,
    SpaceEdited,
    StoreError,
    StudyExists,
    StudyNotFound,
)
from tunewise.store import locks, queries, transfer
from tunewise.store.base import Store, StudyRows
from tunewise.store.schema import (
    as_floats,
    attempt_from_row,
    attempts,
    dump_json,
    encode_value,
    reports,
    schema_is_outdated,
    space_version_from_row,
    space_versions,
    studies,
    study_from_row,
    to_datetime,
    to_epoch,
    to_iso,
    trial_from_row,
    trials,
    upgrade_schema,
)
from tunewise.store.table import TrialTable
from tunewise.trial import (
    TRANSITIONS,
    Attempt,
    FailureKind,
    Report,
    SpaceVersion,
    StudyRecord,
    StudyState,
    Trial,
    TrialState,
)

T = TypeVar("T")

_WRITE = "tunewise_write"  # execution option read by the SQLite "begin" hook
#: serialization_failure, deadlock_detected, and idle_in_transaction_session_timeout: the
#: server rolled the transaction back in each case, so running it again is safe.
_RETRY_SQLSTATES = frozenset({"40001", "40P01", "25P03"})
#: A PostgreSQL session that sits in a transaction this long is ended by the server, which
#: releases its row locks. tunewise's transactions never wait on the client (no user code runs
#: inside one), so only a process frozen mid-transaction (SIGSTOP, a paused VM) meets it — and
#: without it, the trials and the study row it had locked would stall every other process.
IDLE_IN_TRANSACTION_MS = 10_000
_ATTEMPTS = 5
_QUEUED, _RUNNING = TrialState.QUEUED.value, TrialState.RUNNING.value


class SQLStore(Store):
    """A :class:`Store` in a SQLite file, SQLite in memory, or a PostgreSQL database.

    ``url`` is a SQLAlchemy URL (``sqlite:///abs/path.db``, ``sqlite://``,
    ``postgresql+psycopg://...``); :func:`tunewise.store.open_store` turns user input into one.
    ``engine_kwargs`` go to :func:`sqlalchemy.create_engine` (tests, tuning of pools).
    """

    def __init__(self, url: str, *, engine_kwargs: Mapping[str, Any] | None = None) -> None:
        self.url = url
        try:
            parsed = sa.make_url(url)
        except SQLAlchemyError as exc:
            raise StoreError(f"not a database URL: {url!r} ({exc})") from exc
        sqlite = parsed.get_backend_name() == "sqlite"
        self._label: str = (
            (parsed.database or ":memory:") if sqlite else parsed.render_as_string(True)
        )
        self._closed = False
        # A forked child must not talk through its parent's pooled connections (see _run);
        # an in-memory database has no other connection to open, so the child keeps its copy.
        self._pid = os.getpid()
        self._memory = sqlite and parsed.database in (None, "", ":memory:")
        try:
            self._engine = _make_engine(parsed, engine_kwargs)
        except ImportError as exc:  # psycopg is an optional dependency
            raise StoreError(
                f"cannot open {self._label}: {exc}; PostgreSQL storage needs "
                "`pip install 'tunewise[postgres]'`"
            ) from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open the store at {self._label}: {exc}") from exc
        try:
            self._ensure_schema()
        except BaseException:
            self._engine.dispose()
            raise

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    def __repr__(self) -> str:
        return f"SQLStore({self._label!r})"

    def __enter__(self) -> SQLStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._closed = True
        self._engine.dispose()

    # Transactions ----------------------------------------------------------------------
    def _run(self, fn: Callable[[Connection], T], *, write: bool = True) -> T:
        """Run ``fn`` in one transaction (a write one unless ``write=False``); commit, or roll
        back and map the error; re-run it on PostgreSQL serialization failures/deadlocks."""
        if self._closed:
            raise StoreError(f"the store at {self._label} is closed")
        if self._pid != os.getpid() and not self._memory:
            self._engine.dispose(close=False)  # leave the parent's connections to the parent
            self._pid = os.getpid()
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self._engine.connect() as conn:
                    if write:
                        conn.execution_options(**{_WRITE: True})
                    with conn.begin():
                        return fn(conn)
            except StoreError:
                raise
            except DBAPIError as exc:
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate in _RETRY_SQLSTATES and attempt < _ATTEMPTS:
                    time.sleep(0.01 * 2**attempt * (1 + random.random()))
                    continue
                raise StoreError(f"storage error at {self._label}: {exc.orig}") from exc
            except SQLAlchemyError as exc:
                raise StoreError(f"storage error at {self._label}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_schema(self) -> None:
        """Create or upgrade the schema on open; the read-only check is the common path."""
        if self._run(lambda conn: schema_is_outdated(conn, self._label), write=False):
            self._run(lambda conn: upgrade_schema(conn, self._label))

    # Studies ---------------------------------------------------------------------------
    def create_study(self, name: str, definition: Mapping[str, Any]) -> StudyRecord:
        document = dump_json(definition, "study definition")

        def tx(conn: Connection) -> StudyRecord:
            if conn.execute(sa.select(studies.c.id).where(studies.c.name == name)).first():
                raise StudyExists(name)
            insert = studies.insert().values(
                name=name,
                definition=document,
                state=StudyState.RUNNING.value,
                created_at=time.time(),
                uuid=uuid.uuid4().hex,
            )
            try:
                return study_from_row(conn.execute(insert.returning(*studies.c)).one())
            except IntegrityError:  # a concurrent creator won (PostgreSQL)
                raise StudyExists(name) from None

        return self._run(tx)

    def get_study(self, name: str) -> StudyRecord:
        def tx(conn: Connection) -> StudyRecord:
            row = conn.execute(sa.select(studies).where(studies.c.name == name)).first()
            if row is None:
                raise StudyNotFound(name, storage=self._label)  # the message names the store
            return study_from_row(row)

        return self._run(tx, write=False)

    def list_studies(self) -> list[StudyRecord]:
        def tx(conn: Connection) -> list[StudyRecord]:
            return [
                study_from_row(r) for r in conn.execute(sa.select(studies).order_by(studies.c.id))
            ]

        return self._run(tx, write=False)

    def set_study_state(
        self,
        study_id: int,
        state: StudyState,
        reason: str | None = None,
        evidence: Mapping[str, Any] | None = None,
        *,
        only_from: Iterable[StudyState] | None = None,
    ) -> None:
        state = StudyState(state)
        finished = None if state is StudyState.RUNNING else time.time()
        document = None if evidence is None else dump_json(evidence, "completion evidence")
        values = {"state": state.value, "reason": reason, "evidence": document,
                  "finished_at": finished}  # fmt: skip
        if only_from is None:
            self._update_study(study_id, **values)
            return
        allowed = sorted(StudyState(s).value for s in only_from)

        def tx(conn: Connection) -> None:
            where = (studies.c.id == study_id) & studies.c.state.in_(allowed)
            if conn.execute(studies.update().where(where).values(**values)).rowcount == 1:
                return
            query = sa.select(studies.c.state).where(studies.c.id == study_id)
            current = conn.execute(query).scalar_one_or_none()
            if current is None:
                raise StoreError(f"no study with id {study_id}")
            raise IllegalTransition(f"the study is {current}, not {' or '.join(allowed)}")

        self._run(tx)

    def update_study_definition(self, study_id: int, definition: Mapping[str, Any]) -> None:
        self._update_study(study_id, definition=dump_json(definition, "study definition"))

    def add_space_version(
        self, study_id: int, definition: Mapping[str, Any], note: Mapping[str, Any]
    ) -> SpaceVersion:
        document = dump_json(definition, "study definition")
        remark = dump_json(dict(note), "space version note")

        def tx(conn: Connection) -> SpaceVersion:
            study = conn.execute(
                sa.select(studies.c.definition, studies.c.created_at)
                .where(studies.c.id == study_id)
                .with_for_update()
            ).first()
            if study is None:
                raise StoreError(f"no study with id {study_id}")
            version = _space_version(conn, study_id)
            rows = []
            if version == 1 and not _has_versions(conn, study_id):  # keep what it began with
                rows.append(
                    {"version": 1, "definition": study.definition, "created_at": study.created_at}
                )
            now = time.time()
            rows.append({"version": version + 1, "definition": document, "note": remark})
            for row in rows:
                conn.execute(
                    space_versions.insert().values(
                        study_id=study_id, **{"note": "{}", "created_at": now, **row}
                    )
                )
            update = studies.update().where(studies.c.id == study_id)
            conn.execute(update.values(definition=document))
            query = sa.select(space_versions).where(
                space_versions.c.study_id == study_id, space_versions.c.version == version + 1
            )
            return space_version_from_row(conn.execute(query).one())

        return self._run(tx)

    def get_space_versions(self, study_id: int) -> list[SpaceVersion]:
        def tx(conn: Connection) -> list[SpaceVersion]:
            query = (
                sa.select(space_versions)
                .where(space_versions.c.study_id == study_id)
                .order_by(space_versions.c.version)
            )
            versions = [space_version_from_row(row) for row in conn.execute(query)]
            if versions:
                return versions
            study = conn.execute(sa.select(studies).where(studies.c.id == study_id)).first()
            if study is None:
                raise StoreError(f"no study with id {study_id}")
            record = study_from_row(study)
            return [SpaceVersion(1, record.definition, {}, record.created_at)]

        return self._run(tx, write=False)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        def tx(conn: Connection) -> None:
            query = sa.select(studies.c.user_attrs).where(studies.c.id == study_id)
            stored = conn.execute(query.with_for_update()).scalar_one_or_none()
            if stored is None:
                raise StoreError(f"no study with id {study_id}")
            attrs = {**json.loads(stored), key: value}
            update = studies.update().where(studies.c.id == study_id)
            conn.execute(update.values(user_attrs=dump_json(attrs, f"user attribute {key!r}")))

        self._run(tx)

    def delete_study(self, study_id: int) -> None:
        def tx(conn: Connection) -> None:
            if conn.execute(sa.select(studies.c.id).where(studies.c.id == study_id)).first():
                transfer.delete_study(conn, study_id)
            else:
                raise StoreError(f"no study with id {study_id}")

        self._run(tx)

    def export_study(self, name: str) -> StudyRows:
        return self._run(lambda conn: transfer.read_study(conn, name), write=False)

    def import_study(self, rows: StudyRows, name: str) -> StudyRecord:
        def tx(conn: Connection) -> StudyRecord:
            try:
                return transfer.write_study(conn, rows, name)
            except IntegrityError:  # a concurrent creator won (PostgreSQL)
                raise StudyExists(name) from None

        return self._run(tx)

    def _update_study(self, study_id: int, **values: Any) -> None:
        def tx(conn: Connection) -> None:
            update = studies.update().where(studies.c.id == study_id).values(**values)
            if conn.execute(update).rowcount == 0:
                raise StoreError(f"no study with id {study_id}")

        self._run(tx)

    # Trials ----------------------------------------------------------------------------
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
        if owner is not None and lease_seconds is None:
            raise StoreError("add_trial: a trial leased to an owner needs lease_seconds")
        document = dump_json(params, "trial parameters")
        attrs = dump_json(dict(user_attrs or {}), "user attributes")
        record = None if suggestion is None else dump_json(dict(suggestion), "suggestion record")

        def tx(conn: Connection) -> Trial:
            # With ``number``, PostgreSQL re-checks it after waiting for the study's row lock.
            bump = _BUMP if number is None else _BUMP_AT
            next_number = conn.execute(
                bump, {"p_study": study_id, "p_number": number}
            ).scalar_one_or_none()
            if next_number is None:
                _raise_number_taken(conn, study_id, number)
            current = _space_version(conn, study_id)  # after the study's row lock (the bump)
            if space_version is not None and current != space_version:
                raise SpaceEdited(
                    f"the space of study {study_id} is at version {current}, not "
                    f"{space_version}: suggest again in the edited space"
                )
            now = time.time()
            values: dict[str, Any] = {
                "study_id": study_id,
                "number": next_number - 1,
                "state": _QUEUED,
                "params": document,
                "metrics": "{}",
                "created_at": now,
                "user_attrs": attrs,
                "space_version": current,
                "suggestion": record,
            }
            if owner is not None and lease_seconds is not None:
                values.update(_lease(owner, lease_seconds, now), state=_RUNNING, started_at=now)
            return trial_from_row(conn.execute(_INSERT_TRIAL, values).one())

        return self._run(tx)

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
        state = TrialState(state)
        if not state.is_finished:
            raise IllegalTransition(f"record_trial needs a finished state, not {state}")
        if (state is TrialState.FAILED) != (failure_kind is not None):
            raise StoreError("a failure_kind is required for, and only for, a FAILED trial")
        stored_value, special = encode_value(value)
        values: dict[str, Any] = {
            "study_id": study_id,
            "state": state.value,
            "params": dump_json(params, "trial parameters"),
            "value": stored_value,
            "value_special": special,
            "metrics": dump_json(as_floats(metrics or {}, "metrics"), "metrics"),
            "failure_kind": None if failure_kind is None else FailureKind(failure_kind).value,
            "error": error,
            "user_attrs": dump_json(dict(user_attrs or {}), "user attributes"),
        }

        def tx(conn: Connection) -> Trial:
            next_number = conn.execute(
                _BUMP, {"p_study": study_id, "p_number": None}
            ).scalar_one_or_none()
            if next_number is None:
                raise StoreError(f"no study with id {study_id}")
            now = time.time()
            row = {
                **values,
                "number": next_number - 1,
                "created_at": now,
                "started_at": now,
                "finished_at": now,
                "space_version": _space_version(conn, study_id),
            }
            return trial_from_row(conn.execute(_INSERT_TRIAL, row).one())

        return self._run(tx)

    def set_trial_user_attr(self, study_id: int, number: int, key: str, value: Any) -> None:
        def tx(conn: Connection) -> None:
            row = _locked_trial(conn, study_id, number)
            attrs = {**json.loads(row.user_attrs), key: value}
            update = trials.update().where(trials.c.id == row.id)
            conn.execute(update.values(user_attrs=dump_json(attrs, f"user attribute {key!r}")))

        self._run(tx)

    def set_trial_params(self, study_id: int, number: int, params: Mapping[str, Any]) -> None:
        document = dump_json(params, "trial parameters")

        def tx(conn: Connection) -> None:
            row = _locked_trial(conn, study_id, number)
            if TrialState(row.state).is_finished:
                raise IllegalTransition(
                    f"trial {number} of study {study_id} is finished; its params are read-only"
                )
            conn.execute(trials.update().where(trials.c.id == row.id).values(params=document))

        self._run(tx)

    def claim_trial(
        self, study_id: int, owner: str, lease_seconds: float, number: int | None = None
    ) -> Trial | None:
        def tx(conn: Connection) -> Trial | None:
            if number is None:
                trial_id = conn.execute(_NEXT_QUEUED, {"p_study": study_id}).scalar_one_or_none()
            else:
                query = (
                    sa.select(trials.c.id)
                    .where(_key(study_id, number), trials.c.state == _QUEUED)
                    .with_for_update(skip_locked=True)
                )
                trial_id = conn.execute(query).scalar_one_or_none()
            if trial_id is None:
                return None
            now = time.time()
            params = {"p_id": trial_id, "p_owner": owner, "p_now": now}
            row = conn.execute(_CLAIM, {**params, "p_deadline": now + lease_seconds}).one_or_none()
            return None if row is None else trial_from_row(row)

        return self._run(tx)

    def heartbeat(self, study_id: int, number: int, owner: str, lease_seconds: float) -> None:
        def tx(conn: Connection) -> None:
            update = (
                trials.update()
                .where(
                    _key(study_id, number),
                    trials.c.state == _RUNNING,
                    trials.c.lease_owner == owner,
                )
                .values(_lease(owner, lease_seconds, time.time()))
            )
            if conn.execute(update).rowcount == 0:
                raise LeaseLost(_lease_lost(_locked_trial(conn, study_id, number), owner))

        self._run(tx)

    def add_report(
        self, study_id: int, number: int, step: int, values: Mapping[str, float]
    ) -> None:
        new_values = as_floats(values, "report values")
        step = int(step)

        def tx(conn: Connection) -> None:
            row = _locked_trial(conn, study_id, number)
            if row.state != _RUNNING:
                raise IllegalTransition(
                    f"trial {number} of study {study_id} is {row.state}: "
                    "reports are accepted only while it is running"
                )
            same_step = (
                reports.c.study_id == study_id,
                reports.c.trial_number == number,
                reports.c.attempt == row.attempt,
                reports.c.step == step,
            )
            earlier = conn.execute(sa.select(reports.c.metrics).where(*same_step)).scalar()
            merged = {**(json.loads(earlier) if earlier is not None else {}), **new_values}
            document = dump_json(merged, "report values")
            conn.execute(reports.delete().where(*same_step))
            conn.execute(
                reports.insert().values(
                    study_id=study_id,
                    trial_number=number,
                    attempt=row.attempt,
                    step=step,
                    metrics=document,
                    created_at=time.time(),
                )
            )
            last = step if row.last_step is None else max(row.last_step, step)
            conn.execute(trials.update().where(trials.c.id == row.id).values(last_step=last))

        self._run(tx)

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
        state = TrialState(state)
        if not state.is_finished:
            raise IllegalTransition(f"finish_trial needs a finished state, not {state}")
        if (state is TrialState.FAILED) != (failure_kind is not None):
            raise StoreError("a failure_kind is required for, and only for, a FAILED trial")
        kind = None if failure_kind is None else FailureKind(failure_kind).value
        stored_value, special = encode_value(value)
        document = dump_json(as_floats(metrics or {}, "metrics"), "metrics")

        def tx(conn: Connection) -> Trial:
            if owner is not None:  # the common case: one UPDATE that checks the lease itself
                values = {
                    "p_study": study_id,
                    "p_number": number,
                    "p_owner": owner,
                    "p_state": state.value,
                    "p_value": stored_value,
                    "p_special": special,
                    "p_metrics": document,
                    "p_kind": kind,
                    "p_error": error,
                    "p_now": time.time(),
                }
                done = conn.execute(_FINISH_LEASED, values).one_or_none()
                if done is not None:
                    return trial_from_row(done)
            row = _locked_trial(conn, study_id, number)  # to say why it was refused
            current = TrialState(row.state)
            if owner is not None and (
                current is not TrialState.RUNNING or row.lease_owner != owner
            ):
                raise LeaseLost(_lease_lost(row, owner))
            if state not in TRANSITIONS[current]:
                raise IllegalTransition(
                    f"trial {number} of study {study_id} cannot go from {current} to {state}"
                    + (" (finished trials are read-only)" if current.is_finished else "")
                )
            update = (
                trials.update()
                .where(trials.c.id == row.id)
                .values(
                    state=state.value,
                    value=stored_value,
                    value_special=special,
                    metrics=document,
                    failure_kind=kind,
                    error=error,
                    lease_owner=None,
                    lease_deadline=None,
                    finished_at=time.time(),
                )
            )
            return trial_from_row(conn.execute(update.returning(*trials.c)).one())

        return self._run(tx)

    def get_trial(self, study_id: int, number: int) -> Trial:
        def tx(conn: Connection) -> Trial:
            row = conn.execute(sa.select(trials).where(_key(study_id, number))).first()
            if row is None:
                raise StoreError(f"no trial {number} in study {study_id}")
            return trial_from_row(row)

        return self._run(tx, write=False)

    def get_trials(
        self,
        study_id: int,
        states: Iterable[TrialState] | None = None,
        *,
        min_number: int = 0,
    ) -> list[Trial]:
        wanted = None if states is None else tuple(TrialState(s).value for s in states)
        query = _trials_query(min_number > 0, wanted)
        params = {"p_study": study_id, "p_min": min_number}
        return self._run(
            lambda conn: [trial_from_row(r) for r in conn.execute(query, params)], write=False
        )

    def count_trials(self, study_id: int) -> dict[TrialState, int]:
        query = (
            sa.select(trials.c.state, sa.func.count())
            .where(trials.c.study_id == study_id)
            .group_by(trials.c.state)
        )
        rows = self._run(lambda conn: conn.execute(query).all(), write=False)
        counts = dict.fromkeys(TrialState, 0)
        counts.update({TrialState(state): count for state, count in rows})
        return counts

    def get_reports(self, study_id: int, number: int) -> list[Report]:
        def tx(conn: Connection) -> list[Report]:
            key = {"p_study": study_id, "p_number": number}
            attempt = conn.execute(_ATTEMPT, key).scalar_one_or_none()
            if attempt is None:
                raise StoreError(f"no trial {number} in study {study_id}")
            return [
                Report(step=r.step, values=json.loads(r.metrics), time=to_datetime(r.created_at))
                for r in conn.execute(_REPORTS, {**key, "p_attempt": attempt})
            ]

        return self._run(tx, write=False)

    def get_study_reports(self, study_id: int) -> dict[int, list[Report]]:
        return self._run(lambda conn: queries.study_reports(conn, study_id), write=False)

    def get_trial_table(self, study_id: int, *, min_number: int = 0) -> TrialTable:
        return self._run(lambda conn: queries.trial_table(conn, study_id, min_number), write=False)

    def requeue_trial(
        self,
        study_id: int,
        number: int,
        *,
        failure_kind: FailureKind,
        error: str | None = None,
        owner: str | None = None,
    ) -> Trial:
        kind = FailureKind(failure_kind)

        def tx(conn: Connection) -> Trial:
            row = _locked_trial(conn, study_id, number)
            if owner is not None and (row.state != _RUNNING or row.lease_owner != owner):
                raise LeaseLost(_lease_lost(row, owner))
            if row.state != _RUNNING:
                raise IllegalTransition(
                    f"trial {number} of study {study_id} is {row.state}: only a running trial "
                    "can be retried"
                )
            return _requeue(conn, row, kind, error, time.time())

        return self._run(tx)

    def get_attempts(self, study_id: int, number: int) -> list[Attempt]:
        query = (
            sa.select(attempts)
            .where(attempts.c.study_id == study_id, attempts.c.trial_number == number)
            .order_by(attempts.c.attempt)
        )
        return self._run(
            lambda conn: [attempt_from_row(r) for r in conn.execute(query)], write=False
        )

    @contextlib.contextmanager
    def suggestion_lock(self, study_id: int, timeout: float) -> Iterator[bool]:
        if self._closed:
            raise StoreError(f"the store at {self._label} is closed")
        if self._memory:  # one process: nobody to take turns with
            yield True
            return
        if self.dialect == "sqlite":
            with locks.file_lock(f"{self._label}.suggest-lock", timeout) as held:
                yield held
            return
        if self._pid != os.getpid():
            self._engine.dispose(close=False)  # leave the parent's connections to the parent
            self._pid = os.getpid()
        try:  # (the block's own store calls raise StoreError, never SQLAlchemyError)
            with locks.advisory_lock(self._engine, study_id, timeout) as held:
                yield held
        except SQLAlchemyError as exc:
            raise StoreError(f"storage error at {self._label}: {exc}") from exc

    def expire_leases(
        self,
        study_id: int,
        now: datetime | None = None,
        *,
        owners: Iterable[str] = (),
        max_attempts: int = 1,
    ) -> list[Trial]:
        cutoff = time.time() if now is None else to_epoch(now)
        dead = list(owners)

        def tx(conn: Connection) -> list[Trial]:
            if dead:
                query = (
                    sa.select(trials)
                    .where(
                        trials.c.study_id == study_id,
                        trials.c.state == _RUNNING,
                        sa.or_(trials.c.lease_deadline < cutoff, trials.c.lease_owner.in_(dead)),
                    )
                    .order_by(trials.c.number)
                    .with_for_update()
                )
                expired = conn.execute(query).all()
            else:
                expired = conn.execute(_EXPIRED, {"p_study": study_id, "p_cutoff": cutoff}).all()
            changed = []
            for row in expired:
                if row.lease_deadline is not None and row.lease_deadline < cutoff:
                    error = (
                        f"the lease of {row.lease_owner!r} expired at "
                        f"{to_iso(row.lease_deadline)} (last heartbeat "
                        f"{to_iso(row.heartbeat_at)}): its process is presumed dead"
                    )
                else:
                    error = f"the process holding the lease, {row.lease_owner!r}, is gone"
                if row.attempt < max_attempts:
                    changed.append(_requeue(conn, row, FailureKind.LOST, error, cutoff))
                    continue
                update = (
                    trials.update()
                    .where(trials.c.id == row.id)
                    .values(
                        state=TrialState.FAILED.value,
                        failure_kind=FailureKind.LOST.value,
                        error=error,
                        lease_owner=None,
                        lease_deadline=None,
                        finished_at=cutoff,
                    )
                )
                changed.append(trial_from_row(conn.execute(update.returning(*trials.c)).one()))
            return changed

        return self._run(tx)


# Engine --------------------------------------------------------------------------------
def _make_engine(url: sa.URL, engine_kwargs: Mapping[str, Any] | None) -> Engine:
    kwargs = dict(engine_kwargs or {})
    if url.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        engine = sa.create_engine(url, **kwargs)
        sa.event.listen(engine, "connect", _postgres_connect)
        return engine
    connect_args = {"check_same_thread": False, "timeout": 30.0}
    connect_args.update(kwargs.pop("connect_args", {}))
    if url.database in (None, "", ":memory:"):
        kwargs.setdefault("poolclass", StaticPool)  # one connection, or each sees an empty DB
    engine = sa.create_engine(url, connect_args=connect_args, **kwargs)
    sa.event.listen(engine, "connect", _sqlite_connect)
    sa.event.listen(engine, "begin", _sqlite_begin)
    if url.database not in (None, "", ":memory:"):
        from tunewise.store import sqlite_guard

        sqlite_guard.watch(engine, url.database)  # a file removed or replaced mid-run fails
    return engine


def _postgres_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per connection: end this session's transactions left idle (IDLE_IN_TRANSACTION_MS)."""
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
    dbapi_connection.commit()


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Per connection: let SQLAlchemy emit BEGIN itself, and the settings of INFRA.md."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            "busy_timeout = 30000",
            "journal_mode = WAL",
            "synchronous = NORMAL",
            "foreign_keys = ON",
        ):
            _sqlite_pragma(cursor, pragma)
    finally:
        cursor.close()


#: How long a connection retries a pragma that SQLite refused with "database is locked".
PRAGMA_RETRY_SECONDS = 30.0


def _sqlite_pragma(cursor: Any, pragma: str) -> None:
    """Run one pragma, retrying while the database is locked.

    Switching a new database file to WAL reads its header and then needs the write lock; when
    several processes open the same new file at once, SQLite refuses that upgrade at once with
    "database is locked" instead of waiting (busy_timeout is not consulted where waiting could
    deadlock), so the connection waits here instead (seen once, in a CI run of four processes
    creating one store: ``tests/store/test_migrations.py``).
    """
    import sqlite3

    deadline = time.monotonic() + PRAGMA_RETRY_SECONDS
    delay = 0.005
    while True:
        try:
            cursor.execute(f"PRAGMA {pragma}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay * (1 + random.random()))
        delay = min(delay * 2, 0.2)


def _sqlite_begin(conn: Connection) -> None:
    """Writers take the write lock up front: a deferred read that upgrades to a write is not
    helped by busy_timeout and fails with "database is locked" under contention."""
    write = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


# Rows and values -----------------------------------------------------------------------
def _space_version(conn: Connection, study_id: int) -> int:
    """The study's current space version (1 until its space is edited)."""
    return int(conn.execute(_CURRENT_VERSION, {"p_study": study_id}).scalar_one())


def _has_versions(conn: Connection, study_id: int) -> bool:
    query = sa.select(space_versions.c.id).where(space_versions.c.study_id == study_id)
    return conn.execute(query.limit(1)).first() is not None


def _key(study_id: int, number: int) -> sa.ColumnElement[bool]:
    return sa.and_(trials.c.study_id == study_id, trials.c.number == number)


# Statements of the per-trial path, built once with bound parameters: on SQLite, building a
# statement costs more than running it (about 0.2 ms against 0.1 ms).
_P_KEY = sa.and_(
    trials.c.study_id == sa.bindparam("p_study"), trials.c.number == sa.bindparam("p_number")
)
_LOCKED = sa.select(trials).where(_P_KEY).with_for_update()
_BUMP = (
    studies.update()
    .where(studies.c.id == sa.bindparam("p_study"))
    .values(next_number=studies.c.next_number + 1)
    .returning(studies.c.next_number)
)
#: The next number only if it is ``p_number`` (a suggestion made for that number).
_BUMP_AT = _BUMP.where(studies.c.next_number == sa.bindparam("p_number"))
_CURRENT_VERSION = sa.select(sa.func.coalesce(sa.func.max(space_versions.c.version), 1)).where(
    space_versions.c.study_id == sa.bindparam("p_study")
)
_INSERT_TRIAL = trials.insert().returning(*trials.c)  # the columns are the parameters given
_ATTEMPT = sa.select(trials.c.attempt).where(_P_KEY)
_REPORTS = (
    sa.select(reports)
    .where(
        reports.c.study_id == sa.bindparam("p_study"),
        reports.c.trial_number == sa.bindparam("p_number"),
        reports.c.attempt == sa.bindparam("p_attempt"),
    )
    .order_by(reports.c.step)
)
_NEXT_QUEUED = (
    sa.select(trials.c.id)
    .where(trials.c.study_id == sa.bindparam("p_study"), trials.c.state == _QUEUED)
    .order_by(trials.c.number)
    .limit(1)
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    trials.update()
    .where(trials.c.id == sa.bindparam("p_id"), trials.c.state == _QUEUED)
    .values(
        lease_owner=sa.bindparam("p_owner"),
        heartbeat_at=sa.bindparam("p_now"),
        lease_deadline=sa.bindparam("p_deadline"),
        state=_RUNNING,
        started_at=sa.bindparam("p_now"),
    )
    .returning(*trials.c)
)
#: Finish a running trial leased to the caller (any finished state is legal from RUNNING).
_FINISH_LEASED = (
    trials.update()
    .where(_P_KEY, trials.c.state == _RUNNING, trials.c.lease_owner == sa.bindparam("p_owner"))
    .values(
        state=sa.bindparam("p_state"),
        value=sa.bindparam("p_value"),
        value_special=sa.bindparam("p_special"),
        metrics=sa.bindparam("p_metrics"),
        failure_kind=sa.bindparam("p_kind"),
        error=sa.bindparam("p_error"),
        lease_owner=None,
        lease_deadline=None,
        finished_at=sa.bindparam("p_now"),
    )
    .returning(*trials.c)
)
_EXPIRED = (
    sa.select(trials)
    .where(
        trials.c.study_id == sa.bindparam("p_study"),
        trials.c.state == _RUNNING,
        trials.c.lease_deadline < sa.bindparam("p_cutoff"),
    )
    .order_by(trials.c.number)
    .with_for_update()
)


@functools.cache
def _trials_query(from_number: bool, states: tuple[str, ...] | None) -> sa.Select[Any]:
    """``get_trials``'s query for one shape (``p_study``, ``p_min``); a single state is an
    equality, which the (study, state, number) index serves in number order."""
    query = sa.select(trials).where(trials.c.study_id == sa.bindparam("p_study"))
    if from_number:
        query = query.where(trials.c.number >= sa.bindparam("p_min"))
    if states is not None:
        if len(states) == 1:
            query = query.where(trials.c.state == states[0])
        else:
            query = query.where(trials.c.state.in_(states))
    return query.order_by(trials.c.number)


def _locked_trial(conn: Connection, study_id: int, number: int) -> Row[Any]:
    """The trial's row, locked for the rest of the transaction on PostgreSQL."""
    row = conn.execute(_LOCKED, {"p_study": study_id, "p_number": number}).first()
    if row is None:
        raise StoreError(f"no trial {number} in study {study_id}")
    return row


def _requeue(
    conn: Connection, row: Row[Any], kind: FailureKind, error: str | None, now: float
) -> Trial:
    """End the running attempt of ``row`` (kept in ``attempts``) and queue the next one."""
    conn.execute(
        attempts.insert().values(
            study_id=row.study_id,
            trial_number=row.number,
            attempt=row.attempt,
            failure_kind=kind.value,
            error=error,
            owner=row.lease_owner,
            started_at=row.started_at,
            finished_at=now,
        )
    )
    update = (
        trials.update()
        .where(trials.c.id == row.id)
        .values(
            state=_QUEUED,
            attempt=row.attempt + 1,
            metrics="{}",
            last_step=None,
            lease_owner=None,
            heartbeat_at=None,
            lease_deadline=None,
            started_at=None,
        )
    )
    return trial_from_row(conn.execute(update.returning(*trials.c)).one())


def _raise_number_taken(conn: Connection, study_id: int, number: int | None) -> NoReturn:
    """Why a bounded ``add_trial`` added nothing: the number is taken, or there is no study."""
    query = sa.select(studies.c.next_number).where(studies.c.id == study_id)
    next_number = conn.execute(query).scalar_one_or_none()
    if next_number is None:
        raise StoreError(f"no study with id {study_id}")
    raise NumberTaken(
        f"trial number {number} of study {study_id} is taken (the next is {next_number}): "
        "another process added a trial first"
    )


def _lease(owner: str, lease_seconds: float, now: float) -> dict[str, Any]:
    return {"lease_owner": owner, "heartbeat_at": now, "lease_deadline": now + lease_seconds}


def _lease_lost(row: Row[Any], owner: str) -> str:
    holder = f"leased to {row.lease_owner!r}" if row.lease_owner else "leased to nobody"
    return (
        f"trial {row.number} of study {row.study_id} is no longer leased to {owner!r}: "
        f"it is {row.state}, {holder}"
    )
