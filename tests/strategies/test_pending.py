"""Suggestions made while trials are pending (``bayesian``): the acquisition of
:mod:`tunewise.strategies.pending`, its gradient, and that the batch path is the one taken
beside pending trials (and never without them)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from tests.strategies.strategy_helpers import BRANIN_SPACE, MINIMIZE, branin, run
from tunewise.strategies import get_strategy, pending, strategy_rng
from tunewise.strategies.features import Features
from tunewise.strategies.gp import GaussianProcess
from tunewise.strategies.warping import warp
from tunewise.trial import Trial, TrialState

SEED = 4


@pytest.fixture(scope="module")
def history() -> list[Trial]:
    """25 sequential branin trials: past the initial design, the model refines an incumbent."""
    return run("bayesian", BRANIN_SPACE, branin, 25, SEED)


@pytest.fixture(scope="module")
def fitted(history: list[Trial]) -> tuple[GaussianProcess, np.ndarray, np.ndarray]:
    """The GP fitted to the history's warped values, with its rows and those values."""
    features = Features(BRANIN_SPACE)
    obs = features.observations(history, MINIMIZE)
    y = warp(obs.y)
    return GaussianProcess.fit(obs.x, y, features.categorical), obs.x, y


def _running(params: list[dict[str, Any]], start: int = 100) -> list[Trial]:
    return [Trial(1, start + i, TrialState.RUNNING, p) for i, p in enumerate(params)]


def _unit(params: dict[str, Any]) -> np.ndarray:
    return np.array(BRANIN_SPACE.encode(params))


def _suggest(history: list[Trial], running: list[Trial], n: int) -> list[dict[str, Any]]:
    strategy = get_strategy("bayesian")(MINIMIZE, SEED)
    return strategy.suggest(BRANIN_SPACE, history, running, n, strategy_rng(SEED, len(history)))


def test_pending_acquisition_gradient_matches_finite_differences(
    fitted: tuple[GaussianProcess, np.ndarray, np.ndarray],
) -> None:
    gp, x, y = fitted
    best = float(np.min(gp.mean_at_data()))
    incumbent = x[np.argmin(y)]
    waiting = np.clip(incumbent + np.array([[0.02, -0.01], [-0.03, 0.02], [0.3, 0.4]]), 0, 1)
    acquisition = pending.PendingLogEI(gp, waiting, best, np.random.default_rng(0))
    rows = np.clip(incumbent + np.array([[0.01, 0.01], [-0.05, 0.04], [0.2, -0.1]]), 0, 1)
    values, grads = acquisition.value_with_grad(rows)
    np.testing.assert_allclose(values, acquisition.value(rows), rtol=1e-9)
    for row, grad in zip(rows, grads, strict=True):

        def at(u: np.ndarray) -> float:
            return float(acquisition.value(u[None, :])[0])

        np.testing.assert_allclose(grad, approx_fprime(row, at, 1e-7), rtol=1e-3, atol=1e-3)


def test_a_trial_pending_at_the_sequential_choice_sends_the_next_one_elsewhere(
    history: list[Trial],
) -> None:
    # What the sequential run would suggest now, already running: with the pending trial
    # ignored, the next-best candidate is a twin of it (the optimiser's refined optima).
    choice = _suggest(history, [], 1)[0]
    beside = _suggest(history, _running([choice]), 1)[0]
    assert np.max(np.abs(_unit(beside) - _unit(choice))) > 1e-3


def test_a_batch_beside_pending_trials_is_distinct_spread_and_reproducible(
    history: list[Trial],
) -> None:
    waiting = _running(_suggest(history, [], 3))
    batch = _suggest(history, waiting, 4)
    assert batch == _suggest(history, waiting, 4)
    points = np.array([_unit(p) for p in [t.params for t in waiting] + batch])
    gaps = np.max(np.abs(points[:, None, :] - points[None, :, :]), axis=2)
    np.fill_diagonal(gaps, np.inf)
    assert gaps.min() > 1e-4  # no two of the seven running at (nearly) one point


def test_only_suggestions_beside_pending_trials_use_the_pending_acquisition(
    history: list[Trial], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Refused(Exception):
        pass

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise Refused

    monkeypatch.setattr(pending.PendingLogEI, "__init__", refuse)
    assert len(_suggest(history, [], 1)) == 1  # sequential: plain log EI, as before
    with pytest.raises(Refused):
        _suggest(history, _running([_suggest(history, [], 1)[0]]), 1)


def test_the_pending_values_are_drawn_with_the_tempered_posterior_spread(
    fitted: tuple[GaussianProcess, np.ndarray, np.ndarray],
) -> None:
    gp = fitted[0]
    waiting = np.array([[0.1, 0.2], [0.5, 0.5], [0.9, 0.7]])
    draws = 20_000
    acquisition = pending.PendingLogEI(gp, waiting, 0.0, np.random.default_rng(0), draws)
    posterior_sd = np.sqrt(np.diag(gp.covariance(waiting, waiting)))
    # 20,000 draws: a sample sd's standard error is 0.5%, so 2% is 4 of them (and the
    # generator is seeded: the same draws every run).
    spread = np.std(acquisition.delta, axis=0) / posterior_sd
    np.testing.assert_allclose(spread, pending.DRAW_SCALE, rtol=0.02)
    assert np.allclose(np.mean(acquisition.delta, axis=0), 0.0)  # antithetic pairs
