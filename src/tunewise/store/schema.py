"""The relational schema of the SQL store (SQLAlchemy Core), shared by SQLite and PostgreSQL.

This metadata is the *description* the store's queries are written against; the tables are
created by the Alembic migrations in ``migrations/versions`` (never by ``create_all``), and
``tests/store/test_migrations.py`` checks that both agree.

Design choices, each for a reason:

- Times are epoch seconds (``DOUBLE``): identical on both databases, no time-zone ambiguity;
  the store turns them into aware UTC datetimes.
- JSON documents are ``TEXT`` written with ``json.dumps``: the same on both databases, keys in
  the order given (a space's hyperparameters keep the order the user wrote them in), and
  Python's JSON keeps NaN / Infinity tokens, which JSONB would refuse.
- Objective values are split into ``value`` (finite) and ``value_special``
  ('nan' / 'inf' / '-inf'), because SQLite turns a NaN bound to a REAL column into NULL.
- ``studies.next_number`` is the per-study trial counter: allocating a number is one
  ``UPDATE ... RETURNING`` on the study row, which serialises writers on PostgreSQL (row lock)
  and is already serialised on SQLite (``BEGIN IMMEDIATE``); ``UNIQUE(study_id, number)`` is the
  last line of defence.
- Constraint names come from a naming convention so that migrations can refer to them (SQLite
  can only alter constraints it can name, through batch mode).
"""

from __future__ import annotations

import functools
import json
import math
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from tunewise.errors import StoreError
from tunewise.trial import (
    Attempt,
    FailureKind,
    SpaceVersion,
    StudyRecord,
    StudyState,
    Trial,
    TrialState,
)

#: The Alembic revision this code was written for; ``SQLStore`` compares the database's
#: revision with it to skip loading the migration scripts on every open.
SCHEMA_REVISION = "0006"

#: Alembic's bookkeeping table; named after the package so that a PostgreSQL database shared
#: with another Alembic-managed application does not mix their revisions.
VERSION_TABLE = "tunewise_alembic_version"

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

studies = sa.Table(
    "studies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("evidence", sa.Text, nullable=True),
    sa.Column("next_number", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("finished_at", sa.Double, nullable=True),
    # A uuid4 hex given at creation (migration 0005): the study's identity where its name is
    # not enough (trial folders, outside identifiers), since a name can be deleted and reused.
    # The '' default only lets SQLite add the column to existing rows; the store always gives
    # a uuid, and the unique index would refuse a second ''.
    sa.Column("uuid", sa.String(32), nullable=False, server_default=sa.text("''")),
    sa.Column("user_attrs", sa.Text, nullable=False, server_default=sa.text("'{}'")),
    sa.UniqueConstraint("name"),
    sa.Index(None, "uuid", unique=True),
)

trials = sa.Table(
    "trials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("params", sa.Text, nullable=False),
    sa.Column("value", sa.Double, nullable=True),
    sa.Column("value_special", sa.String(8), nullable=True),
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("failure_kind", sa.String(32), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default=sa.text("1")),
    sa.Column("lease_owner", sa.Text, nullable=True),
    sa.Column("heartbeat_at", sa.Double, nullable=True),
    sa.Column("lease_deadline", sa.Double, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("started_at", sa.Double, nullable=True),
    sa.Column("finished_at", sa.Double, nullable=True),
    sa.Column("last_step", sa.Integer, nullable=True),
    sa.Column("user_attrs", sa.Text, nullable=False, server_default=sa.text("'{}'")),
    # The space version the trial was suggested or added under (migration 0006).
    sa.Column("space_version", sa.Integer, nullable=False, server_default=sa.text("1")),
    # JSON: what its suggestion was made from, for ``tunewise replay`` (NULL: not suggested by
    # a strategy, or stored before 0006).
    sa.Column("suggestion", sa.Text, nullable=True),
    sa.UniqueConstraint("study_id", "number"),
    # Equality on study and state, in number order: the next queued trial and the running
    # ones are found without walking the study (migration 0004).
    sa.Index(None, "study_id", "state", "number"),
)

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer, nullable=False),
    sa.Column("trial_number", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    # Named ``metrics`` rather than ``values``: ``values`` is an SQL keyword and would clash
    # with ``Table.c.values()``.
    sa.Column("metrics", sa.Text, nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.ForeignKeyConstraint(
        ["study_id", "trial_number"],
        ["trials.study_id", "trials.number"],
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("study_id", "trial_number", "attempt", "step"),
)

#: Every definition a study had once its space was edited (``Store.add_space_version``).
space_versions = sa.Table(
    "space_versions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "study_id", sa.Integer, sa.ForeignKey("studies.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("definition", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=sa.text("'{}'")),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.UniqueConstraint("study_id", "version"),
)

#: Earlier attempts of a trial that was retried (the trial's row holds the current attempt).
attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("study_id", sa.Integer, nullable=False),
    sa.Column("trial_number", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("failure_kind", sa.String(32), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("owner", sa.Text, nullable=True),
    sa.Column("started_at", sa.Double, nullable=True),
    sa.Column("finished_at", sa.Double, nullable=False),
    sa.ForeignKeyConstraint(
        ["study_id", "trial_number"],
        ["trials.study_id", "trials.number"],
        ondelete="CASCADE",
    ),
    sa.UniqueConstraint("study_id", "trial_number", "attempt"),
)


# Creating and upgrading the schema ---------------------------------------------------------
MIGRATIONS = Path(__file__).with_name("migrations")
_SCHEMA_LOCK = zlib.crc32(b"tunewise.store.schema")  # pg_advisory_xact_lock key


def current_revision(conn: Connection) -> str | None:
    """The database's Alembic revision (``None``: a database tunewise never wrote)."""
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _stored_revisions(conn: Connection) -> list[str]:
    """The rows of the version table, read with plain SQL."""
    if not sa.inspect(conn).has_table(VERSION_TABLE):
        return []
    query = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")
    return [str(revision) for revision in conn.execute(query).scalars()]


@functools.cache
def _migrations() -> tuple[frozenset[str], str | None]:
    """The revisions this package knows, and its head (parses the migration scripts once)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_alembic_config())
    return frozenset(s.revision for s in scripts.walk_revisions()), scripts.get_current_head()


def _alembic_config() -> Any:
    """Alembic configured in code: no ``alembic.ini`` is shipped or needed."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    return config


def schema_is_outdated(conn: Connection, label: str) -> bool:
    """Whether the database must be created or upgraded (read only, usually no script loaded).

    Raises:
        StoreError: the database was written by a newer tunewise.
    """
    if _stored_revisions(conn) == [SCHEMA_REVISION]:
        return False  # the common case, without importing Alembic (~0.3 s per process)
    current = current_revision(conn)
    known, head = _migrations()
    if current is not None and current not in known:
        raise StoreError(
            f"the database at {label} was written by a newer tunewise (schema {current}); "
            "upgrade tunewise"
        )
    return current != head


def upgrade_schema(conn: Connection, label: str) -> None:
    """Bring the database to the head revision, inside the caller's write transaction.

    Several processes may open a new database at once: the caller's ``BEGIN IMMEDIATE``
    (SQLite) or the advisory lock taken here (PostgreSQL) lets one create the tables, and the
    others find them done when they re-check after the lock.
    """
    from alembic import command

    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
    if schema_is_outdated(conn, label):
        config = _alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


# Encoding of values in the columns -------------------------------------------------
def _json_default(obj: Any) -> Any:
    """numpy scalars and arrays, and mappings that are not dicts, as JSON."""
    for method in ("item", "tolist"):
        if callable(getattr(obj, method, None)):
            return getattr(obj, method)()
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def dump_json(obj: Any, what: str) -> str:
    try:
        return json.dumps(obj, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the {what} cannot be stored as JSON: {exc}") from None


def as_floats(values: Mapping[str, Any], what: str) -> dict[str, float]:
    try:
        return {str(name): float(value) for name, value in values.items()}
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the {what} must be numbers: {exc}") from None


def encode_value(value: float | None) -> tuple[float | None, str | None]:
    """``(value, value_special)``: SQLite stores NaN as NULL, so non-finite go as text."""
    if value is None:
        return None, None
    value = float(value)
    if math.isfinite(value):
        return value, None
    return None, "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def to_datetime(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=UTC)


def to_epoch(moment: datetime) -> float:
    """A naive datetime is taken as UTC (the store's clock), not as local time."""
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).timestamp()


def to_iso(epoch: float | None) -> str:
    moment = to_datetime(epoch)
    return "never" if moment is None else moment.isoformat(timespec="seconds")


def study_from_row(row: Row[Any]) -> StudyRecord:
    m = row._mapping
    return StudyRecord(
        id=m["id"],
        name=m["name"],
        definition=json.loads(m["definition"]),
        state=StudyState(m["state"]),
        reason=m["reason"],
        evidence=None if m["evidence"] is None else json.loads(m["evidence"]),
        created_at=to_datetime(m["created_at"]),
        finished_at=to_datetime(m["finished_at"]),
        uuid=m["uuid"],
        user_attrs=json.loads(m["user_attrs"]),
    )


def attempt_from_row(row: Row[Any]) -> Attempt:
    m = row._mapping
    return Attempt(
        number=m["trial_number"],
        attempt=m["attempt"],
        failure_kind=FailureKind(m["failure_kind"]),
        error=m["error"],
        owner=m["owner"],
        started_at=to_datetime(m["started_at"]),
        finished_at=to_datetime(m["finished_at"]),
    )


def trial_from_row(row: Row[Any]) -> Trial:
    m = row._mapping
    stored = m["value_special"] or m["value"]  # SQLite may hand back a REAL 0.0 as int 0
    return Trial(
        study_id=m["study_id"],
        number=m["number"],
        state=TrialState(m["state"]),
        params=json.loads(m["params"]),
        value=None if stored is None else float(stored),
        metrics=json.loads(m["metrics"]),
        failure_kind=FailureKind(m["failure_kind"]) if m["failure_kind"] else None,
        error=m["error"],
        attempt=m["attempt"],
        lease_owner=m["lease_owner"],
        heartbeat_at=to_datetime(m["heartbeat_at"]),
        lease_deadline=to_datetime(m["lease_deadline"]),
        created_at=to_datetime(m["created_at"]),
        started_at=to_datetime(m["started_at"]),
        finished_at=to_datetime(m["finished_at"]),
        last_step=m["last_step"],
        user_attrs=json.loads(m["user_attrs"]),
        space_version=m["space_version"],
        suggestion=None if m["suggestion"] is None else json.loads(m["suggestion"]),
    )


def space_version_from_row(row: Row[Any]) -> SpaceVersion:
    m = row._mapping
    return SpaceVersion(
        version=m["version"],
        definition=json.loads(m["definition"]),
        note=json.loads(m["note"]),
        created_at=to_datetime(m["created_at"]),
    )
