"""Helpers of the fault-injection suite (issue 5): start processes, kill them, watch them die.

Every test here is bounded (a ``pytest.mark.timeout``), talks to loopback only, and ends only
the processes it started: each process is started through the ``launcher`` fixture, which
remembers it (and every descendant it was shown) as a :class:`psutil.Process` — so a pid that
the system reused is never signalled — and SIGKILLs whatever is still alive at teardown.

Short leases keep the tests fast: heartbeat 1 s, grace 3 s (:data:`LEASE`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil
import pytest

from tunewise.errors import StudyNotFound
from tunewise.store import Store, open_store

PYTHON = sys.executable
ENTRY_POINT = Path(sys.executable).with_name("tunewise")
REPO = Path(__file__).resolve().parents[2]
WORKERS = "tests.reliability._workers"

HEARTBEAT_SECONDS, GRACE_SECONDS = 1.0, 3.0
LEASE = {"heartbeat": f"{HEARTBEAT_SECONDS:g}s", "grace": f"{GRACE_SECONDS:g}s"}


# Processes ------------------------------------------------------------------------------
def alive(process: psutil.Process) -> bool:
    """Whether the process can still run: zombies (state Z) do not count (INFRA.md)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def living(processes: Iterable[psutil.Process]) -> list[psutil.Process]:
    return [p for p in processes if alive(p)]


def processes_of(pids: Iterable[int], within: Path) -> list[psutil.Process]:
    """psutil handles (each remembers its start time) of the pids that exist now and run in
    folder ``within`` (or below): a pid read from a file may meanwhile belong to a process
    that is none of ours, which must never be signalled."""
    found = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            if Path(process.cwd()).is_relative_to(within):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):  # gone, or a zombie already
            continue
    return found


def read_pids(path: Path) -> list[int]:
    try:
        return [int(word) for word in path.read_text().split()]
    except (OSError, ValueError):
        return []


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    message: str,
    interval: float = 0.05,
    running: Sequence[Proc] = (),
) -> float:
    """Poll ``predicate`` until it is true; returns the seconds it took. Fails after ``timeout``
    with ``message``, or as soon as one of the ``running`` processes exited (with its stderr)."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        for proc in running:
            if proc.popen.poll() is not None:
                pytest.fail(
                    f"{message}: process {proc.pid} exited ({proc.popen.returncode}):\n"
                    f"{proc.stderr[-3000:]}"
                )
        if time.monotonic() - start > timeout:
            pytest.fail(f"after {timeout:g}s: {message}")
        time.sleep(interval)


class Proc:
    """A started process with its output in files (no pipe to fill up and block it)."""

    def __init__(self, popen: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.popen = popen
        self.pid = popen.pid
        self.handle = psutil.Process(popen.pid)
        self._out, self._err = out, err
        self.copiers: list[threading.Thread] = []

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout=timeout)
        for copier in self.copiers:  # the output a pipe still held
            copier.join(timeout=5)
        return code

    @property
    def stdout(self) -> str:
        return self._out.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self._err.read_text(errors="replace")

    def facts(self) -> list[dict[str, Any]]:
        """The JSON lines a worker said so far."""
        out = []
        for line in self.stdout.splitlines():
            with contextlib.suppress(ValueError):
                fact = json.loads(line)
                if isinstance(fact, dict):
                    out.append(fact)
        return out

    def wait_fact(self, key: str, timeout: float) -> dict[str, Any]:
        """The first fact with ``key``; fails early (with stderr) if the process ended."""
        deadline = time.monotonic() + timeout
        while True:
            for fact in self.facts():
                if key in fact:
                    return fact
            if self.popen.poll() is not None:
                for fact in self.facts():  # said just before exiting
                    if key in fact:
                        return fact
                pytest.fail(f"process {self.pid} exited ({self.popen.returncode}):\n{self.stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"process {self.pid} said no {key!r} within {timeout:g}s")
            time.sleep(0.02)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal this process (by its psutil handle: never a reused pid)."""
        with contextlib.suppress(psutil.NoSuchProcess):
            self.handle.send_signal(sig)

    def descendants(self) -> list[psutil.Process]:
        with contextlib.suppress(psutil.NoSuchProcess):
            return self.handle.children(recursive=True)
        return []


def _copy(pipe: Any, path: Path) -> None:
    with open(path, "ab", buffering=0) as file:
        for chunk in iter(lambda: pipe.read1(65536), b""):
            file.write(chunk)
    pipe.close()


class Launcher:
    """Starts processes and, at teardown, SIGKILLs each of them and every process it was shown
    (descendants, pids read from files) that is still alive; nothing else is signalled."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self._procs: list[Proc] = []
        self._watched: dict[tuple[int, float], psutil.Process] = {}

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pipes: bool = False,
    ) -> Proc:
        """Start ``argv``; its output goes to files, through pipes copied by threads of this
        process with ``pipes=True`` (for a process that may not write regular files)."""
        index = len(self._procs)
        out, err = self.log_dir / f"{index:02d}.out", self.log_dir / f"{index:02d}.err"
        with open(out, "wb") as stdout, open(err, "wb") as stderr:
            popen = subprocess.Popen(
                [str(a) for a in argv],
                cwd=cwd,
                env=dict(env) if env is not None else cli_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if pipes else stdout,
                stderr=subprocess.PIPE if pipes else stderr,
            )
        proc = Proc(popen, out, err)
        if pipes:
            for pipe, path in ((popen.stdout, out), (popen.stderr, err)):
                copier = threading.Thread(target=_copy, args=(pipe, path), daemon=True)
                copier.start()
                proc.copiers.append(copier)
        self._procs.append(proc)
        return proc

    def cli(self, *args: str | Path, cwd: Path, pipes: bool = False) -> Proc:
        """``tunewise ARGS`` in ``cwd``."""
        return self.start([ENTRY_POINT, *map(str, args)], cwd=cwd, pipes=pipes)

    def worker(self, name: str, *args: Any, cwd: Path) -> Proc:
        """A worker function of :mod:`tests.reliability._workers` in a new interpreter."""
        env = cli_env()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
        return self.start([PYTHON, "-m", WORKERS, name, *map(str, args)], cwd=cwd, env=env)

    def watch(self, processes: Iterable[psutil.Process]) -> None:
        """Remember processes to kill at teardown (they may outlive their parents)."""
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                self._watched[(process.pid, process.create_time())] = process

    def watch_tree(self, proc: Proc) -> list[psutil.Process]:
        """Remember the descendants ``proc`` has now; returns them."""
        found = proc.descendants()
        self.watch(found)
        return found

    def close(self) -> None:
        for proc in self._procs:
            self.watch_tree(proc)
        for proc in self._procs:
            proc.kill()
        for process in self._watched.values():
            if alive(process):
                with contextlib.suppress(psutil.NoSuchProcess):
                    process.kill()
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.popen.wait(timeout=10)


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    started = Launcher(tmp_path / "process-logs")
    try:
        yield started
    finally:
        started.close()


def cli_env() -> dict[str, str]:
    """The environment of a ``tunewise`` process: no inherited storage setting."""
    env = dict(os.environ)
    env["TUNEWISE_STORAGE"] = ""
    env.pop("PYTHONPATH", None)
    return env


def run_cli(*args: str | Path, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``tunewise ARGS`` to its end (output captured)."""
    return subprocess.run(
        [str(ENTRY_POINT), *map(str, args)],
        cwd=cwd,
        env=cli_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# Specs and stores -----------------------------------------------------------------------
def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def write_spec(
    folder: Path,
    study: str,
    *,
    trial: Mapping[str, Any],
    max_trials: int,
    max_parallel: int = 1,
    space: Mapping[str, Any] | None = None,
    strategy: str = "random",
    seed: int = 1,
    metric: str = "score",
    retries: Mapping[str, Any] | None = None,
    lease: Mapping[str, Any] | None = None,
    max_consecutive_failures: int = 10,
    filename: str = "spec.json",
) -> Path:
    """A spec file (JSON, which the YAML reader takes too) in ``folder``."""
    spec: dict[str, Any] = {
        "study": study,
        "objective": {"metric": metric, "direction": "maximize"},
        "strategy": strategy,
        "space": dict(space or {"x": {"type": "float", "low": 0.0, "high": 1.0}}),
        "trial": dict(trial),
        "limits": {
            "max_trials": max_trials,
            "max_parallel": max_parallel,
            "max_consecutive_failures": max_consecutive_failures,
        },
        "seed": seed,
        "lease": dict(lease or LEASE),
    }
    if retries is not None:
        spec["retries"] = dict(retries)
    path = folder / filename
    path.write_text(json.dumps(spec, indent=2))
    return path


@contextlib.contextmanager
def opened(url: str) -> Iterator[Store]:
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def study_id(store: Store, name: str) -> int:
    return store.get_study(name).id


def has_study(store: Store, name: str) -> bool:
    try:
        store.get_study(name)
    except StudyNotFound:
        return False
    return True


def integrity_check(db: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file, through a plain sqlite3 connection."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return "\n".join(row[0] for row in conn.execute("PRAGMA integrity_check"))
    finally:
        conn.close()


def trial_rows(db: Path) -> list[tuple[int, str, str | None]]:
    """``(number, state, params)`` of every trial row, read raw (no tunewise code)."""
    conn = sqlite3.connect(db, timeout=30)
    try:
        return list(conn.execute("SELECT number, state, params FROM trials ORDER BY number"))
    finally:
        conn.close()


# Measured figures -----------------------------------------------------------------------
#: (test id, figure) pairs the tests measured, printed at the end of the run.
FIGURES: list[tuple[str, str]] = []


def figure(rid: str, text: str) -> None:
    """Record a measured figure (detection time, attempts, orphans) for the run's summary."""
    FIGURES.append((rid, text))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("reliability figures")
    for rid, text in sorted(FIGURES, key=lambda item: item[0]):
        terminalreporter.write_line(f"{rid}: {text}")
