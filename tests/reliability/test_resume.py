"""R3: SIGKILL the ``tunewise run`` driver mid-study (max_parallel 2, 12 trials of 0.3 s), then
``tunewise resume``: trial numbers are contiguous and never duplicated, COMPLETED equals
max_trials, nothing is RUNNING, the trials in flight at the kill ran again as attempt 2 after a
``lost`` attempt, and no trial process of the killed driver survived it."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    Launcher,
    figure,
    has_study,
    living,
    opened,
    processes_of,
    read_pids,
    run_cli,
    sqlite_url,
    study_id,
    wait_until,
    write_spec,
)
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(90)

MAX_TRIALS = 12

FAST = """\
import os
import time


def train(params):
    with open("pids.txt", "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(0.3)
    return params["x"]
"""


def test_r3_resume_after_the_driver_was_killed(tmp_path: Path, launcher: Launcher) -> None:
    (tmp_path / "fast.py").write_text(FAST)
    spec = write_spec(
        tmp_path, "r3", trial={"python": "fast:train"}, max_trials=MAX_TRIALS, max_parallel=2
    )
    url = sqlite_url(tmp_path / "r3.db")
    driver = launcher.cli("run", spec, "--storage", url, cwd=tmp_path)
    with opened(url) as store:
        wait_until(
            lambda: has_study(store, "r3"),
            30,
            "the driver did not create the study",
            running=[driver],
        )
        sid = study_id(store, "r3")
        in_flight: list[int] = []
        deadline = time.monotonic() + 30
        while not in_flight:
            assert time.monotonic() < deadline, "never caught the driver with trials in flight"
            counts = store.count_trials(sid)
            if counts[TrialState.COMPLETED] >= 3 and counts[TrialState.RUNNING] == 2:
                driver.kill(signal.SIGSTOP)  # freeze its store writes, then read what runs
                in_flight = [t.number for t in store.get_trials(sid, [TrialState.RUNNING])]
                if not in_flight:
                    driver.kill(signal.SIGCONT)
            time.sleep(0.02)
        completed_before = store.count_trials(sid)[TrialState.COMPLETED]
        driver.kill(signal.SIGKILL)
        driver.wait(timeout=10)
        trial_processes = processes_of(read_pids(tmp_path / "pids.txt"), tmp_path)
        launcher.watch(trial_processes)
        wait_until(
            lambda: not living(trial_processes),
            5,
            "a trial process outlived the driver",
        )

    resumed_at = time.monotonic()
    done = run_cli("resume", "r3", "--storage", url, cwd=tmp_path)
    resume_seconds = time.monotonic() - resumed_at
    assert done.returncode == 0, done.stderr
    with opened(url) as store:
        trials = store.get_trials(sid)
        numbers = [t.number for t in trials]
        assert numbers == list(range(MAX_TRIALS))  # contiguous, none duplicated
        counts = store.count_trials(sid)
        assert counts[TrialState.COMPLETED] == MAX_TRIALS
        assert counts[TrialState.RUNNING] == 0 and counts[TrialState.QUEUED] == 0
        for number in in_flight:
            assert trials[number].attempt == 2
            kinds = [a.failure_kind for a in store.get_attempts(sid, number)]
            assert kinds == [FailureKind.LOST]
        others = [t for t in trials if t.number not in in_flight]
        assert all(t.attempt == 1 for t in others)
    figure(
        "R3",
        f"killed with {completed_before} completed and {len(in_flight)} in flight; resume "
        f"{resume_seconds:.1f}s: 0..{MAX_TRIALS - 1} completed once, in-flight ones attempt 2 "
        "(lost)",
    )
