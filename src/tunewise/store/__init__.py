"""Persistence of studies, trials and reports.

``open_store(url)`` is the one way in: it accepts the storage URLs a user may write and
returns a :class:`Store`. Importing this package must stay cheap (``tunewise --help`` imports
it), so SQLAlchemy is imported only when a store is opened or ``SQLStore`` is asked for.

A store object belongs to one process: every process (a worker, a spawned child) opens its own
with ``open_store(store.url)``; ``url`` holds the resolved form (absolute SQLite path), so it
names the same database from any working directory.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from tunewise.errors import SpecError
from tunewise.store.base import Store

if TYPE_CHECKING:
    from tunewise.store.sql import SQLStore

__all__ = ["SQLStore", "Store", "open_store"]

_MEMORY_FORMS = (None, "", "sqlite://", "sqlite:///:memory:")
_ACCEPTED = (
    "use sqlite:///relative/path.db, sqlite:////absolute/path.db, sqlite:// (in memory) "
    "or postgresql://user@host:port/database"
)


def open_store(url: str | None = None) -> Store:
    """Open (and create or migrate when needed) the store at ``url``; ``None``: in memory.

    Raises:
        SpecError: the URL is not one of the accepted forms, or a SQLite file's folder is
            missing.
        StoreError: the database cannot be opened, or was written by a newer tunewise.
    """
    from tunewise.store.sql import SQLStore

    return SQLStore(_resolve_url(url))


def _resolve_url(url: str | None) -> str:
    """The SQLAlchemy URL for a user's storage URL (pure string work: no SQLAlchemy import)."""
    if url in _MEMORY_FORMS:
        return "sqlite://"
    assert url is not None
    if url.startswith("sqlite:///"):
        path, sep, query = url[len("sqlite:///") :].partition("?")
        if path in ("", ":memory:"):
            return "sqlite://"
        full = os.path.abspath(os.path.expanduser(path))
        parent = os.path.dirname(full)
        if not os.path.isdir(parent):
            raise SpecError(
                "storage",
                f"the folder {parent} of the SQLite file {path} does not exist; "
                "create it first or choose another path",
            )
        if os.path.isdir(full):
            raise SpecError("storage", f"{path} is a folder; give the path of a SQLite file")
        return f"sqlite:///{full}{sep}{query}"
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    shown = re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)
    raise SpecError("storage", f"unsupported storage URL {shown!r}: {_ACCEPTED}")


def __getattr__(name: str) -> Any:
    """Import ``SQLStore`` (and with it SQLAlchemy) only when someone asks for it."""
    if name == "SQLStore":
        from tunewise.store.sql import SQLStore

        return SQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
