"""Ctrl-C during ``tunewise run``: running trials are ended and recorded, nothing is left
RUNNING, no trial process survives, and running the same command again finishes the study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import tunewise as tw
from tunewise.trial import StudyState, TrialState

pytestmark = pytest.mark.timeout(90)

ENTRY_POINT = Path(sys.executable).with_name("tunewise")

TRAIN = """\
import os
import time


def train(params):
    with open("pids.txt", "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(0.3 if params["x"] < 0.5 else 0.6)
    return params["x"]
"""

SPEC = """\
study: interrupted
objective: {metric: score, direction: maximize}
space: {x: {type: float, low: 0.0, high: 1.0}}
trial: {python: "slowtrain:train"}
limits: {max_trials: 12, max_parallel: 2}
seed: 1
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_ctrl_c_records_running_trials_and_the_study_can_be_continued(tmp_path: Path) -> None:
    (tmp_path / "slowtrain.py").write_text(TRAIN)
    (tmp_path / "spec.yaml").write_text(SPEC)
    url = f"sqlite:///{tmp_path / 't.db'}"
    argv = [str(ENTRY_POINT), "run", "spec.yaml", "--storage", url]
    env = {**os.environ, "TUNEWISE_STORAGE": ""}
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    pids = tmp_path / "pids.txt"
    deadline = time.monotonic() + 30
    while (not pids.exists() or len(pids.read_text().split()) < 4) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr

    study = tw.load_study("interrupted", storage=url)
    assert study.state == StudyState.INTERRUPTED
    assert study.counts()[TrialState.RUNNING] == 0
    assert 0 < len(study.trials) < 12
    time.sleep(0.5)
    assert [pid for pid in map(int, pids.read_text().split()) if _alive(pid)] == []
    study.close()

    again = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    study = tw.load_study("interrupted", storage=url)
    assert study.state == StudyState.COMPLETED
    assert [t.number for t in study.trials] == list(range(12))
    study.close()


def test_after_kill_9_status_python_and_readme_all_say_interrupted(tmp_path: Path) -> None:
    """A driver killed with -9 cannot store that it ended; its trials' leases show it, and
    ``tunewise status``, ``Study.state`` and the user guide (docs/guide.md) call that the
    same: ``interrupted``."""
    (tmp_path / "slowtrain.py").write_text(TRAIN.replace("0.3 if", "30 if").replace("0.6", "30"))
    (tmp_path / "spec.yaml").write_text(SPEC)
    url = f"sqlite:///{tmp_path / 't.db'}"
    env = {**os.environ, "TUNEWISE_STORAGE": ""}
    process = subprocess.Popen(
        [str(ENTRY_POINT), "run", "spec.yaml", "--storage", url],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pids = tmp_path / "pids.txt"
    deadline = time.monotonic() + 30
    while (not pids.exists() or len(pids.read_text().split()) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=10)

    status = subprocess.run(
        [str(ENTRY_POINT), "status", "interrupted", "--format", "json", "--storage", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert status.returncode == 0, status.stderr
    (row,) = json.loads(status.stdout)
    assert row["state"] == "interrupted"
    assert row["running"] == row["stale_leases"] == 2
    study = tw.load_study("interrupted", storage=url)
    assert study.state == StudyState.INTERRUPTED
    study.close()
    guide = " ".join((Path(__file__).parents[2] / "docs" / "guide.md").read_text().split())
    assert "`kill -9`, a reboot or a closed laptop leave it `interrupted`" in guide
