"""R4 and R5: many processes writing one study at once.

- R4: 4 processes on one SQLite file (2,000 ``study.ask()`` / ``study.tell()`` trials) and 8 on
  PostgreSQL (800, to keep the suite within minutes on 2 cores): 0 lost (the numbers are
  exactly 0..n-1), 0 duplicated, every trial COMPLETED, no "database is locked" (nor any other
  error) in any process's output.
- R5: while 2 writer processes ask/tell, a reader holds a read transaction open for 3 s
  (a raw sqlite3 connection: ``BEGIN; SELECT ...``) and ``tunewise export`` runs twice in a
  row: no writer error, every export succeeds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability._workers import study_for
from tests.reliability.conftest import (
    Launcher,
    Proc,
    figure,
    opened,
    run_cli,
    sqlite_url,
    study_id,
)
from tunewise.trial import TrialState

LOCKED = "database is locked"


def _storage(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return sqlite_url(tmp_path / "r4.db")
    server = request.getfixturevalue("postgres_server")
    url = str(server.create_schema())
    request.addfinalizer(lambda: server.drop(url))
    return url


def _run_writers(
    launcher: Launcher, tmp_path: Path, url: str, name: str, plan: list[tuple[str, int]]
) -> tuple[list[Proc], float]:
    """Start one ask/tell process per ``(api, count)`` of ``plan``, release them together,
    wait for their end; returns them and the seconds from the release to the last end."""
    study_for(url, name, {"heartbeat": "10s", "grace": "30s"}).close()
    go = tmp_path / f"go-{name}"
    procs = [
        launcher.worker("asktell", url, name, count, api, go, cwd=tmp_path) for api, count in plan
    ]
    for proc in procs:
        proc.wait_fact("ready", timeout=60)
    started = time.monotonic()
    go.touch()
    for proc in procs:
        proc.wait(timeout=150)
    return procs, time.monotonic() - started


def _check_writers(procs: list[Proc]) -> list[int]:
    """No error in any writer's output; returns every number the writers were given."""
    numbers: list[int] = []
    for proc in procs:
        output = proc.stdout + proc.stderr
        assert LOCKED not in output
        assert proc.popen.returncode == 0, proc.stderr
        numbers += proc.wait_fact("numbers", timeout=1)["numbers"]
    return numbers


def _check_study(url: str, name: str, total: int) -> None:
    with opened(url) as store:
        sid = study_id(store, name)
        trials = store.get_trials(sid)
        assert [t.number for t in trials] == list(range(total))
        assert all(t.state == TrialState.COMPLETED for t in trials)
        assert all(t.value == t.params["x"] for t in trials)


#: One process per ``(api, trials)``; ``store``: the lease protocol as store calls, ``study``:
#: ``study.ask()`` / ``study.tell()`` (both kinds write the same study at the same time).
R4_PLANS = {
    "sqlite": [("study", 500)] * 4,  # 4 processes, 2,000 trials
    "postgresql": [("study", 100)] * 8,  # 8 processes, 800 trials
}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("backend", sorted(R4_PLANS))
def test_r4_concurrent_writers_lose_and_duplicate_nothing(
    backend: str, tmp_path: Path, launcher: Launcher, request: pytest.FixtureRequest
) -> None:
    url = _storage(backend, tmp_path, request)
    plan = R4_PLANS[backend]
    procs, seconds = _run_writers(launcher, tmp_path, url, "r4", plan)
    numbers = _check_writers(procs)
    total = sum(count for _, count in plan)
    duplicated = [n for n, c in Counter(numbers).items() if c > 1]
    assert duplicated == []
    assert sorted(numbers) == list(range(total))
    _check_study(url, "r4", total)
    figure(
        f"R4 {backend}",
        f"{len(plan)} processes, {total} trials in {seconds:.1f}s ({total / seconds:.0f}/s): "
        f"0 lost, 0 duplicated, 0 '{LOCKED}'",
    )


def _export_loop(url: str, outputs: list[Path], cwd: Path) -> None:
    for out in outputs:
        done = run_cli("export", "r5", "--format", "json", "-o", out, "--storage", url, cwd=cwd)
        if done.returncode != 0:
            out.write_text(done.stderr)  # not JSON: the test fails on reading it


@pytest.mark.timeout(90)
def test_r5_long_reads_and_exports_do_not_fail_writers(tmp_path: Path, launcher: Launcher) -> None:
    db = tmp_path / "r5.db"
    url = sqlite_url(db)
    study_for(url, "r5", {"heartbeat": "10s", "grace": "30s"}).close()
    go = tmp_path / "go"
    writers = [
        launcher.worker("asktell", url, "r5", 0, "study", go, cwd=tmp_path) for _ in range(2)
    ]
    for writer in writers:
        writer.wait_fact("ready", timeout=60)
    go.touch()
    exports = [tmp_path / f"export-{i}.json" for i in range(2)]
    try:
        time.sleep(0.5)
        # While the writers run: tunewise export twice in a row, and a reader holding its
        # snapshot open for 3 s (a raw sqlite3 connection, as any tool reading the file would).
        exporter = threading.Thread(target=_export_loop, args=(url, exports, tmp_path))
        exporter.start()
        conn = sqlite3.connect(db, timeout=30, isolation_level=None)
        try:
            conn.execute("BEGIN")
            first = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
            time.sleep(3.0)
            again = conn.execute("SELECT count(*) FROM trials").fetchone()[0]
            conn.execute("COMMIT")
        finally:
            conn.close()
        assert again == first  # one snapshot for the whole transaction
        exporter.join(timeout=60)
    finally:
        (tmp_path / "go.stop").touch()
    results = [json.loads(path.read_text()) for path in exports]  # every export succeeded
    for writer in writers:
        writer.wait(timeout=60)
    numbers = _check_writers(writers)
    assert sorted(numbers) == list(range(len(numbers)))
    _check_study(url, "r5", len(numbers))
    figure(
        "R5",
        f"2 writers, {len(numbers)} trials while a read held 3 s and 2 exports ran "
        f"({[len(r['trials']) for r in results]} trials): 0 writer errors, 0 export errors",
    )
