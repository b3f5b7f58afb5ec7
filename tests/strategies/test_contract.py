"""The contract every strategy passes: bounds and types, determinism for a seed (across
processes), distinct parallel suggestions where the space allows, no state between calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

import tunewise as tw
from tunewise.space import Space
from tunewise.strategies import get_strategy, strategy_names, strategy_rng
from tunewise.trial import Trial, TrialState

OBJECTIVE = tw.Objective("score", "maximize")


def mixed_space() -> Space:
    return Space(
        {
            "lr": tw.Float(1e-4, 1e-1, scale="log", num=4),
            "momentum": tw.Float(0.5, 0.99, scale="reverse_log", num=3),
            "layers": tw.Int(1, 3),
            "nodes": tw.Int(16, 256, scale="log", num=3),
            "act": tw.Categorical(["relu", "tanh"]),
        },
        static={"solver": "sgd"},
    )


def conditional_space() -> Space:
    """A tree: the solver brings its own parameters; ``nesterov`` brings ``damping``."""
    return Space(
        {
            "lr": tw.Float(1e-4, 1e-1, scale="log", num=4),
            "solver": tw.Categorical(["sgd", "adam", "lbfgs"]),
            "momentum": tw.Float(0.5, 0.99, scale="reverse_log", num=3, when={"solver": ["sgd"]}),
            "nesterov": tw.Categorical([True, False], when={"solver": ["sgd"]}),
            "damping": tw.Int(1, 4, when={"nesterov": [True]}),
            "beta1": tw.Float(0.8, 0.99, num=3, when={"solver": ["adam"]}),
            "layers": tw.Int(1, 3),
        },
        static={"epochs": 3},
    )


SPACES = {"mixed": mixed_space, "conditional": conditional_space}


def completed(space: Space, suggestions: list[dict[str, Any]], start: int = 0) -> list[Trial]:
    return [
        Trial(1, start + i, TrialState.COMPLETED, p, value=float(i % 7))
        for i, p in enumerate(suggestions)
    ]


def run_strategy(
    name: str, seed: int, rounds: int = 4, n: int = 3, space_name: str = "mixed"
) -> list[dict[str, Any]]:
    """Suggest in rounds, feeding the results back as history (what the tuner does)."""
    space = SPACES[space_name]()
    strategy = get_strategy(name)(OBJECTIVE, seed)
    history: list[Trial] = []
    out: list[dict[str, Any]] = []
    for _ in range(rounds):
        batch = strategy.suggest(space, history, [], n, strategy_rng(seed, len(history)))
        history += completed(space, batch, start=len(history))
        out += batch
    return out


@pytest.mark.parametrize("name", strategy_names())
def test_suggestions_are_valid_values_of_the_space(name: str) -> None:
    space = mixed_space()
    for params in run_strategy(name, seed=3):
        assert set(params) == set(space.names)
        assert space.validate(params) == params
        assert isinstance(params["layers"], int) and isinstance(params["nodes"], int)
        assert isinstance(params["lr"], float)


@pytest.mark.parametrize("name", strategy_names())
def test_conditional_suggestions_hold_exactly_the_active_parameters(name: str) -> None:
    space = conditional_space()
    suggestions = run_strategy(name, seed=3, rounds=5, space_name="conditional")
    for params in suggestions:
        assert space.validate(params) == params  # every active one, no inactive one
        assert list(params) == [n for n in space.names if n in params]
        assert set(params) == set(space.active_names(params))
    solvers = {p["solver"] for p in suggestions}
    assert len(solvers) >= 2, solvers


@pytest.mark.parametrize("space_name", sorted(SPACES))
@pytest.mark.parametrize("name", strategy_names())
def test_same_seed_same_history_same_suggestions_across_processes(
    name: str, space_name: str
) -> None:
    here = run_strategy(name, seed=11, space_name=space_name)
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    code = (
        f"import json, sys; sys.path.insert(0, {root!r}); "
        "from tests.strategies.test_contract import run_strategy; "
        f"print(json.dumps(run_strategy({name!r}, seed=11, space_name={space_name!r})))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout) == json.loads(json.dumps(here))


@pytest.mark.parametrize("name", strategy_names())
def test_different_seeds_give_different_suggestions(name: str) -> None:
    assert run_strategy(name, seed=1) != run_strategy(name, seed=2)


@pytest.mark.parametrize("name", strategy_names())
def test_parallel_suggestions_are_distinct(name: str) -> None:
    space = Space({"x": tw.Float(0.0, 1.0, num=50), "y": tw.Float(0.0, 1.0, num=50)})
    strategy = get_strategy(name)(OBJECTIVE, 5)
    first = strategy.suggest(space, [], [], 4, strategy_rng(5, 0))
    pending = [Trial(1, i, TrialState.RUNNING, p) for i, p in enumerate(first)]
    second = strategy.suggest(space, [], pending, 4, strategy_rng(5, 4))
    keys = [json.dumps(p, sort_keys=True) for p in first + second]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", strategy_names())
def test_parallel_suggestions_are_distinct_on_a_tree(name: str) -> None:
    space = conditional_space()
    strategy = get_strategy(name)(OBJECTIVE, 5)
    first = strategy.suggest(space, [], [], 4, strategy_rng(5, 0))
    pending = [Trial(1, i, TrialState.RUNNING, p) for i, p in enumerate(first)]
    second = strategy.suggest(space, [], pending, 4, strategy_rng(5, 4))
    keys = [json.dumps(p, sort_keys=True) for p in first + second]
    assert len(set(keys)) == len(keys)
    for params in first + second:
        assert space.validate(params) == params


def test_grid_on_a_tree_visits_each_valid_combination_once_then_stops() -> None:
    space = conditional_space()
    strategy = get_strategy("grid")(OBJECTIVE, 0)
    total = strategy.default_max_trials(space)
    # lr 4 x layers 3 x (sgd: momentum 3 x (nesterov: damping 4 + 1) | adam: beta1 3 | lbfgs 1)
    assert total == 4 * 3 * (3 * 5 + 3 + 1)
    history: list[Trial] = []
    pending: list[Trial] = []
    while True:
        batch = strategy.suggest(space, history, pending, 7, strategy_rng(0, 0))
        if not batch:
            break
        history += [
            Trial(1, len(history) + i, TrialState.COMPLETED, t.params)
            for i, t in enumerate(pending)
        ]
        pending = [Trial(1, 10_000 + i, TrialState.RUNNING, p) for i, p in enumerate(batch)]
    history += [
        Trial(1, len(history) + i, TrialState.COMPLETED, t.params) for i, t in enumerate(pending)
    ]
    keys = [json.dumps(t.params, sort_keys=True) for t in history]
    assert len(keys) == total == len(set(keys))
    assert set(keys) == {json.dumps(c, sort_keys=True) for c in space.grid_combinations()}


def test_grid_visits_every_point_exactly_once_then_stops() -> None:
    space = mixed_space()
    strategy = get_strategy("grid")(OBJECTIVE, 0)
    total = strategy.default_max_trials(space)
    assert total == 4 * 3 * 3 * 3 * 2
    history: list[Trial] = []
    pending: list[Trial] = []
    while True:
        batch = strategy.suggest(space, history, pending, 5, strategy_rng(0, 0))
        if not batch:
            break
        # half of each batch stays pending one more round, as with parallel trials
        history += [
            Trial(1, len(history) + i, TrialState.FAILED, t.params) for i, t in enumerate(pending)
        ]
        pending = [Trial(1, 10_000 + i, TrialState.RUNNING, p) for i, p in enumerate(batch)]
    history += [
        Trial(1, len(history) + i, TrialState.COMPLETED, t.params) for i, t in enumerate(pending)
    ]
    keys = [json.dumps(t.params, sort_keys=True) for t in history]
    assert len(keys) == total
    assert len(set(keys)) == total
    axes = space.grid_points()
    expected = {
        json.dumps(dict(zip(space.names, combo, strict=True)), sort_keys=True)
        for combo in __import__("itertools").product(*axes)
    }
    assert set(keys) == expected


def test_sobol_covers_the_unit_square_evenly() -> None:
    space = Space({"x": tw.Float(0.0, 1.0), "y": tw.Float(0.0, 1.0)})
    strategy = get_strategy("sobol")(OBJECTIVE, 0)
    points = strategy.suggest(space, [], [], 64, strategy_rng(0, 0))
    # 64 Sobol points put exactly one point in each cell of an 8 x 8 grid.
    cells = {(int(p["x"] * 8), int(p["y"] * 8)) for p in points}
    assert len(cells) == 64


def test_unknown_strategy_names_the_field() -> None:
    with pytest.raises(tw.SpecError, match=r"^strategy: unknown strategy 'bogus'"):
        get_strategy("bogus")


# Several objectives and constraints (issue 23) -------------------------------------------------
MO_OBJECTIVES = (tw.Objective("score", "maximize"), tw.Objective("cost", "minimize"))
MO_CONSTRAINTS = (tw.Constraint("memory", max=5.0),)


def run_multi_objective(name: str, seed: int, rounds: int = 3, n: int = 3) -> list[dict[str, Any]]:
    """As :func:`run_strategy`, on a study with two objectives and a constraint."""
    space = mixed_space()
    strategy = get_strategy(name)(
        OBJECTIVE, seed, objectives=MO_OBJECTIVES, constraints=MO_CONSTRAINTS
    )
    history: list[Trial] = []
    out: list[dict[str, Any]] = []
    for _ in range(rounds):
        batch = strategy.suggest(space, history, [], n, strategy_rng(seed, len(history)))
        for params in batch:
            i = len(history)
            metrics = {"score": float(i % 5), "cost": float((i * 3) % 7), "memory": float(i % 9)}
            history.append(Trial(1, i, TrialState.COMPLETED, params, metrics["score"], metrics))
        out += batch
    return out


@pytest.mark.parametrize("name", strategy_names())
def test_multi_objective_suggestions_are_valid_deterministic_and_distinct(name: str) -> None:
    if not get_strategy(name).multi_objective:
        with pytest.raises(tw.SpecError) as info:
            get_strategy(name)(OBJECTIVE, 0, objectives=MO_OBJECTIVES)
        assert info.value.field == "strategy"
        return
    space = mixed_space()
    first = run_multi_objective(name, seed=5)
    assert first == run_multi_objective(name, seed=5)
    for params in first:
        assert space.validate(params) == params
    for start in range(0, len(first), 3):
        batch = [json.dumps(p, sort_keys=True) for p in first[start : start + 3]]
        assert len(set(batch)) == len(batch)
