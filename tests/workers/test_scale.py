"""Scale-out on PostgreSQL: 8 ``tunewise worker`` processes and 2 ``tunewise run`` drivers on
one study of 2,000 fast trials (``run --workers-only`` stores it first), while 2 workers die:

- worker A is frozen (SIGSTOP) while it runs trials, so its process stays alive and only the
  lease deadline tells the others it is gone: its trials are taken over once the lease (5 s
  grace) expires; then it is SIGKILLed;
- worker B is SIGKILLed while it runs trials: its trials are taken over too (by the dead-owner
  check, or the lease deadline, whichever comes first).

Then: the study ends COMPLETED with exactly trials 0..1999, each COMPLETED once with the value
of its own parameters, no two with the same parameters; every earlier attempt ended ``lost``
(those of the killed workers, and any live process that missed its heartbeats, counted); no
trial ran more often than it had attempts; every other process exits 0 with nothing unexpected
on stderr (no deadlock, serialization failure, storage error or traceback), and PostgreSQL
counted no deadlock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.postgres import PostgresServer
from tests.reliability.conftest import Launcher, Proc, opened, run_cli, study_id
from tests.workers.helpers import figure, markers, stored, study_folder, unexpected_stderr
from tunewise.store import Store, open_store
from tunewise.trial import StudyState, Trial, TrialState

TRIALS = int(os.environ.get("TW_SCALE_TRIALS", 2000))
WORKERS, DRIVERS, PARALLEL = 8, 2, 2
STUDY = "scale"
#: Short, so the frozen worker's trials are taken over within seconds; the grace leaves room
#: for a live process starved of CPU for a moment (10 processes and the server on 2 cores).
LEASE = {"heartbeat": "1s", "grace": "5s"}


def _deadlocks(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            query = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            return int(conn.exec_driver_sql(query).scalar_one())
    finally:
        engine.dispose()


def _held_by(store: Store, proc: Proc) -> list[Trial]:
    """The RUNNING trials leased to the worker process ``proc`` (owner ``host:pid:tag``)."""
    running = store.get_trials(study_id(store, STUDY), [TrialState.RUNNING])
    return [t for t in running if t.lease_owner and f":{proc.pid}:" in t.lease_owner]


def _freeze_holding(store: Store, proc: Proc) -> list[Trial]:
    """SIGSTOP ``proc`` at a moment it holds trials; returns them."""
    for _ in range(200):
        proc.kill(signal.SIGSTOP)
        held = _held_by(store, proc)
        if held:
            return held
        proc.kill(signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail(f"worker {proc.pid} never held a trial")


def _diagnosis(url: str) -> str:
    """The study's counts and every failure it stored: what a failed run needs explained."""
    with opened(url) as store:
        sid = study_id(store, STUDY)
        counts = {str(k): v for k, v in store.count_trials(sid).items() if v}
        lines = [f"trials: {counts}"]
        for trial in store.get_trials(sid):
            for attempt in store.get_attempts(sid, trial.number) if trial.attempt > 1 else []:
                lines.append(f"#{trial.number} attempt {attempt.attempt}: {attempt.error}")
            if trial.state == TrialState.FAILED:
                lines.append(f"#{trial.number} FAILED {trial.failure_kind}: {trial.error}")
    return "\n".join(lines[:60])


def _finished(store: Store) -> int:
    counts = store.count_trials(study_id(store, STUDY))
    return counts[TrialState.COMPLETED] + counts[TrialState.FAILED]


@pytest.mark.timeout(300)
def test_workers_and_drivers_share_one_study(
    tmp_path: Path,
    launcher: Launcher,
    postgres_server: PostgresServer,
    request: pytest.FixtureRequest,
) -> None:
    url = postgres_server.create_database()
    spec = study_folder(
        tmp_path / "study",
        STUDY,
        max_trials=TRIALS,
        max_parallel=PARALLEL,
        lease=LEASE,
        retries={"max_attempts": 3, "on": ["crashed", "lost"]},
    )
    folder = spec.parent
    queued = run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder)
    assert queued.returncode == 0, queued.stderr
    deadlocks_before = _deadlocks(url)
    started = time.monotonic()
    # Half the workers serve this study by name, half serve whatever runs: both kinds exit
    # once the study is complete.
    workers = [
        launcher.cli(
            "worker",
            "--storage",
            url,
            "--max-parallel",
            PARALLEL,
            *(["--study", STUDY] if i % 2 == 0 else []),
            cwd=folder,
        )
        for i in range(WORKERS)
    ]
    drivers = [launcher.cli("run", spec, "--storage", url, cwd=folder) for _ in range(DRIVERS)]
    everyone = workers + drivers
    deadline = time.monotonic() + 150
    watcher = open_store(url)  # one connection for the test's polling (opening one costs)
    request.addfinalizer(watcher.close)
    while _finished(watcher) < TRIALS // 4:
        assert time.monotonic() < deadline, "a quarter of the trials did not finish in 150 s"
        ended = [p for p in everyone if p.popen.poll() is not None]
        assert ended == [], f"process {ended[0].pid} ended early:\n{ended[0].stderr[-3000:]}"
        time.sleep(0.2)

    frozen, killed = workers[0], workers[1]
    frozen_trials = _freeze_holding(watcher, frozen)
    killed_trials = _freeze_holding(watcher, killed)
    killed.kill(signal.SIGKILL)
    killed_at = time.monotonic()
    # The frozen worker's process lives: only its lease deadline lets the others take over.
    while _held_by(watcher, frozen):
        assert time.monotonic() - killed_at < 60, "the frozen worker's trials were not taken over"
        time.sleep(0.1)
    takeover = time.monotonic() - killed_at
    frozen.kill(signal.SIGKILL)

    survivors = [p for p in everyone if p not in (frozen, killed)]
    for proc in survivors:
        try:
            code = proc.wait(timeout=max(1.0, 240 - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            pytest.fail(f"not done in 240 s:\n{_diagnosis(url)}")
        assert code == 0, f"{proc.stderr[-3000:]}\n{_diagnosis(url)}"
    seconds = time.monotonic() - started
    for proc in survivors:
        assert unexpected_stderr(proc) == [], proc.stderr[-3000:]

    trials, attempts = stored(url, STUDY)
    assert all(t.state == TrialState.COMPLETED for t in trials), _diagnosis(url)
    assert [t.number for t in trials] == list(range(TRIALS))  # 0 lost, 0 numbers twice
    assert all(t.state == TrialState.COMPLETED for t in trials)
    assert all(t.value == t.params["x"] for t in trials)
    assert [p for p, n in Counter(t.params["x"] for t in trials).items() if n > 1] == []
    earlier = [a for tried in attempts.values() for a in tried]
    assert all(a.failure_kind == "lost" for a in earlier), earlier
    taken_over = {t.number for t in frozen_trials + killed_trials}
    assert taken_over <= set(attempts)
    owners = {f":{p.pid}:" for p in (frozen, killed)}
    # A live process that could not beat in time (starved of CPU) loses its lease too: counted.
    alive_lost = [a for a in earlier if not any(o in (a.owner or "") for o in owners)]
    for trial in frozen_trials:  # the lease deadline, not a dead process, gave them away
        (lost,) = [a for a in attempts[trial.number] if f":{frozen.pid}:" in (a.owner or "")]
        assert "expired" in (lost.error or ""), lost
    ran = markers(folder)
    assert set(ran) == set(range(TRIALS))
    too_often = {n: c for n, c in ran.items() if c > 1 + len(attempts.get(n, []))}
    assert too_often == {}
    with opened(url) as store:
        record = store.get_study(STUDY)
    assert record.state == StudyState.COMPLETED, record.reason
    assert record.reason == f"reached max_trials ({TRIALS})"
    assert _deadlocks(url) == deadlocks_before
    figure(
        "W1",
        f"{WORKERS} workers + {DRIVERS} drivers ({PARALLEL} trials each at a time), {TRIALS} "
        f"trials on PostgreSQL in {seconds:.1f}s ({TRIALS / seconds:.0f}/s); 2 workers killed: "
        f"{len(earlier) - len(alive_lost)} trials taken over (a frozen worker's after "
        f"{takeover:.1f}s), {len(alive_lost)} leases of live processes expired; "
        "0 lost, 0 duplicated, 0 deadlocks",
    )
    postgres_server.drop(url)
