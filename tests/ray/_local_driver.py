"""The driver of the single-node Ray test: ``python -m tests.ray._local_driver FOLDER``.

Ray is never started inside the test process: this program starts it (``address: local``),
runs the scenarios below and says what happened as JSON lines on stdout (facts); the test
asserts on them. Any error ends it with a traceback on stderr and a non-zero exit.

1. Executor: a Python trial that reports, then waits for a file the driver writes only once it
   received that report (streaming, or the trial never ends); a command whose shell and its
   child ignore SIGTERM, stopped after its first report (STOPPED at that report, its tree
   killed); a Python trial that ignores the stop (its process killed); a failing command.
2. Resources no node has are refused at once; a trial queued in Ray (the node is full) and
   cancelled ends at once, never started.
3. ``study.optimize(..., executor={"type": "ray", "address": "local"})`` with the median
   stopping rule, on the same Ray (reused, not started again): curves stored, bad trials
   stopped after their first step.
4. Where Ray's processes listen (loopback only), then ``close()`` ends the local Ray.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import psutil

import tunewise as tw
from tunewise.executors.base import DoneEvent, Event, ReportEvent
from tunewise.executors.ray import RayExecutor
from tunewise.runners.base import TrialJob
from tunewise.runners.command import CommandRunner
from tunewise.runners.python import PythonRunner, TrialContext

TREE = (
    'trap "" TERM; sleep 300 & echo "$$ $!" > "$TUNEWISE_TRIAL_DIR/pids"; '
    'echo \'@tunewise {{"step": 1, "score": 0.5}}\'; wait'
)


def say(**facts: Any) -> None:
    print(json.dumps(facts), flush=True)


def wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout:g}s")
        time.sleep(0.01)


def streaming_trial(params: dict[str, Any]) -> float:
    tw.report(step=1, score=1.0)
    wait_for(Path(params["go"]))  # written by the driver when it got the report above
    tw.report(step=2, score=2.0)
    return 2.0


def stubborn_trial(params: dict[str, Any], trial: TrialContext) -> float:
    (trial.dir / "pid").write_text(str(os.getpid()))
    while True:  # never looks at trial.should_stop(): only a kill ends it
        time.sleep(0.05)


def curve(params: dict[str, Any], trial: TrialContext) -> float | None:
    for step in range(1, 5):
        trial.report(params["x"] * step, step)
        if trial.should_stop():  # the study's decision on this step came with the report
            return None
        time.sleep(0.05)
    return float(params["x"] * 4)


def job(folder: Path, number: int, **params: Any) -> TrialJob:
    return TrialJob("local", number, params, folder / "runs" / f"{number:05d}", "score")


def tell(event: Event, started: float) -> None:
    if isinstance(event, ReportEvent):
        say(report=event.number, step=event.step, values=dict(event.values))
    elif isinstance(event, DoneEvent):
        outcome = event.outcome
        say(
            done=event.number,
            state=str(outcome.state),
            value=outcome.value,
            kind=str(outcome.failure_kind) if outcome.failure_kind else None,
            error=outcome.error,
            at=round(time.monotonic() - started, 2),
        )


def executor_scenario(folder: Path, executor: RayExecutor) -> None:
    started = time.monotonic()
    executor.submit(job(folder, 0, go=str(folder / "go0")), PythonRunner(streaming_trial))
    executor.submit(job(folder, 1), CommandRunner(["sh", "-c", TREE]))
    executor.submit(job(folder, 2), PythonRunner(stubborn_trial))
    executor.submit(job(folder, 3), CommandRunner(["sh", "-c", "echo boom >&2; exit 3"]))
    cancelled = set()
    deadline = time.monotonic() + 120
    while executor.running and time.monotonic() < deadline:
        for event in executor.poll(0.1):
            tell(event, started)
            if isinstance(event, ReportEvent) and event.number == 0:
                (folder / "go0").write_text("go")
            if isinstance(event, ReportEvent) and event.number == 1:
                pids = (folder / "runs" / "00001" / "pids").read_text().split()
                say(tree=[int(p) for p in pids])
                executor.cancel(1, "stopped by the test")
                cancelled.add(1)
        pid_file = folder / "runs" / "00002" / "pid"
        if 2 not in cancelled and pid_file.exists() and pid_file.read_text():
            say(stubborn=int(pid_file.read_text()))
            executor.cancel(2, "cancelled by the test", tw.FailureKind.USER_ERROR, False)
            cancelled.add(2)
    if executor.running:
        raise TimeoutError(f"trials {executor.running} did not end")


def queued_scenario(folder: Path) -> None:
    """A node-sized trial runs; a second one waits in Ray's queue and is cancelled there."""
    import ray

    cpus = ray.cluster_resources()["CPU"]
    try:
        RayExecutor(capacity=1, address="local", gpu=1.0)  # this machine's Ray has no GPU
    except tw.SpecError as exc:
        say(too_big=str(exc))
    executor = RayExecutor(capacity=2, address="local", cpu=cpus, grace_seconds=1.0)
    try:
        started = time.monotonic()
        executor.submit(job(folder, 10), PythonRunner(stubborn_trial))
        wait_for(folder / "runs" / "00010" / "pid")
        executor.submit(job(folder, 11), PythonRunner(stubborn_trial))
        time.sleep(1.0)
        executor.cancel(11, "cancelled while queued", tw.FailureKind.USER_ERROR, False)
        deadline = time.monotonic() + 30
        while 11 in executor.running and time.monotonic() < deadline:
            for event in executor.poll(0.1):
                tell(event, started)
        say(queued_folder=(folder / "runs" / "00011").exists())
        executor.cancel(10, "cancelled by the test", tw.FailureKind.USER_ERROR, False)
        while executor.running and time.monotonic() < deadline:
            for event in executor.poll(0.1):
                tell(event, started)
    finally:
        executor.close()
    say(still_connected=ray.is_initialized())


def study_scenario() -> None:
    study = tw.create_study(
        "median",
        objective=tw.Objective("score", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        seed=1,
        early_stopping={"rule": "median", "min_trials": 2},
        enqueue=[{"x": 0.9}, {"x": 0.8}, {"x": 0.1}, {"x": 0.2}],
    )
    study.optimize(curve, max_trials=4, executor={"type": "ray", "address": "local"})
    curves = study.curves()
    for trial in study.trials:
        say(
            study_trial=trial.number,
            state=str(trial.state),
            error=trial.error,
            steps=[step for step, _ in curves.get(trial.number, [])],
        )


def suggesting(trial: TrialContext) -> float:
    """An Optuna-style objective: define-by-run on Ray (the trial's process asks)."""
    kind = trial.suggest_categorical("kind", ["a", "b"])
    x = trial.suggest_float("x", 0.0, 1.0)
    return x + (trial.suggest_int("n", 1, 3) if kind == "a" else 0)


def define_by_run_scenario() -> None:
    study = tw.create_study("asked", direction="maximize", strategy="random", seed=2)
    study.optimize(suggesting, n_trials=4, executor={"type": "ray", "address": "local"})
    say(dbr_params=[t.params for t in study.trials], dbr_space=sorted(study.space.names))


def listening() -> tuple[list[int], list[str]]:
    """Ray's processes (this one's descendants) and the addresses where any of them listens."""
    me = psutil.Process()
    processes = [me, *me.children(recursive=True)]
    addresses = set()
    for process in processes:
        try:
            connections = process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for connection in connections:
            if connection.status == psutil.CONN_LISTEN:
                addresses.add(connection.laddr.ip)
    return [p.pid for p in processes[1:]], sorted(addresses)


def main(folder: Path) -> None:
    started = time.monotonic()
    executor = RayExecutor(capacity=4, address="local", grace_seconds=1.0)
    say(connected=round(time.monotonic() - started, 1))
    try:
        executor_scenario(folder, executor)
        queued_scenario(folder)
        study_scenario()
        define_by_run_scenario()
        pids, addresses = listening()
        say(ray_pids=pids, listening=addresses)
    finally:
        executor.close()
    import ray

    say(closed=not ray.is_initialized())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
