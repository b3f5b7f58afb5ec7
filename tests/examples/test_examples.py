"""Fast checks of the example studies: specs, training functions and the command script.

The example modules are loaded from their files under private names, so a test can load a fresh
copy (e.g. to see the XGBoost module's import-time message) without touching ``examples``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MLP_SPEC = EXAMPLES / "mlp_digits.yaml"
XGB_SPEC = EXAMPLES / "xgboost_breast_cancer.yaml"
COMMAND_SPEC = EXAMPLES / "command" / "spec.yaml"
COMMAND_SCRIPT = EXAMPLES / "command" / "train.py"
SPECS = [MLP_SPEC, XGB_SPEC, COMMAND_SPEC]

MLP_HYPERPARAMETERS = {
    "solver",
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
    "solver": "sgd",
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
    # Chosen by CV log loss (a smooth measure; accuracy ties over a few digits), judged by
    # held-out accuracy.
    assert data["objective"] == {"metric": "log_loss", "direction": "minimize"}
    assert data["trial"]["python"] == "examples.mlp_digits:train"
    # Adam (scikit-learn's default) and SGD with momentum and a decaying learning rate.
    assert data["space"]["solver"]["values"] == ["adam", "sgd"]
    assert data["static"]["learning_rate"] == "invscaling"
    assert data["static"]["early_stopping"] is False
    assert data["space"]["momentum"]["scale"] == "reverse_log"
    assert data["space"]["learning_rate_init"]["scale"] == "log"
    assert data["space"]["batch_size"]["values"] == [32, 64, 128, 256]
    # Room to beat the defaults: their 100 units, 200 epochs and L2 1e-4 lie inside.
    space = data["space"]
    assert space["nodes_per_layer"]["low"] <= 100 <= space["nodes_per_layer"]["high"]
    assert space["max_iter"]["low"] <= 200 <= space["max_iter"]["high"]
    assert space["alpha"]["low"] <= 1e-4 <= space["alpha"]["high"]


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
        assert spec.objective.metric in ("accuracy", "logloss", "log_loss")


# --- mlp_digits ------------------------------------------------------------------------------


def test_mlp_train_returns_cv_log_loss_and_accuracy() -> None:
    mlp = load_example("mlp_digits.py")
    result = mlp.train(static_plus(MLP_SPEC, **CHEAP_MLP))
    assert set(result) >= {"accuracy", "accuracy_std", "log_loss", "fit_seconds"}
    assert 0.5 < result["accuracy"] <= 1.0
    assert 0.0 < result["log_loss"] < 1.5
    assert 0.0 <= result["accuracy_std"] < 0.5
    assert result["fit_seconds"] > 0


def test_mlp_train_starts_each_fold_from_other_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    # One start for every fold let the search pick configurations that diverge from others.
    mlp = load_example("mlp_digits.py")
    real = mlp.build_model
    starts: list[Any] = []

    def recording_build_model(params: dict[str, Any]) -> Any:
        starts.append(params.get("random_state"))
        return real(params)

    monkeypatch.setattr(mlp, "build_model", recording_build_model)
    mlp.train(static_plus(MLP_SPEC, **CHEAP_MLP))
    assert starts == [mlp.SEED, mlp.SEED + 1, mlp.SEED + 2]
    starts.clear()
    mlp.train(static_plus(MLP_SPEC, **CHEAP_MLP, random_state=10))
    assert starts == [10, 11, 12]


# The verdict: small fixed inputs whose Welch interval is known.


def test_noise_half_width_is_welchs_95_percent_interval() -> None:
    mlp = load_example("mlp_digits.py")
    # Variances 1 and 1, 3 values each: standard error sqrt(2/3), 4 degrees of freedom.
    half = mlp.noise_half_width([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert half == pytest.approx(2.7764451 * (2 / 3) ** 0.5, rel=1e-6)
    # One side without spread: the other side's 2 degrees of freedom alone.
    half = mlp.noise_half_width([1.0, 2.0, 3.0], [5.0, 5.0, 5.0])
    assert half == pytest.approx(4.3026527 * (1 / 3) ** 0.5, rel=1e-6)
    assert mlp.noise_half_width([0.9, 0.9], [0.8, 0.8]) == 0.0
    # The interval of scipy's Welch test, on accuracies over starts.
    tuned, default = [0.974, 0.982, 0.978, 0.976, 0.980], [0.973, 0.981, 0.977, 0.975]
    interval = stats.ttest_ind(tuned, default, equal_var=False).confidence_interval(0.95)
    assert mlp.noise_half_width(tuned, default) == pytest.approx(
        (interval.high - interval.low) / 2, rel=1e-9
    )
    with pytest.raises(ValueError, match="at least 2"):
        mlp.noise_half_width([0.9], [0.8, 0.8])


@pytest.mark.parametrize(
    ("tuned", "default", "expected"),
    [
        # +0.008, interval +/-0.0010: tuning wins
        (
            [0.984, 0.985, 0.986, 0.985, 0.985],
            [0.976, 0.977, 0.978, 0.977, 0.977],
            "Tuned 0.9850 vs default 0.9770 on held-out digits: +0.0080, beyond the noise: "
            "tuning wins (95% interval +/-0.0010 over 5 and 5 initial weights)",
        ),
        # +0.001 with starts that span 0.008: within the noise
        (
            [0.974, 0.982, 0.978, 0.976, 0.980],
            [0.973, 0.981, 0.977, 0.975, 0.979],
            "Tuned 0.9780 vs default 0.9770 on held-out digits: +0.0010, within the noise: "
            "no better than the defaults (95% interval +/-0.0046 over 5 and 5 initial weights)",
        ),
        # -0.01 with little spread: the defaults win
        (
            [0.966, 0.968, 0.967],
            [0.977, 0.977, 0.978],
            "Tuned 0.9670 vs default 0.9773 on held-out digits: -0.0103, beyond the noise: "
            "the defaults win (95% interval +/-0.0020 over 3 and 3 initial weights)",
        ),
        # no spread at all and no difference: within (an interval of 0 excludes nothing)
        (
            [0.98, 0.98],
            [0.98, 0.98],
            "Tuned 0.9800 vs default 0.9800 on held-out digits: +0.0000, within the noise: "
            "no better than the defaults (95% interval +/-0.0000 over 2 and 2 initial weights)",
        ),
    ],
)
def test_verdict_says_whether_the_difference_is_beyond_the_noise(
    tuned: list[float], default: list[float], expected: str
) -> None:
    mlp = load_example("mlp_digits.py")
    assert mlp.verdict(tuned, default) == expected


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
    assert len(mlp.y_test) == 901


def test_mlp_no_fit_ends_on_a_tiny_mini_batch() -> None:
    # scikit-learn divides the L2 penalty by each mini-batch's size: 898 training digits left a
    # last batch of 2 for batch sizes 32-128, whose penalty step collapsed strongly regularised
    # final fits (held-out 0.41 for a configuration whose CV folds scored 0.94).
    mlp = load_example("mlp_digits.py")
    fold_sizes = {
        len(rows) for rows, _ in mlp.StratifiedKFold(mlp.CV_FOLDS).split(mlp.X_train, mlp.y_train)
    }
    for batch_size in read_spec(MLP_SPEC)["space"]["batch_size"]["values"]:
        for rows in {len(mlp.y_train), *fold_sizes}:
            last = rows % batch_size
            assert last == 0 or last >= 16, (rows, batch_size)


def test_mlp_training_labels_are_noisy_and_test_labels_true() -> None:
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    mlp = load_example("mlp_digits.py")
    digits = load_digits()
    _, _, y_train, y_test = train_test_split(
        digits.data,
        digits.target,
        test_size=mlp.TEST_SIZE,
        stratify=digits.target,
        random_state=mlp.SEED,
    )
    assert (mlp.y_test == y_test).all()  # compare scores against the true labels
    wrong = float(np.mean(mlp.y_train != y_train))
    assert wrong == pytest.approx(mlp.LABEL_NOISE, abs=0.03)
    # A replaced label is always another class, and stays one of the ten.
    labels = np.repeat(np.arange(10), 100)
    noisy = mlp.noisy_labels(labels, 1.0, seed=1)
    assert (noisy != labels).all() and set(noisy) == set(range(10))
    assert (mlp.noisy_labels(labels, 0.0, seed=1) == labels).all()
    assert (mlp.noisy_labels(labels, 0.3, seed=2) == mlp.noisy_labels(labels, 0.3, seed=2)).all()


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
    metrics = {"accuracy": 0.93, "accuracy_std": 0.01, "log_loss": 0.25}
    best = (dict(CHEAP_MLP), dict(static), 0.25, metrics)
    seen: list[tuple[str, str]] = []

    def fake_load_best(study: str, storage: str) -> tuple[Any, ...]:
        seen.append((study, storage))
        return best

    monkeypatch.setattr(mlp, "load_best", fake_load_best)
    monkeypatch.setattr(mlp, "HELD_OUT_INITS", 2)
    real_accuracies = mlp.held_out_accuracies
    measured: list[list[float]] = []

    def recording_accuracies(params: dict[str, Any], inits: int) -> list[float]:
        measured.append(real_accuracies(params, inits))
        return measured[-1]

    monkeypatch.setattr(mlp, "held_out_accuracies", recording_accuracies)
    assert mlp.main(["compare", "--storage", "sqlite:///x.db", "--study", "s1"]) == 0
    assert seen == [("s1", "sqlite:///x.db")]
    out = capsys.readouterr().out
    assert "held-out test accuracy (901 digits), mean [min, max] over 2 initial weights:" in out
    assert re.search(r"^    learning_rate_init  0\.05$", out, re.M), out
    default_cv = re.search(
        r"^  scikit-learn's defaults on the same folds: log loss (\d\.\d{4}), "
        r"accuracy (0\.\d{4}) \+/- 0\.\d{4}$",
        out,
        re.M,
    )
    # Against the noisy training labels: the defaults fit the wrong labels too, so their CV
    # log loss is high, and no model can agree with much more than the 80% of true labels.
    assert default_cv and 1.0 < float(default_cv.group(1)) < 3.0, out
    assert 0.6 < float(default_cv.group(2)) < 0.8, out
    spread = r"(0\.\d{4}) \[(0\.\d{4}), (0\.\d{4})\]"
    tuned = re.search(rf"^  tuned    {spread}   \(", out, re.M)
    default = re.search(rf"^  default  {spread}   \(MLPClassifier\(\)\)", out, re.M)
    assert tuned and default, out
    for found, floor in ((tuned, 0.5), (default, 0.8)):
        mean, low, high = (float(v) for v in found.groups())
        assert floor < low <= mean <= high <= 1, out
    assert "study s1: best 3-fold CV log loss 0.2500, accuracy 0.9300 +/- 0.0100\n" in out
    # The last line is the verdict on exactly the accuracies above.
    tuned_values, default_values = measured
    assert out.strip().splitlines()[-1] == mlp.verdict(tuned_values, default_values), out
    assert re.search(
        rf"^Tuned {tuned.group(1)} vs default {default.group(1)} on held-out digits: "
        r"[+-]0\.\d{4}, (beyond|within) the noise: .+ over 2 and 2 initial weights\)$",
        out,
        re.M,
    ), out


def run_small_study(spec_path: Path, folder: Path, space: dict[str, Any]) -> str:
    """``tunewise run`` on a copy of an example spec with 2 trials and a cheaper ``space``;
    returns the storage URL."""
    data = read_spec(spec_path)
    for name, bounds in space.items():
        data["space"][name].update(bounds)
    data["limits"] = {**data["limits"], "max_trials": 2}
    spec = folder / spec_path.name
    spec.write_text(yaml.safe_dump(data))
    storage = f"sqlite:///{folder / 'small.db'}"
    proc = subprocess.run(
        [sys.executable, "-m", "tunewise.cli.main", "run", str(spec), "--storage", storage],
        cwd=folder,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "trials: 2 completed" in proc.stdout, proc.stdout + proc.stderr
    return storage


def test_the_demo_runs_and_ends_with_its_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # `make demo` with a small budget: the spec through the CLI, then the compare step.
    cheap = {
        "nodes_per_layer": {"low": 16, "high": 32},
        "max_iter": {"low": 10, "high": 15},
    }
    storage = run_small_study(MLP_SPEC, tmp_path, cheap)
    mlp = load_example("mlp_digits.py")
    monkeypatch.setattr(mlp, "HELD_OUT_INITS", 2)
    study = read_spec(MLP_SPEC)["study"]
    assert mlp.main(["compare", "--storage", storage, "--study", study]) == 0
    out = capsys.readouterr().out
    assert re.search(
        r"^Tuned 0\.\d{4} vs default 0\.\d{4} on held-out digits: [+-]0\.\d{4}, "
        r"(beyond|within) the noise: .+ over 2 and 2 initial weights\)$",
        out.strip().splitlines()[-1],
    ), out


# --- xgboost_breast_cancer -------------------------------------------------------------------


def test_xgboost_train_returns_cv_logloss() -> None:
    # The dev extra installs xgboost-cpu, so this runs in `make test` (no skip).
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


def test_xgboost_example_runs_as_a_study(tmp_path: Path) -> None:
    cheap = {"num_boost_round": {"low": 5, "high": 10}, "max_depth": {"low": 2, "high": 3}}
    storage = run_small_study(XGB_SPEC, tmp_path, cheap)
    import tunewise as tw

    best = tw.load_study(read_spec(XGB_SPEC)["study"], storage=storage).best_trial
    assert best.value is not None and 0.0 < best.value < 0.7  # log loss of a few rounds


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
