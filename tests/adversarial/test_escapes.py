"""Command-trial escapes: processes that leave the trial's process group, links planted in the
trial's folder, parameters too large for the environment, SIGTERM to the driver.

Each escape is checked by PID: nothing the trial started is alive afterwards (zombies in state
Z are ignored, INFRA.md "Processes").
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.runners.helpers import running
from tunewise.executors.base import DoneEvent, Event
from tunewise.executors.local import LocalExecutor
from tunewise.runners.base import Runner, TrialJob
from tunewise.runners.command import CommandRunner
from tunewise.runners.python import PythonRunner
from tunewise.trial import TrialState

pytestmark = pytest.mark.timeout(60)

#: Start ``sleep 60`` out of the trial's process group, two ways, and write its pid to
#: ``escaped.txt`` in the trial's folder: ``session`` (a child with start_new_session=True,
#: which the training script does not wait for) or ``double-fork`` (fork, setsid, fork again;
#: the middle process exits, so the sleeper is an orphan). Then report and sleep (or return).
ESCAPE = """
import os, subprocess, sys, time

def escape(how, folder):
    if how == "session":
        pid = subprocess.Popen(["sleep", "60"], start_new_session=True).pid
    else:
        read, write = os.pipe()
        if os.fork() == 0:
            os.setsid()
            sleeper = os.fork()
            if sleeper == 0:
                os.execvp("sleep", ["sleep", "60"])
            os.write(write, str(sleeper).encode())
            os._exit(0)  # the sleeper is an orphan now
        os.close(write)
        pid = int(os.read(read, 100))
        os.wait()
    with open(os.path.join(folder, "escaped.txt"), "a") as f:
        f.write(f"{pid}\\n")
"""

SCRIPT = (
    ESCAPE
    + """
escape(sys.argv[1], os.environ["TUNEWISE_TRIAL_DIR"])
print('@tunewise {"score": 1.0}', flush=True)
time.sleep(60 if sys.argv[2] == "wait" else 1)
"""
)


def _escaped(folder: Path, count: int = 1, timeout: float = 20.0) -> list[int]:
    path = folder / "escaped.txt"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().split()) >= count:
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.02)
    raise AssertionError(f"no pid in {path}")


def _run(
    executor: LocalExecutor,
    job: TrialJob,
    runner: Runner,
    act: Callable[[LocalExecutor], None] | None = None,
) -> tuple[DoneEvent, list[int]]:
    """Run ``job``; once its escaped sleeper runs, ``act`` (e.g. cancel); returns how it
    ended and the sleepers' pids."""
    executor.submit(job, runner)
    pids = _escaped(job.trial_dir)
    assert running(pids) == pids  # the sleeper did escape and runs
    if act is not None:
        act(executor)
    events: list[Event] = []
    deadline = time.monotonic() + 20
    while executor.running and time.monotonic() < deadline:
        events += executor.poll(0.1)
    executor.close()
    (done,) = [e for e in events if isinstance(e, DoneEvent)]
    return done, pids


def _gone(pids: list[int], within: float = 3.0) -> list[int]:
    deadline = time.monotonic() + within
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    left = running(pids)
    for pid in left:  # never leave a sleeper behind, even when the test fails
        os.kill(pid, 9)
    return left


HOWS = ["session", "double-fork"]


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("end", ["stop", "timeout", "end"])
def test_a_command_trials_escaped_processes_end_with_it(tmp_path: Path, how: str, end: str) -> None:
    (tmp_path / "escape.py").write_text(SCRIPT)
    runner = CommandRunner(
        [sys.executable, str(tmp_path / "escape.py"), how, "exit" if end == "end" else "wait"],
        grace_seconds=0.5,
    )
    job = TrialJob(
        "s", 0, {}, tmp_path / "00000", "score", timeout=3.0 if end == "timeout" else None
    )
    act = (lambda ex: ex.cancel(0, "stopped by the test")) if end == "stop" else None
    done, pids = _run(LocalExecutor(capacity=1, grace_seconds=0.5), job, runner, act)
    assert _gone(pids) == []
    expected = {"stop": "stopped", "timeout": "failed", "end": "completed"}[end]
    assert done.outcome.state == TrialState(expected), done.outcome


def _python_trial(how: str, then: str) -> Callable[[dict[str, Any]], float]:
    namespace: dict[str, Any] = {}
    exec(ESCAPE, namespace)  # the test's own source

    def train(params: dict[str, Any]) -> float:
        namespace["escape"](how, params["folder"])
        time.sleep(60 if then == "wait" else 1)
        return 1.0

    return train


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("end", ["stop", "timeout", "end"])
def test_a_python_trials_escaped_processes_end_with_it(tmp_path: Path, how: str, end: str) -> None:
    folder = tmp_path / "00000"
    runner = PythonRunner(_python_trial(how, "return" if end == "end" else "wait"))
    job = TrialJob(
        "s",
        0,
        {"folder": str(folder)},
        folder,
        "score",
        timeout=2.0 if end == "timeout" else None,
    )
    act = (lambda ex: ex.cancel(0, "stopped by the test")) if end == "stop" else None
    done, pids = _run(LocalExecutor(capacity=1, grace_seconds=0.5), job, runner, act)
    assert _gone(pids) == []
    if end == "end":
        assert done.outcome.state == TrialState.COMPLETED
    else:
        assert done.outcome.state == TrialState.FAILED
