"""The Hyperband variant of the main job: its spec and ``train_epochs`` with a scripted trial.

Fast: a small network for a few epochs; the benchmark (``benchmarks/early_stopping.py``) runs the
real thing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.examples.test_examples import MLP_HYPERPARAMETERS, MLP_SPEC, load_example, read_spec

pytestmark = pytest.mark.timeout(60)

HYPERBAND_SPEC = Path(MLP_SPEC).with_name("mlp_digits_hyperband.yaml")
CHEAP = {
    "learning_rate_init": 0.05,
    "power_t": 0.1,
    "momentum": 0.9,
    "hidden_layers": 1,
    "nodes_per_layer": 16,
    "batch_size": 256,
    "alpha": 1e-4,
}


class ScriptedTrial:
    """Records reports; says stop once ``stop_after`` reports were made."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.reports: list[tuple[int, float]] = []
        self.checks = 0
        self.stop_after = stop_after

    def report(self, value: float, step: int) -> None:
        self.reports.append((step, value))

    def should_stop(self) -> bool:
        self.checks += 1
        return self.stop_after is not None and len(self.reports) >= self.stop_after


def cheap_params(epochs: int) -> dict[str, Any]:
    return {**read_spec(HYPERBAND_SPEC)["static"], **CHEAP, "epochs": epochs}


def test_hyperband_spec_parses_with_epochs_as_the_resource() -> None:
    from tunewise.spec import parse_spec_text

    spec = parse_spec_text(HYPERBAND_SPEC.read_text(), str(HYPERBAND_SPEC))
    assert spec.strategy == "hyperband"
    assert spec.hyperband is not None
    assert spec.hyperband.resource == "epochs"
    assert spec.hyperband.max_resource == spec.space.static["epochs"] == 27
    assert (spec.hyperband.min_resource, spec.hyperband.reduction_factor) == (1, 3)
    assert spec.early_stopping is None  # hyperband does its own stopping
    # The main job's hyperparameters less max_iter (the budget is the resource, not a
    # hyperparameter) and the solver (this variant keeps SGD, where momentum and decay act).
    assert set(spec.space.names) == MLP_HYPERPARAMETERS - {"max_iter", "solver"}
    main = read_spec(MLP_SPEC)
    variant = read_spec(HYPERBAND_SPEC)
    assert variant["static"]["solver"] == "sgd"
    assert {**main["static"], "solver": "sgd", "epochs": 27} == variant["static"]
    assert variant["trial"]["python"] == "examples.mlp_digits:train_epochs"
    assert variant["objective"] == {"metric": "accuracy", "direction": "maximize"}


def test_train_epochs_reports_every_epoch_and_runs_the_budget() -> None:
    mlp = load_example("mlp_digits.py")
    trial = ScriptedTrial()
    result = mlp.train_epochs(cheap_params(4), trial)
    assert [step for step, _ in trial.reports] == [1, 2, 3, 4]
    assert trial.checks == 4  # asked after every report
    assert all(0.0 <= value <= 1.0 for _, value in trial.reports)
    assert trial.reports[-1][1] > trial.reports[0][1]  # it learns
    assert result["accuracy"] == trial.reports[-1][1]
    assert result["epochs_run"] == 4
    assert set(result) >= {"accuracy", "accuracy_std", "fit_seconds"}


def test_train_epochs_returns_when_told_to_stop() -> None:
    mlp = load_example("mlp_digits.py")
    trial = ScriptedTrial(stop_after=2)
    result = mlp.train_epochs(cheap_params(27), trial)
    assert [step for step, _ in trial.reports] == [1, 2]
    assert result["epochs_run"] == 2
    assert result["accuracy"] == trial.reports[-1][1]  # a valid value at the lower budget


def test_train_epochs_is_deterministic_and_ignores_max_iter() -> None:
    mlp = load_example("mlp_digits.py")
    first, second = ScriptedTrial(), ScriptedTrial()
    mlp.train_epochs(cheap_params(2), first)
    mlp.train_epochs({**cheap_params(2), "max_iter": 50}, second)
    assert first.reports == second.reports


def test_train_epochs_names_a_diverging_configuration() -> None:
    mlp = load_example("mlp_digits.py")
    # A huge step on a strong L2 penalty: the weights overflow within the second epoch.
    params = {**cheap_params(30), "learning_rate_init": 1000.0, "alpha": 10.0, "batch_size": 32}
    trial = ScriptedTrial()
    with pytest.raises(ValueError, match=r"training diverged \(non-finite weights\) at epoch"):
        mlp.train_epochs(params, trial)
    assert len(trial.reports) < 30
