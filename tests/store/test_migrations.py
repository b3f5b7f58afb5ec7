"""Schema versioning: databases are created and upgraded by the Alembic migrations on open.

Run on the backends a second store object (or process) can reopen: a SQLite file and
PostgreSQL.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from tunewise.errors import StoreError
from tunewise.store import open_store, schema
from tunewise.store.schema import SCHEMA_REVISION, VERSION_TABLE, metadata
from tunewise.trial import FailureKind

from .conftest import SHARED_BACKENDS, WORKERS, Processes

reopenable = pytest.mark.parametrize("backend", SHARED_BACKENDS)


@pytest.fixture
def engine(store_url: str) -> Iterator[sa.Engine]:
    """A plain engine on the test database, to look at it behind the store's back."""
    plain = sa.create_engine(store_url, poolclass=sa.NullPool)
    yield plain
    plain.dispose()


def _versions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_schema_revision_is_the_head_of_the_migrations() -> None:
    scripts = ScriptDirectory.from_config(schema._alembic_config())
    assert scripts.get_heads() == [SCHEMA_REVISION]


@reopenable
def test_fresh_database_is_created_at_head(store_url: str, engine: sa.Engine) -> None:
    assert _tables(engine) == set()
    open_store(store_url).close()
    assert _versions(engine) == [SCHEMA_REVISION]
    tables = {"studies", "trials", "reports", "attempts", "space_versions", VERSION_TABLE}
    assert _tables(engine) == tables


@reopenable
def test_reopening_runs_nothing(
    store_url: str, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(store_url)
    store.create_study("kept", {"a": 1})
    store.close()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a migration step ran on an up-to-date database")

    monkeypatch.setattr(command, "upgrade", refuse)
    monkeypatch.setattr(schema, "_migrations", refuse)  # the scripts are not even loaded
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(sa.Engine, "before_cursor_execute", record)
    try:
        reopened = open_store(store_url)
    finally:
        sa.event.remove(sa.Engine, "before_cursor_execute", record)
    assert reopened.get_study("kept").definition == {"a": 1}
    reopened.close()
    writes = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE")
    assert statements and not [s for s in statements if s.lstrip().upper().startswith(writes)]
    assert _versions(engine) == [SCHEMA_REVISION]


@reopenable
def test_database_of_a_newer_tunewise_is_refused_untouched(
    store_url: str, engine: sa.Engine
) -> None:
    store = open_store(store_url)
    store.create_study("kept", {"a": 1})
    store.close()
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999_future'"))
    tables = _tables(engine)
    with pytest.raises(StoreError, match=r"newer tunewise \(schema 9999_future\); upgrade"):
        open_store(store_url)
    assert _versions(engine) == ["9999_future"]
    assert _tables(engine) == tables
    with engine.connect() as conn:
        assert list(conn.execute(sa.text("SELECT name FROM studies")).scalars()) == ["kept"]


@reopenable
def test_migrations_match_schema_py(store_url: str, engine: sa.Engine) -> None:
    open_store(store_url).close()
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "version_table": VERSION_TABLE}
        )
        assert compare_metadata(context, metadata) == []


def _open(url: str, barrier: Any) -> str:
    """Open the store at the same moment as the other processes; the error, if any."""
    import tunewise.store.sql  # noqa: F401  (imported before the start, not after)

    try:
        barrier.wait(timeout=60)
        open_store(url).close()
    except Exception as exc:
        return repr(exc)
    return ""


@reopenable
def test_processes_creating_the_schema_at_once(
    store_url: str, engine: sa.Engine, processes: Processes
) -> None:
    assert processes.run(_open, [(store_url,)] * WORKERS) == [""] * WORKERS
    assert _versions(engine) == [SCHEMA_REVISION]


DATA = Path(__file__).with_name("data")


def test_a_database_written_by_schema_0001_is_upgraded_with_its_data(tmp_path: Path) -> None:
    """``data/v0001.db`` was written by tunewise at schema 0001 (3 completed trials with
    reports, 1 failed, 1 left running); opening it upgrades it and keeps everything."""
    path = tmp_path / "old.db"
    shutil.copy(DATA / "v0001.db", path)
    plain = sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)
    assert _versions(plain) == ["0001"]
    store = open_store(f"sqlite:///{path}")
    try:
        assert _versions(plain) == [SCHEMA_REVISION]
        study = store.get_study("made-by-0001")
        trials = store.get_trials(study.id)
        assert [t.state.value for t in trials] == [
            "completed",
            "completed",
            "completed",
            "failed",
            "running",
        ]
        assert all(set(t.params) == {"x", "k"} for t in trials)
        assert [r.step for r in store.get_reports(study.id, 0)] == [1]
        assert len(study.uuid) == 32 and study.user_attrs == {}  # 0005 gave it an identity
        assert all(t.user_attrs == {} for t in trials)
        # 0006: every earlier trial was suggested under version 1, by no recorded suggestion
        assert all(t.space_version == 1 and t.suggestion is None for t in trials)
        assert [v.version for v in store.get_space_versions(study.id)] == [1]
        assert store.get_attempts(study.id, 4) == []
        requeued = store.requeue_trial(study.id, 4, failure_kind=FailureKind.LOST)
        assert requeued.attempt == 2
        assert [a.attempt for a in store.get_attempts(study.id, 4)] == [1]
    finally:
        store.close()
        plain.dispose()


@reopenable
def test_upgrade_from_each_earlier_revision(store_url: str, engine: sa.Engine) -> None:
    config = schema._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    assert _versions(engine) == ["0001"]
    open_store(store_url).close()
    assert _versions(engine) == [SCHEMA_REVISION]
    assert "attempts" in _tables(engine)
    columns = {c["name"] for c in sa.inspect(engine).get_columns("studies")}
    assert "evidence" in columns


@reopenable
def test_upgrade_to_0005_gives_each_existing_study_its_own_uuid(
    store_url: str, engine: sa.Engine
) -> None:
    config = schema._alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004")
        for number, name in enumerate(("a", "b", "c")):
            conn.execute(
                sa.text(
                    "INSERT INTO studies (name, definition, state, next_number, created_at) "
                    "VALUES (:name, '{}', 'running', 1, 0)"
                ),
                {"name": name},
            )
            study_id = conn.execute(
                sa.text("SELECT id FROM studies WHERE name = :name"), {"name": name}
            ).scalar_one()
            conn.execute(
                sa.text(
                    "INSERT INTO trials (study_id, number, state, params, metrics, created_at) "
                    "VALUES (:study, 0, 'queued', '{}', '{}', :number)"
                ),
                {"study": study_id, "number": number},
            )
    store = open_store(store_url)
    try:
        records = store.list_studies()
        assert len({r.uuid for r in records}) == 3 and all(len(r.uuid) == 32 for r in records)
        assert all(r.user_attrs == {} for r in records)
        assert store.get_trials(records[0].id)[0].user_attrs == {}
        assert store.create_study("d", {}).uuid not in {r.uuid for r in records}
    finally:
        store.close()
    with engine.connect() as conn, pytest.raises(sa.exc.IntegrityError):
        same = "UPDATE studies SET uuid = (SELECT uuid FROM studies WHERE name = 'a')"
        conn.execute(sa.text(same))
    with engine.begin() as conn:  # and back down, keeping every trial
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM trials")).scalar_one() == 3


def test_a_database_written_by_schema_0004_is_upgraded_with_its_data(tmp_path: Path) -> None:
    """``data/v0004.db`` was written by tunewise at schema 0004 (commit c034afd): study
    ``made-by-0004`` with 3 completed trials (one NaN) with reports, a failed trial with an
    earlier crashed attempt, one left running; and ``other-0004``. Opening it applies 0005:
    every study gets its own uuid and empty user attributes, and nothing else changes."""
    path = tmp_path / "old.db"
    shutil.copy(DATA / "v0004.db", path)
    plain = sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)
    assert _versions(plain) == ["0004"]
    store = open_store(f"sqlite:///{path}")
    try:
        assert _versions(plain) == [SCHEMA_REVISION]
        study, other = store.list_studies()
        assert (study.name, other.name) == ("made-by-0004", "other-0004")
        assert study.uuid != other.uuid and len(study.uuid) == len(other.uuid) == 32
        assert study.user_attrs == other.user_attrs == {}
        trials = store.get_trials(study.id)
        assert [t.state.value for t in trials] == [
            "completed", "completed", "completed", "failed", "running",
        ]  # fmt: skip
        assert math.isnan(trials[0].value or 0.0) and trials[2].value == 0.2
        assert all(t.user_attrs == {} for t in trials)
        assert [r.values for r in store.get_reports(study.id, 2)] == [{"acc": 0.1}]
        assert [(a.attempt, a.error) for a in store.get_attempts(study.id, 3)] == [(1, "killed")]
        store.set_trial_user_attr(study.id, 4, "checked", True)
        assert store.get_trial(study.id, 4).user_attrs == {"checked": True}
    finally:
        store.close()
        plain.dispose()
