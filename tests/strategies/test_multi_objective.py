"""Several objectives and constraints in the model strategies (issue 23): the exact EHVI's box
decomposition against brute force, the acquisition's gradient, every strategy's contract on a
multi-objective constrained study, ``bayesian`` beating random on hypervolume, and constrained
suggestions favouring the feasible region."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

import tunewise as tw
from tunewise.pareto import hypervolume, hypervolume_contributions, pareto_front
from tunewise.space import Space
from tunewise.strategies import get_strategy, strategy_names, strategy_rng
from tunewise.strategies.feasibility import _spread, outcomes, preference_order
from tunewise.strategies.features import Features
from tunewise.strategies.gp import GaussianProcess
from tunewise.strategies.multi_objective import LogEHVIPoF, box_decomposition
from tunewise.trial import Trial, TrialState

OBJECTIVES = (tw.Objective("f0", "minimize"), tw.Objective("f1", "minimize"))
MO_STRATEGIES = [n for n in strategy_names() if get_strategy(n).multi_objective]


def zdt1(p: Mapping[str, Any]) -> dict[str, float]:
    """ZDT1 on three variables, plus ``x1 + x2`` as a metric to constrain."""
    x = [p["x0"], p["x1"], p["x2"]]
    g = 1.0 + 9.0 * (x[1] + x[2]) / 2.0
    return {"f0": x[0], "f1": g * (1.0 - math.sqrt(x[0] / g)), "load": x[1] + x[2]}


def unit_space(d: int = 3, num: int | None = None) -> Space:
    """``num`` values per axis: a space ``grid`` can run too."""
    return Space({f"x{i}": tw.Float(0.0, 1.0, num=num) for i in range(d)})


def run(
    name: str,
    seed: int,
    budget: int,
    func: Callable[[Mapping[str, Any]], dict[str, float]] = zdt1,
    constraints: tuple[tw.Constraint, ...] = (),
    batch: int = 1,
    space: Space | None = None,
    objectives: tuple[tw.Objective, ...] = OBJECTIVES,
) -> list[Trial]:
    space = space or unit_space()
    strategy = get_strategy(name)(
        objectives[0], seed, objectives=objectives, constraints=constraints
    )
    history: list[Trial] = []
    while len(history) < budget:
        for params in strategy.suggest(
            space, history, [], batch, strategy_rng(seed, len(history)), remaining=budget
        ):
            metrics = func(params)
            history.append(
                Trial(1, len(history), TrialState.COMPLETED, params, metrics["f0"], metrics)
            )
    return history


def normalised_hv(history: list[Trial]) -> float:
    """The bench's metric: f0 in [0, 1], f1 in [0, 5] mapped to the unit box, reference 1."""
    points = np.array([[t.metrics["f0"], t.metrics["f1"] / 5.0] for t in history])
    return hypervolume(points, [1.0, 1.0])


@pytest.mark.parametrize("m", [1, 2, 3])
def test_boxes_give_the_exact_hypervolume_improvement(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(30):
        front = np.round(rng.random((int(rng.integers(1, 9)), m)), 1)  # ties and duplicates
        ref = np.full(m, 1.05)
        lower, upper = box_decomposition(front, ref)
        for point in np.round(rng.random((5, m)) * 1.1, 1):
            boxes = np.prod(np.clip(upper - np.maximum(point, lower), 0.0, None), axis=1)
            brute = hypervolume(np.vstack([front, point]), ref) - hypervolume(front, ref)
            assert np.sum(boxes) == pytest.approx(brute, abs=1e-12)


def test_acquisition_gradient_matches_finite_differences() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((12, 2))
    cat = np.zeros(2, dtype=bool)
    gps = [GaussianProcess.fit(x, np.sin(3 * x[:, i]) + x[:, 1 - i], cat) for i in range(2)]
    means = np.column_stack([gp.mean_at_data() for gp in gps])
    lower, upper = box_decomposition(means, means.max(axis=0) + 0.1)
    limit = GaussianProcess.fit(x, x.sum(axis=1) - 1.0 + 0.1 * rng.standard_normal(12), cat)
    acquisition = LogEHVIPoF(gps, lower, upper, [(limit, -0.5, 0.2)])
    rows = rng.random((6, 2))
    value, grad = acquisition.value_with_grad(rows)
    assert np.allclose(value, acquisition.value(rows))
    step = 1e-6
    for j in range(2):
        moved = rows.copy()
        moved[:, j] += step
        numeric = (acquisition.value(moved) - acquisition.value(rows - (moved - rows))) / (2 * step)
        assert np.allclose(grad[:, j], numeric, rtol=1e-2, atol=1e-4)


def test_preference_order_puts_the_front_first_and_infeasible_last() -> None:
    y = np.array([[1.0, 5.0], [2.0, 2.0], [3.0, 3.0], [5.0, 1.0], [0.0, 0.0], [4.0, 4.0]])
    violation = np.array([0.0, 0.0, 0.0, 0.0, 2.0, 0.0])
    order = list(preference_order(y, violation))
    assert set(order[:3]) == {0, 1, 3}  # the feasible front
    assert order[3:] == [2, 5, 4]  # then rank 1, rank 2, then the infeasible (dominant) one
    one = preference_order(np.array([[3.0], [1.0], [2.0]]), np.array([0.0, 0.0, 1.0]))
    assert list(one) == [1, 0, 2]


@pytest.mark.parametrize("m", [2, 3])
def test_ties_within_a_rank_break_by_exact_hypervolume_contributions(m: int) -> None:
    rng = np.random.default_rng(m)
    for _ in range(3):
        points = rng.random((25, m))
        points = points / np.linalg.norm(points, axis=1, keepdims=True)  # a curved front
        points = np.round(points, 2)  # ties
        points = np.vstack([points[pareto_front(points)], points[:1]])  # a rank, a duplicate
        points = points[pareto_front(points)]
        scaled = (points - points.min(axis=0)) / (points.max(axis=0) - points.min(axis=0))
        brute = hypervolume_contributions(scaled, np.full(m, 1.1))
        assert _spread(scaled) == pytest.approx(brute, abs=1e-12)


def test_outcomes_read_each_objective_from_the_metrics() -> None:
    space = unit_space()
    params = {"x0": 0.5, "x1": 0.1, "x2": 0.1}
    history = [
        Trial(1, 0, TrialState.COMPLETED, params, 1.0, {"f0": 1.0, "f1": 2.0, "load": 0.9}),
        Trial(1, 1, TrialState.COMPLETED, params, 1.0, {"f0": 1.0}),  # f1 missing: unusable
        Trial(1, 2, TrialState.FAILED, params),
    ]
    maximise = (OBJECTIVES[0], tw.Objective("f1", "maximize"))
    out = outcomes(Features(space), history, maximise, (tw.Constraint("load", max=0.5),))
    assert out.y.tolist() == [[1.0, -2.0]]
    assert out.violation == pytest.approx([0.4])
    assert len(out.failed) == 1 and len(out.seen) == 3


@pytest.mark.parametrize("name", MO_STRATEGIES)
def test_contract_on_a_multi_objective_constrained_study(name: str) -> None:
    """Valid values, same seed and history give the same suggestions, distinct parallel
    suggestions with trials pending."""
    constraints = (tw.Constraint("load", max=0.8),)
    space = unit_space(num=6)
    first = run(name, seed=4, budget=15, constraints=constraints, batch=3, space=space)
    again = run(name, seed=4, budget=15, constraints=constraints, batch=3, space=space)
    assert [t.params for t in first] == [t.params for t in again]
    for trial in first:
        assert space.validate(dict(trial.params)) == trial.params
    strategy = get_strategy(name)(OBJECTIVES[0], 5, objectives=OBJECTIVES, constraints=constraints)
    pending = [Trial(1, 100 + i, TrialState.RUNNING, t.params) for i, t in enumerate(first[:3])]
    batch = strategy.suggest(space, first[3:], pending, 4, strategy_rng(5, 15))
    keys = [json.dumps(p, sort_keys=True) for p in [*(t.params for t in first), *batch]]
    assert len(batch) == 4 and len(set(keys)) == len(keys)


def test_bayesian_beats_random_on_hypervolume() -> None:
    """Normalised hypervolume after 12 trials (7 of them the Latin-hypercube start) on ZDT1
    with 3 variables, 5 seeds: ``bayesian`` must beat random search on at least 4.
    Measured over seeds 0-39 it won 38 of 40 (per-seed win probability about 0.95): at
    0.95 this test fails with probability 1 - 0.95^5 - 5 * 0.95^4 * 0.05 = 2.3%, at 0.9 with
    8%. The seeds are fixed, so for a given code the outcome is deterministic: those rates are
    the chance that a harmless change of the random streams makes it fail."""
    wins = 0
    for seed in range(5):
        wins += normalised_hv(run("bayesian", seed, 12)) > normalised_hv(run("random", seed, 12))
    assert wins >= 4


@pytest.mark.parametrize("name", ["bayesian", "tpe"])
def test_constrained_suggestions_favour_the_feasible_region(name: str) -> None:
    """``x1 + x2 <= 0.3`` holds on 4.5% of the cube: after the start, most suggestions of the
    model strategies land there, far more than random's."""
    constraints = (tw.Constraint("load", max=0.3),)

    def feasible_share(strategy: str) -> float:
        history = run(strategy, 0, 22, constraints=constraints)
        return float(np.mean([t.metrics["load"] <= 0.3 for t in history[10:]]))

    assert feasible_share(name) >= feasible_share("random") + 0.3


@pytest.mark.parametrize("name", ["bayesian", "tpe"])
def test_one_objective_with_a_constraint_minimises_within_the_feasible_region(name: str) -> None:
    """One objective (f1 alone: larger ``x0`` is better) under ``x1 + x2 <= 0.3``: EI x PoF
    (``bayesian``) and the constrained split (``tpe``) keep most late trials feasible and
    find a feasible ``f1`` better than random's."""
    constraints = (tw.Constraint("load", max=0.3),)
    only_f1 = (OBJECTIVES[1],)

    def late_feasible_best(strategy: str) -> tuple[float, float]:
        history = run(strategy, 0, 22, constraints=constraints, objectives=only_f1)
        ok = [t.metrics["load"] <= 0.3 for t in history]
        best = min(
            (t.metrics["f1"] for t, good in zip(history, ok, strict=True) if good), default=9
        )
        return float(np.mean(ok[10:])), best

    share, best = late_feasible_best(name)
    random_share, random_best = late_feasible_best("random")
    assert share >= random_share + 0.3
    assert best < random_best
