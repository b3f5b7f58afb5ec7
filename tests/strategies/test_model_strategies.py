"""Behaviour both model-based strategies (``bayesian``, ``tpe``) share, beyond the generic
contract: valid values past the initial design, distinct batches next to pending trials,
failed and degenerate histories, finite spaces that run out, reproducibility across processes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from typing import Any

import pytest

import tunewise as tw
from tests.strategies.strategy_helpers import (
    MINIMIZE,
    finished,
    rich_loss,
    rich_space,
    run,
)
from tunewise.space import Space
from tunewise.strategies import get_strategy, strategy_rng
from tunewise.trial import Trial, TrialState

MODELS = ["bayesian", "tpe"]


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


@pytest.fixture(scope="module")
def rich_runs() -> dict[str, list[Trial]]:
    """One 20-trial run per strategy on the rich space, in batches of 3 (shared by tests)."""
    return {name: run(name, rich_space(), rich_loss, 20, seed=7, batch=3) for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_model_suggestions_are_runnable_values(name: str, rich_runs: dict[str, Any]) -> None:
    space = rich_space()
    for trial in rich_runs[name]:
        p = trial.params
        assert space.validate(p) == p  # in bounds, on the step, a listed choice
        assert isinstance(p["layers"], int) and isinstance(p["units"], int)
        assert isinstance(p["batch"], int) and (p["batch"] - 16) % 16 == 0
        assert isinstance(p["lr"], float) and 1e-5 <= p["lr"] <= 1e-1
        assert math.isclose(p["dropout"] / 0.05, round(p["dropout"] / 0.05), abs_tol=1e-9)
        assert p["act"] in ("relu", "tanh", "gelu") and p["opt"] in ("sgd", "adam")


@pytest.mark.parametrize("name", MODELS)
def test_no_configuration_is_suggested_twice(name: str, rich_runs: dict[str, Any]) -> None:
    keys = [_key(dict(t.params)) for t in rich_runs[name]]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", MODELS)
def test_a_batch_next_to_pending_trials_is_distinct_and_spread(name: str) -> None:
    space = rich_space()
    history = run(name, space, rich_loss, 14, seed=3)
    strategy = get_strategy(name)(MINIMIZE, 3)
    first = strategy.suggest(space, history, [], 2, strategy_rng(3, 14))
    pending = [Trial(1, 14 + i, TrialState.RUNNING, p) for i, p in enumerate(first)]
    batch = strategy.suggest(space, history, pending, 4, strategy_rng(3, 16))
    assert len(batch) == 4
    everything = [dict(t.params) for t in history] + first + batch
    assert len({_key(p) for p in everything}) == len(everything)
    # Spread: no two of the batch (and the pending ones) are near copies of each other.
    rows = [space.encode(p) for p in first + batch]
    for i in range(len(rows)):
        for j in range(i):
            assert max(abs(a - b) for a, b in zip(rows[i], rows[j], strict=True)) > 1e-3


@pytest.mark.parametrize("name", MODELS)
def test_a_history_of_failures_still_gives_new_valid_suggestions(name: str) -> None:
    space = rich_space()
    strategy = get_strategy(name)(MINIMIZE, 0)
    failed = [
        Trial(1, i, TrialState.FAILED, space.decode([((i * 0.37) % 1.0)] * len(space)))
        for i in range(20)
    ]
    out = strategy.suggest(space, failed, [], 3, strategy_rng(0, 20))
    assert len(out) == 3
    assert {_key(p) for p in out}.isdisjoint({_key(dict(t.params)) for t in failed})
    for p in out:
        assert space.validate(p) == p


@pytest.mark.parametrize("name", MODELS)
def test_failures_mixed_with_results_are_never_retried(name: str) -> None:
    space = rich_space()
    history: list[Trial] = []
    strategy = get_strategy(name)(MINIMIZE, 1)
    for i in range(18):
        (params,) = strategy.suggest(space, history, [], 1, strategy_rng(1, i))
        if i % 3 == 1:  # a third of the trials crash, with no value
            history.append(Trial(1, i, TrialState.FAILED, params, error="boom"))
        else:
            history.append(Trial(1, i, TrialState.COMPLETED, params, value=rich_loss(params)))
    keys = [_key(dict(t.params)) for t in history]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("name", MODELS)
def test_degenerate_values_do_not_break_the_model(name: str) -> None:
    """All-equal values, NaN, infinities and 1e300 are absorbed without error or NaN output."""
    space = rich_space()
    strategy = get_strategy(name)(MINIMIZE, 2)
    points = [space.decode([((i * 0.61 + j * 0.23) % 1.0) for j in range(8)]) for i in range(16)]
    for values in (
        [1.0] * 16,
        [float("nan"), float("inf"), -float("inf"), 1e300] * 4,
        [1e300 if i % 2 else float(i) for i in range(16)],
    ):
        history = [
            Trial(1, i, TrialState.COMPLETED, p, value=v)
            for i, (p, v) in enumerate(zip(points, values, strict=True))
        ]
        out = strategy.suggest(space, history, [], 2, strategy_rng(2, 16))
        assert len(out) == 2
        for p in out:
            assert space.validate(p) == p


@pytest.mark.parametrize("name", MODELS)
def test_stopped_trials_count_as_results(name: str) -> None:
    space = Space({"x": tw.Float(0.0, 1.0)})
    history = [
        Trial(1, i, TrialState.STOPPED, {"x": x}, value=(x - 0.3) ** 2)
        for i, x in enumerate([0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 0.1, 0.9, 0.6, 0.4, 0.7])
    ]
    (p,) = get_strategy(name)(MINIMIZE, 0).suggest(space, history, [], 1, strategy_rng(0, 12))
    assert abs(p["x"] - 0.3) < 0.25  # it learned where the good region is


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize(
    ("space", "size"),
    [
        (Space({"only": tw.Categorical(["a"])}), 1),
        (Space({"k": tw.Int(1, 2)}), 2),
        (Space({"k": tw.Int(1, 3), "c": tw.Categorical([True, False])}), 6),
    ],
)
def test_a_finite_space_is_used_up_without_repeats(name: str, space: Space, size: int) -> None:
    history = run(name, space, lambda p: float(len(json.dumps(p))), trials=size + 5, seed=0)
    assert len(history) == size
    assert len({_key(dict(t.params)) for t in history}) == size
    strategy = get_strategy(name)(MINIMIZE, 0)
    assert strategy.suggest(space, history, [], 3, strategy_rng(0, size)) == []


@pytest.mark.parametrize("name", MODELS)
def test_a_nearly_used_up_space_fills_only_what_is_left(name: str) -> None:
    space = Space({"k": tw.Int(1, 4)})
    history = finished(space, [{"k": 1}, {"k": 2}], lambda p: float(p["k"]))
    pending = [Trial(1, 2, TrialState.RUNNING, {"k": 3})]
    out = get_strategy(name)(MINIMIZE, 0).suggest(space, history, pending, 3, strategy_rng(0, 3))
    assert out == [{"k": 4}]


@pytest.mark.parametrize("name", MODELS)
def test_reproducible_across_processes_in_the_model_phase(name: str) -> None:
    """Same seed and history in another process with another hash seed: same suggestions."""
    code = (
        "import json, sys; sys.path.insert(0, {root!r}); "
        "from tests.strategies.strategy_helpers import run, rich_space, rich_loss; "
        "print(json.dumps([dict(t.params) for t in run({name!r}, rich_space(), rich_loss, "
        "14, seed=5, batch=2)][-4:]))"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    env = {**os.environ, "PYTHONHASHSEED": "987"}
    done = subprocess.run(
        [sys.executable, "-c", code.format(root=root, name=name)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    here = [dict(t.params) for t in run(name, rich_space(), rich_loss, 14, seed=5, batch=2)][-4:]
    assert json.loads(json.dumps(here)) == json.loads(done.stdout)


@pytest.mark.parametrize("name", MODELS)
def test_trials_that_no_longer_fit_the_space_are_skipped(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    space = Space({"x": tw.Float(0.0, 1.0), "c": tw.Categorical(["a", "b"])})
    odd = [
        Trial(1, 0, TrialState.COMPLETED, {"x": 5.0, "c": "a"}, value=1.0),  # out of range
        Trial(1, 1, TrialState.COMPLETED, {"x": 0.5, "c": "zzz"}, value=1.0),  # unknown choice
        Trial(1, 2, TrialState.COMPLETED, {"c": "a"}, value=1.0),  # missing parameter
    ]
    good = [
        Trial(1, 3 + i, TrialState.COMPLETED, {"x": x, "c": c}, value=x)
        for i, (x, c) in enumerate([(0.1, "a"), (0.9, "b"), (0.5, "a"), (0.3, "b"), (0.7, "a")])
    ]
    good += [
        Trial(1, 8 + i, TrialState.COMPLETED, {"x": x, "c": "b"}, value=x)
        for i, x in enumerate([0.2, 0.6, 0.8, 0.4, 0.05])
    ]
    with caplog.at_level(logging.WARNING):
        out = get_strategy(name)(MINIMIZE, 0).suggest(space, odd + good, [], 2, strategy_rng(0, 13))
    assert len(out) == 2
    assert not [r for r in caplog.records if "model failed" in r.getMessage()]


@pytest.mark.parametrize("name", MODELS)
def test_repeated_configurations_with_different_values_are_fine(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A noisy objective run twice at the same point gives duplicate rows: no failure."""
    space = Space({"x": tw.Float(0.0, 1.0), "k": tw.Int(1, 4)})
    points = [{"x": x, "k": k} for x, k in [(0.2, 1), (0.5, 2), (0.8, 3), (0.35, 4), (0.65, 1)]]
    history = [
        Trial(1, i, TrialState.COMPLETED, points[i % 5], value=(i % 5) * 0.1 + 0.01 * (i // 5))
        for i in range(15)
    ]
    with caplog.at_level(logging.WARNING):
        out = get_strategy(name)(MINIMIZE, 0).suggest(space, history, [], 3, strategy_rng(0, 15))
    assert len(out) == 3 and all(space.validate(p) == p for p in out)
    assert not [r for r in caplog.records if "model failed" in r.getMessage()]


@pytest.mark.parametrize("name", MODELS)
def test_the_model_reaches_every_choice_of_a_categorical(name: str) -> None:
    """The best choice is the last of five: past the initial design the model must propose it
    (a bulk rounding that clipped choice indices to 0..1 once hid every choice past the second
    from the acquisition's candidates)."""
    space = Space(
        {
            "x": tw.Float(0.0, 1.0),
            "y": tw.Float(0.0, 1.0),
            "optimizer": tw.Categorical(["sgd", "momentum", "adam", "rmsprop", "adagrad"]),
        }
    )
    penalty = {"sgd": 4.0, "momentum": 3.0, "adam": 2.0, "rmsprop": 1.0, "adagrad": 0.0}

    def loss(p: dict[str, Any]) -> float:
        return penalty[p["optimizer"]] + (p["x"] - 0.3) ** 2 + (p["y"] - 0.6) ** 2

    history = run(name, space, loss, 40, seed=0)
    model_phase = [t.params["optimizer"] for t in history[20:]]
    assert model_phase.count("adagrad") >= 10, model_phase
    assert min(t.value for t in history if t.value is not None) < 0.05
