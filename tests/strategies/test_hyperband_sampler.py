"""Hyperband's ``sampler: bayesian`` (model-based Hyperband, as BOHB): one budget per model."""

from __future__ import annotations

from typing import Any

import pytest

import tunewise as tw
from tests.strategies.strategy_helpers import MINIMIZE
from tunewise.space import Space
from tunewise.strategies import get_strategy, strategy_rng
from tunewise.strategies.hyperband import same_budget_history
from tunewise.trial import Trial, TrialState

SPACE = Space({"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)})


def _trial(number: int, x: float, y: float, value: float, step: int) -> Trial:
    return Trial(1, number, TrialState.STOPPED, {"x": x, "y": y}, value=value, last_step=step)


def _history() -> list[Trial]:
    """Eight trials stopped at budget 3 (best near x = 0.8) and three that went on to 9 whose
    values, on another scale, point the other way (best near x = 0.1)."""
    low = [
        _trial(i, x, y, (x - 0.8) ** 2 + (y - 0.5) ** 2, 3)
        for i, (x, y) in enumerate(
            [
                (0.1, 0.1),
                (0.3, 0.9),
                (0.5, 0.4),
                (0.7, 0.6),
                (0.9, 0.2),
                (0.2, 0.5),
                (0.6, 0.8),
                (0.85, 0.45),
            ]
        )
    ]
    high = [_trial(8 + i, x, 0.5, -10 + x, 9) for i, x in enumerate((0.1, 0.5, 0.9))]
    return low + high


def _hyperband(sampler: str) -> Any:
    return get_strategy("hyperband")(MINIMIZE, 7, {"sampler": sampler})


def test_the_model_sees_one_budget_only() -> None:
    history = _history()
    fitted = same_budget_history(history, min_points=len(SPACE) + 2)
    assert sorted(t.number for t in fitted) == list(range(8))  # budget 9 has too few trials
    picks = _hyperband("bayesian").suggest(SPACE, history, [], 4, strategy_rng(7, len(history)))
    assert len(picks) == 4
    # Fitted on budget 3, the suggestions go where budget 3 was best, not where budget 9's
    # values (never mixed in) would send them.
    assert sum(abs(p["x"] - 0.8) < 0.3 for p in picks) >= 3
    tried = {(t.params["x"], t.params["y"]) for t in history}
    assert not tried & {(p["x"], p["y"]) for p in picks}


def test_without_enough_trials_of_one_budget_it_draws_at_random() -> None:
    history = _history()[:3] + _history()[8:]
    rng_seed = len(history)
    picks = _hyperband("bayesian").suggest(SPACE, history, [], 3, strategy_rng(7, rng_seed))
    random = get_strategy("random")(MINIMIZE, 7)
    assert picks == random.suggest(SPACE, history, [], 3, strategy_rng(7, rng_seed))


def _curve(params: dict[str, Any], trial: Any) -> float | None:
    value = 0.0
    for epoch in range(1, params["epochs"] + 1):
        value = 1.0 - (params["q"] - 0.7) ** 2 - 0.5**epoch
        trial.report(value, epoch)
        if trial.should_stop():
            return None
    return value


@pytest.mark.timeout(120)
def test_a_bayesian_hyperband_study_runs_to_the_end() -> None:
    study = tw.create_study(
        "bohb",
        objective=tw.Objective("acc", "maximize"),
        space={"q": tw.Float(0.0, 1.0)},
        strategy="hyperband",
        hyperband={"sampler": "bayesian", "max_resource": 9, "reduction_factor": 3},
        static={"epochs": 9},
        seed=4,
    )
    study.optimize(_curve, max_trials=30)
    states = {t.state for t in study.trials}
    assert len(study.trials) == 30 and states <= {TrialState.COMPLETED, TrialState.STOPPED}
    assert study.best_params is not None and abs(study.best_params["q"] - 0.7) < 0.1
    assert any(t.state == TrialState.STOPPED for t in study.trials)
