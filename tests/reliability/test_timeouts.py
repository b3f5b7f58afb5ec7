"""R8: a trial runs past its timeout (``timeout: 1s``, the trial would sleep 60 s) — a Python
trial, a command that ignores SIGTERM (its child too), and a Python trial that ignores SIGTERM:
each is FAILED(timeout) within timeout + 2 s of its start (the stored started_at and
finished_at), and no process of any of them is left."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    Launcher,
    figure,
    living,
    opened,
    processes_of,
    read_pids,
    sqlite_url,
    study_id,
    wait_until,
    write_spec,
)
from tunewise.trial import FailureKind, TrialState

pytestmark = pytest.mark.timeout(60)

TIMEOUT = 1.0
LIMIT = TIMEOUT + 2.0

#: A Python trial: starts a ``sleep 60`` child, writes both pids, sleeps 60 s.
SLEEPY = """\
import os
import signal
import subprocess
import time


def train(params, trial):
    child = subprocess.Popen(["sleep", "60"])
    with open("pids.txt", "a") as f:
        f.write(f"{os.getpid()} {child.pid}\\n")
    time.sleep(60)
    return params["x"]


def stubborn(params, trial):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as trainers that checkpoint on SIGTERM do
    return train(params, trial)
"""

#: A command that ignores SIGTERM, as does its ``sleep 60`` child.
STUBBORN_COMMAND = """\
import os, signal, subprocess, time

signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "60"])
with open(os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "..", "pids.txt"), "a") as f:
    f.write(f"{os.getpid()} {child.pid}\\n")
time.sleep(60)
"""

TRIALS = {
    "python": {"python": "sleepy:train", "timeout": f"{TIMEOUT:g}s"},
    "command": {
        "command": [sys.executable, "stubborn.py"],
        "metrics": [{"name": "score", "regex": r"score=([0-9.]+)"}],
        "timeout": f"{TIMEOUT:g}s",
    },
    "python-ignoring-sigterm": {"python": "sleepy:stubborn", "timeout": f"{TIMEOUT:g}s"},
}


def _run(tmp_path: Path, launcher: Launcher, kinds: list[str]) -> None:
    """Run one study of 2 parallel trials per kind at once; check every trial and process."""
    drivers, folders = [], []
    for kind in kinds:
        folder = tmp_path / kind
        folder.mkdir()
        (folder / "sleepy.py").write_text(SLEEPY)
        (folder / "stubborn.py").write_text(STUBBORN_COMMAND)
        spec = write_spec(folder, "r8", trial=TRIALS[kind], max_trials=2, max_parallel=2)
        drivers.append(
            launcher.cli("run", spec, "--storage", sqlite_url(folder / "r8.db"), cwd=folder)
        )
        folders.append(folder)
    for kind, driver, folder in zip(kinds, drivers, folders, strict=True):
        assert driver.wait(timeout=40) == 1, driver.stderr  # no trial completed: exit 1
        pids = read_pids(folder / "pids.txt") or read_pids(
            next(folder.glob("tunewise-runs/r8-*/pids.txt"), folder / "none")
        )
        assert len(pids) == 4, f"{kind}: the trials did not all start: {pids}"
        processes = processes_of(pids, folder)
        launcher.watch(processes)
        wait_until(
            lambda p=processes: not living(p),
            1.0,
            f"{kind}: a process of a timed-out trial is left",
        )
        with opened(sqlite_url(folder / "r8.db")) as store:
            trials = store.get_trials(study_id(store, "r8"))
        durations = []
        for trial in trials:
            assert (trial.state, trial.failure_kind) == (TrialState.FAILED, FailureKind.TIMEOUT)
            assert trial.attempt == 1  # timeouts are not retried by the default policy
            assert trial.duration is not None
            durations.append(trial.duration)
        figure(
            f"R8 {kind}",
            f"FAILED(timeout) after {max(durations):.2f}s (limit {LIMIT:g}s); 0 processes left",
        )
        assert max(durations) <= LIMIT, f"{kind}: {durations}"


def test_r8_timeouts_are_enforced_within_two_seconds(tmp_path: Path, launcher: Launcher) -> None:
    _run(tmp_path, launcher, ["python", "command"])


def test_r8_python_trial_ignoring_sigterm_times_out_within_two_seconds(
    tmp_path: Path, launcher: Launcher
) -> None:
    _run(tmp_path, launcher, ["python-ignoring-sigterm"])
