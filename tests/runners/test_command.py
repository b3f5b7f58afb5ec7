"""The command runner: argv, environment, live metrics, outcomes, and the process tree's end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tunewise.runners.command import CommandRunner
from tunewise.spec import MetricDefinition
from tunewise.trial import FailureKind, TrialState

from .helpers import (
    PYTHON,
    TREE_CHILD,
    TREE_SCRIPT,
    Recorder,
    kill_all,
    make_job,
    read_pids,
    run,
    running,
    wait_dead,
)

Script = Callable[[str], str]
pytestmark = pytest.mark.timeout(20)
SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_regex_metrics_with_value_and_step_groups_and_counted_steps(
    tmp_path: Path, script: Script
) -> None:
    path = script(
        """
        import sys
        print("epoch 5 loss=0.5 acc=0.70")
        print("loss=0.4")
        print("loss=abc (not a number: ignored)")
        print("epoch 7 loss=0.3 acc=0.80", file=sys.stderr)
        print("step=9 f1=0.25 recall=0.5")
        """
    )
    metrics = [
        MetricDefinition("loss", r"loss=(\S+)"),
        MetricDefinition("acc", r"epoch (?P<step>\d+).*acc=([0-9.]+)"),
        MetricDefinition("f1", r"step=(?P<step>\d+) f1=(?P<value>[0-9.]+)"),
        MetricDefinition("recall", r"step=(?P<step>\d+).*recall=(?P<value>[0-9.]+)"),
    ]
    outcome, rec = run(CommandRunner([PYTHON, path], metrics), make_job(tmp_path))
    assert rec.values("loss") == [(1, 0.5), (2, 0.4), (3, 0.3)]
    assert rec.values("acc") == [(5, 0.7), (7, 0.8)]
    assert (9, {"f1": 0.25, "recall": 0.5}) in rec.reports  # one line, one step: one report
    assert outcome.state == TrialState.COMPLETED
    assert outcome.value == 0.3
    assert outcome.metrics == {"loss": 0.3, "acc": 0.8, "f1": 0.25, "recall": 0.5}


def test_json_lines_from_tunewise_report(tmp_path: Path, script: Script) -> None:
    path = script(
        """
        import tunewise
        tunewise.report(step=1, loss=0.5, acc=0.6)
        tunewise.report(loss=0.4)
        print("@tunewise {not json")
        print('@tunewise ["a list"]')
        tunewise.report(acc=0.7)
        print('2024-01-01 INFO @tunewise {"step": 4, "loss": 0.25}')
        """
    )
    runner = CommandRunner([PYTHON, path], env={"PYTHONPATH": SRC})
    outcome, rec = run(runner, make_job(tmp_path))
    assert rec.reports == [
        (1, {"loss": 0.5, "acc": 0.6}),
        (2, {"loss": 0.4}),
        (2, {"acc": 0.7}),
        (4, {"loss": 0.25}),
    ]
    assert outcome.state == TrialState.COMPLETED
    assert outcome.value == 0.25
    assert outcome.metrics == {"loss": 0.25, "acc": 0.7}


def test_missing_objective_names_the_metric_and_what_was_expected(
    tmp_path: Path, script: Script
) -> None:
    path = script('print("val_loss=0.3 but no loss")')
    metrics = [
        MetricDefinition("loss", r"^loss=([0-9.]+)"),
        MetricDefinition("val", r"val_loss=(.+?) "),
    ]
    outcome, _ = run(CommandRunner([PYTHON, path], metrics), make_job(tmp_path))
    assert outcome.state == TrialState.FAILED
    assert outcome.failure_kind == FailureKind.METRIC_MISSING
    assert "'loss'" in (outcome.error or "")
    assert "^loss=([0-9.]+)" in (outcome.error or "")
    assert "@tunewise" in (outcome.error or "")
    assert outcome.metrics == {"val": 0.3}


def test_missing_objective_without_definition_points_to_the_json_tag(
    tmp_path: Path, script: Script
) -> None:
    outcome, _ = run(CommandRunner([PYTHON, script("pass")]), make_job(tmp_path, objective="acc"))
    assert outcome.failure_kind == FailureKind.METRIC_MISSING
    assert '"acc"' in (outcome.error or "") and "@tunewise" in (outcome.error or "")


def test_non_zero_exit_is_a_user_error_with_the_stderr_tail(tmp_path: Path, script: Script) -> None:
    path = script(
        """
        import sys
        print("loss=0.9")
        for i in range(30):
            print(f"<{i}>", file=sys.stderr)
        sys.exit(3)
        """
    )
    runner = CommandRunner([PYTHON, path], [MetricDefinition("loss", r"loss=([0-9.]+)")])
    outcome, _ = run(runner, make_job(tmp_path))
    assert outcome.state == TrialState.FAILED
    assert outcome.failure_kind == FailureKind.USER_ERROR
    error = outcome.error or ""
    assert error.startswith("exited with code 3")
    assert "<29>" in error and "<10>" in error and "<9>" not in error  # the last 20 lines
    assert outcome.metrics == {"loss": 0.9}


@pytest.mark.parametrize("name", ["SIGKILL", "SIGTERM"])
def test_death_by_a_signal_not_ours_is_a_crash(tmp_path: Path, script: Script, name: str) -> None:
    path = script(
        f"""
        import os, signal, sys
        print("about to die", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.{name})
        """
    )
    outcome, _ = run(CommandRunner([PYTHON, path]), make_job(tmp_path))
    assert outcome.state == TrialState.FAILED
    assert outcome.failure_kind == FailureKind.CRASHED
    assert (outcome.error or "").startswith(f"killed by signal {name}")
    assert "about to die" in (outcome.error or "")


@pytest.mark.parametrize("mode", ["default", "ignore-term"])
def test_timeout_kills_the_whole_tree(tmp_path: Path, script: Script, mode: str) -> None:
    child = script(TREE_CHILD)
    runner = CommandRunner([PYTHON, script(TREE_SCRIPT), mode, child], grace_seconds=0.5)
    job = make_job(tmp_path, timeout=3.0)
    started = time.monotonic()
    try:
        outcome, rec = run(runner, job)
        pids = read_pids(job.trial_dir / "pids.txt", 3, timeout=0)
        assert wait_dead(pids, timeout=1.0) == []
    finally:
        if (job.trial_dir / "pids.txt").exists():
            kill_all(int(p) for p in (job.trial_dir / "pids.txt").read_text().split())
    assert time.monotonic() - started < 3.0 + 0.5 + 2.0
    assert outcome.state == TrialState.FAILED
    assert outcome.failure_kind == FailureKind.TIMEOUT
    assert outcome.error == "ran past the 3s timeout; killed its process group"
    assert rec.values("ready") == [(1, 1.0)]
    assert not (job.trial_dir / "pgid").exists()


@pytest.mark.parametrize("mode", ["default", "ignore-term"])
def test_should_stop_stops_with_the_last_value_and_kills_the_tree(
    tmp_path: Path, script: Script, mode: str
) -> None:
    child = script(TREE_CHILD)
    metrics = [MetricDefinition("loss", r"loss=([0-9.]+)")]
    runner = CommandRunner([PYTHON, script(TREE_SCRIPT), mode, child], metrics, grace_seconds=0.5)
    job = make_job(tmp_path, timeout=12.0)
    recorder = Recorder(stop_when=lambda r: bool(r.values("ready")))
    try:
        outcome, _ = run(runner, job, recorder)
        pids = read_pids(job.trial_dir / "pids.txt", 3, timeout=0)
        assert wait_dead(pids, timeout=1.0) == []
    finally:
        if (job.trial_dir / "pids.txt").exists():
            kill_all(int(p) for p in (job.trial_dir / "pids.txt").read_text().split())
    assert outcome.state == TrialState.STOPPED
    assert outcome.value == 0.75
    assert outcome.metrics == {"loss": 0.75, "ready": 1.0}
    assert outcome.failure_kind is None


def test_stop_before_any_report_gives_no_value(tmp_path: Path) -> None:
    runner = CommandRunner(["sleep", "30"], grace_seconds=0.5)
    outcome, _ = run(runner, make_job(tmp_path), Recorder(stop_when=lambda r: True))
    assert outcome.state == TrialState.STOPPED
    assert outcome.value is None


def test_leftovers_of_a_finished_command_are_killed(tmp_path: Path, script: Script) -> None:
    """A background child still holding stdout must neither hang the runner nor survive it."""
    path = script(
        """
        import os, subprocess
        sleeper = subprocess.Popen(["sleep", "60"])
        open(os.environ["TUNEWISE_TRIAL_DIR"] + "/pids.txt", "w").write(str(sleeper.pid))
        print('@tunewise {"loss": 0.1}')
        """
    )
    job = make_job(tmp_path)
    started = time.monotonic()
    outcome, _ = run(CommandRunner([PYTHON, path], grace_seconds=0.5), job)
    pids = read_pids(job.trial_dir / "pids.txt", 1, timeout=0)
    try:
        assert wait_dead(pids, timeout=1.0) == []
    finally:
        kill_all(pids)
    assert time.monotonic() - started < 5.0
    assert outcome.state == TrialState.COMPLETED and outcome.value == 0.1


def test_values_reach_the_program_literally(tmp_path: Path, script: Script, workdir: Path) -> None:
    path = script(
        """
        import json, os, sys
        with open(os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "argv.json"), "w") as f:
            json.dump(sys.argv[1:], f)
        print("loss=1")
        """
    )
    params = {
        "msg": "hello world",
        "quoted": 'it\'s "quoted"',
        "sub": "$(touch pwned)",
        "tick": "`touch pwned`",
        "semi": "a; touch pwned && echo $HOME > pwned",
        "lr": 1e-05,
        "small": 0.001,
        "n": 3,
        "flag": True,
        "none": None,
        "layers": [64, 32],
        "opts": {"beta": 0.9},
    }
    template = [PYTHON, path, "{msg}", "--q={quoted}", "{sub}", "{tick}", "{semi}", "{{lit}}"]
    template += ["--lr={lr}", "{small}", "{n}", "{flag}", "{none}", "{layers}", "{opts}", "}}{{"]
    job = make_job(tmp_path, params)
    metrics = [MetricDefinition("loss", r"loss=(\d+)")]
    outcome, _ = run(CommandRunner(template, metrics), job)
    assert outcome.state == TrialState.COMPLETED
    argv = json.loads((job.trial_dir / "argv.json").read_text())
    assert argv == [
        "hello world",
        '--q=it\'s "quoted"',
        "$(touch pwned)",
        "`touch pwned`",
        "a; touch pwned && echo $HOME > pwned",
        "{lit}",
        "--lr=1e-05",
        "0.001",
        "3",
        "true",
        "null",
        "[64, 32]",
        '{"beta": 0.9}',
        "}{",
    ]
    assert not (workdir / "pwned").exists()
    assert not (job.trial_dir / "pwned").exists()


def test_environment_files_and_working_directory(
    tmp_path: Path, script: Script, workdir: Path
) -> None:
    path = script(
        """
        import json, os, sys
        names = ["TUNEWISE_PARAMS", "TUNEWISE_TRIAL_DIR", "TUNEWISE_TRIAL_NUMBER",
                 "TUNEWISE_STUDY", "TUNEWISE_ATTEMPT", "PYTHONUNBUFFERED", "MY_VAR", "HOME"]
        info = {name: os.environ.get(name) for name in names}
        info["cwd"] = os.getcwd()
        print(json.dumps(info))
        print("warning: something", file=sys.stderr)
        print("loss=0.5")
        """
    )
    params = {"lr": 0.01, "layers": 3, "act": "relu"}
    job = make_job(tmp_path, params, attempt=2)
    runner = CommandRunner(
        [PYTHON, path], [MetricDefinition("loss", r"loss=([0-9.]+)")], env={"MY_VAR": "x y"}
    )
    outcome, _ = run(runner, job)
    assert outcome.state == TrialState.COMPLETED
    stdout = (job.trial_dir / "stdout.log").read_text().splitlines()
    info = json.loads(stdout[0])
    assert json.loads(info["TUNEWISE_PARAMS"]) == params
    assert info["TUNEWISE_TRIAL_DIR"] == str(job.trial_dir)
    assert info["TUNEWISE_TRIAL_NUMBER"] == "7"
    assert info["TUNEWISE_STUDY"] == "demo"
    assert info["TUNEWISE_ATTEMPT"] == "2"
    assert info["PYTHONUNBUFFERED"] == "1"
    assert info["MY_VAR"] == "x y"
    assert info["HOME"] == os.environ.get("HOME")
    assert info["cwd"] == str(workdir)
    assert stdout[1] == "loss=0.5"
    assert (job.trial_dir / "stderr.log").read_text() == "warning: something\n"
    assert json.loads((job.trial_dir / "hyperparameters.json").read_text()) == params


def test_reports_arrive_while_the_command_runs(tmp_path: Path, script: Script) -> None:
    """The script waits for a file that only the report callback creates: without live
    reading (or with Python's block buffering) it would give up and exit with code 7."""
    path = script(
        """
        import os, sys, time
        print("loss=1.0")  # no flush: PYTHONUNBUFFERED must be set by the runner
        go = os.path.join(os.environ["TUNEWISE_TRIAL_DIR"], "go")
        deadline = time.monotonic() + 8
        while not os.path.exists(go):
            if time.monotonic() > deadline:
                sys.exit(7)
            time.sleep(0.01)
        print("loss=0.5")
        """
    )
    job = make_job(tmp_path)

    class Live(Recorder):
        def report(self, step: int | None, values: dict[str, float]) -> None:  # type: ignore[override]
            super().report(step, values)
            (job.trial_dir / "go").touch()

    runner = CommandRunner([PYTHON, path], [MetricDefinition("loss", r"loss=([0-9.]+)")])
    outcome, rec = run(runner, job, Live())
    assert outcome.state == TrialState.COMPLETED, outcome.error
    assert rec.reports == [(1, {"loss": 1.0}), (2, {"loss": 0.5})]


def test_large_output_on_both_pipes_does_not_deadlock(tmp_path: Path, script: Script) -> None:
    path = script(
        """
        import sys
        for i in range(20000):
            sys.stderr.write("e" * 100 + "\\n")
            sys.stdout.write("o" * 100 + "\\n")
        print("loss=0.5")
        """
    )
    runner = CommandRunner([PYTHON, path], [MetricDefinition("loss", r"loss=([0-9.]+)")])
    job = make_job(tmp_path, timeout=10.0)
    outcome, _ = run(runner, job)
    assert outcome.state == TrialState.COMPLETED
    assert (job.trial_dir / "stderr.log").stat().st_size == 20000 * 101


def test_carriage_returns_end_lines_and_so_does_the_end_of_output(
    tmp_path: Path, script: Script
) -> None:
    path = script(
        """
        import sys
        sys.stderr.write("loss=0.9\\rloss=0.8\\rloss=0.7")  # a progress bar, no newline
        """
    )
    runner = CommandRunner([PYTHON, path], [MetricDefinition("loss", r"loss=([0-9.]+)")])
    outcome, rec = run(runner, make_job(tmp_path))
    assert rec.values("loss") == [(1, 0.9), (2, 0.8), (3, 0.7)]
    assert outcome.value == 0.7


def test_pgid_file_names_the_group_while_it_runs(tmp_path: Path, script: Script) -> None:
    path = script(
        """
        import os, json
        print("@tunewise " + json.dumps({"pgid": os.getpgid(0), "pid": os.getpid()}))
        print("@tunewise " + json.dumps({"loss": 1}))
        """
    )
    job = make_job(tmp_path)
    seen: list[str] = []

    class Peek(Recorder):
        def report(self, step: int | None, values: dict[str, float]) -> None:  # type: ignore[override]
            super().report(step, values)
            seen.append((job.trial_dir / "pgid").read_text().strip())

    outcome, rec = run(CommandRunner([PYTHON, path]), job, Peek())
    assert outcome.state == TrialState.COMPLETED
    pgid, pid = rec.reports[0][1]["pgid"], rec.reports[0][1]["pid"]
    assert pgid == pid  # its own group, led by the command
    assert seen[0] == str(int(pgid))
    assert not (job.trial_dir / "pgid").exists()


def test_program_that_cannot_start_is_a_user_error(tmp_path: Path) -> None:
    outcome, _ = run(CommandRunner(["no-such-program-tunewise"]), make_job(tmp_path))
    assert outcome.state == TrialState.FAILED
    assert outcome.failure_kind == FailureKind.USER_ERROR
    assert "no-such-program-tunewise" in (outcome.error or "")
    assert "not found" in (outcome.error or "")

    plain = tmp_path / "train.sh"
    plain.write_text("#!/bin/sh\necho loss=1\n")
    outcome, _ = run(CommandRunner([str(plain)]), make_job(tmp_path))
    assert outcome.failure_kind == FailureKind.USER_ERROR
    assert "not executable" in (outcome.error or "")


def test_unknown_placeholder_is_a_user_error(tmp_path: Path) -> None:
    outcome, _ = run(CommandRunner([PYTHON, "--lr={lr}"]), make_job(tmp_path, {"momentum": 0.9}))
    assert outcome.failure_kind == FailureKind.USER_ERROR
    assert "trial.command[1]" in (outcome.error or "") and "{lr}" in (outcome.error or "")


def test_a_failing_callback_still_ends_the_process(tmp_path: Path, script: Script) -> None:
    path = script(
        """
        import os, time
        print(f"pid={os.getpid()}")
        time.sleep(60)
        """
    )
    pids: list[int] = []

    def report(step: int | None, values: object) -> None:
        pids.append(int(values["pid"]))  # type: ignore[index]
        raise RuntimeError("the store is down")

    runner = CommandRunner([PYTHON, path], [MetricDefinition("pid", r"pid=(\d+)")])
    with pytest.raises(RuntimeError, match="store is down"):
        runner.run(make_job(tmp_path), report, lambda: False)
    assert running(pids) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_killing_the_runner_kills_the_command_and_the_pgid_file_ends_the_rest(
    tmp_path: Path, script: Script
) -> None:
    from tunewise.runners.process import kill_group_from_file

    driver = script(
        """
        import sys
        from pathlib import Path
        from tunewise.runners.base import TrialJob
        from tunewise.runners.command import CommandRunner
        runner = CommandRunner([sys.executable, sys.argv[1], "default", sys.argv[2]])
        job = TrialJob("demo", 1, {}, Path(sys.argv[3]), "loss")
        runner.run(job, lambda step, values: None, lambda: False)
        """
    )
    trial_dir = tmp_path / "trial"
    argv = [PYTHON, driver, script(TREE_SCRIPT), script(TREE_CHILD), str(trial_dir)]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    pids: list[int] = []
    try:
        pids = read_pids(trial_dir / "pids.txt", 3, timeout=8.0)
        proc.kill()
        proc.wait()
        assert wait_dead(pids[:1], timeout=3.0) == []  # the command: parent-death signal
        assert len(running(pids)) == 2  # its children were in no hurry ...
        assert kill_group_from_file(trial_dir, grace=0.5)  # ... until an executor came
        assert wait_dead(pids, timeout=1.0) == []
        assert not (trial_dir / "pgid").exists()
    finally:
        proc.kill()
        proc.wait()
        kill_all(pids)
