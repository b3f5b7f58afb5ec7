"""R1: SIGKILL the process running a Python trial.

- ask-and-tell: a process holds a trial it asked for (its heartbeat thread renews the lease
  every second); after ``kill -9`` the trial is lost within the grace period plus one poll
  (≤ 5 s with heartbeat 1 s and grace 3 s), requeued as attempt 2 with a ``lost`` attempt, and
  the study ends with nothing RUNNING.
- ``tunewise run``: a trial whose process SIGKILLs itself on its first attempt is retried
  once (one ``crashed`` attempt recorded) and the study completes with nothing RUNNING.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.reliability._workers import study_for
from tests.reliability.conftest import (
    GRACE_SECONDS,
    Launcher,
    figure,
    opened,
    run_cli,
    sqlite_url,
    study_id,
    write_spec,
)
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(60)

DETECTION_LIMIT = 5.0


def test_r1_killed_asking_process_loses_its_trial_within_the_grace(
    tmp_path: Path, launcher: Launcher
) -> None:
    url = sqlite_url(tmp_path / "r1.db")
    study = study_for(url, "r1")
    try:
        sid = study_id(study.store, "r1")
        holder = launcher.worker("hold", url, "r1", cwd=tmp_path)
        number = holder.wait_fact("number", timeout=30)["number"]

        # Alive, it keeps its lease past the grace period: the heartbeat thread renews it.
        time.sleep(GRACE_SECONDS + 1.0)
        assert study.store.expire_leases(sid, max_attempts=2) == []
        held = study.store.get_trial(sid, number)
        assert held.state == TrialState.RUNNING and held.attempt == 1

        holder.kill()
        killed_at = time.monotonic()
        holder.wait(timeout=10)
        expired = []
        while not expired and time.monotonic() - killed_at < DETECTION_LIMIT + 5:
            expired = study.store.expire_leases(sid, max_attempts=2)
            if not expired:
                time.sleep(0.1)
        detection = time.monotonic() - killed_at
        figure("R1 ask()", f"lost {detection:.2f}s after kill -9 (limit {DETECTION_LIMIT:g}s)")
        assert [t.number for t in expired] == [number]
        assert detection <= DETECTION_LIMIT
        assert expired[0].state == TrialState.QUEUED and expired[0].attempt == 2
        attempts = study.attempts(number)
        assert [(a.attempt, a.failure_kind) for a in attempts] == [(1, FailureKind.LOST)]
        assert "expired" in (attempts[0].error or "")

        # The next ask() takes the requeued trial (same number, same params) and finishes it.
        again = study.ask()
        assert (again.number, again.attempt) == (number, 2)
        assert again.params == held.params
        study.tell(again, 0.5)
        counts = study.counts()
        assert counts[TrialState.RUNNING] == 0 and counts[TrialState.QUEUED] == 0
        assert counts[TrialState.COMPLETED] == 1
    finally:
        study.close()


CRASH_ONCE = """\
import os
import signal


def train(params, trial):
    marker = trial.dir / "first-attempt"
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return params["x"]
"""


def test_r1_driver_retries_a_trial_whose_process_was_killed(tmp_path: Path) -> None:
    (tmp_path / "crashonce.py").write_text(CRASH_ONCE)
    spec = write_spec(
        tmp_path, "r1-driver", trial={"python": "crashonce:train"}, max_trials=3, max_parallel=2
    )
    url = sqlite_url(tmp_path / "r1.db")
    done = run_cli("run", spec, "--storage", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with opened(url) as store:
        sid = study_id(store, "r1-driver")
        trials = store.get_trials(sid)
        assert [t.number for t in trials] == [0, 1, 2]
        assert all(t.state == TrialState.COMPLETED and t.attempt == 2 for t in trials)
        for trial in trials:
            attempts = store.get_attempts(sid, trial.number)
            assert [(a.attempt, a.failure_kind) for a in attempts] == [(1, FailureKind.CRASHED)]
            assert "SIGKILL" in (attempts[0].error or "")
        assert store.count_trials(sid)[TrialState.RUNNING] == 0
    figure("R1 driver", "3 trials, each: 1 crashed attempt (SIGKILL) + 1 completed; 0 RUNNING")
