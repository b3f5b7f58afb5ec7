"""Per-study locks that processes sharing a study take around suggesting trials.

Processes that add suggested trials at once race for the study's next trial number
(:meth:`Store.add_trial` with ``number``): under contention every loser suggests again, and
with 8 workers on PostgreSQL 84 % of the adds lost (measured: each waits for the winner's row
lock, then finds its number taken). Taking turns instead — read the trials, suggest, add, then
let the next process in — wastes nothing. The lock is an optimisation, never the guarantee: a
process that cannot get it within its timeout goes on without it, and the number check keeps
the trials right.

- PostgreSQL: a session advisory lock on a connection of its own (autocommit, so no
  transaction stays open), waited for server-side up to ``lock_timeout``; released on exit, and
  by the server when the process dies.
- SQLite file: ``flock`` on a file beside the database (every process sharing a SQLite file is
  on one machine); released on exit, and by the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

#: The first key of tunewise's advisory locks (the second is the study id): "tw" in ASCII.
ADVISORY_CLASS = 0x7477
_LOCK_NOT_AVAILABLE = "55P03"
_FILE_POLL_SECONDS = 0.005


@contextlib.contextmanager
def advisory_lock(engine: Engine, study_id: int, timeout: float) -> Iterator[bool]:
    """Hold PostgreSQL's advisory lock of the study; yields whether it was acquired."""
    key = f"{ADVISORY_CLASS}, {int(study_id)}"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        held = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar())
        if not held:  # wait in the server's queue (first come, first served), up to timeout
            conn.exec_driver_sql(f"SET lock_timeout = {max(1, int(timeout * 1000))}")
            try:
                conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
                held = True
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
            finally:
                conn.exec_driver_sql("RESET lock_timeout")
        try:
            yield held
        finally:
            if held:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")


@contextlib.contextmanager
def file_lock(path: str, timeout: float) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing); yields whether it was
    acquired within ``timeout`` seconds."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    held = False
                    break
                time.sleep(_FILE_POLL_SECONDS)
        try:
            yield held
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
