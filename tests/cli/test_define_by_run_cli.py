"""A define-by-run study from the command line: ``define_by_run: true`` with a Python trial
whose function calls ``trial.suggest_*``, run by a worker; ``status STUDY`` shows the space it
has seen, ``export --format spec`` writes it as a spec that loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tunewise as tw
from tests.cli.test_commands import cli
from tunewise.spec import StudySpec

pytestmark = pytest.mark.timeout(90)

OBJECTIVE = """\
def objective(trial):
    solver = trial.suggest_categorical("solver", ["sgd", "adam"])
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    if solver == "sgd":
        return lr * trial.suggest_float("momentum", 0.0, 0.9)
    return lr
"""

SPEC = """\
study: dbr
objective: {metric: value, direction: maximize}
strategy: random
define_by_run: true
trial: {python: "dbrtrain:objective"}
limits: {max_trials: 6}
seed: 5
"""


def test_a_worker_runs_a_define_by_run_spec_and_the_cli_shows_its_space(tmp_path: Path) -> None:
    (tmp_path / "dbrtrain.py").write_text(OBJECTIVE)
    (tmp_path / "spec.yaml").write_text(SPEC)
    url = f"sqlite:///{tmp_path / 'tw.db'}"
    queued = cli(tmp_path, "run", "spec.yaml", "--workers-only", "--storage", url)
    assert queued.returncode == 0, queued.stderr
    worker = cli(tmp_path, "worker", "--storage", url, "--study", "dbr", timeout=80)
    assert worker.returncode == 0, worker.stderr

    study = tw.load_study("dbr", storage=url)
    trials = study.trials
    assert len(trials) == 6 and all(t.value is not None for t in trials)
    for t in trials:
        expected = {"solver", "lr", "momentum"} if t.params["solver"] == "sgd" else {"solver", "lr"}
        assert set(t.params) == expected
    seen = set(study.space.names)
    assert seen == {n for t in trials for n in t.params}
    study.close()

    status = cli(tmp_path, "status", "dbr", "--storage", url)
    assert status.returncode == 0, status.stderr
    assert "space:" in status.stdout
    assert "float [0.0001, 0.1] log" in status.stdout
    exported = cli(tmp_path, "export", "dbr", "--format", "spec", "-o", "-", "--storage", url)
    assert exported.returncode == 0, exported.stderr
    spec = StudySpec.from_dict(json.loads(exported.stdout))
    assert spec.define_by_run and set(spec.space.names) == seen
