"""R12 and R15: leases of asked trials, and results reported twice.

- R12: 20 asked trials (5 processes x 4), each stalling 2 s with the GIL held (a C call that
  keeps it, so the heartbeat thread cannot run) half a heartbeat after a renewal, and lasting
  longer than the grace period (heartbeat 1 s, grace 3 s), while this process expires leases
  every 0.1 s: no trial is taken for lost. A late ``tell`` after a real takeover (the worker
  SIGSTOPped past the grace, its trial requeued and claimed by another process, then
  SIGCONTed) is refused with a clear ``LeaseLost``, which the worker catches, exiting 0; the
  trial is unchanged. Two lease bugs have tests of their own: a 2 s stall at once after
  ``ask()`` (the first heartbeat comes a whole interval after the thread could start, past the
  lease), and an ``ask()`` while the heartbeat thread of the previous trial is exiting (the new
  trial gets no heartbeat at all).
- R15: the same result told twice: the second ``tell`` (same or another value), and a second
  ``finish_trial`` through the store, are refused with a StoreError naming the trial, and
  change nothing: one result for the one attempt.
"""

from __future__ import annotations

import ctypes
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
import tunewise.heartbeat
from tests.reliability._workers import study_for
from tests.reliability.conftest import (
    GRACE_SECONDS,
    HEARTBEAT_SECONDS,
    Launcher,
    figure,
    sqlite_url,
    study_id,
)
from tunewise.errors import IllegalTransition, LeaseLost
from tunewise.store import Store
from tunewise.trial import FailureKind, TrialState

STALL_WORKERS, STALL_RUNS, STALL_SECONDS = 5, 4, 2.0


@pytest.mark.timeout(90)
def test_r12_gil_stalls_do_not_lose_leases(tmp_path: Path, launcher: Launcher) -> None:
    url = sqlite_url(tmp_path / "r12.db")
    study = study_for(url, "r12")
    sid = study_id(study.store, "r12")
    go = tmp_path / "go"
    workers = [
        launcher.worker("stall", url, "r12", STALL_RUNS, STALL_SECONDS, go, cwd=tmp_path)
        for _ in range(STALL_WORKERS)
    ]
    try:
        for worker in workers:
            worker.wait_fact("ready", timeout=60)
        go.touch()
        falsely_lost = []
        while any(w.popen.poll() is None for w in workers):
            falsely_lost += study.store.expire_leases(sid, max_attempts=2)
            time.sleep(0.1)
        falsely_lost += study.store.expire_leases(sid, max_attempts=2)
        runs = []
        for worker in workers:
            assert worker.wait(timeout=10) == 0, worker.stderr
            runs += [fact for fact in worker.facts() if "number" in fact]
        assert falsely_lost == []
        assert len(runs) == STALL_WORKERS * STALL_RUNS
        assert all(r["state"] == "completed" and r["attempt"] == 1 for r in runs), runs
        assert min(r["ran"] for r in runs) > GRACE_SECONDS
        trials = study.trials
        assert len(trials) == len(runs)
        assert all(t.state == TrialState.COMPLETED and t.attempt == 1 for t in trials)
    finally:
        study.close()
    figure(
        "R12 GIL stalls",
        f"{len(runs)} runs with a {STALL_SECONDS:g}s GIL stall (each run "
        f"{min(r['ran'] for r in runs):.1f}-{max(r['ran'] for r in runs):.1f}s > grace "
        f"{GRACE_SECONDS:g}s; stall ended {min(r['margin'] for r in runs):.2f}-"
        f"{max(r['margin'] for r in runs):.2f}s before the lease deadline), expire_leases "
        "every 0.1s: 0 false lost/FAILED",
    )


def _stop_outside_a_write(worker: Any, db: Path) -> None:
    """SIGSTOP the worker at a moment it holds no SQLite write lock: a process frozen inside
    a write transaction (its heartbeat) would block every writer, which is SQLite's nature and
    not what this test is about."""
    for _ in range(50):
        worker.kill(signal.SIGSTOP)
        probe = sqlite3.connect(db, timeout=0.2, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:
            worker.kill(signal.SIGCONT)
            time.sleep(0.05)
        finally:
            probe.close()
    raise AssertionError("the worker held the write lock every time it was stopped")


@pytest.mark.timeout(60)
def test_r12_late_tell_after_a_takeover_is_refused(tmp_path: Path, launcher: Launcher) -> None:
    url = sqlite_url(tmp_path / "r12.db")
    study = study_for(url, "r12-late")
    sid = study_id(study.store, "r12-late")
    go = tmp_path / "go"
    worker = launcher.worker("late_tell", url, "r12-late", go, cwd=tmp_path)
    try:
        number = worker.wait_fact("number", timeout=30)["number"]
        _stop_outside_a_write(worker, tmp_path / "r12.db")  # it and its heartbeat thread stop
        stopped_at = time.monotonic()
        expired: list[Any] = []
        while not expired and time.monotonic() - stopped_at < GRACE_SECONDS + 5:
            expired = study.store.expire_leases(sid, max_attempts=2)
            time.sleep(0.1)
        taken_after = time.monotonic() - stopped_at
        assert [t.number for t in expired] == [number]
        mine = study.ask()  # the takeover: this process runs the trial's attempt 2 now
        assert (mine.number, mine.attempt) == (number, 2)

        go.touch()
        worker.kill(signal.SIGCONT)
        assert worker.wait(timeout=30) == 0, worker.stderr
        refusal = worker.wait_fact("refused", timeout=1)
        assert refusal["refused"] == "LeaseLost", refusal
        assert f"trial {number} of study {sid}" in refusal["message"]
        assert "no longer leased" in refusal["message"]
        assert "Traceback" not in worker.stderr and "Exception" not in worker.stderr

        after = study.store.get_trial(sid, number)
        assert (after.state, after.attempt, after.lease_owner) == (
            TrialState.RUNNING,
            2,
            study.owner,
        )
        finished = study.tell(mine, 0.75)
        assert (finished.state, finished.value) == (TrialState.COMPLETED, 0.75)
        kinds = [a.failure_kind for a in study.attempts(number)]
        assert kinds == [FailureKind.LOST]
    finally:
        worker.kill(signal.SIGCONT)
        study.close()
    figure(
        "R12 late tell",
        f"lease taken over {taken_after:.1f}s after SIGSTOP; late tell refused: "
        f"{refusal['message'][:100]}...; worker exit 0",
    )


@pytest.mark.timeout(30)
def test_r12_stall_at_once_after_ask_keeps_the_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = tunewise.heartbeat.open_store

    def remote_open(url: str | None) -> Store:
        time.sleep(0.05)  # a store that takes a moment to open (a remote database's connect)
        return real_open(url)

    monkeypatch.setattr(tunewise.heartbeat, "open_store", remote_open)
    url = sqlite_url(tmp_path / "r12.db")
    study = study_for(url, "r12-first")
    usleep = ctypes.PyDLL(None).usleep  # holds the GIL (in this process) for the call
    usleep.argtypes = [ctypes.c_uint]
    try:
        sid = study_id(study.store, "r12-first")
        trial = study.ask()
        usleep(int(STALL_SECONDS * 1e6))  # e.g. building a model in C code that keeps the GIL
        leased = study.store.get_trial(sid, trial.number)
        assert leased.heartbeat_at is not None and leased.lease_deadline is not None
        renewed = leased
        deadline = time.monotonic() + GRACE_SECONDS + 2
        while renewed.heartbeat_at == leased.heartbeat_at and time.monotonic() < deadline:
            time.sleep(0.01)  # training, GIL free: the heartbeat thread can run
            renewed = study.store.get_trial(sid, trial.number)
        assert renewed.heartbeat_at is not None
        lapse = (renewed.heartbeat_at - leased.lease_deadline).total_seconds()
        figure(
            "R12 stall at ask",
            f"first heartbeat {lapse:+.2f}s after the lease deadline (> 0: the lease lapsed "
            "while its process was alive)",
        )
        # The lease must be renewed before it lapses: else any expire_leases (another ask(),
        # a driver's maintenance) in that window takes a healthy trial for lost.
        assert lapse < 0
        study.tell(trial, 0.5)
    finally:
        study.close()


@pytest.mark.timeout(30)
def test_r12_ask_while_the_heartbeat_thread_exits_keeps_the_lease(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closing = threading.Event()
    real_open = tunewise.heartbeat.open_store

    def slow_close_store(url: str | None) -> Store:
        store = real_open(url)
        real_close = store.close

        def close() -> None:  # a store that takes a moment to close (a remote database)
            closing.set()
            time.sleep(2.0)
            real_close()

        store.close = close  # type: ignore[method-assign]
        return store

    monkeypatch.setattr(tunewise.heartbeat, "open_store", slow_close_store)
    url = sqlite_url(tmp_path / "r12.db")
    study = study_for(url, "r12-race")
    try:
        sid = study_id(study.store, "r12-race")
        study.tell(study.ask(), 0.5)  # the heartbeat thread has nothing left to renew...
        assert closing.wait(HEARTBEAT_SECONDS + 2)  # ...and is on its way out
        second = study.ask()
        time.sleep(GRACE_SECONDS + 1.5)  # training, GIL free: heartbeats should run
        assert study.store.expire_leases(sid, max_attempts=2) == []
        assert study.tell(second, 0.5).state == TrialState.COMPLETED
    finally:
        study.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_r15_a_result_told_twice_is_refused_and_changes_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = sqlite_url(tmp_path / "r15.db")
    else:
        server = request.getfixturevalue("postgres_server")
        url = server.create_schema()
        request.addfinalizer(lambda: server.drop(url))
    study = study_for(url, "r15")
    try:
        sid = study_id(study.store, "r15")
        trial = study.ask()
        first = study.tell(trial, 0.5)
        assert first.state == TrialState.COMPLETED
        messages = []
        for value in (0.5, 0.9):  # the same result again (a retried tell), or another one
            with pytest.raises(tw.StoreError) as refused:
                study.tell(trial, value)
            assert isinstance(refused.value, LeaseLost | IllegalTransition)
            messages.append(str(refused.value))
        with pytest.raises(IllegalTransition) as refused_store:
            study.store.finish_trial(sid, trial.number, TrialState.COMPLETED, value=0.9)
        messages.append(str(refused_store.value))
        for message in messages:
            assert f"trial {trial.number} of study {sid}" in message, message
        assert "read-only" in messages[-1]

        after = study.store.get_trial(sid, trial.number)
        assert after == first  # nothing changed: one result for the one attempt
        assert study.attempts(trial.number) == []
        assert study.counts()[TrialState.COMPLETED] == 1
    finally:
        study.close()
    figure(f"R15 {backend}", f"2nd tell refused: {messages[0][:110]}")
