"""The two-objective digits example (issue 23): its metrics, and a tiny study's front."""

from __future__ import annotations

from pathlib import Path

import pytest

from examples import mlp_pareto


def test_weights_are_counted_layer_by_layer() -> None:
    # 64 -> 8 -> 10: (64 + 1) * 8 + (8 + 1) * 10
    assert mlp_pareto.n_weights({"hidden_layers": 1, "nodes_per_layer": 8}) == 610
    assert mlp_pareto.n_weights({"hidden_layers": 2, "nodes_per_layer": 4}) == 65 * 4 + 5 * 4 + 50


def test_train_returns_both_objectives() -> None:
    params = {"hidden_layers": 1, "nodes_per_layer": 8, "learning_rate_init": 0.01,
              "alpha": 1e-4, "max_iter": 20}  # fmt: skip
    metrics = mlp_pareto.train(params)
    assert 0.5 < metrics["accuracy"] <= 1.0 and metrics["n_weights"] == 610.0


def test_main_prints_the_front_and_draws_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "front.png"
    assert mlp_pareto.main(["--trials", "4", "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Pareto front of 4 trials")
    assert png.read_bytes()[:4] == b"\x89PNG"
