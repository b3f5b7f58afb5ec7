"""``tunewise best / trials / export / status`` of studies with several objectives or
constraints (issue 23), in process on a SQLite file."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

import tunewise as tw
from tunewise.cli.main import main

# (accuracy, latency_ms, memory_mb): trial 2 is dominated, trial 3 is infeasible (memory).
ROWS = [(0.9, 10.0, 100.0), (0.8, 5.0, 100.0), (0.7, 20.0, 100.0), (0.95, 1.0, 900.0)]


def make_study(tmp_path: Path, multi: bool = True) -> str:
    url = f"sqlite:///{tmp_path / 'mo.db'}"
    objectives = [tw.Objective("accuracy", "maximize")]
    if multi:
        objectives.append(tw.Objective("latency_ms", "minimize"))
    study = tw.create_study(
        "mo",
        objectives=objectives,
        constraints=[tw.Constraint("memory_mb", max=512)],
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        storage=url,
        seed=1,
    )
    for acc, lat, mem in ROWS:
        study.tell(study.ask(), {"accuracy": acc, "latency_ms": lat, "memory_mb": mem})
    study.close()
    return url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def test_best_prints_the_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = make_study(tmp_path)
    text = run(capsys, "best", "mo", "--storage", url)
    assert "Pareto front: 2 trials (maximize accuracy, minimize latency_ms" in text
    assert "memory_mb <= 512" in text
    lines = [line.split() for line in text.splitlines()]
    header = next(i for i, line in enumerate(lines) if line[:1] == ["trial"])
    assert [line[0] for line in lines[header + 1 :]] == ["0", "1"]
    documents = json.loads(run(capsys, "best", "mo", "--storage", url, "--format", "json"))
    assert [d["trial"] for d in documents] == [0, 1]
    assert set(documents[0]) == {"trial", "params", "value", "metrics"}


def test_single_objective_with_constraints_best_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_study(tmp_path, multi=False)
    document = json.loads(run(capsys, "best", "mo", "--storage", url, "--format", "json"))
    assert document["trial"] == 0  # 0.95 is infeasible
    assert "best trial #0" in run(capsys, "best", "mo", "--storage", url)


def test_trials_show_feasibility_and_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_study(tmp_path)
    documents = json.loads(run(capsys, "trials", "mo", "--storage", url, "--format", "json"))
    assert [(d["feasible"], d["on_front"]) for d in documents] == [
        (True, True),
        (True, True),
        (True, False),
        (False, False),
    ]
    rows = list(csv.DictReader(io.StringIO(run(capsys, "trials", "mo", "--storage", url,
                                               "--format", "csv"))))  # fmt: skip
    assert [(r["feasible"], r["front"]) for r in rows] == [
        ("yes", "*"),
        ("yes", "*"),
        ("yes", ""),
        ("no", ""),
    ]
    assert rows[0]["metric:latency_ms"] == "10.0"
    table = run(capsys, "trials", "mo", "--storage", url)
    assert "feasible" in table.splitlines()[0] and "front" in table.splitlines()[0]


def test_export_carries_objectives_and_feasibility(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_study(tmp_path)
    exported = json.loads(
        run(capsys, "export", "mo", "--storage", url, "--format", "json", "-o", "-")
    )
    assert len(exported["definition"]["objectives"]) == 2
    assert exported["definition"]["constraints"] == [{"metric": "memory_mb", "max": 512.0}]
    assert [t["feasible"] for t in exported["trials"]] == [True, True, True, False]
    rows = list(
        csv.DictReader(
            io.StringIO(run(capsys, "export", "mo", "--storage", url, "--format", "csv", "-o", "-"))
        )
    )
    assert rows[3]["feasible"] == "no" and rows[3]["metric:memory_mb"] == "900.0"
    status = json.loads(run(capsys, "status", "mo", "--storage", url, "--format", "json"))
    assert status[0]["best"] is None  # several objectives: no single best value


def test_trials_dataframe_has_values_and_flags(tmp_path: Path) -> None:
    url = make_study(tmp_path)
    study = tw.load_study("mo", storage=url)
    frame = study.trials_dataframe()
    assert list(frame.columns[:5]) == ["number", "state", "value", "values_0", "values_1"]
    assert frame["values_1"].tolist() == [10.0, 5.0, 20.0, 1.0]
    assert frame["feasible"].tolist() == [True, True, True, False]
    assert frame["on_front"].tolist() == [True, True, False, False]
    study.close()


def test_describe_sagemaker_refuses_several_objectives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = make_study(tmp_path)
    code = main(["describe", "mo", "--storage", url])
    err = capsys.readouterr().err
    assert code != 0
    assert "2 objectives" in err and "SageMaker tuning job has one" in err


@pytest.mark.parametrize("suffix", [".png", ".html"])
def test_plot_the_front(tmp_path: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    url = make_study(tmp_path)
    target = tmp_path / f"front{suffix}"
    run(capsys, "plot", "mo", "pareto_front", "-o", str(target), "--storage", url)
    data = target.read_bytes()
    assert data[:4] == b"\x89PNG" if suffix == ".png" else b"Pareto front" in data


def test_run_a_spec_with_objectives_and_constraints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = {
        "study": "mlp-pareto",
        "objectives": [
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "n_weights", "direction": "minimize"},
        ],
        "constraints": [{"metric": "accuracy", "min": 0.5}],
        "strategy": "random",
        "space": {
            "nodes_per_layer": {"type": "int", "low": 4, "high": 16},
        },
        "static": {"hidden_layers": 1, "learning_rate_init": 0.01, "alpha": 1e-4, "max_iter": 20},
        "trial": {"python": "examples.mlp_pareto:train"},
        "limits": {"max_trials": 3},
        "seed": 0,
        "storage": f"sqlite:///{tmp_path / 'run.db'}",
        "runs_dir": str(tmp_path / "runs"),
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr()
    assert "maximize accuracy, minimize n_weights subject to 0.5 <= accuracy" in out.err
    assert "trials: 3 completed" in out.out and "Pareto front:" in out.out
