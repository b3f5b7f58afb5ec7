"""Notice when a SQLite store's file is removed or replaced under a running process.

An open SQLite connection keeps writing into the file it opened even after that file was
deleted or replaced (``rm tunewise.db``, a backup restored over it): the run would go on,
print its results and exit 0 with nothing stored where anyone can read it. So the store
records which file (device and inode) it opened, and every transaction first checks that the
path still names that file; when it does not, the transaction fails with a
:class:`~tunewise.errors.StoreError` that names the file.
"""

from __future__ import annotations

import os
from typing import Any

from tunewise.errors import StoreError

__all__ = ["watch"]


class _FileIdentity:
    """The (device, inode) of the file at ``path`` when the store first connected to it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.identity: tuple[int, int] | None = None

    def _current(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        return stat.st_dev, stat.st_ino

    def on_connect(self, _dbapi_connection: Any, _record: Any) -> None:
        if self.identity is None:
            self.identity = self._current()

    def check(self, *_args: Any) -> None:
        """Raise when the path no longer names the file first connected to."""
        if self.identity is None:
            return
        current = self._current()
        if current == self.identity:
            return
        what = "was removed" if current is None else "was replaced by another file"
        raise StoreError(
            f"the SQLite file {self.path} {what} while tunewise had it open; what was written "
            "to it since is lost: put the file back or point --storage at the right store, "
            "then run again"
        )


def watch(engine: Any, path: str) -> None:
    """Make every transaction of ``engine`` (a SQLite file engine) check that ``path`` still
    names the file it first connected to."""
    from sqlalchemy import event

    guard = _FileIdentity(path.removeprefix("file:"))  # the URI form of a read-only open
    event.listen(engine, "connect", guard.on_connect)
    event.listen(engine, "begin", guard.check, insert=True)  # before BEGIN is sent
    event.listen(engine, "commit", guard.check)
