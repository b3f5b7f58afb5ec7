"""The local executor with Python trials: events, failures, timeouts, stops, whole trees killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.executors.helpers import job, run_until_done
from tests.runners.helpers import running
from tunewise.executors.base import DoneEvent, Event, ReportEvent
from tunewise.executors.local import LocalExecutor
from tunewise.runners.base import TrialJob
from tunewise.runners.python import PythonRunner
from tunewise.trial import FailureKind, TrialState


def done(events: list[Event]) -> dict[int, DoneEvent]:
    return {e.number: e for e in events if isinstance(e, DoneEvent)}


def test_runs_trials_in_parallel_and_streams_reports(tmp_path: Path) -> None:
    def train(params: dict[str, Any]) -> float:
        for step in range(1, 4):
            tw.report(step=step, score=step * params["x"])
        return 10 * params["x"]

    executor = LocalExecutor(capacity=2)
    executor.submit(job(tmp_path, 0, x=1.0), PythonRunner(train))
    executor.submit(job(tmp_path, 1, x=2.0), PythonRunner(train))
    assert executor.free == 0
    events = run_until_done(executor)
    results = done(events)
    assert {n: e.outcome.value for n, e in results.items()} == {0: 10.0, 1: 20.0}
    assert all(e.outcome.state == TrialState.COMPLETED for e in results.values())
    reports = [(e.number, e.step, e.values["score"]) for e in events if isinstance(e, ReportEvent)]
    assert sorted(reports) == [
        (0, 1, 1.0),
        (0, 2, 2.0),
        (0, 3, 3.0),
        (1, 1, 2.0),
        (1, 2, 4.0),
        (1, 3, 6.0),
    ]


def test_a_training_function_may_take_the_trial_context(tmp_path: Path) -> None:
    def train(params: dict[str, Any], trial: Any) -> None:
        trial.report(0.5, 1)
        trial.report(0.75, 2, loss=0.1)
        print("hello from trial", trial.number)

    executor = LocalExecutor(capacity=1)
    executor.submit(job(tmp_path, 7), PythonRunner(train))
    outcome = done(run_until_done(executor))[7].outcome
    assert (outcome.state, outcome.value) == (TrialState.COMPLETED, 0.75)
    assert outcome.metrics == {"score": 0.75, "loss": 0.1}
    assert "hello from trial 7" in (tmp_path / "00007" / "stdout.log").read_text()


@pytest.mark.parametrize(
    ("train", "kind", "words"),
    [
        (lambda p: 1 / 0, FailureKind.USER_ERROR, "ZeroDivisionError"),
        (lambda p: {"other": 1.0}, FailureKind.METRIC_MISSING, "'score'"),
        (lambda p: "nope", FailureKind.USER_ERROR, "must return a number"),
        (lambda p: float("nan"), FailureKind.METRIC_INVALID, "nan, not a finite number"),
        (lambda p: float("-inf"), FailureKind.METRIC_INVALID, "-inf, not a finite number"),
        (lambda p: os.kill(os.getpid(), signal.SIGKILL), FailureKind.CRASHED, "SIGKILL"),
        (lambda p: sys.exit(3), FailureKind.CRASHED, "exited with code 3"),
        (lambda p: os._exit(1), FailureKind.CRASHED, "exited with code 1"),
    ],
)
def test_failures_are_recorded_with_their_kind(
    tmp_path: Path, train: Callable[[Any], Any], kind: FailureKind, words: str
) -> None:
    executor = LocalExecutor(capacity=1)
    executor.submit(job(tmp_path), PythonRunner(train))
    outcome = done(run_until_done(executor))[0].outcome
    assert outcome.state == TrialState.FAILED
    assert outcome.failure_kind == kind
    assert words in (outcome.error or "")


def test_timeout_kills_the_whole_process_tree(tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"

    def train(params: dict[str, Any]) -> float:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        pid_file.write_text(f"{os.getpid()} {child.pid}")
        time.sleep(60)
        return 1.0

    executor = LocalExecutor(capacity=1, grace_seconds=0.5)
    started = time.monotonic()
    executor.submit(job(tmp_path, timeout=1.0), PythonRunner(train))
    outcome = done(run_until_done(executor))[0].outcome
    assert time.monotonic() - started < 10
    assert (outcome.state, outcome.failure_kind) == (TrialState.FAILED, FailureKind.TIMEOUT)
    assert "timeout" in (outcome.error or "")
    pids = [int(p) for p in pid_file.read_text().split()]
    deadline = time.monotonic() + 5
    while running(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running(pids) == []


def test_cancel_stops_a_cooperative_trial_at_its_last_report(tmp_path: Path) -> None:
    def train(params: dict[str, Any], trial: Any) -> None:
        step = 0
        while not trial.should_stop():
            step += 1
            trial.report(float(step), step)
            time.sleep(0.05)
        raise tw.TrialStopped()

    executor = LocalExecutor(capacity=1)
    executor.submit(job(tmp_path), PythonRunner(train))
    events: list[Event] = []
    while not any(isinstance(e, ReportEvent) and e.step >= 3 for e in events):
        events += executor.poll(0.1)
    executor.cancel(0, "test stop")
    events += run_until_done(executor)
    outcome = done(events)[0].outcome
    last = max(e.step for e in events if isinstance(e, ReportEvent))
    assert outcome.state == TrialState.STOPPED
    assert outcome.value == float(last)


def test_cancel_kills_a_trial_that_ignores_it(tmp_path: Path) -> None:
    def train(params: dict[str, Any]) -> None:
        tw.report(step=1, score=0.25)
        time.sleep(60)

    executor = LocalExecutor(capacity=1, grace_seconds=0.3)
    executor.submit(job(tmp_path), PythonRunner(train))
    events: list[Event] = []
    while not any(isinstance(e, ReportEvent) for e in events):
        events += executor.poll(0.1)
    executor.cancel(0, "lease lost", FailureKind.LOST, keep_partial=False)
    outcome = done(events + run_until_done(executor, limit=10))[0].outcome
    assert (outcome.state, outcome.failure_kind) == (TrialState.FAILED, FailureKind.LOST)
    executor.submit(job(tmp_path, 1), PythonRunner(train))
    events = []
    while not any(isinstance(e, ReportEvent) for e in events):
        events += executor.poll(0.1)
    executor.cancel(1, "early stop", FailureKind.USER_ERROR)
    outcome = done(events + run_until_done(executor, limit=10))[1].outcome
    assert (outcome.state, outcome.value) == (TrialState.STOPPED, 0.25)


def test_a_prompt_stop_kills_a_trial_that_ignores_it_well_before_the_grace_period(
    tmp_path: Path,
) -> None:
    def train(params: dict[str, Any]) -> None:
        tw.report(step=1, score=0.25)
        time.sleep(60)

    executor = LocalExecutor(capacity=1, grace_seconds=30)
    executor.submit(job(tmp_path), PythonRunner(train))
    events: list[Event] = []
    while not any(isinstance(e, ReportEvent) for e in events):
        events += executor.poll(0.1)
    executor.stop_promptly(0, "stopped from the dashboard")
    # A plain cancel would wait the 30 s grace period; run_until_done gives up after 10 s.
    outcome = done(events + run_until_done(executor, limit=10))[0].outcome
    assert (outcome.state, outcome.value) == (TrialState.STOPPED, 0.25)


def test_shutdown_ends_every_running_trial(tmp_path: Path) -> None:
    executor = LocalExecutor(capacity=2)
    for number in (0, 1):
        executor.submit(job(tmp_path, number), PythonRunner(lambda p: time.sleep(60)))
    events = executor.shutdown("interrupted")
    results = done(events)
    assert set(results) == {0, 1}
    assert all(e.outcome.failure_kind == FailureKind.INFRASTRUCTURE for e in results.values())
    assert executor.running == []


# Reused trial processes ----------------------------------------------------------------------
def pid_of(params: dict[str, Any]) -> float:
    return float(os.getpid())


def run_one(executor: LocalExecutor, tmp_path: Path, number: int, runner: PythonRunner) -> Any:
    executor.submit(job(tmp_path, number), runner)
    return done(run_until_done(executor))[number].outcome


def test_a_process_runs_the_next_trial_of_its_runner(tmp_path: Path) -> None:
    runner = PythonRunner(pid_of)
    executor = LocalExecutor(capacity=1)
    pids = {run_one(executor, tmp_path, n, runner).value for n in range(3)}
    assert len(pids) == 1 and pids != {float(os.getpid())}
    other = run_one(executor, tmp_path, 3, PythonRunner(pid_of)).value  # another runner
    assert other not in pids
    assert running([int(p) for p in pids]) == []  # the first runner's idle process was ended
    executor.close()
    assert running([int(other)]) == []


def test_without_reuse_every_trial_gets_a_fresh_process(tmp_path: Path) -> None:
    runner = PythonRunner(pid_of)
    executor = LocalExecutor(capacity=1, reuse_processes=False)
    pids = [run_one(executor, tmp_path, n, runner).value for n in range(3)]
    assert len(set(pids)) == 3


def test_a_stopped_or_crashed_trials_process_is_not_reused(tmp_path: Path) -> None:
    def train(params: dict[str, Any], trial: Any) -> float:
        if params.get("crash"):
            os._exit(3)
        while params.get("wait") and not trial.should_stop():
            trial.report(value=float(os.getpid()))
            time.sleep(0.05)
        return float(os.getpid())

    runner = PythonRunner(train)
    executor = LocalExecutor(capacity=1, grace_seconds=2.0)
    first = run_one(executor, tmp_path, 0, runner).value
    executor.submit(TrialJob("s", 1, {"wait": True}, tmp_path / "1", "score"), runner)
    events: list[Event] = []
    while not any(isinstance(e, ReportEvent) for e in events):
        events += executor.poll(0.1)
    executor.cancel(1, "early stop")
    stopped = done(events + run_until_done(executor))[1].outcome
    assert (stopped.state, stopped.value) == (TrialState.STOPPED, first)  # it ran in the same
    after_stop = run_one(executor, tmp_path, 2, runner).value
    assert after_stop != first and running([int(first)]) == []
    executor.submit(TrialJob("s", 3, {"crash": True}, tmp_path / "3", "score"), runner)
    crashed = done(run_until_done(executor))[3].outcome
    assert crashed.failure_kind == FailureKind.CRASHED and "code 3" in (crashed.error or "")
    after_crash = run_one(executor, tmp_path, 4, runner)
    assert after_crash.state == TrialState.COMPLETED and after_crash.value not in (
        first,
        after_stop,
    )
    executor.close()


def test_a_late_decision_about_an_earlier_trial_is_ignored(tmp_path: Path) -> None:
    def train(params: dict[str, Any], trial: Any) -> float:
        time.sleep(0.2)  # the stale message has arrived by now
        return 0.0 if trial.should_stop() else 1.0

    runner = PythonRunner(train)
    executor = LocalExecutor(capacity=1)
    assert run_one(executor, tmp_path, 0, runner).value == 1.0
    executor._idle[0].conn.send(("stop", 0))  # what a cancel racing the trial's end leaves
    outcome = run_one(executor, tmp_path, 1, runner)
    assert (outcome.state, outcome.value) == (TrialState.COMPLETED, 1.0)
    executor.close()


def _pids_of_a_program_that_ends(tmp_path: Path, trials: int, before_exit: str = "") -> list[int]:
    """Run a program that runs ``trials`` trials, reuse on, runs ``before_exit`` and ends
    without ending the executor's processes itself; the pids of its trial processes."""
    script = tmp_path / "main.py"
    script.write_text(
        "import os, sys\n"
        "from pathlib import Path\n"
        "from tunewise.executors.local import LocalExecutor\n"
        "from tunewise.runners.base import TrialJob\n"
        "from tunewise.runners.python import PythonRunner\n"
        f"executor = LocalExecutor(capacity={trials})\n"
        "runner = PythonRunner(lambda params: float(os.getpid()))\n"
        f"for n in range({trials}):\n"
        "    executor.submit(TrialJob('s', n, {}, Path(sys.argv[1]) / str(n), 'v'), runner)\n"
        "pids = []\n"
        "while executor.running:\n"
        "    pids += [int(e.outcome.value) for e in executor.poll(1.0) if hasattr(e, 'outcome')]\n"
        f"{before_exit}"
        "print(*pids)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [int(p) for p in result.stdout.split()]


def test_idle_processes_end_when_the_program_ends_without_close(tmp_path: Path) -> None:
    pids = _pids_of_a_program_that_ends(tmp_path, trials=2)
    assert len(pids) == 2 and running(pids) == []


def test_a_process_the_bookkeeping_lost_does_not_hang_the_exit(tmp_path: Path) -> None:
    """A Ctrl-C between taking an idle process out of the executor's lists and telling it to
    exit (simulated: taken out by hand) must not leave the program waiting for it at exit."""
    lose_it = "lost = executor._idle.pop()  # idle, and in no list any more\nexecutor.close()\n"
    pids = _pids_of_a_program_that_ends(tmp_path, trials=1, before_exit=lose_it)
    assert len(pids) == 1 and running(pids) == []
