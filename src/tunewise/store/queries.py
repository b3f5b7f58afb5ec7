"""Reads of many rows at once, for :class:`~tunewise.store.sql.SQLStore`.

Each function runs inside the caller's transaction (``conn``) and reads with one query, the
same on SQLite and PostgreSQL; :mod:`tunewise.store.sql` keeps the transactions, the writes and
the state machine.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tunewise.store.schema import reports, to_datetime, trial_from_row, trials
from tunewise.store.table import TrialTable
from tunewise.trial import Report


def trial_table(conn: Connection, study_id: int, min_number: int = 0) -> TrialTable:
    """The study's trials numbered ``min_number`` or more, in number order, as a table (rows
    decoded only when asked for: see :mod:`tunewise.store.table`)."""
    query = sa.select(trials).where(trials.c.study_id == study_id)
    if min_number > 0:
        query = query.where(trials.c.number >= min_number)
    rows = conn.execute(query.order_by(trials.c.number)).all()
    return TrialTable(rows, tuple(trials.c.keys()), trial_from_row)


def study_reports(conn: Connection, study_id: int) -> dict[int, list[Report]]:
    """Every trial's reports of its current attempt, by trial number, in step order."""
    query = (
        sa.select(reports.c.trial_number, reports.c.step, reports.c.metrics, reports.c.created_at)
        .join(
            trials,
            sa.and_(
                trials.c.study_id == reports.c.study_id,
                trials.c.number == reports.c.trial_number,
                trials.c.attempt == reports.c.attempt,
            ),
        )
        .where(reports.c.study_id == study_id)
        .order_by(reports.c.trial_number, reports.c.step)
    )
    out: dict[int, list[Report]] = {}
    for row in conn.execute(query):
        out.setdefault(row.trial_number, []).append(
            Report(row.step, json.loads(row.metrics), to_datetime(row.created_at))
        )
    return out
