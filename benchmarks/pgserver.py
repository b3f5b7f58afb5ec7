"""A throwaway PostgreSQL server for the benchmarks (as ``tests/postgres.py`` starts one).

``with postgres() as server: url = server.create_database()`` gives an empty database on a
server of its own in a temporary folder, listening on 127.0.0.1 at a free port, run as the
``postgres`` user when the benchmark runs as root (PostgreSQL refuses to run as root). The
server keeps PostgreSQL's durable defaults (``fsync=on``, ``synchronous_commit=on``) unless
``settings`` says otherwise (``["synchronous_commit=off"]``): a benchmark measures what a
user's server does. It is stopped by its PID (from its ``postmaster.pid``) when the block
ends, and its folder removed.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path


class Server:
    """A running server; ``create_database()`` returns the URL of a new, empty database."""

    def __init__(self, port: int, version: str) -> None:
        self.port = port
        self.version = version

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        import sqlalchemy as sa

        name = f"bench_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(
            self.url(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
        )
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        engine.dispose()
        return self.url(name)


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb): "
            "run `make postgres-binaries` first"
        )
    return Path(found[-1]).parent


def _as_postgres(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres(settings: Sequence[str] = ()) -> Iterator[Server]:
    """Start a server for the duration of the block (see the module docstring)."""
    bin_dir = _binaries()
    root = Path(tempfile.mkdtemp(prefix="tunewise-bench-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        _as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
        check=True,
        capture_output=True,
    )
    port = _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    options += "".join(f" -c {setting}" for setting in settings)
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    subprocess.run(
        _as_postgres([*pg_ctl, "-o", options, "-w", "start"]), check=True, capture_output=True
    )
    pid = int((data / "postmaster.pid").read_text().split()[0])
    version = subprocess.run(
        [str(bin_dir / "postgres"), "--version"], capture_output=True, text=True
    ).stdout.strip()
    try:
        yield Server(port, version)
    finally:
        os.kill(pid, signal.SIGINT)  # "fast" shutdown of our own postmaster
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (data / "postmaster.pid").exists():
            time.sleep(0.1)
        shutil.rmtree(root, ignore_errors=True)
