"""Fast checks of the example studies: specs, training functions and the command script.

The example modules are loaded from their files under private names, so a test can load a fresh
copy (e.g. to see the XGBoost module's import-time message) without touching ``examples``.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MLP_SPEC = EXAMPLES / "mlp_digits.yaml"
XGB_SPEC = EXAMPLES / "xgboost_breast_cancer.yaml"
COMMAND_SPEC = EXAMPLES / "command" / "spec.yaml"
COMMAND_SCRIPT = EXAMPLES / "command" / "train.py"
SPECS = [MLP_SPEC, XGB_SPEC, COMMAND_SPEC]

MLP_HYPERPARAMETERS = {
    "learning_rate_init",
    "power_t",
    "momentum",
    "hidden_layers",
    "nodes_per_layer",
    "batch_size",
    "max_iter",
    "alpha",
}
XGB_HYPERPARAMETERS = {
    "eta",
    "max_depth",
    "min_child_weight",
    "subsample",
    "colsample_bytree",
    "lambda",
    "alpha",
    "num_boost_round",
}
COMMAND_HYPERPARAMETERS = {"lr", "epochs", "batch_size", "hidden", "weight_decay"}


def load_example(relative: str, fresh: bool = False) -> ModuleType:
    name = "_tunewise_example_" + relative.removesuffix(".py").replace("/", "_")
    if name in sys.modules and not fresh:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def read_spec(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def static_plus(spec_path: Path, **params: Any) -> dict[str, Any]:
    return {**(read_spec(spec_path).get("static") or {}), **params}


CHEAP_MLP = {
    "learning_rate_init": 0.05,
    "power_t": 0.1,
    "momentum": 0.9,
    "hidden_layers": 1,
    "nodes_per_layer": 32,
    "batch_size": 128,
    "max_iter": 10,
    "alpha": 1e-4,
}


# --- specs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_parses_with_required_keys(path: Path) -> None:
    data = read_spec(path)
    for key in ("study", "objective", "space", "trial", "limits", "seed", "storage"):
        assert key in data, f"{path.name} lacks {key}"
    assert data["objective"]["direction"] in ("minimize", "maximize")
    assert data["seed"] == 7
    assert data["storage"] == "sqlite:///tunewise.db"
    assert data["limits"]["max_parallel"] == 2
    for name, param in data["space"].items():
        assert param["type"] in ("float", "int", "categorical"), name
        for bound in ("low", "high"):
            if bound in param:  # 1e-4 without a dot would be read as a string
                assert isinstance(param[bound], int | float), f"{name}.{bound}"


def test_mlp_spec_searches_every_hyperparameter() -> None:
    data = read_spec(MLP_SPEC)
    assert "strategy" not in data  # the demo follows the default strategy
    assert set(data["space"]) == MLP_HYPERPARAMETERS
    assert data["objective"] == {"metric": "accuracy", "direction": "maximize"}
    assert data["trial"]["python"] == "examples.mlp_digits:train"
    assert data["static"]["solver"] == "sgd"
    assert data["static"]["learning_rate"] == "invscaling"
    assert data["static"]["early_stopping"] is False
    assert data["space"]["momentum"]["scale"] == "reverse_log"
    assert data["space"]["learning_rate_init"]["scale"] == "log"
    assert data["space"]["batch_size"]["values"] == [32, 64, 128, 256]


def test_xgboost_spec_searches_every_hyperparameter() -> None:
    data = read_spec(XGB_SPEC)
    assert set(data["space"]) == XGB_HYPERPARAMETERS
    assert data["trial"]["python"] == "examples.xgboost_breast_cancer:train"


def test_command_spec_fills_every_hyperparameter() -> None:
    data = read_spec(COMMAND_SPEC)
    assert set(data["space"]) == COMMAND_HYPERPARAMETERS
    command = data["trial"]["command"]
    assert command[:2] == ["python", "examples/command/train.py"]
    placeholders = set(re.findall(r"\{(\w+)\}", " ".join(command)))
    assert placeholders == COMMAND_HYPERPARAMETERS
    assert {m["name"] for m in data["trial"]["metrics"]} == {"accuracy", "loss"}


def test_specs_pass_tunewise_validation() -> None:
    try:
        from tunewise.spec import parse_spec_text
    except ImportError:  # tunewise not importable here: its own tests validate specs
        return
    for path in SPECS:
        spec = parse_spec_text(path.read_text(), str(path))
        assert spec.objective.metric in ("accuracy", "logloss")


# --- mlp_digits ------------------------------------------------------------------------------


def test_mlp_train_returns_cv_accuracy() -> None:
    mlp = load_example("mlp_digits.py")
    result = mlp.train(static_plus(MLP_SPEC, **CHEAP_MLP))
    assert set(result) >= {"accuracy", "accuracy_std", "fit_seconds"}
    assert 0.5 < result["accuracy"] <= 1.0
    assert 0.0 <= result["accuracy_std"] < 0.5
    assert result["fit_seconds"] > 0


def test_mlp_build_model_from_params_and_defaults() -> None:
    mlp = load_example("mlp_digits.py")
    model = mlp.build_model(static_plus(MLP_SPEC, **{**CHEAP_MLP, "hidden_layers": 3}))
    net = model.named_steps["mlp"]
    assert net.hidden_layer_sizes == (32, 32, 32)
    assert net.solver == "sgd" and net.batch_size == 128 and net.max_iter == 10
    default = mlp.build_model({}).named_steps["mlp"]
    assert default.hidden_layer_sizes == (100,) and default.solver == "adam"


def test_mlp_splits_are_fixed_and_disjoint() -> None:
    mlp = load_example("mlp_digits.py")
    assert len(mlp.y_train) + len(mlp.y_test) == 1797
    assert len(mlp.y_test) == 450


def test_mlp_held_out_accuracies_start_from_different_weights(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mlp = load_example("mlp_digits.py")
    seen: list[dict[str, Any]] = []

    def fake_held_out_accuracy(params: dict[str, Any]) -> float:
        seen.append(dict(params))
        return 0.9 + 0.01 * len(seen)

    monkeypatch.setattr(mlp, "held_out_accuracy", fake_held_out_accuracy)
    assert mlp.held_out_accuracies({"alpha": 0.1}, 3) == pytest.approx([0.91, 0.92, 0.93])
    assert seen == [{"alpha": 0.1, "random_state": seed} for seed in range(3)]


def test_mlp_compare_prints_tuned_beside_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    mlp = load_example("mlp_digits.py")
    static = read_spec(MLP_SPEC)["static"]
    best = (dict(CHEAP_MLP), dict(static), 0.93, {"accuracy": 0.93, "accuracy_std": 0.01})
    seen: list[tuple[str, str]] = []

    def fake_load_best(study: str, storage: str) -> tuple[Any, ...]:
        seen.append((study, storage))
        return best

    monkeypatch.setattr(mlp, "load_best", fake_load_best)
    monkeypatch.setattr(mlp, "HELD_OUT_INITS", 2)
    assert mlp.main(["compare", "--storage", "sqlite:///x.db", "--study", "s1"]) == 0
    assert seen == [("s1", "sqlite:///x.db")]
    out = capsys.readouterr().out
    assert "held-out test accuracy (450 digits), mean [min, max] over 2 initial weights:" in out
    assert re.search(r"^    learning_rate_init  0\.05$", out, re.M), out
    default_cv = re.search(r"^  scikit-learn's defaults on the same folds: (0\.\d{4})$", out, re.M)
    assert default_cv and 0.9 < float(default_cv.group(1)) <= 1, out
    spread = r"(0\.\d{4}) \[(0\.\d{4}), (0\.\d{4})\]"
    tuned = re.search(rf"^  tuned    {spread}   \(", out, re.M)
    default = re.search(rf"^  default  {spread}   \(MLPClassifier\(\)\)", out, re.M)
    assert tuned and default, out
    for found, floor in ((tuned, 0.5), (default, 0.9)):
        mean, low, high = (float(v) for v in found.groups())
        assert floor < low <= mean <= high <= 1, out
    assert "0.9300 +/- 0.0100" in out


# --- xgboost_breast_cancer -------------------------------------------------------------------


def test_xgboost_train_returns_cv_logloss() -> None:
    pytest.importorskip("xgboost")  # an optional extra
    xgb = load_example("xgboost_breast_cancer.py")
    params = {
        "eta": 0.3,
        "max_depth": 3,
        "min_child_weight": 1.0,
        "subsample": 0.9,
        "colsample_bytree": 0.8,
        "lambda": 1.0,
        "alpha": 1e-3,
        "num_boost_round": 20,
    }
    result = xgb.train(static_plus(XGB_SPEC, **params))
    assert 0.0 < result["logloss"] < 0.4
    assert 0.9 < result["auc"] <= 1.0
    assert 0.0 <= result["error"] < 0.2


def test_xgboost_example_without_xgboost_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes `import xgboost` fail
    with pytest.raises(ImportError, match=re.escape("pip install 'tunewise[xgboost]'")):
        load_example("xgboost_breast_cancer.py", fresh=True)


# --- command ---------------------------------------------------------------------------------


def run_script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(COMMAND_SCRIPT), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_command_script_prints_what_the_spec_reads() -> None:
    proc = run_script("--lr", "0.1", "--epochs", "3", "--batch-size", "64", "--hidden", "16")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3
    for definition in read_spec(COMMAND_SPEC)["trial"]["metrics"]:
        pattern = re.compile(definition["regex"])
        matches = [pattern.search(line) for line in lines]
        assert all(matches), (definition, lines)
        assert [int(m.group("step")) for m in matches if m] == [1, 2, 3]
        values = [float(m.group("value")) for m in matches if m]
        if definition["name"] == "accuracy":
            assert all(0.0 <= v <= 1.0 for v in values) and values[-1] > 0.5
        else:
            assert values[-1] < values[0]  # the training loss goes down


def test_command_script_accepts_placeholders_as_tunewise_fills_them() -> None:
    proc = run_script("--lr", "1e-05", "--epochs", "1", "--weight-decay", "0.0")
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("bad", [["--lr", "-1"], ["--epochs", "2.5"], ["--hidden", "x"]])
def test_command_script_rejects_bad_arguments(bad: list[str]) -> None:
    proc = run_script(*bad)
    assert proc.returncode == 2
    assert "error:" in proc.stderr
