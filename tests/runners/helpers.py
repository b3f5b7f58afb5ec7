"""Helpers for runner tests: training-like scripts, a report recorder, process-tree checks."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tunewise.runners.base import Outcome, TrialJob

PYTHON = sys.executable

#: A training-like process tree: the script starts a Python child, which starts ``sleep``;
#: with ``ignore-term`` every process ignores SIGTERM (only SIGKILL ends them). Each writes its
#: pid to ``pids.txt`` in the trial folder; the script then reports ``ready=1`` and sleeps.
TREE_CHILD = """
import os, signal, subprocess, sys
if sys.argv[1] == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by sleep across exec
sleeper = subprocess.Popen(["sleep", "60"])
with open(sys.argv[2], "a") as f:
    f.write(f"{os.getpid()}\\n{sleeper.pid}\\n")
sleeper.wait()
"""
TREE_SCRIPT = """
import os, signal, subprocess, sys, time
mode = sys.argv[1]
if mode == "ignore-term":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
pids = os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "pids.txt")
with open(pids, "a") as f:
    f.write(f"{os.getpid()}\\n")
subprocess.Popen([sys.executable, sys.argv[2], mode, pids])
while len(open(pids).read().split()) < 3:
    time.sleep(0.01)
print("loss=0.75")
print('@tunewise {"ready": 1}')
time.sleep(60)
"""


@dataclass
class Recorder:
    """A ``report`` callback that keeps every call, plus a ``should_stop`` driven by a test."""

    reports: list[tuple[int | None, dict[str, float]]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    stop_when: Callable[[Recorder], bool] = lambda recorder: False

    def report(self, step: int | None, values: Mapping[str, float]) -> None:
        self.reports.append((step, dict(values)))
        self.times.append(time.monotonic())

    def should_stop(self) -> bool:
        return self.stop_when(self)

    def values(self, name: str) -> list[tuple[int | None, float]]:
        return [(step, vals[name]) for step, vals in self.reports if name in vals]


def make_job(tmp_path: Path, params: Mapping[str, Any] | None = None, **kw: Any) -> TrialJob:
    options: dict[str, Any] = {"objective": "loss", "trial_dir": tmp_path / "trial"}
    options.update(kw)
    return TrialJob(study="demo", number=7, params=dict(params or {}), **options)


def run(runner: Any, job: TrialJob, recorder: Recorder | None = None) -> tuple[Outcome, Recorder]:
    recorder = recorder or Recorder()
    outcome = runner.run(job, recorder.report, recorder.should_stop)
    return outcome, recorder


def read_pids(path: Path, count: int, timeout: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        if path.exists():
            pids = [int(p) for p in path.read_text().split()]
            if len(pids) >= count:
                return pids
        if time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    raise AssertionError(f"{path} did not get {count} pids in {timeout}s")


def running(pids: Iterable[int]) -> list[int]:
    """The pids that are still running processes (zombies count as dead)."""
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive


def wait_dead(pids: Iterable[int], timeout: float = 3.0) -> list[int]:
    """Wait until none of ``pids`` runs; returns those still running at the deadline."""
    pids = list(pids)
    deadline = time.monotonic() + timeout
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return running(pids)


def kill_all(pids: Iterable[int]) -> None:
    """Last-resort cleanup so a failing test leaves nothing behind."""
    for pid in running(pids):
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).kill()
