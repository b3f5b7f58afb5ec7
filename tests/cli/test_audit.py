"""``tunewise replay`` and ``tunewise why``: exit codes, text and JSON (issue 27 §2)."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.studies import loss_study
from tunewise.cli.main import main

SPACE = {"lr": tw.Float(1e-4, 1e-1, scale="log"), "act": tw.Categorical(["relu", "tanh"])}


def loss(params: dict[str, Any]) -> float:
    return (math.log10(params["lr"]) + 2) ** 2 + (0.1 if params["act"] == "tanh" else 0.0)


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A store with study ``cli``: one enqueued trial, then 8 bayesian suggestions 2 at once."""
    storage = f"sqlite:///{tmp_path / 'cli.db'}"
    study = loss_study(storage, "cli", SPACE, strategy="bayesian", seed=2)
    study.enqueue_trial({"lr": 0.001, "act": "relu"})
    study.optimize(loss, n_trials=9, max_parallel=2, progress=False)
    study.close()
    return storage


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_replay_reproduces_and_exits_0(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "replay", "cli", "--storage", url)
    assert code == 0
    assert "trial 0: not replayable: no suggestion record" in out
    assert "trial 8: reproduced" in out
    assert "cli: reproduced 8 of 8 replayable trials (100.0%); 1 not replayable" in out

    code, out = run(capsys, "replay", "cli", "--storage", url, "--format", "json")
    doc = json.loads(out)
    assert code == 0
    assert doc["summary"] == {
        "trials": 9,
        "replayable": 8,
        "reproduced": 8,
        "mismatch": 0,
        "not_replayable": 1,
        "rate": 1.0,
    }
    assert doc["trials"][3] == {"trial": 3, "status": "reproduced"}


def test_a_tampered_trial_fails_replay_naming_it(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect(tmp_path / "cli.db") as db:
        (params,) = db.execute("SELECT params FROM trials WHERE number = 5").fetchone()
        changed = {**json.loads(params), "act": "tanh" if "relu" in params else "relu"}
        db.execute("UPDATE trials SET params = ? WHERE number = 5", (json.dumps(changed),))
    code, out = run(capsys, "replay", "cli", "--storage", url)
    assert code == 1
    assert f"trial 5: mismatch: parameter 'act' is \"{changed['act']}\" stored" in out
    code, out = run(capsys, "replay", "cli", "--storage", url, "--format", "json")
    bad = json.loads(out)["trials"][5]
    assert code == 1
    assert (bad["status"], bad["parameter"], bad["stored"]) == ("mismatch", "act", changed["act"])


def test_why_explains_and_exits_by_what_it_could(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(capsys, "why", "cli", "8", "--storage", url)
    assert code == 0
    assert out.startswith("trial 8 of cli: the Gaussian process's pick")
    for part in ("incumbent: trial", "predicted: mean", "acquisition: log expected", "nearest"):
        assert part in out
    code, out = run(capsys, "why", "cli", "8", "--storage", url, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["reproduces"] and doc["details"]["phase"] == "model"
    assert set(doc["details"]) >= {"incumbent", "prediction", "acquisition", "nearest"}

    code, out = run(capsys, "why", "cli", "0", "--storage", url)
    assert code == 1 and "cannot be explained: no suggestion record" in out
    assert main(["why", "cli", "42", "--storage", url]) == 2
    assert main(["replay", "nope", "--storage", url]) == 2


def test_why_names_a_missing_study_not_a_missing_trial(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``why`` opens the study as every command does: an unknown study is said to be one (it
    was reported as the study having no such trial)."""
    assert main(["why", "nope", "0", "--storage", url]) == 2
    err = capsys.readouterr().err
    assert "no study named 'nope'" in err and "has no trial" not in err


@pytest.mark.timeout(120)
def test_a_study_run_by_three_workers_replays_exactly(tmp_path: Path) -> None:
    """``tunewise run --workers-only`` then three ``tunewise worker`` processes on one SQLite
    store (each suggesting from the trials the others stored): every suggestion replays."""
    import subprocess

    from tests.reliability.conftest import ENTRY_POINT, cli_env, run_cli, sqlite_url
    from tests.workers.helpers import study_folder

    spec = study_folder(tmp_path / "w", "shared", max_trials=9, extra={"strategy": "tpe"})
    folder, url = spec.parent, sqlite_url(tmp_path / "tw.db")
    assert run_cli("run", spec, "--workers-only", "--storage", url, cwd=folder).returncode == 0
    env = {**cli_env(), "TW_TEST_SLEEP": "0.2"}
    argv = [str(ENTRY_POINT), "worker", "--storage", url, "--study", "shared"]
    workers = [
        subprocess.Popen(argv, cwd=folder, env=env, stderr=subprocess.DEVNULL) for _ in range(3)
    ]
    assert [w.wait(timeout=90) for w in workers] == [0, 0, 0]
    done = run_cli("replay", "shared", "--storage", url, cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "shared: reproduced 9 of 9 replayable trials (100.0%)" in done.stdout
    with sqlite3.connect(tmp_path / "tw.db") as db:
        records = [json.loads(r) for (r,) in db.execute("SELECT suggestion FROM trials")]
    assert len(records) == 9 and all(r["strategy"] == "tpe" for r in records)
