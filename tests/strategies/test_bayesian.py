"""The ``bayesian`` strategy: its numerical parts (logEI, GP gradients, warping), its safety
nets (model failure, long histories) and a statistical test that it beats random search."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.stats import binomtest, norm

import tunewise as tw
from tests.strategies.strategy_helpers import (
    BRANIN_MIN,
    BRANIN_SPACE,
    MINIMIZE,
    best,
    branin,
    rich_loss,
    rich_space,
    run,
)
from tunewise.space import Space
from tunewise.strategies import bayesian, get_strategy, strategy_rng
from tunewise.strategies.acquisition import distance_to_data, log_ei, log_ei_with_grad, log_h
from tunewise.strategies.gp import (
    GaussianProcess,
    _neg_log_posterior,
    _pair_terms,
    lengthscale_prior,
)
from tunewise.strategies.warping import warp
from tunewise.trial import Trial, TrialState


def test_initial_design_grows_with_dimension_within_bounds() -> None:
    sizes = [bayesian.initial_design_size(d) for d in (1, 2, 3, 6, 8, 20)]
    assert sizes == sorted(sizes)
    assert min(sizes) >= 5 and max(sizes) <= 10


def test_log_h_is_exact_where_direct_formula_is_stable_and_finite_everywhere() -> None:
    z = np.array([-30.0, -5.0, -1.0001, -0.9999, 0.0, 2.5, 30.0])
    direct = np.log(norm.pdf(z) + z * norm.cdf(z))
    value, _ = log_h(z)
    np.testing.assert_allclose(value, direct, rtol=1e-9)
    far = np.array([-1e3, -1e6, -1e10, -1e200])
    value, grad = log_h(far)
    assert np.all(np.isfinite(value)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, np.minimum(-far, 1e150), rtol=1e-5)  # ~ |z| far left


def test_log_h_gradient_matches_finite_differences() -> None:
    for z0 in (-40.0, -3.0, -1.0, -0.2, 0.7, 6.0):
        _, grad = log_h(np.array([z0]))
        step = 1e-6
        numeric = (log_h(np.array([z0 + step]))[0] - log_h(np.array([z0 - step]))[0]) / (2 * step)
        assert grad[0] == pytest.approx(numeric[0], rel=1e-5)


def _toy_gp() -> tuple[GaussianProcess, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.random((25, 3))
    categorical = np.array([False, True, False])
    x[:, 1] = rng.integers(0, 3, 25)
    y = np.sin(4 * x[:, 0]) + 0.5 * x[:, 1] - x[:, 2] ** 2
    y = (y - y.mean()) / y.std()
    return GaussianProcess.fit(x, y, categorical), categorical


def test_marginal_likelihood_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((20, 3))
    categorical = np.array([False, False, True])
    x[:, 2] = rng.integers(0, 4, 20)
    y = rng.standard_normal(20)
    terms = _pair_terms(x, x, categorical)
    mu, sigma = lengthscale_prior(3)
    theta = np.array([np.log(0.3), np.log(0.8), np.log(1.5), 0.2, np.log(1e-3)])

    def value(t: np.ndarray) -> float:
        return _neg_log_posterior(t, terms, y, mu, sigma)[0]

    _, grad = _neg_log_posterior(theta, terms, y, mu, sigma)
    np.testing.assert_allclose(grad, approx_fprime(theta, value, 1e-6), rtol=1e-4, atol=1e-4)


def test_posterior_and_log_ei_gradients_match_finite_differences() -> None:
    gp, categorical = _toy_gp()
    rows = np.array([[0.3, 1.0, 0.6], [0.8, 2.0, 0.1]])
    mean, var, dmean, _ = gp.predict_with_grad(rows)
    m2, v2 = gp.predict(rows)
    np.testing.assert_allclose(mean, m2, rtol=1e-10)
    np.testing.assert_allclose(var, v2, rtol=1e-8)
    assert np.all(dmean[:, categorical] == 0.0)
    threshold = float(np.min(gp.mean_at_data()))
    values, grads = log_ei_with_grad(gp, rows, threshold)
    np.testing.assert_allclose(values, log_ei(gp, rows, threshold), rtol=1e-10)
    for i, row in enumerate(rows):
        for j in (0, 2):

            def along(u: np.ndarray, i: int = i, j: int = j) -> float:
                moved = rows[i].copy()
                moved[j] = u[0]
                return float(log_ei(gp, moved[None, :], threshold)[0])

            numeric = approx_fprime(np.array([row[j]]), along, 1e-7)[0]
            assert grads[i, j] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_categories_are_unordered_in_the_kernel() -> None:
    x = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0]])
    terms = _pair_terms(x, x, np.array([False, True]))
    assert terms[0, 1, 1] == terms[0, 2, 1] == 1.0  # choice 0 is as far from 1 as from 2


def test_warping_keeps_order_and_tames_extremes() -> None:
    y = np.array([3.0, 0.5, 1e300, 2.0, -1.0, 7.0, 1e6, 0.0])
    w = warp(y)
    assert np.all(np.isfinite(w))
    assert list(np.argsort(w, kind="stable")) == list(np.argsort(y, kind="stable"))
    assert abs(w.mean()) < 1e-9 and w.max() < 4.0  # standardised; outliers no longer dominate
    assert np.all(warp(np.full(6, 2.5)) == 0.0)


def test_a_numerical_failure_of_the_model_gives_a_random_new_point(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> GaussianProcess:
        raise np.linalg.LinAlgError("not positive definite")

    space = rich_space()
    history = run("bayesian", space, rich_loss, 12, seed=0)
    monkeypatch.setattr(GaussianProcess, "fit", broken)
    strategy = get_strategy("bayesian")(MINIMIZE, 0)
    with caplog.at_level(logging.WARNING, logger="tunewise.strategies.bayesian"):
        out = strategy.suggest(space, history, [], 2, strategy_rng(0, 12))
    assert len(out) == 2 and all(space.validate(p) == p for p in out)
    assert any("model failed" in r.getMessage() for r in caplog.records)


def test_a_long_history_is_subsampled_for_the_gp(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    original = GaussianProcess.fit

    def spy(x: np.ndarray, y: np.ndarray, *args: object, **kwargs: object) -> GaussianProcess:
        sizes.append(len(x))
        return original(x, y, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GaussianProcess, "fit", staticmethod(spy))
    space = Space({"a": tw.Float(0.0, 1.0), "b": tw.Float(0.0, 1.0), "c": tw.Int(1, 50)})
    rng = np.random.default_rng(0)
    history = []
    for i in range(bayesian.MAX_GP_POINTS * 3):
        params = space.decode(rng.random(3).tolist())
        loss = (params["a"] - 0.3) ** 2 + (params["b"] - 0.6) ** 2 + params["c"] / 500
        history.append(Trial(1, i, TrialState.COMPLETED, params, value=loss))
    strategy = get_strategy("bayesian")(MINIMIZE, 0)
    (params,) = strategy.suggest(space, history, [], 1, strategy_rng(0, len(history)))
    assert sizes == [bayesian.MAX_GP_POINTS]
    assert space.validate(params) == params


# Statistical test: over SEEDS seeds, bayesian must reach a lower Branin value than random
# search after TRIALS trials in at least WINS of them. Were bayesian no better than random
# (a fair coin per seed), passing would have probability ALPHA < 1e-3 (one-sided sign test);
# bayesian's per-seed win rate here is ~1 (10^-2-level regret against random's ~1), so with a
# win probability of even 0.99 the test fails falsely with probability 1 - P(>= 13 of 14) < 1%,
# and with the seeds fixed any failure reproduces exactly.
SEEDS, TRIALS, WINS = 14, 20, 13
ALPHA = binomtest(WINS, SEEDS, 0.5, alternative="greater").pvalue


def test_bayesian_beats_random_search_on_branin() -> None:
    assert ALPHA < 1e-3
    wins = 0
    for seed in range(SEEDS):
        gp_best = best(run("bayesian", BRANIN_SPACE, branin, TRIALS, seed=seed))
        random_best = best(run("random", BRANIN_SPACE, branin, TRIALS, seed=seed))
        wins += gp_best < random_best
        assert math.isfinite(gp_best) and gp_best >= BRANIN_MIN - 1e-9
    assert wins >= WINS


def test_the_trust_region_narrows_in_the_budgets_last_rounds() -> None:
    wide, narrow = bayesian.trust_radius(None, 1), bayesian.LATE_TRUST_RADIUS
    assert narrow < wide
    assert bayesian.trust_radius(None, 4) == wide  # no budget: never narrows
    last = bayesian.LATE_ROUNDS
    assert bayesian.trust_radius(last + 1, 1) == wide
    assert bayesian.trust_radius(last, 1) == bayesian.trust_radius(1, 1) == narrow
    # 4 at once: the rounds run out 4 times as fast, counted in trials
    assert bayesian.trust_radius(4 * last + 1, 4) == wide
    assert bayesian.trust_radius(4 * last, 4) == narrow


def _distance_to_data(space: Space, history: list[Trial], params: dict[str, object]) -> float:
    """L-infinity distance, in the unit cube, from ``params`` to the nearest trial's (as the
    trust region measures it)."""
    point = np.array([space.encode(params)])
    data = np.array([space.encode(t.params) for t in history])
    return float(distance_to_data(point, data)[0])


def test_the_last_suggestions_of_a_budget_stay_near_the_trials() -> None:
    """Trials in one corner, the loss falling away from it: without a budget the pick goes as
    far as the trust region lets it; with the budget's last trial to suggest (alone, or as one
    of 4 at once with fewer than LATE_ROUNDS rounds left) it stays within the narrow region."""
    space = Space({"a": tw.Float(0.0, 1.0), "b": tw.Float(0.0, 1.0)})
    corner = [(a, b) for a in (0.0, 0.1, 0.2, 0.3) for b in (0.0, 0.15, 0.3)]
    history = [
        Trial(1, i, TrialState.COMPLETED, {"a": a, "b": b}, value=-(a + b))
        for i, (a, b) in enumerate(corner)
    ]
    strategy = get_strategy("bayesian")(MINIMIZE, 0)
    for seed in range(3):
        (free,) = strategy.suggest(space, history, [], 1, strategy_rng(seed, 12))
        (last,) = strategy.suggest(space, history, [], 1, strategy_rng(seed, 12), remaining=1)
        assert _distance_to_data(space, history, free) > 0.2
        assert _distance_to_data(space, history, last) <= bayesian.LATE_TRUST_RADIUS
    pending = [Trial(1, 12 + i, TrialState.RUNNING, {"a": 0.05, "b": 0.05 * i}) for i in range(3)]
    late = bayesian.LATE_ROUNDS * 4
    (early,) = strategy.suggest(space, history, pending, 1, strategy_rng(0, 15), remaining=late + 1)
    (near,) = strategy.suggest(space, history, pending, 1, strategy_rng(0, 15), remaining=late)
    assert _distance_to_data(space, history + pending, early) > 0.2
    assert _distance_to_data(space, history + pending, near) <= bayesian.LATE_TRUST_RADIUS


def test_the_fence_clips_only_a_far_bad_tail_and_standardises() -> None:
    from tunewise.strategies.warping import fence, standardise

    ordinary = np.array([0.0, 1.0, 2.0, 5.0, 40.0, 80.0])  # a wide but ordinary spread
    assert np.allclose(fence(ordinary), standardise(ordinary))
    diverged = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 1e10])
    out = fence(diverged)
    assert np.all(np.diff(out) > 0)  # the order is kept
    # The diverged run sits at the fence (q3 + 5 iqr = 1.4 here), not 1e10 away: the good
    # values keep their spacing instead of collapsing onto one point.
    assert out[4] - out[0] > 0.5


_MOVING = {  # each optimizer's own optimum (x, y, log10 lr) and its floor
    "adam": (1.5, -2.0, -3.0, 0.0),
    "rmsprop": (-1.0, 2.5, -3.5, 0.5),
    "momentum": (3.0, 3.0, -2.0, 1.0),
    "sgd": (-3.5, -1.0, -1.5, 2.0),
}
_MOVING_SPACE = Space(
    {
        "x": tw.Float(-5.0, 5.0),
        "y": tw.Float(-5.0, 5.0),
        "lr": tw.Float(1e-5, 1.0, scale="log"),
        "opt": tw.Categorical(["sgd", "momentum", "adam", "rmsprop"]),
    }
)


def _moving_optimum(p: dict[str, object]) -> float:
    cx, cy, cl, floor = _MOVING[str(p["opt"])]
    lr = float(p["lr"])  # type: ignore[arg-type]
    x, y = float(p["x"]), float(p["y"])  # type: ignore[arg-type]
    return floor + (x - cx) ** 2 + (y - cy) ** 2 + (math.log10(lr) - cl) ** 2


def test_the_model_climbs_another_choices_slope_when_the_optimum_moves_with_it() -> None:
    """The public ``mixed`` problem in small: the continuous optimum moves with the
    categorical, and only adam reaches below 0.5. Measured over seeds 0-7 at 40 trials, the
    fenced values reach below 0.5 on 7 of 8 seeds, the warped ones (before) on 1 of 8. The test
    asks for 4 of 6: it fails with probability about 0.03 at 7/8 per seed (the false-failure
    rate) and passes the warped model's 1/8 with probability 0.003."""
    below = 0
    for seed in range(6):
        below += best(run("bayesian", _MOVING_SPACE, _moving_optimum, 40, seed)) < 0.5
    assert below >= 4, f"below 0.5 on {below} of 6 seeds"


def test_a_noisy_flat_objective_is_modelled_on_fenced_values() -> None:
    """Warped values suit a deterministic objective; when the GP on them calls a large share
    of the values noise (a cross-validated loss), it is refitted to fenced values instead.
    Both sides of the switch, on the same rows: smooth values stay warped."""
    from tunewise.strategies.features import Features
    from tunewise.strategies.warping import fence

    space = Space({f"x{i}": tw.Float(0.0, 1.0) for i in range(3)})
    features = Features(space)
    rng = np.random.default_rng(0)
    x = features.random(rng, 30)
    smooth = np.sum((x - 0.3) ** 2, axis=1)
    model = bayesian._Model(features, x, smooth, np.random.default_rng(1))
    assert not bayesian.noisy(model.gp)
    assert np.allclose(model.gp.y, warp(smooth))
    # Each configuration run three times with scattered results: no smooth function
    # interpolates that, so the GP on warped values calls much of it noise.
    x = np.repeat(x[:10], 3, axis=0)
    scattered = np.sum((x - 0.3) ** 2, axis=1) + 0.3 * rng.standard_normal(len(x))
    model = bayesian._Model(features, x, scattered, np.random.default_rng(1))
    assert np.allclose(model.gp.y, fence(scattered))
    assert not np.allclose(fence(scattered), warp(scattered))
