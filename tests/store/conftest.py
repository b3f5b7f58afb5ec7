"""Backends for the store tests: every conformance test runs against each of them.

``backend`` is the parameter (override it with ``pytest.mark.parametrize("backend", ...)`` in
a module that needs fewer); ``store_url`` is a fresh, empty database of that backend;
``store`` is a store opened on it; ``processes`` runs functions in separate processes at once.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tunewise.store import Store, open_store

BACKENDS = ("sqlite-file", "sqlite-memory", "postgresql")
#: The backends more than one process (or store object) can open.
SHARED_BACKENDS = ("sqlite-file", "postgresql")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A new empty database; on PostgreSQL a schema of its own, dropped afterwards."""
    if backend == "sqlite-file":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    elif backend == "sqlite-memory":
        yield "sqlite://"
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_schema()
        try:
            yield url
        finally:
            server.drop(url)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


WORKERS = 4


class Processes:
    """A pool of ``WORKERS`` spawned processes, started once per session (each start imports
    SQLAlchemy again: about a second per process on a busy 2-core machine)."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._manager = context.Manager()
        self._pool = context.Pool(WORKERS)

    def run(self, target: Callable[..., Any], calls: Sequence[tuple[Any, ...]]) -> list[Any]:
        """``target(*call, barrier)`` for each call, one per process, released together.

        Every call waits on the shared barrier before its real work, so a worker busy with
        one call cannot take a second one: each call runs in its own process, concurrently.
        """
        assert len(calls) <= WORKERS
        barrier = self._manager.Barrier(len(calls))
        pending = self._pool.starmap_async(
            target, [(*call, barrier) for call in calls], chunksize=1
        )
        return list(pending.get(timeout=180))

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()
        self._manager.shutdown()


@pytest.fixture(scope="session")
def processes() -> Iterator[Processes]:
    pool = Processes()
    try:
        yield pool
    finally:
        pool.close()
