"""``tunewise edit STUDY --space FILE`` end to end (the CLI as a subprocess, on SQLite): each
refusal in one sentence naming the field, a dry run, an edit that a later run follows, and
the versions in ``status`` (table and JSON), ``trials`` and ``export`` (issue 27 §1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from .test_commands import STUDY, cli, ok, run_study, spec_data, storage

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def done(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose t.db holds STUDY with 4 completed trials (x in [0, 1], k, n)."""
    return run_study(tmp_path_factory.mktemp("edit"), 4)


def _write(folder: Path, name: str, data: dict[str, Any]) -> str:
    (folder / name).write_text(yaml.safe_dump(data, sort_keys=False))
    return name


def _refused(folder: Path, *args: str) -> str:
    result = cli(folder, "edit", STUDY, *args, *storage(folder))
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()  # one sentence
    return line


def test_each_refusal_names_the_field_and_stores_nothing(done: Path) -> None:
    space = spec_data()["space"]
    direction = spec_data(objective={"metric": "score", "direction": "minimize"})
    line = _refused(done, "--space", _write(done, "direction.yaml", direction))
    assert line.startswith("tunewise: objective.direction: is maximize in this study, not min")
    metric = spec_data(objective={"metric": "loss", "direction": "maximize"})
    line = _refused(done, "--space", _write(done, "metric.yaml", metric))
    assert line.startswith("tunewise: objective.metric: is 'score' in this study, not 'loss'")
    typed = {"space": {**space, "n": {"type": "float", "low": 1, "high": 4}}}
    line = _refused(done, "--space", _write(done, "typed.yaml", typed))
    assert line.startswith("tunewise: space.n.type: was int and cannot become float")
    removed = {"space": {"x": space["x"], "n": space["n"]}}
    line = _refused(done, "--space", _write(done, "removed.yaml", removed))
    assert line.startswith("tunewise: space.k: is removed, so fix it at a value")
    assert "static: {k: VALUE}" in line
    invalid = {"space": {**space, "x": {"type": "float", "low": 2, "high": 1}}}
    line = _refused(done, "--space", _write(done, "invalid.yaml", invalid))
    assert line.startswith("tunewise: space.x.high: must be greater than low")
    line = _refused(done, "--space", _write(done, "nospace.yaml", {"static": {"k": "a"}}))
    assert line == (
        "tunewise: nospace.yaml: space: is required: the file gives the study's new space "
        "(and static)"
    )
    status = json.loads(ok(cli(done, "status", STUDY, "--format", "json", *storage(done))).stdout)
    assert status[0]["space_versions"]["current"] == 1  # nothing was stored


def test_an_edit_is_followed_by_the_next_run_and_shown_by_status_and_trials(
    tmp_path: Path,
) -> None:
    run_study(tmp_path, 4)
    space = spec_data()["space"]
    # The whole spec, its space edited: x widened, k removed (fixed at b), m added.
    edited = spec_data(
        space={"x": {"type": "float", "low": 0.5, "high": 2.0}, "n": space["n"]},
        static={"k": "b"},
        limits={"max_trials": 8, "max_parallel": 1},
    )
    edited["space"]["m"] = {"type": "int", "low": 1, "high": 3}
    _write(tmp_path, "edited.yaml", edited)
    args = ["edit", STUDY, "--space", "edited.yaml", *storage(tmp_path)]
    dry = ok(cli(tmp_path, *args, "--dry-run")).stdout.splitlines()
    assert dry[0] == f"study {STUDY}: would store space version 2"
    out = ok(cli(tmp_path, *args)).stdout.splitlines()
    assert out[0] == f"study {STUDY}: stored space version 2"
    assert out[1:4] == [
        "  x: moved [0.0, 1.0] -> [0.5, 2.0]",
        "  k: removed, fixed at 'b'",
        "  m: added, int [1, 3] linear (earlier trials lack it)",
    ]
    assert dry[1:] == out[1:]  # the dry run said the same and stored nothing
    aside = [line for line in out if line.startswith("earlier trials:")]
    assert len(aside) == 1 and aside[0].endswith("set aside")
    # The spec the study began with is refused now, with a hint; the edited one continues it.
    old = cli(tmp_path, "run", "spec.yaml", *storage(tmp_path))
    assert old.returncode == 2 and "edited with `tunewise edit`" in old.stderr
    ok(cli(tmp_path, "run", "edited.yaml", *storage(tmp_path)))
    trials = json.loads(
        ok(cli(tmp_path, "trials", STUDY, "--format", "json", *storage(tmp_path))).stdout
    )
    assert [t["space_version"] for t in trials] == [1, 1, 1, 1, 2, 2, 2, 2]
    for t in trials[4:]:
        assert set(t["params"]) == {"x", "n", "m"} and 0.5 <= t["params"]["x"] <= 2.0
    header = ok(cli(tmp_path, "trials", STUDY, *storage(tmp_path))).stdout.splitlines()[0]
    assert header.split()[:7] == ["trial", "state", "value", "version", "x", "n", "m"]
    assert "k" in header.split()  # the removed parameter's earlier values still show
    table = ok(cli(tmp_path, "status", STUDY, *storage(tmp_path))).stdout
    assert f"space versions of {STUDY}:" in table
    assert "  set aside: " in table and "of 8 finished trials" in table
    status = json.loads(
        ok(cli(tmp_path, "status", STUDY, "--format", "json", *storage(tmp_path))).stdout
    )
    versions = status[0]["space_versions"]
    assert versions["current"] == 2
    assert [v["version"] for v in versions["versions"]] == [1, 2]
    assert all(v["began"] for v in versions["versions"])
    assert versions["versions"][1]["fixed"] == {"k": "b"}
    below = sum(t["params"]["x"] < 0.5 for t in trials[:4])
    assert (versions["trials"], versions["set_aside"]) == (8, below)
    # The JSON export keeps every version beside each trial's.
    args = ["export", STUDY, "--format", "json", "-o", "-", *storage(tmp_path)]
    exported = json.loads(ok(cli(tmp_path, *args)).stdout)
    assert [v["version"] for v in exported["space_versions"]] == [1, 2]
    first, second = (v["definition"] for v in exported["space_versions"])
    assert (first["space"]["x"]["high"], second["space"]["x"]["high"]) == (1.0, 2.0)
    assert second["static"] == {"k": "b"} and "k" in first["space"]
    assert exported["space_versions"][1]["note"]["fixed"] == {"k": "b"}
    assert [t["space_version"] for t in exported["trials"]] == [1, 1, 1, 1, 2, 2, 2, 2]
