"""The PyTorch example (``examples/pytorch_digits.py``): plain PyTorch on the digits data, one
report an epoch, Hyperband; on CPU here (the GPU check runs it on GPUs).

Small budgets: a few epochs, a few trials; the whole file takes seconds beside torch's import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.examples.test_examples import ROOT, load_example, read_spec

pytestmark = pytest.mark.timeout(120)

SPEC = ROOT / "examples" / "pytorch_digits.yaml"


class ScriptedTrial:
    """Records reports; says stop once ``stop_after`` reports were made."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.reports: list[tuple[int, float]] = []
        self.stop_after = stop_after

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_stop(self) -> bool:
        return self.stop_after is not None and len(self.reports) >= self.stop_after


def example() -> Any:
    return load_example("pytorch_digits.py")


def test_the_spec_is_the_modules_study() -> None:
    from tunewise.spec import parse_spec_text

    spec = parse_spec_text(SPEC.read_text(), str(SPEC))
    module = example()
    assert spec.strategy == "hyperband" and spec.early_stopping is None
    assert spec.hyperband is not None and spec.hyperband.resource == "epochs"
    assert spec.hyperband.max_resource == spec.space.static["epochs"] == module.MAX_EPOCHS
    assert set(spec.space.names) == set(module.SPACE)
    assert spec.objective.metric == "accuracy" and spec.objective.direction == "maximize"
    data = read_spec(SPEC)
    assert data["trial"]["python"] == "examples.pytorch_digits:train"
    assert (data["seed"], data["storage"], data["limits"]["max_parallel"]) == (
        7,
        "sqlite:///tunewise.db",
        2,
    )


def test_train_reports_every_epoch_learns_and_says_its_device(
    capsys: pytest.CaptureFixture[str],
) -> None:
    trial = ScriptedTrial()
    result = example().train({"epochs": 4, "lr": 0.1}, trial)
    assert [step for step, _ in trial.reports] == [1, 2, 3, 4]
    assert trial.reports[-1][1] > trial.reports[0][1] and trial.reports[-1][1] > 0.8
    assert result["accuracy"] == trial.reports[-1][1]
    assert result["epochs_run"] == 4
    assert (result["gpu"], result["visible_device"]) == (0.0, -1.0)  # no GPU on this machine
    assert "device=cpu " in capsys.readouterr().out


def test_train_returns_when_told_to_stop() -> None:
    trial = ScriptedTrial(stop_after=2)
    result = example().train({"epochs": 27}, trial)
    assert [step for step, _ in trial.reports] == [1, 2]
    assert result["epochs_run"] == 2 and result["accuracy"] == trial.reports[-1][1]


def test_device_metrics_name_the_one_visible_gpu(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    assert example().device_metrics(torch.device("cpu")) == {"gpu": 0.0, "visible_device": 3.0}
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert example().device_metrics(torch.device("cpu"))["visible_device"] == -1.0
    assert "CUDA_VISIBLE_DEVICES=0,1" in capsys.readouterr().out


def test_without_a_trial_train_prints_report_lines(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    example().train({"epochs": 2})
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("@tunewise")]
    assert [json.loads(line.split(" ", 1)[1])["step"] for line in lines] == [1, 2]


def test_python_m_runs_the_study(capsys: pytest.CaptureFixture[str]) -> None:
    assert example().main(["--trials", "3", "--epochs", "3", "--parallel", "2"]) == 0
    out = capsys.readouterr().out
    assert "trials: 3 (" in out and "0 on a GPU" in out
    assert "best: accuracy 0." in out


def test_the_spec_runs_and_hyperband_stops_trials_mid_training(tmp_path: Path) -> None:
    """``tunewise run`` on the spec with 9 epochs and 6 trials, one at a time (so the run is
    deterministic for the seed: the last is stopped at its first rung, 1 epoch, below the
    top third of the 4 trials there)."""
    data = read_spec(SPEC)
    data["static"]["epochs"] = 9
    data["limits"] = {**data["limits"], "max_trials": 6, "max_parallel": 1}
    spec = tmp_path / SPEC.name
    spec.write_text(yaml.safe_dump(data))
    db = tmp_path / "small.db"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "tunewise.cli.main",
            "run",
            str(spec),
            "--storage",
            f"sqlite:///{db}",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import tunewise as tw

    study = tw.load_study("pytorch-digits", storage=f"sqlite:///{db}")
    trials = study.trials
    assert len(trials) == 6
    stopped = [t for t in trials if t.state is tw.TrialState.STOPPED]
    completed = [t for t in trials if t.state is tw.TrialState.COMPLETED]
    assert stopped and completed, [(t.number, t.state, t.error) for t in trials]
    for trial in stopped:
        steps = [r.step for r in study.reports(trial.number)]
        assert steps == list(range(1, len(steps) + 1)) and len(steps) < 9
        assert trial.metrics["epochs_run"] == len(steps)  # it trained no further
    for trial in completed:
        assert [r.step for r in study.reports(trial.number)] == list(range(1, 10))
        assert trial.metrics["gpu"] == 0.0
    log = next(Path(tmp_path).rglob("stdout.log")).read_text()
    assert "device=cpu" in log
