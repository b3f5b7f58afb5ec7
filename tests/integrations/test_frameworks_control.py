"""The link every framework callback shares (``tunewise.integrations._control``), without any
framework: how it reports and learns of a stop in a Python trial, in a command trial (SIGTERM)
and outside any trial."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

import tunewise.reporting as report_module
from tunewise.integrations._control import TrialLink
from tunewise.runners.base import TrialJob
from tunewise.runners.python import PythonRunner
from tunewise.trial import TrialState


@pytest.fixture(autouse=True)
def keep_sigterm() -> Any:
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_outside_a_trial_it_prints_lines_and_leaves_sigterm_alone(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TUNEWISE_TRIAL_NUMBER", raising=False)
    before = signal.getsignal(signal.SIGTERM)
    link = TrialLink("loss")
    link.begin()
    assert signal.getsignal(signal.SIGTERM) is before
    assert link.report(0.5, step=1) is False
    link.end()
    line = capsys.readouterr().out.strip()
    assert json.loads(line.removeprefix("@tunewise ")) == {"step": 1, "loss": 0.5}
    assert (link.last_value, link.reports, link.stopped_by) == (0.5, 1, None)


def test_in_a_command_trial_sigterm_ends_training_and_is_given_back(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNEWISE_TRIAL_NUMBER", "3")
    before = signal.getsignal(signal.SIGTERM)
    link = TrialLink("loss")
    link.begin()
    assert link.report(0.9, step=1) is False
    os.kill(os.getpid(), signal.SIGTERM)  # what the runner sends when the study stops it
    assert link.signalled() and link.stopped_by == "sigterm"
    assert link.report(0.8, step=2) is True  # no report: the runner reads no more
    link.end()
    assert signal.getsignal(signal.SIGTERM) is before
    assert capsys.readouterr().out.count("@tunewise") == 1
    assert link.last_value == 0.9


def test_a_second_sigterm_ends_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEWISE_TRIAL_NUMBER", "3")
    link = TrialLink("loss")
    link.begin()
    os.kill(os.getpid(), signal.SIGTERM)
    with pytest.raises(SystemExit) as exit_info:
        os.kill(os.getpid(), signal.SIGTERM)
    assert exit_info.value.code == 128 + signal.SIGTERM
    link.end()


def test_a_value_that_is_not_a_number_is_named() -> None:
    link = TrialLink("val_loss", trial=None)
    with pytest.raises(TypeError, match="'val_loss' is not a number: 'high'"):
        link.report("high", step=1)
    with pytest.raises(ValueError, match="needs a name"):
        TrialLink("")


def run_python_trial(tmp_path: Path, func: Any, stop: bool) -> Any:
    job = TrialJob(study="s", number=0, params={}, trial_dir=tmp_path / "t", objective="loss")
    reports: list[tuple[int | None, dict[str, float]]] = []
    outcome = PythonRunner(func).run(job, lambda s, v: reports.append((s, dict(v))), lambda: stop)
    return outcome, reports


def train_with_link(params: dict[str, Any]) -> dict[str, float]:
    link = TrialLink("loss")  # no trial passed: it finds the running one
    epochs = 0
    for epoch in range(1, 4):
        epochs = epoch
        if link.report(1.0 / epoch, step=epoch):
            break
    return {"epochs": epochs}


@pytest.mark.parametrize("stop", [False, True])
def test_in_a_python_trial_it_asks_the_running_trial(tmp_path: Path, stop: bool) -> None:
    outcome, reports = run_python_trial(tmp_path, train_with_link, stop)
    assert outcome.metrics["epochs"] == (1 if stop else 3)
    assert outcome.state is (TrialState.STOPPED if stop else TrialState.COMPLETED)
    assert outcome.value == reports[-1][1]["loss"]
    assert report_module._stop_check is None and report_module._sink is None  # given back
