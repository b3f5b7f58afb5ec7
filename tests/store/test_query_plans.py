"""The per-trial queries are served by an index, never by walking a study's every trial: SQLite's
plans, read with EXPLAIN QUERY PLAN (PostgreSQL plans by its statistics, which a test's tiny
tables do not have)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tunewise.store import open_store
from tunewise.store.sql import _EXPIRED, _NEXT_QUEUED, _trials_query

WALKS = "USING INDEX sqlite_autoindex_trials_1 (study_id=?)"  # the (study, number) index alone


@pytest.mark.parametrize(
    "query",
    [
        _NEXT_QUEUED,
        _EXPIRED,
        _trials_query(False, ("running",)),
        _trials_query(False, ("queued",)),
    ],
    ids=["next queued", "expired leases", "running", "queued"],
)
def test_finding_trials_by_state_uses_the_state_index(tmp_path: Path, query: sa.Select) -> None:
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    open_store(url).close()
    engine = sa.create_engine(url)
    compiled = query.compile(engine, compile_kwargs={"literal_binds": False})
    params = {name: 1 for name in compiled.params}
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", tuple(params.values()))
        details = " | ".join(row[3] for row in plan)
    engine.dispose()
    assert "ix_trials_study_id_state_number (study_id=? AND state=?)" in details, details
    assert WALKS not in details
