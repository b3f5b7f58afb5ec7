"""``tunewise suggest-ranges`` end to end: a real SQLite study, the lines and JSON it prints,
``-o`` writing a spec that ``tunewise run`` runs warm-started, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import tunewise as tw
from tunewise.cli.main import main

from .test_commands import STUDY, cli, ok, setup_folder, storage

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose t.db holds STUDY (maximise score = x + ...), run for 2 trials by
    ``tunewise run`` and given 28 more whose best press x's high bound."""
    folder = tmp_path_factory.mktemp("ranges")
    setup_folder(folder, limits={"max_trials": 2, "max_parallel": 1})
    ok(cli(folder, "run", "spec.yaml", *storage(folder)))
    study = tw.load_study(STUDY, storage=f"sqlite:///{folder / 't.db'}")
    try:
        for i in range(28):
            x = i / 27
            params = {"x": x, "k": "ab"[i % 2], "n": 1 + i % 4}
            study.add_trial(params, x + (0.5 if params["k"] == "b" else 0.0) + params["n"] / 10)
    finally:
        study.close()
    return folder


def run(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["suggest-ranges", *args, *storage(folder)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_prints_a_line_per_parameter(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(finished, capsys, STUDY)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"study {STUDY}: 30 scored trials, the good ones are the best 6 (top 20%)"
    x = next(line for line in lines if line.startswith("x "))
    assert "widen" in x and "widen high 1.0 -> 1.5" in x


def test_json(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(finished, capsys, STUDY, "--format", "json")
    document = json.loads(out)
    assert code == 0 and document["study"] == STUDY and document["n_scored"] == 30
    x = next(c for c in document["changes"] if c["param"] == "x")
    assert x["action"] == "widen" and x["after"]["high"] == 1.5
    assert x["evidence"]["press_high"] is True
    assert document["space"]["x"]["high"] == 1.5


def test_output_writes_a_spec_that_runs_warm_started(
    finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = finished / "next.yaml"
    code, _, err = run(finished, capsys, STUDY, "-o", str(target), "--study", "second")
    assert code == 0 and f"wrote {target}: study second, warm-started from {STUDY}" in err
    data = yaml.safe_load(target.read_text())
    assert data["warm_start"] == {"parents": [STUDY], "type": "identical"}
    assert data["space"]["x"]["high"] == 1.5 and data["trial"] == {"python": "mytrain:train"}
    result = ok(cli(finished, "run", "next.yaml", "--max-trials", "2"))  # storage: in the spec
    assert "study second completed" in result.stdout
    second = tw.load_study("second", storage=f"sqlite:///{finished / 't.db'}")
    try:
        assert len(second.parents().trials) > 0  # the first study's trials are its history
        assert second.static == {"k": "b"}  # 'a' never among the good trials in 15 runs
        assert all(0.0 <= t.params["x"] <= 1.5 for t in second.trials)
    finally:
        second.close()


def test_refusals(finished: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(finished, capsys, "nope")
    assert code == 2 and "no study named 'nope'" in err
    code, _, err = run(finished, capsys, STUDY, "-o", str(finished / "next.txt"))
    assert code == 2 and "must end in .yaml, .yml or .json" in err
    empty = tw.create_study(
        "empty",
        objective=tw.Objective("score", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        storage=f"sqlite:///{tmp_path / 't.db'}",
    )
    empty.close()
    code, _, err = run(tmp_path, capsys, "empty")
    assert code == 2
    assert err == (
        "tunewise: study: 'empty' has no completed trial with a value yet; range proposals "
        "read the completed trials, so run some first\n"
    )
