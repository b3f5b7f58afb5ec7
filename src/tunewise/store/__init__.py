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
from urllib.parse import parse_qsl, urlsplit

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
_POINT_AT = "point at your store with --storage URL or the TUNEWISE_STORAGE environment variable"
#: The resolved form of ``sqlite:///PATH?mode=ro``: SQLite's URI filename, opened read-only.
_READ_ONLY_PREFIX = "sqlite:///file:"
_READ_ONLY_QUERY = "mode=ro&uri=true"


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open (and create or migrate when needed) the store at ``url``; ``None``: in memory.

    ``create=False`` is for commands that only read: a SQLite file that does not exist is an
    error naming its path (a mistyped path must not leave an empty database behind), and so is
    a store in memory (it would be empty). ``sqlite:///PATH?mode=ro`` opens the file read-only:
    reading works, any write fails with a :class:`StoreError`.

    Raises:
        SpecError: the URL is not one of the accepted forms, a SQLite file's folder is
            missing, or (``create=False``) there is no database to read.
        StoreError: the database cannot be opened, or was written by a newer tunewise.
    """
    resolved = _resolve_url(url, create=create)
    import sqlalchemy as sa

    try:
        sa.make_url(resolved)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise SpecError(
            "storage", f"{_shown(str(url))!r} is not a database URL ({exc}); {_ACCEPTED}"
        ) from None
    from tunewise.store.sql import SQLStore

    return SQLStore(resolved)


def _shown(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"//([^:/@]*):[^@/]*@", r"//\1:***@", url)


def _resolve_url(url: str | None, *, create: bool = True) -> str:
    """The SQLAlchemy URL for a user's storage URL (pure string work: no SQLAlchemy import)."""
    if url in _MEMORY_FORMS:
        if not create:
            raise SpecError(
                "storage",
                f"a store in memory ({url or 'sqlite://'}) is empty to this command; {_POINT_AT}",
            )
        return "sqlite://"
    assert url is not None
    if url.startswith(_READ_ONLY_PREFIX) and url.endswith("?" + _READ_ONLY_QUERY):
        return url  # already resolved (store.url of a read-only store, opened again)
    if url.startswith("sqlite:///"):
        return _resolve_sqlite(url, create=create)
    if url.startswith("sqlite:"):
        raise SpecError(
            "storage",
            f"{url!r} is not a SQLite URL tunewise reads: {_ACCEPTED}",
        )
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            _check_server_url(url)
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise SpecError("storage", f"unsupported storage URL {_shown(url)!r}: {_ACCEPTED}")


def _resolve_sqlite(url: str, *, create: bool) -> str:
    path, _, query = url[len("sqlite:///") :].partition("?")
    if path == ":memory:":
        return _resolve_url("sqlite://", create=create)
    if path == "":
        raise SpecError(
            "storage",
            f"{url!r} names no file, so the results would be lost when the command ends; give "
            "sqlite:///path/to/file.db (sqlite:// is a store in memory, for Python only)",
        )
    options = dict(parse_qsl(query, keep_blank_values=True))
    read_only = options.get("mode") == "ro"
    if read_only:
        del options["mode"]
    if options:
        raise SpecError(
            "storage",
            f"SQLite URL option {'&'.join(f'{k}={v}' for k, v in options.items())!r} is not "
            "supported; the one option is ?mode=ro (open the file read-only)",
        )
    full = os.path.abspath(os.path.expanduser(path))
    parent = os.path.dirname(full)
    if not os.path.isdir(parent):
        raise SpecError(
            "storage",
            f"the folder {parent} of the SQLite file {path} does not exist; "
            + ("create it first or choose another path" if create else _POINT_AT),
        )
    if os.path.isdir(full):
        raise SpecError("storage", f"{path} is a folder; give the path of a SQLite file")
    if (read_only or not create) and not os.path.exists(full):
        raise SpecError(
            "storage",
            f"there is no SQLite database at {full} (this command reads a store and never "
            f"creates one); {_POINT_AT}",
        )
    if read_only:
        return f"{_READ_ONLY_PREFIX}{full}?{_READ_ONLY_QUERY}"
    return f"sqlite:///{full}"


def _check_server_url(url: str) -> None:
    """A PostgreSQL URL whose port or host cannot be read is refused in one sentence (the
    driver would raise a bare ``ValueError``)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (reading it validates it)
    except ValueError as exc:
        raise SpecError(
            "storage", f"{_shown(url)!r} is not a database URL ({exc}); {_ACCEPTED}"
        ) from None


def __getattr__(name: str) -> Any:
    """Import ``SQLStore`` (and with it SQLAlchemy) only when someone asks for it."""
    if name == "SQLStore":
        from tunewise.store.sql import SQLStore

        return SQLStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
