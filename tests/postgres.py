"""A throwaway PostgreSQL server for the tests (session-scoped fixture ``postgres_server``).

Every test that needs PostgreSQL gets a schema (``postgres_server.create_schema()``) or a
database (``create_database()``) of its own, so tests stay isolated without restarting the
server; ``drop(url)`` removes it.

Where the server comes from:

- ``TUNEWISE_TEST_POSTGRES_URL`` (a URL of a role allowed to ``CREATE DATABASE``): used as is;
- otherwise ``/usr/lib/postgresql/*/bin/initdb``: a new cluster in a temporary folder, run as
  the ``postgres`` user when the tests run as root (PostgreSQL refuses to run as root),
  listening on 127.0.0.1 at a free port, with ``fsync=off`` (the data is thrown away), and
  stopped with ``pg_ctl stop -m immediate`` at the end of the session;
- missing binaries: the tests are skipped, except under ``CI`` where they fail (CI must never
  silently skip PostgreSQL).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

ENV_URL = "TUNEWISE_TEST_POSTGRES_URL"


class PostgresServer:
    """A running server, and fresh places for the tests to write to.

    ``create_schema()`` (about 10 ms) gives a new schema in a database shared by the session,
    with a URL whose ``search_path`` points at it; ``create_database()`` (about 0.3 s: it
    copies a template) gives a whole database. Both are empty and dropped by ``drop(url)``.
    """

    def __init__(self, admin_url: str) -> None:
        self.admin_url = sa.make_url(admin_url).set(drivername="postgresql+psycopg")
        self._admin = self._engine(self.admin_url)
        self._shared_url = self.admin_url.set(database=self._new_database())
        self._shared = self._engine(self._shared_url)

    @staticmethod
    def _engine(url: sa.URL) -> sa.Engine:
        return sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)

    def _new_database(self) -> str:
        name = f"tw_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        return name

    def create_database(self) -> str:
        """A new, empty database; returns its SQLAlchemy URL (password included)."""
        url = self.admin_url.set(database=self._new_database())
        return url.render_as_string(hide_password=False)

    def create_schema(self) -> str:
        """A new, empty schema of the shared database; the URL makes it the search path."""
        name = f"tw_test_{uuid.uuid4().hex[:12]}"
        with self._shared.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        url = self._shared_url.update_query_dict({"options": f"-csearch_path={name}"})
        return url.render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        """Drop what ``create_schema`` or ``create_database`` made (and its connections)."""
        parsed = sa.make_url(url)
        options = parsed.query.get("options")
        if isinstance(options, str) and options.startswith("-csearch_path="):
            schema = options.removeprefix("-csearch_path=")
            with self._shared.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        else:
            self._drop_database(str(parsed.database))

    def _drop_database(self, name: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self._shared.dispose()
        self._drop_database(str(self._shared_url.database))
        self._admin.dispose()


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str]) -> None:
    done = subprocess.run(_as_postgres(command), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see the module docstring)."""
    if os.environ.get(ENV_URL):
        server = PostgresServer(os.environ[ENV_URL])
        yield server
        server.close()
        return
    bin_dir = _binaries()
    if bin_dir is None:
        message = (
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb); "
            f"`make test` installs them, or set {ENV_URL}"
        )
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must not skip the PostgreSQL tests)")
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="tunewise-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    _run([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-N"])
    pg_ctl = str(bin_dir / "pg_ctl")
    for attempt in range(3):  # a free port can be taken between the check and the start
        port = _free_port()
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        try:
            _run([pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"])
            break
        except RuntimeError:
            if attempt == 2:
                raise
    server = PostgresServer(f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres")
    try:
        yield server
    finally:
        server.close()
        subprocess.run(
            _as_postgres([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(root, ignore_errors=True)
