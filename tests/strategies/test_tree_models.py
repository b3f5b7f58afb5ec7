"""The model strategies (``bayesian``, ``tpe``) on conditional spaces and on spaces that grow
(define-by-run): only active parameters, valid values, children following their parent, the
same suggestions in another process, distinct parallel suggestions, inactive columns that
neither pretend to a value nor break the model, and parameters first seen late."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

import tunewise as tw
from tests.strategies.strategy_helpers import MINIMIZE, run
from tunewise.space import Space
from tunewise.strategies import get_strategy, strategy_rng
from tunewise.strategies.features import Features
from tunewise.strategies.tree import INACTIVE
from tunewise.trial import Trial, TrialState

MODELS = ["bayesian", "tpe"]


def tree_space() -> Space:
    """Two levels: momentum and nesterov only for sgd, dampening only without nesterov."""
    return Space(
        {
            "optimizer": tw.Categorical(["sgd", "adam", "rmsprop"]),
            "lr": tw.Float(1e-5, 1.0, scale="log"),
            "momentum": tw.Float(0.5, 0.99, when={"optimizer": ["sgd"]}),
            "nesterov": tw.Categorical([False, True], when={"optimizer": ["sgd"]}),
            "dampening": tw.Float(0.0, 0.5, when={"nesterov": [False]}),
            "beta2": tw.Float(0.9, 0.9999, when={"optimizer": ["adam", "rmsprop"]}),
            "layers": tw.Int(1, 4),
        }
    )


def tree_loss(p: Mapping[str, Any]) -> float:
    """Best with sgd (momentum 0.9, nesterov, lr 1e-2); adam second, rmsprop third."""
    loss = (math.log10(p["lr"]) + 2.0) ** 2 + 0.1 * (p["layers"] - 2) ** 2
    if p["optimizer"] == "sgd":
        loss += 4.0 * (p["momentum"] - 0.9) ** 2 + (0.0 if p["nesterov"] else 0.3)
        if not p["nesterov"]:
            loss += p["dampening"]
    else:
        loss += 0.5 if p["optimizer"] == "adam" else 0.8
        loss += 100.0 * (p["beta2"] - 0.99) ** 2
    return loss


def run_tree(name: str, seed: int, trials: int = 14, batch: int = 2) -> list[dict[str, Any]]:
    return [dict(t.params) for t in run(name, tree_space(), tree_loss, trials, seed, batch=batch)]


@pytest.mark.parametrize("name", MODELS)
def test_only_active_parameters_with_valid_values(name: str) -> None:
    space = tree_space()
    history = run_tree(name, seed=3)
    assert len(history) == 14
    for params in history:
        assert space.validate(params) == params  # every active one, no inactive one
        assert set(params) == set(space.active_names(params))
    assert {p["optimizer"] for p in history} == {"sgd", "adam", "rmsprop"}


@pytest.mark.parametrize("name", MODELS)
def test_conditional_suggestions_are_the_same_in_another_process(name: str) -> None:
    here = run_tree(name, seed=11, trials=13)
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    code = (
        f"import json, sys; sys.path.insert(0, {root!r}); "
        "from tests.strategies.test_tree_models import run_tree; "
        f"print(json.dumps(run_tree({name!r}, seed=11, trials=13)))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "54321"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout) == json.loads(json.dumps(here))


@pytest.mark.parametrize("name", MODELS)
def test_parallel_conditional_suggestions_are_distinct_and_valid(name: str) -> None:
    space = tree_space()
    done = run(name, space, tree_loss, 12, seed=5)
    strategy = get_strategy(name)(MINIMIZE, 5)
    first = strategy.suggest(space, done, [], 4, strategy_rng(5, 12))
    pending = [Trial(1, 12 + i, TrialState.RUNNING, p) for i, p in enumerate(first)]
    second = strategy.suggest(space, done, pending, 4, strategy_rng(5, 16))
    seen = [json.dumps(t.params, sort_keys=True) for t in done]
    keys = [json.dumps(p, sort_keys=True) for p in first + second]
    assert len(keys) == 8 and len(set(keys)) == 8 and not set(keys) & set(seen)
    for params in first + second:
        assert space.validate(params) == params


def test_inactive_columns_hold_markers_and_children_follow_their_parents() -> None:
    features = Features(tree_space())
    adam = {"optimizer": "adam", "lr": 0.01, "beta2": 0.99, "layers": 2}
    row = features.encode(adam)
    names = list(tree_space().params)
    at = {name: row[j] for j, name in enumerate(names)}
    # Inactive: a categorical's extra index (one more unordered choice), a number's marker.
    assert at["nesterov"] == 2.0 and at["momentum"] == INACTIVE and at["dampening"] == INACTIVE
    decoded = features.decode(row)
    assert decoded.keys() == adam.keys() and decoded["optimizer"] == "adam"
    assert decoded["lr"] == pytest.approx(0.01) and decoded["beta2"] == pytest.approx(0.99)
    # Switching the parent to sgd: its children become active with valid values, and the
    # grandchild follows the child (nesterov's first choice, False, activates dampening).
    switched = row.copy()
    switched[names.index("optimizer")] = 0.0
    params = features.decode(features.project(switched))
    assert tree_space().validate(params) == params
    assert set(params) >= {"momentum", "nesterov", "dampening"} and "beta2" not in params
    # Random rows over the whole cube always decode to valid assignments.
    rng = np.random.default_rng(0)
    for r in features.random(rng, 200):
        p = features.decode(r)
        assert tree_space().validate(p) == p
        assert features.key(features.encode(p)) == features.key(r)


def test_the_gp_never_sees_an_inactive_value_vary() -> None:
    """Two trials of another branch differ in nothing the sgd branch owns: their rows agree
    on every sgd column, whatever values a caller might have left in the params."""
    features = Features(tree_space())
    a = features.encode({"optimizer": "adam", "lr": 0.01, "beta2": 0.99, "layers": 2})
    b, ok = features.encode_many(
        [{"optimizer": "adam", "lr": 0.01, "beta2": 0.99, "layers": 2, "momentum": 0.95}]
    )
    assert ok[0] and np.array_equal(a, b[0])


@pytest.mark.parametrize("name", MODELS)
def test_a_space_that_grows_is_modelled_over_what_has_been_seen(name: str) -> None:
    """Define-by-run: trials that ran before a parameter existed lack it; the strategy
    models them anyway and suggests the new parameter, never raising."""
    old = Space({"x": tw.Float(0.0, 1.0), "c": tw.Categorical(["a", "b"])})
    history = run(name, old, lambda p: (p["x"] - 0.3) ** 2, 12, seed=2)
    grown = Space(
        {
            "x": tw.Float(0.0, 1.0),
            "c": tw.Categorical(["a", "b"]),
            "y": tw.Float(0.0, 1.0),
            "k": tw.Categorical(["u", "v", "w"]),
        }
    )
    strategy = get_strategy(name)(MINIMIZE, 2)
    for i in range(4):
        (params,) = strategy.suggest(grown, history, [], 1, strategy_rng(2, len(history)))
        assert grown.validate(params) == params
        history.append(Trial(1, len(history), TrialState.COMPLETED, params, value=params["y"] + i))
    features = Features(grown)
    obs = features.observations(history, MINIMIZE)
    assert len(obs.y) == 16  # the 12 old trials are kept, not skipped
    assert obs.present is not None and not obs.present[:12, 2:].any()


def test_groups_are_the_parameters_active_together() -> None:
    features = Features(tree_space())
    rows = features.random(np.random.default_rng(1), 300)
    groups = features.tree.groups(features.active(rows))
    names = list(tree_space().params)
    found = sorted(sorted(names[j] for j in np.flatnonzero(g)) for g in groups)
    assert found == [
        ["beta2"],
        ["dampening"],
        ["layers", "lr", "optimizer"],
        ["momentum", "nesterov"],
    ]


def _branch_problem(p: Mapping[str, Any]) -> float:
    """A small tree: branch b holds the optimum, its children interact with a shared s."""
    s = p["s"]
    if p["branch"] == "a":
        return 1.0 + (p["a0"] - 0.2) ** 2 + (s - 0.5) ** 2
    return (p["b0"] - 0.7) ** 2 + 2.0 * (p["b1"] - 0.3) ** 2 + (s + 0.5) ** 2


BRANCH_SPACE = Space(
    {
        "branch": tw.Categorical(["a", "b"]),
        "a0": tw.Float(-1.0, 1.0, when={"branch": ["a"]}),
        "b0": tw.Float(-1.0, 1.0, when={"branch": ["b"]}),
        "b1": tw.Float(-1.0, 1.0, when={"branch": ["b"]}),
        "s": tw.Float(-1.0, 1.0),
    }
)


def test_bayesian_beats_random_on_a_conditional_problem() -> None:
    """A sign test over 10 seeds at 25 trials: bayesian's best must beat random's on at least
    8. Measured over seeds 100-139 (not these), bayesian won on 39 of 40 (p = 0.975 per
    seed); with that chance, fewer than 8 wins of 10 happen with probability 0.0016 (binomial
    tail): the false-failure rate of this test. A strategy no better than random (p = 1/2)
    passes with probability 0.055, so the test catches it 94.5% of the time."""
    wins = 0
    for seed in range(10):
        bayes = min(
            t.value or 0.0 for t in run("bayesian", BRANCH_SPACE, _branch_problem, 25, seed)
        )
        rand = min(t.value or 0.0 for t in run("random", BRANCH_SPACE, _branch_problem, 25, seed))
        wins += bayes < rand
    assert wins >= 8, f"bayesian beat random on {wins} of 10 seeds"


def svc_space() -> Space:
    """cash_breast_cancer's SVC branch: an int (the degree) activated by a child categorical."""
    return Space(
        {
            "model": tw.Categorical(["logreg", "svc"]),
            "C": tw.Float(1e-2, 1e3, scale="log", when={"model": ["logreg", "svc"]}),
            "kernel": tw.Categorical(["rbf", "poly"], when={"model": ["svc"]}),
            "degree": tw.Int(2, 5, when={"kernel": ["poly"]}),
            "trees": tw.Int(10, 100, when={"model": ["logreg"]}),
        }
    )


def test_the_discrete_sweep_scores_only_rows_that_can_run() -> None:
    """A neighbour that switches a parent activates its int children at runnable values: the
    acquisition must score the row that will run. (The sweep used to leave an activated
    int at its marker, off the int's grid: the GP saw a point no trial can have, its EI
    stayed high, and the decoded degree, already known to be poor, ran again and again.)"""
    from tunewise.strategies.acquisition import _neighbours

    space = svc_space()
    features = Features(space)
    start = features.encode({"model": "svc", "C": 1.0, "kernel": "rbf"})
    rows = _neighbours(features, start)
    names = list(space.params)
    switched = [r for r in rows if r[names.index("kernel")] == 1.0]
    assert switched, "no neighbour switches the kernel"
    for row in rows:
        exact, params = features.exact(row)
        assert space.validate(params) == params
        assert features.key(exact) == features.key(row), params
