"""A whole study as rows, to copy it from one store to another (``tw.copy_study``).

The rows travel as the columns hold them (:class:`~tunewise.store.base.StudyRows`). Only the
keys that belong to one database change: row ids, the study id the other rows point at, and
the study's uuid (a copy is another study).
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunewise.errors import StudyExists, StudyNotFound
from tunewise.store.base import StudyRows
from tunewise.store.schema import (
    attempts,
    reports,
    space_versions,
    studies,
    study_from_row,
    trials,
)
from tunewise.trial import StudyRecord


def _rows(conn: Connection, table: sa.Table, study_id: int) -> list[dict[str, Any]]:
    query = sa.select(table).where(table.c.study_id == study_id).order_by(table.c.id)
    return [_without(dict(row._mapping), "id", "study_id") for row in conn.execute(query)]


def _without(row: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        row.pop(key, None)
    return row


def read_study(conn: Connection, name: str) -> StudyRows:
    """Every row of study ``name``, read in the caller's transaction.

    Raises:
        StudyNotFound: no study of that name.
    """
    row = conn.execute(sa.select(studies).where(studies.c.name == name)).first()
    if row is None:
        raise StudyNotFound(name)
    study_id = row.id
    return StudyRows(
        study=_without(dict(row._mapping), "id", "uuid"),
        trials=_rows(conn, trials, study_id),
        attempts=_rows(conn, attempts, study_id),
        reports=_rows(conn, reports, study_id),
        space_versions=_rows(conn, space_versions, study_id),
    )


def write_study(conn: Connection, rows: StudyRows, name: str) -> StudyRecord:
    """Insert ``rows`` as a new study named ``name`` with a new uuid, in the caller's
    transaction.

    Raises:
        StudyExists: a study of that name exists (nothing is written).
    """
    if conn.execute(sa.select(studies.c.id).where(studies.c.name == name)).first():
        raise StudyExists(name)
    values = {**rows.study, "name": name, "uuid": uuid.uuid4().hex}
    created = conn.execute(studies.insert().values(**values).returning(*studies.c)).one()
    copied = ((trials, rows.trials), (attempts, rows.attempts))
    for table, table_rows in (*copied, (space_versions, rows.space_versions)):
        if table_rows:
            conn.execute(table.insert(), [{**r, "study_id": created.id} for r in table_rows])
    if rows.reports:
        conn.execute(reports.insert(), [{**r, "study_id": created.id} for r in rows.reports])
    return study_from_row(created)


def delete_study(conn: Connection, study_id: int) -> None:
    """Remove a study and everything it holds, children first (no reliance on cascades)."""
    for table in (reports, attempts, space_versions, trials):
        conn.execute(table.delete().where(table.c.study_id == study_id))
    conn.execute(studies.delete().where(studies.c.id == study_id))
