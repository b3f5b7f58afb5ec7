"""The ``tpe`` strategy: its Parzen estimators (proper densities, categorical kernels,
per-kernel bandwidths, rank weights) and a statistical test that it beats random search."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

import tunewise as tw
from tests.strategies.strategy_helpers import BRANIN_SPACE, best, branin, run
from tunewise.space import Space
from tunewise.strategies import tpe
from tunewise.strategies.features import Features
from tunewise.strategies.tpe import BANDWIDTH_FLOOR, _estimators, good_weights, n_good
from tunewise.strategies.tpe_kernels import Parzen


def test_good_group_is_a_tenth_of_the_trials_between_1_and_25() -> None:
    assert [n_good(n) for n in (1, 9, 10, 11, 100, 249, 250, 1000)] == [1, 1, 1, 2, 10, 25, 25, 25]


def test_parzen_density_integrates_to_one_over_the_cube_and_the_choices() -> None:
    features = Features(Space({"x": tw.Float(0.0, 1.0), "c": tw.Categorical(["a", "b", "c"])}))
    rows = np.array([[0.1, 0.0], [0.15, 0.0], [0.9, 2.0], [0.5, 1.0]])
    parzen = Parzen(features, rows)
    grid = (np.arange(4000) + 0.5) / 4000
    total = 0.0
    for choice in range(3):
        points = np.column_stack([grid, np.full_like(grid, choice)])
        total += float(np.mean(np.exp(parzen.log_pdf(points))))
    assert abs(total - 1.0) < 1e-3


def test_parzen_samples_stay_in_the_cube_and_near_the_good_points() -> None:
    features = Features(Space({"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)}))
    rows = np.array([[0.2, 0.8], [0.22, 0.79], [0.18, 0.83]])
    samples = Parzen(features, rows).sample(np.random.default_rng(0), 2000)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
    near = np.mean(np.max(np.abs(samples - [0.2, 0.8]), axis=1) < 0.25)
    assert near > 0.6  # most mass around the good points; the prior keeps the rest


def test_categorical_kernel_favours_the_observed_choice_without_excluding_others() -> None:
    features = Features(Space({"c": tw.Categorical(["a", "b", "c", "d"])}))
    parzen = Parzen(features, np.array([[1.0], [1.0], [1.0]]))
    probs = np.exp(parzen.log_pdf(np.array([[0.0], [1.0], [2.0], [3.0]])))
    assert abs(probs.sum() - 1.0) < 1e-9
    assert probs[1] > 2 * max(probs[0], probs[2], probs[3]) and probs.min() > 0.02


def test_bandwidths_shrink_as_the_group_grows() -> None:
    features = Features(Space({"x": tw.Float(0.0, 1.0)}))
    rng = np.random.default_rng(0)
    small = np.median(Parzen(features, rng.random((5, 1))).bandwidth)
    large = np.median(Parzen(features, rng.random((500, 1))).bandwidth)
    assert large < small


def test_a_kernel_is_as_wide_as_its_larger_gap_to_its_neighbours() -> None:
    # Optuna's rule, per column: clustered trials get narrow kernels, an isolated one a wide
    # kernel, so l(x) follows the shape of the good region (one Scott width per column did not).
    features = Features(Space({"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)}))
    rows = np.array([[0.30, 0.9], [0.32, 0.5], [0.35, 0.1], [0.90, 0.7]])
    width = Parzen(features, rows, floor=0.01).bandwidth  # floor 0.01 / 6: no clipping
    assert width.shape == (4, 2)
    np.testing.assert_allclose(width[:, 0], [0.02, 0.03, 0.55, 0.55])  # edges: inner gap
    np.testing.assert_allclose(width[:, 1], [0.2, 0.4, 0.4, 0.2])


def test_bandwidths_are_floored_at_half_the_magic_clip() -> None:
    # n identical trials: every gap is 0; Optuna clips at 1 / min(100, n + 2) of the range,
    # tpe at half that (it refines further once the good trials cluster).
    features = Features(Space({"x": tw.Float(0.0, 1.0)}))
    assert BANDWIDTH_FLOOR == 0.5
    for n in (3, 20, 300):
        parzen = Parzen(features, np.full((n, 1), 0.4), floor=BANDWIDTH_FLOOR)
        np.testing.assert_allclose(parzen.bandwidth, 0.5 / min(100, n + 2))


def test_a_discrete_kernel_always_reaches_the_neighbouring_value() -> None:
    features = Features(Space({"k": tw.Int(1, 5)}))
    width = Parzen(features, np.full((50, 1), 0.5), floor=0.5).bandwidth
    # Five values at unit 0.1, 0.3, ..., 0.9: never narrower than half their spacing (the
    # floor alone would allow 0.5 / 52).
    assert np.all(width >= 0.5 * 0.2 - 1e-12)


def test_the_good_density_leans_toward_the_best_trials() -> None:
    w = good_weights(10)
    assert w[0] == 1.0 and np.all(np.diff(w) < 0) and w[-1] > 0.3
    # Two clusters of good trials, the better first: l(x) is higher at the best cluster.
    features = Features(Space({"x": tw.Float(0.0, 1.0)}))
    x = np.array([[0.2], [0.21], [0.8], [0.81]] + [[v] for v in np.linspace(0, 1, 36)])
    y = np.array([0.0, 0.1, 0.2, 0.3] + [1.0] * 36)
    good, _ = _estimators(features, x, y, np.zeros((0, 1)))
    assert len(good.rows) == n_good(40) == 4
    at = good.log_pdf(np.array([[0.205], [0.805]]))
    assert at[0] > at[1] + 0.1


# Statistical test: over SEEDS seeds, tpe must reach a lower Branin value than random search
# after TRIALS trials in at least WINS of them. Were tpe no better than random (a fair coin per
# seed), passing would have probability ALPHA ~= 2.6e-4 (one-sided sign test). tpe won 20 of 20
# seeds when this was written; with a per-seed win rate of 0.98 a correct tpe would still fail
# on a given set of seeds with probability ~4%, and with the seeds fixed a failure reproduces.
SEEDS, TRIALS, WINS = 16, 60, 15
ALPHA = binomtest(WINS, SEEDS, 0.5, alternative="greater").pvalue


def test_tpe_beats_random_search_on_branin() -> None:
    assert ALPHA < 1e-3
    wins = sum(
        best(run("tpe", BRANIN_SPACE, branin, TRIALS, seed=seed))
        < best(run("random", BRANIN_SPACE, branin, TRIALS, seed=seed))
        for seed in range(SEEDS)
    )
    assert wins >= WINS


# Statistical test of tpe's departures from Optuna's TPE (half the magic clip, rank-weighted
# good trials, 48 candidates): on a 4-D bowl, after BOWL_TRIALS trials, tpe must end lower than
# the same code with Optuna's settings (clip 1, flat weights, 24 candidates) on at least
# BOWL_WINS of BOWL_SEEDS seeds. Were the departures no help (a fair coin per seed), passing
# would have probability ~0.032 (one-sided sign test); they won 21 of 24 when this was written,
# and at a per-seed win rate of 0.875 a correct tpe fails with probability ~0.007 (~0.09 at
# 0.8; with the seeds fixed, a failure reproduces).
BOWL_SEEDS, BOWL_TRIALS, BOWL_WINS = 24, 60, 17
BOWL_SPACE = Space({f"x{i}": tw.Float(-2.0, 2.0) for i in range(4)})
BOWL_CENTRE = np.array([0.5, -1.0, 1.2, 0.3])


def bowl(p: dict[str, float]) -> float:
    x = np.array([p[f"x{i}"] for i in range(4)])
    return float(np.sum((x - BOWL_CENTRE) ** 2))


def test_tpe_refines_a_bowl_better_than_with_optunas_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert binomtest(BOWL_WINS, BOWL_SEEDS, 0.5, alternative="greater").pvalue < 0.05
    ours = [best(run("tpe", BOWL_SPACE, bowl, BOWL_TRIALS, seed=s)) for s in range(BOWL_SEEDS)]
    monkeypatch.setattr(tpe, "N_CANDIDATES", 24)
    monkeypatch.setattr(tpe, "BANDWIDTH_FLOOR", 1.0)
    monkeypatch.setattr(tpe, "good_weights", lambda k: np.ones(k))
    optunas = [best(run("tpe", BOWL_SPACE, bowl, BOWL_TRIALS, seed=s)) for s in range(BOWL_SEEDS)]
    assert sum(a < b for a, b in zip(ours, optunas, strict=True)) >= BOWL_WINS
