"""``tunewise add | delete | copy``, and ``run`` exiting 1 when no trial completed, end to end
(the CLI as a subprocess, on real SQLite files and PostgreSQL)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw

from .test_commands import STUDY, cli, ok, run_study, setup_folder, storage, trials_json

pytestmark = pytest.mark.timeout(120)

NEVER_PRINTS = "import sys\nprint('training...', flush=True)\n"


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose t.db holds STUDY with 3 completed trials."""
    return run_study(tmp_path_factory.mktemp("manage"), 3)


def test_run_exits_1_when_the_metric_is_never_printed(tmp_path: Path) -> None:
    setup_folder(
        tmp_path,
        trial={"command": [sys.executable, "never.py"]},
        limits={"max_trials": 2, "max_parallel": 1},
    )
    (tmp_path / "never.py").write_text(NEVER_PRINTS)
    result = cli(tmp_path, "run", "spec.yaml", *storage(tmp_path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    failed = [line for line in lines if line.startswith("[tunewise] trial ")]
    assert len(failed) == 2 and all("failed (metric_missing)" in line for line in failed)
    assert lines[-1].startswith(
        f"tunewise: study '{STUDY}' has no completed trial: 2 failed (metric_missing 2); the "
        "last failure (trial 1, metric_missing): exited with code 0 without reporting the "
        "objective 'score'"
    )
    resumed = cli(tmp_path, "resume", STUDY, *storage(tmp_path))  # resume says the same
    assert resumed.returncode == 1 and "has no completed trial" in resumed.stderr


def test_add_records_results_from_elsewhere(done: Path) -> None:
    params = json.dumps({"x": 0.5, "k": "a", "n": 2})
    added = ok(cli(done, "add", STUDY, "--params", params, "--value", "9.5", *storage(done)))
    assert added.stdout == f"study {STUDY}: trial 3 added (completed, score 9.5)\n"
    metrics = json.dumps({"score": 0.25, "other": 1})
    ok(cli(done, "add", STUDY, "--params", params, "--metrics", metrics, *storage(done)))
    failed = ok(
        cli(done, "add", STUDY, "--params", params, "--state", "failed", "--error", "oom",
            *storage(done))
    )  # fmt: skip
    assert "trial 5 added (failed)" in failed.stdout
    trials = trials_json(done)[3:]
    assert [(t["state"], t["value"]) for t in trials] == [
        ("completed", 9.5), ("completed", 0.25), ("failed", None),
    ]  # fmt: skip
    assert trials[1]["metrics"] == {"score": 0.25, "other": 1.0} and trials[2]["error"] == "oom"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--params", "{x: 1}", "--value", "1"], "tunewise: --params: is not JSON"),
        (["--params", '{"x": 5, "k": "a", "n": 2}', "--value", "1"], "add_trial.params.x: "),
        (["--params", '{"x": 0.5, "k": "a", "n": 2}'], "tunewise: --value: a completed trial"),
        (["--params", '{"x": 0.5, "k": "a", "n": 2}', "--value", "nan"], "is nan, not a finite"),
    ],
)
def test_add_refuses_what_does_not_fit(done: Path, args: list[str], message: str) -> None:
    before = len(trials_json(done))
    result = cli(done, "add", STUDY, *args, *storage(done))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert len(trials_json(done)) == before


def test_delete_asks_for_yes_without_a_terminal(tmp_path: Path) -> None:
    run_study(tmp_path, 1)
    refused = cli(tmp_path, "delete", STUDY, *storage(tmp_path))
    assert refused.returncode == 2 and "only with --yes" in refused.stderr
    assert len(trials_json(tmp_path)) == 1
    deleted = ok(cli(tmp_path, "delete", STUDY, "--yes", *storage(tmp_path)))
    assert deleted.stdout.startswith(f"study {STUDY} deleted (1 trials) from sqlite:///")
    missing = cli(tmp_path, "delete", STUDY, "--yes", *storage(tmp_path))
    assert missing.returncode == 2 and f"no study named '{STUDY}'" in missing.stderr


def test_copy_to_postgresql_and_refuse_an_existing_name(done: Path, postgres_server: Any) -> None:
    pg = postgres_server.create_schema()
    try:
        copied = ok(cli(done, "copy", STUDY, "--to-storage", pg, *storage(done)))
        assert copied.stdout.startswith(f"study {STUDY} copied to postgresql")
        again = cli(done, "copy", STUDY, "--to-storage", pg, *storage(done))
        assert again.returncode == 2 and "already exists" in again.stderr
        assert "--to-study NAME" in again.stderr
        ok(cli(done, "copy", STUDY, "--to-storage", pg, "--to-study", "twin", *storage(done)))
        original = tw.load_study(STUDY, storage=f"sqlite:///{done / 't.db'}")
        source = [t.to_dict() for t in original.trials]
        original.close()
        for name in (STUDY, "twin"):
            study = tw.load_study(name, storage=pg)
            assert [t.to_dict() for t in study.trials] == source
            study.close()
    finally:
        postgres_server.drop(pg)
