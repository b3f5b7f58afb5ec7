"""The trial's folder and files: no write through a planted link, each attempt's logs kept,
parameters too large for the environment, and a stopping decision acted on at once."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tunewise.runners.command import MAX_ARG_STRLEN, CommandRunner
from tunewise.runners.python import PythonRunner
from tunewise.trial import FailureKind, TrialState

from .helpers import PYTHON, Recorder, make_job, run

Script = Callable[[str], str]
pytestmark = pytest.mark.timeout(20)

PRINT_SCORE = """
import os, sys
print("attempt", os.environ["TUNEWISE_ATTEMPT"])
print('@tunewise {"loss": 0.5}')
"""


def _python_train(params: dict[str, object]) -> float:
    print("python trial")
    return 0.5


def _runners(script: Script) -> dict[str, object]:
    return {
        "command": CommandRunner([PYTHON, script(PRINT_SCORE)]),
        "python": PythonRunner(_python_train),
    }


@pytest.mark.parametrize("kind", ["command", "python"])
@pytest.mark.parametrize("name", ["stdout.log", "stderr.log", "hyperparameters.json"])
def test_a_link_planted_in_the_trial_folder_is_not_written_through(
    tmp_path: Path, script: Script, kind: str, name: str
) -> None:
    job = make_job(tmp_path)
    job.trial_dir.mkdir(parents=True)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (job.trial_dir / name).symlink_to(target)
    outcome, _ = run(_runners(script)[kind], job)
    assert outcome.state == TrialState.COMPLETED, outcome
    assert target.read_text() == "keep me\n"
    if kind == "command" or name != "hyperparameters.json":
        assert not (job.trial_dir / name).is_symlink()


def test_a_hard_link_planted_in_the_trial_folder_is_not_truncated(
    tmp_path: Path, script: Script
) -> None:
    job = make_job(tmp_path)
    job.trial_dir.mkdir(parents=True)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    os.link(target, job.trial_dir / "stdout.log")
    outcome, _ = run(CommandRunner([PYTHON, script(PRINT_SCORE)]), job)
    assert outcome.state == TrialState.COMPLETED, outcome
    assert target.read_text() == "keep me\n"


@pytest.mark.parametrize("kind", ["command", "python"])
def test_a_trial_folder_that_is_a_link_is_replaced_by_a_real_one(
    tmp_path: Path, script: Script, kind: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    job = make_job(tmp_path)
    job.trial_dir.parent.mkdir(parents=True, exist_ok=True)
    job.trial_dir.symlink_to(elsewhere, target_is_directory=True)
    outcome, _ = run(_runners(script)[kind], job)
    assert outcome.state == TrialState.COMPLETED, outcome
    assert list(elsewhere.iterdir()) == []
    assert job.trial_dir.is_dir() and not job.trial_dir.is_symlink()
    assert (job.trial_dir / "stdout.log").exists()


@pytest.mark.parametrize("kind", ["command", "python"])
def test_each_attempt_keeps_its_logs(tmp_path: Path, script: Script, kind: str) -> None:
    runner = _runners(script)[kind]
    for attempt in (1, 2, 3):
        outcome, _ = run(runner, make_job(tmp_path, attempt=attempt))
        assert outcome.state == TrialState.COMPLETED, outcome
    folder = make_job(tmp_path).trial_dir
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("std"))
    assert names == [
        "stderr.1.log",
        "stderr.2.log",
        "stderr.log",
        "stdout.1.log",
        "stdout.2.log",
        "stdout.log",
    ]
    if kind == "command":
        assert (folder / "stdout.1.log").read_text().startswith("attempt 1\n")
        assert (folder / "stdout.2.log").read_text().startswith("attempt 2\n")
        assert (folder / "stdout.log").read_text().startswith("attempt 3\n")
    else:
        for name in ("stdout.1.log", "stdout.2.log", "stdout.log"):
            assert (folder / name).read_text() == "python trial\n"


def test_parameters_too_large_for_the_environment_come_in_the_file(
    tmp_path: Path, script: Script
) -> None:
    path = script(
        """
        import json, os
        assert "TUNEWISE_PARAMS" not in os.environ
        params = json.load(open(os.environ["TUNEWISE_PARAMS_FILE"]))
        print(f"loss={len(params['big'])}")
        """
    )
    big = "x" * (200 * 1024)
    runner = CommandRunner([PYTHON, path], [_loss_regex()])
    outcome, _ = run(runner, make_job(tmp_path, {"big": big, "lr": 0.1}))
    assert outcome.state == TrialState.COMPLETED, outcome
    assert outcome.value == len(big)


def test_small_parameters_come_in_both(tmp_path: Path, script: Script) -> None:
    path = script(
        """
        import json, os
        env = json.loads(os.environ["TUNEWISE_PARAMS"])
        file = json.load(open(os.environ["TUNEWISE_PARAMS_FILE"]))
        print(f"loss={env['lr'] + file['lr']}")
        """
    )
    outcome, _ = run(CommandRunner([PYTHON, path], [_loss_regex()]), make_job(tmp_path, {"lr": 1}))
    assert outcome.value == 2.0, outcome


def test_an_argument_over_the_limit_is_a_user_error_that_says_what_to_do(
    tmp_path: Path,
) -> None:
    runner = CommandRunner([PYTHON, "-c", "pass", "{big}"])
    outcome, _ = run(runner, make_job(tmp_path, {"big": "x" * MAX_ARG_STRLEN}))
    assert outcome.failure_kind == FailureKind.USER_ERROR
    assert "argument 3" in (outcome.error or "")
    assert "TUNEWISE_PARAMS_FILE" in (outcome.error or "")


def test_lines_after_the_report_that_decided_a_stop_are_not_reports(
    tmp_path: Path, script: Script
) -> None:
    # Ten epochs written at once, then a long sleep: the decision at step 3 ends the trial
    # there; steps 4-10, already in the pipe, are not reported (the trial ends at the decision).
    path = script(
        """
        import sys, time
        lines = [f'@tunewise {{"step": {s}, "loss": {s}}}\\n' for s in range(1, 11)]
        sys.stdout.write("".join(lines))
        sys.stdout.flush()
        time.sleep(60)
        """
    )
    recorder = Recorder(stop_when=lambda r: any(step == 3 for step, _ in r.reports))
    outcome, recorder = run(
        CommandRunner([PYTHON, path], grace_seconds=0.5), make_job(tmp_path), recorder
    )
    assert [step for step, _ in recorder.reports] == [1, 2, 3]
    assert outcome.state == TrialState.STOPPED
    assert outcome.value == 3.0


def _loss_regex() -> object:
    from tunewise.spec import MetricDefinition

    return MetricDefinition("loss", r"loss=([0-9.]+)")


def test_hyperparameters_json_is_fresh(tmp_path: Path, script: Script) -> None:
    job = make_job(tmp_path, {"lr": 0.5})
    job.trial_dir.mkdir(parents=True)
    (job.trial_dir / "hyperparameters.json").write_text(
        '{"stale": true, "padding": "' + "x" * 99 + '"}'
    )
    outcome, _ = run(CommandRunner([PYTHON, script(PRINT_SCORE)]), job)
    assert outcome.state == TrialState.COMPLETED
    assert json.loads((job.trial_dir / "hyperparameters.json").read_text()) == {"lr": 0.5}
