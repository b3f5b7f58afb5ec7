"""``tunewise run/status/trials/best/export`` end to end, on a real SQLite file.

The CLI runs as a subprocess (the installed entry point) with the test's folder as its current
directory, so ``python: mytrain:train`` imports the module written there, as it would for a
user.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml

import tunewise

pytestmark = pytest.mark.timeout(60)

ENTRY_POINT = Path(sys.executable).with_name("tunewise")
STUDY = "demo"

TRAIN_MODULE = """\
import os
import time

import tunewise


def train(params):
    score = params["x"] + (0.5 if params["k"] == "b" else 0.0) + params["n"] / 10
    tunewise.report(step=1, partial=score / 2)
    return {"score": score, "other": params["x"] * 2}


def boom(params):
    raise RuntimeError("kaboom-42: the data loader fell over")


def slow(params):
    with open(os.path.join(os.path.dirname(__file__), "pids.txt"), "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(30)
    return {"score": 1.0}
"""

COMMAND_SCRIPT = """\
import sys

lr = sys.argv[sys.argv.index("--lr") + 1]
print("starting", flush=True)
print(f"epoch=1 val_accuracy=0.8 lr_seen={lr}", flush=True)
"""


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 45
) -> subprocess.CompletedProcess[str]:
    """Run ``tunewise ARGS`` in ``cwd``; TUNEWISE_STORAGE only when ``env`` gives it."""
    command = (
        [str(ENTRY_POINT)] if ENTRY_POINT.exists() else [sys.executable, "-m", "tunewise.cli.main"]
    )
    environ = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    scratch = cwd / ".tmp"
    scratch.mkdir(exist_ok=True)
    environ["TMPDIR"] = str(scratch)  # stray temporary folders stay in the test's folder
    environ.update(env or {})
    return subprocess.run(
        [*command, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout
    )


def ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def spec_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "study": STUDY,
        "objective": {"metric": "score", "direction": "maximize"},
        "strategy": "random",
        "space": {
            "x": {"type": "float", "low": 0.0, "high": 1.0},
            "k": {"type": "categorical", "values": ["a", "b"]},
            "n": {"type": "int", "low": 1, "high": 4},
        },
        "trial": {"python": "mytrain:train"},
        "limits": {"max_trials": 6, "max_parallel": 2},
        "seed": 7,
    }
    data.update(changes)
    return data


def setup_folder(folder: Path, name: str = "spec.yaml", **changes: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mytrain.py").write_text(TRAIN_MODULE)
    spec = folder / name
    spec.write_text(yaml.safe_dump(spec_data(**changes), sort_keys=False))
    return spec


def storage(folder: Path, name: str = "t.db") -> list[str]:
    return ["--storage", f"sqlite:///{folder / name}"]


def run_study(folder: Path, trials: int) -> Path:
    """``folder`` with the spec, and its t.db holding STUDY run to ``trials`` completed trials
    one at a time (``tunewise run``): the stored study a command under test acts on."""
    setup_folder(folder, limits={"max_trials": trials, "max_parallel": 1})
    ok(cli(folder, "run", "spec.yaml", *storage(folder)))
    return folder


def trials_json(folder: Path, study: str = STUDY, db: str = "t.db") -> list[dict[str, Any]]:
    """The stored trials, read in this process, as ``tunewise trials --format json`` prints
    them (cheaper than one more CLI run)."""
    from tunewise.documents import trial_document

    loaded = tunewise.load_study(study, storage=f"sqlite:///{folder / db}")
    try:
        curves = loaded.curves()
        documents = [
            {
                **trial_document(t, curves.get(t.number, [])),
                "folder": str(loaded.runs_dir / f"{t.number:05d}"),
            }
            for t in loaded.trials
        ]
        data: list[dict[str, Any]] = json.loads(json.dumps(documents))
        return data
    finally:
        loaded.close()


def has_study(db: Path, study: str = STUDY) -> bool:
    from tunewise.store import open_store

    if not db.exists():
        return False
    store = open_store(f"sqlite:///{db}")
    try:
        return study in [record.name for record in store.list_studies()]
    finally:
        store.close()


def status_rows(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> dict[str, dict[str, str]]:
    """``tunewise status`` parsed by column position: study name to {column: cell}."""
    lines = ok(cli(folder, "status", *args, env=env)).stdout.splitlines()
    columns = [(m.group(), m.start()) for m in re.finditer(r"\S+", lines[0])]
    rows = {}
    for line in lines[1:]:
        if not line.strip():  # the table ends; `status STUDY` then shows the study's space
            break
        row = {}
        for i, (name, begin) in enumerate(columns):
            stop = columns[i + 1][1] if i + 1 < len(columns) else len(line)
            row[name] = line[begin:stop].strip()
        rows[row["study"]] = row
    return rows


# One random study, shared by the read-only tests ------------------------------------------


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("random-study")
    setup_folder(folder)
    result = ok(cli(folder, "run", "spec.yaml", *storage(folder)))
    (folder / "run.stdout").write_text(result.stdout)
    (folder / "run.stderr").write_text(result.stderr)
    return folder


def test_run_prints_the_best_trial(study_dir: Path) -> None:
    out = (study_dir / "run.stdout").read_text()
    assert f"study {STUDY} completed: reached max_trials (6)" in out
    assert "trials: 6 completed" in out
    trials = trials_json(study_dir)
    best = max(trials, key=lambda t: t["value"])
    assert f"best trial #{best['trial']}: score = {best['value']:.6g}" in out
    for name in ("x", "k", "n"):
        assert f"  {name}  {best['params'][name]}" in out
    assert "metrics: " in out and "other=" in out and "partial=" in out


def test_run_tells_where_the_logs_are(study_dir: Path) -> None:
    err = (study_dir / "run.stderr").read_text()
    assert err.startswith(f"study {STUDY}: random search, maximize score, trial logs in ")
    logs = study_dir / err.splitlines()[0].split("trial logs in ", 1)[1].rstrip("/")
    assert logs.is_dir()
    assert len([p for p in logs.iterdir() if p.is_dir()]) == 6


def test_status_of_all_studies_and_of_one(study_dir: Path) -> None:
    for args in ([], [STUDY]):
        rows = status_rows(study_dir, *args, *storage(study_dir))
        assert set(rows) == {STUDY}
        row = rows[STUDY]
        assert row["state"] == "completed"
        assert row["strategy"] == "random"
        assert row["completed"] == "6"
        assert (row["stopped"], row["failed"], row["running"], row["queued"]) == ("0",) * 4
        assert "reached max_trials (6)" in row["reason"]


def test_trials_json(study_dir: Path) -> None:
    out = ok(cli(study_dir, "trials", STUDY, "--format", "json", *storage(study_dir))).stdout
    trials = json.loads(out)
    assert trials == trials_json(study_dir)
    assert [t["trial"] for t in trials] == list(range(6))
    for t in trials:
        assert t["state"] == "completed"
        params = t["params"]
        assert set(params) == {"x", "k", "n"}
        assert 0.0 <= params["x"] <= 1.0
        assert params["k"] in ("a", "b")
        assert params["n"] in (1, 2, 3, 4)
        expected = params["x"] + (0.5 if params["k"] == "b" else 0) + params["n"] / 10
        assert t["value"] == pytest.approx(expected)
        assert t["metrics"]["score"] == pytest.approx(expected)
        assert t["metrics"]["other"] == pytest.approx(2 * t["params"]["x"])
        assert t["failure_kind"] is None and t["error"] is None
    # the seed is fixed: six different configurations
    assert len({json.dumps(t["params"], sort_keys=True) for t in trials}) == 6


def test_trials_csv(study_dir: Path) -> None:
    out = ok(cli(study_dir, "trials", STUDY, "--format", "csv", *storage(study_dir))).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header[:3] == ["trial", "state", "value"]
    assert sorted(header[3:6]) == ["k", "n", "x"]  # the store keeps params in name order
    assert {"metric:score", "metric:other", "metric:partial"} <= set(header)
    assert len(rows) == 6
    by_number = {t["trial"]: t for t in trials_json(study_dir)}
    for row in rows:
        trial = by_number[int(row["trial"])]
        assert row["state"] == "completed"
        assert float(row["value"]) == pytest.approx(trial["value"])
        assert row["k"] == trial["params"]["k"]
        assert int(row["n"]) == trial["params"]["n"]


def test_trials_table(study_dir: Path) -> None:
    out = ok(cli(study_dir, "trials", STUDY, *storage(study_dir))).stdout
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["trial", "state", "value"]
    assert {"x", "k", "n", "metric:score", "metric:other"} <= set(lines[0].split())
    assert len(lines) == 8
    assert [line.split()[0] for line in lines[1:7]] == [str(i) for i in range(6)]
    assert all(line.split()[1] == "completed" for line in lines[1:7])
    assert re.fullmatch(
        rf"trial folders \(logs, hyperparameters.json\): tunewise-runs/{STUDY}-[0-9a-f]{{8}}/NNNNN",
        lines[7],
    )


def test_best_json(study_dir: Path) -> None:
    out = ok(cli(study_dir, "best", STUDY, "--format", "json", *storage(study_dir))).stdout
    best = json.loads(out)
    assert set(best) == {"trial", "params", "value", "metrics"}
    trials = trials_json(study_dir)
    assert best["value"] == max(t["value"] for t in trials)
    winner = next(t for t in trials if t["trial"] == best["trial"])
    assert best["params"] == winner["params"]
    assert best["metrics"] == winner["metrics"]
    assert best["metrics"]["score"] == best["value"]


def test_best_text_matches_run_output(study_dir: Path) -> None:
    out = ok(cli(study_dir, "best", STUDY, *storage(study_dir))).stdout
    run_out = (study_dir / "run.stdout").read_text()
    assert out.strip() in run_out


def test_export_csv_is_the_trials_table(study_dir: Path) -> None:
    target = study_dir / "export.csv"
    result = ok(
        cli(study_dir, "export", STUDY, "--format", "csv", "-o", str(target), *storage(study_dir))
    )
    assert f"wrote 6 trials to {target}" in result.stderr
    trials_csv = ok(cli(study_dir, "trials", STUDY, "--format", "csv", *storage(study_dir)))
    assert target.read_text() == trials_csv.stdout
    assert result.stdout == ""


def test_export_json_has_definition_trials_and_reports(study_dir: Path) -> None:
    result = ok(
        cli(
            study_dir,
            "export",
            STUDY,
            "--format",
            "json",
            "--output",
            "export.json",
            *storage(study_dir),
        )
    )
    assert "wrote 6 trials" in result.stderr
    data = json.loads((study_dir / "export.json").read_text())
    assert {"study", "state", "reason", "definition", "trials"} <= set(data)
    assert data["study"] == STUDY and data["state"] == "completed"
    definition = data["definition"]
    assert definition["study"] == STUDY
    assert definition["objective"] == {"metric": "score", "direction": "maximize"}
    assert set(definition["space"]) == {"x", "k", "n"}
    assert definition["seed"] == 7
    assert definition["trial"] == {"python": "mytrain:train"}
    assert definition["limits"]["max_trials"] == 6
    assert [t["trial"] for t in data["trials"]] == list(range(6))
    for t in data["trials"]:
        assert t["reports"] == [{"step": 1, "values": {"partial": pytest.approx(t["value"] / 2)}}]


def test_export_into_a_missing_folder_names_output(study_dir: Path) -> None:
    result = cli(
        study_dir, "export", STUDY, "--format", "csv", "-o", "nowhere/x.csv", *storage(study_dir)
    )
    assert result.returncode == 2
    assert result.stderr.startswith("tunewise: --output: ")
    assert len(result.stderr.splitlines()) == 1


# Resuming and redefining ------------------------------------------------------------------


def test_run_again_resumes_and_max_trials_extends(tmp_path: Path) -> None:
    setup_folder(tmp_path)
    ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    first = trials_json(tmp_path)
    assert len(first) == 6

    again = ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    assert "reached max_trials (6)" in again.stdout
    assert trials_json(tmp_path) == first  # nothing new, nothing changed

    more = ok(cli(tmp_path, "run", "spec.yaml", "--max-trials", "8", *storage(tmp_path)))
    assert "reached max_trials (8)" in more.stdout
    trials = trials_json(tmp_path)
    assert [t["trial"] for t in trials] == list(range(8))
    assert trials[:6] == first
    assert all(t["state"] == "completed" for t in trials)
    assert status_rows(tmp_path, STUDY, *storage(tmp_path))[STUDY]["completed"] == "8"

    # Another definition under the same name is refused, naming `study`; nothing changes.
    for changes in (
        {"space": {"x": {"type": "float", "low": 0.0, "high": 2.0}}},
        {"strategy": "sobol"},
    ):
        setup_folder(tmp_path, "other.yaml", **changes)
        refused = cli(tmp_path, "run", "other.yaml", *storage(tmp_path))
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.startswith(f"tunewise: study: a study named '{STUDY}' already ")
        assert len(refused.stderr.splitlines()) == 1
        assert "Traceback" not in refused.stderr
    assert trials_json(tmp_path) == trials

    # --study gives the same definition a new name: a separate study.
    ok(
        cli(
            tmp_path,
            "run",
            "other.yaml",
            "--study",
            "demo-2",
            "--max-trials",
            "1",
            *storage(tmp_path),
        )
    )
    assert len(trials_json(tmp_path, "demo-2")) == 1
    assert set(status_rows(tmp_path, *storage(tmp_path))) == {STUDY, "demo-2"}


def test_another_explicit_seed_for_a_stored_study_is_refused(tmp_path: Path) -> None:
    setup_folder(tmp_path, limits={"max_trials": 1})
    ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    refused = cli(tmp_path, "run", "spec.yaml", "--seed", "99", *storage(tmp_path))
    assert refused.returncode == 2, refused.stdout
    assert refused.stderr.startswith(("tunewise: study: ", "tunewise: seed: "))


# Where the store is -----------------------------------------------------------------------


def test_storage_flag_beats_environment_beats_spec(tmp_path: Path) -> None:
    setup_folder(tmp_path, storage="sqlite:///spec.db", limits={"max_trials": 1})
    env = {"TUNEWISE_STORAGE": f"sqlite:///{tmp_path / 'env.db'}"}
    dbs = {name: tmp_path / f"{name}.db" for name in ("flag", "env", "spec", "tunewise")}

    ok(cli(tmp_path, "run", "spec.yaml", "--storage", "sqlite:///flag.db", env=env))
    assert [has_study(db) for db in dbs.values()] == [True, False, False, False]

    ok(cli(tmp_path, "run", "spec.yaml", env=env))
    assert [has_study(db) for db in dbs.values()] == [True, True, False, False]

    ok(cli(tmp_path, "run", "spec.yaml"))
    assert [has_study(db) for db in dbs.values()] == [True, True, True, False]

    # The reading commands follow the same rule (they have no spec), and create no store.
    missing = cli(tmp_path, "status", env={"TUNEWISE_STORAGE": "sqlite:///nothing.db"})
    assert missing.returncode == 2
    assert f"no SQLite database at {tmp_path / 'nothing.db'}" in missing.stderr
    assert not (tmp_path / "nothing.db").exists()
    flag_only = status_rows(
        tmp_path, "--storage", "sqlite:///flag.db", env={"TUNEWISE_STORAGE": "sqlite:///nothing.db"}
    )
    assert set(flag_only) == {STUDY}


def test_json_spec_default_storage_and_runs_dir(tmp_path: Path) -> None:
    setup_folder(tmp_path)
    data = spec_data(runs_dir="my-runs", limits={"max_trials": 2})
    (tmp_path / "spec.json").write_text(json.dumps(data))
    result = ok(cli(tmp_path, "run", "spec.json"))
    assert has_study(tmp_path / "tunewise.db")
    assert status_rows(tmp_path)[STUDY]["completed"] == "2"
    logs = re.search(rf"trial logs in (my-runs/{STUDY}-[0-9a-f]{{8}})/", result.stderr)
    assert logs, result.stderr
    folders = [p for p in (tmp_path / logs.group(1)).iterdir() if p.is_dir()]
    assert len(folders) == 2
    assert all((p / "stdout.log").exists() for p in folders)


def test_trial_logs_go_to_tunewise_runs_in_the_current_folder(tmp_path: Path) -> None:
    setup_folder(tmp_path, limits={"max_trials": 1})
    result = ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    logs = re.search(rf"trial logs in (tunewise-runs/{STUDY}-[0-9a-f]{{8}})/", result.stderr)
    assert logs, result.stderr
    assert (tmp_path / logs.group(1)).is_dir()


# Strategies and trial kinds ---------------------------------------------------------------


def test_grid_runs_every_point_once_without_max_trials(tmp_path: Path) -> None:
    space = {
        "x": {"type": "float", "low": 0.0, "high": 1.0, "num": 3},
        "k": {"type": "categorical", "values": ["a", "b"]},
    }
    setup_folder(tmp_path, strategy="grid", space=space, static={"n": 2}, limits=None)
    result = ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    assert "reached max_trials (6)" in result.stdout
    trials = trials_json(tmp_path)
    assert len(trials) == 6
    assert all(t["state"] == "completed" for t in trials)
    points = {(t["params"]["x"], t["params"]["k"]) for t in trials}
    assert points == {(x, k) for x in (0.0, 0.5, 1.0) for k in "ab"}
    # the static value reached the training function
    assert max(t["value"] for t in trials) == pytest.approx(1.0 + 0.5 + 0.2)
    # Running it again adds nothing: the grid is exhausted.
    ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    assert len(trials_json(tmp_path)) == 6


def test_command_trial_reads_its_metric(tmp_path: Path) -> None:
    script = tmp_path / "train_cmd.py"
    script.write_text(COMMAND_SCRIPT)
    setup_folder(
        tmp_path,
        objective={"metric": "val_accuracy", "direction": "maximize"},
        space={"lr": {"type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"}},
        trial={
            "command": [sys.executable, str(script), "--lr", "{lr}"],
            "metrics": [
                {"name": "val_accuracy", "regex": r"val_accuracy=([0-9.]+)"},
                {"name": "lr_seen", "regex": r"lr_seen=(?P<value>[0-9.e+-]+)"},
            ],
            "timeout": "30s",
        },
        limits={"max_trials": 2, "max_parallel": 2},
    )
    result = ok(cli(tmp_path, "run", "spec.yaml", *storage(tmp_path)))
    assert "best trial #" in result.stdout and "val_accuracy = 0.8" in result.stdout
    trials = trials_json(tmp_path)
    assert len(trials) == 2
    for t in trials:
        assert t["state"] == "completed", t
        assert t["value"] == pytest.approx(0.8)
        assert t["metrics"]["val_accuracy"] == pytest.approx(0.8)
        # the placeholder reached the command as the trial's own value
        assert t["metrics"]["lr_seen"] == pytest.approx(t["params"]["lr"])
    # The regex matches are stored as reports of the trial (its learning curve).
    ok(cli(tmp_path, "export", STUDY, "--format", "json", "-o", "e.json", *storage(tmp_path)))
    for t in json.loads((tmp_path / "e.json").read_text())["trials"]:
        assert t["reports"] == [
            {
                "step": 1,
                "values": {"val_accuracy": 0.8, "lr_seen": pytest.approx(t["params"]["lr"])},
            }
        ]


# Failures ---------------------------------------------------------------------------------


def test_study_aborts_after_consecutive_failures(tmp_path: Path) -> None:
    setup_folder(
        tmp_path,
        trial={"python": "mytrain:boom"},
        limits={"max_trials": 20, "max_parallel": 1, "max_consecutive_failures": 3},
    )
    result = cli(tmp_path, "run", "spec.yaml", *storage(tmp_path))
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("tunewise: the study aborted: 3 consecutive trials failed")
    assert "kaboom-42: the data loader fell over" in last
    trials = trials_json(tmp_path)
    assert len(trials) == 3
    for t in trials:
        assert t["state"] == "failed"
        assert t["failure_kind"] == "user_error"
        assert "kaboom-42" in t["error"]
    row = status_rows(tmp_path, *storage(tmp_path))[STUDY]
    assert row["state"] == "failed" and row["failed"] == "3" and row["completed"] == "0"
    assert "kaboom-42" in row["reason"]
    # No completed trial: `best --format json` fails with one line, not a traceback.
    best = cli(tmp_path, "best", STUDY, "--format", "json", *storage(tmp_path))
    assert best.returncode == 1
    assert best.stderr == f"tunewise: study '{STUDY}' has no completed trial yet\n"
    assert best.stdout == ""


def test_trial_timeout_fails_the_trials_and_ends_quickly(tmp_path: Path) -> None:
    setup_folder(
        tmp_path,
        trial={"python": "mytrain:slow", "timeout": "1s"},
        limits={"max_trials": 2, "max_parallel": 2},
    )
    started = time.monotonic()
    result = cli(tmp_path, "run", "spec.yaml", *storage(tmp_path))
    elapsed = time.monotonic() - started
    assert elapsed < 20, elapsed
    assert "no trial completed" in result.stdout
    # No trial completed: exit 1 with the failure kinds, their counts and the last error.
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith(
        f"tunewise: study '{STUDY}' has no completed trial: 2 failed (timeout 2)"
    )
    trials = trials_json(tmp_path)
    assert len(trials) == 2
    for t in trials:
        assert t["state"] == "failed"
        assert t["failure_kind"] == "timeout"
        assert "timeout" in t["error"]
        assert t["duration_s"] < 15
    # The trial processes were killed, not left sleeping.
    pids = [int(p) for p in (tmp_path / "pids.txt").read_text().split()]
    assert len(pids) == 2
    for pid in pids:
        try:
            alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            alive = False
        assert not alive, f"trial process {pid} still runs"
    row = status_rows(tmp_path, *storage(tmp_path))[STUDY]
    assert row["state"] == "completed" and row["failed"] == "2"
