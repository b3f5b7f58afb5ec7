"""Helpers for the model-based strategy tests: spaces, objectives and a sequential driver."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import tunewise as tw
from tunewise.space import Space
from tunewise.strategies import get_strategy, strategy_rng
from tunewise.trial import Trial, TrialState

MINIMIZE = tw.Objective("loss", "minimize")

Objective = Callable[[Mapping[str, Any]], float]


def rich_space() -> Space:
    """Every kind of parameter: linear/log/stepped floats, linear/log/stepped ints, choices."""
    return Space(
        {
            "lr": tw.Float(1e-5, 1e-1, scale="log"),
            "dropout": tw.Float(0.0, 0.5, step=0.05),
            "momentum": tw.Float(0.5, 0.999, scale="reverse_log"),
            "layers": tw.Int(1, 6),
            "units": tw.Int(8, 512, scale="log"),
            "batch": tw.Int(16, 256, step=16),
            "act": tw.Categorical(["relu", "tanh", "gelu"]),
            "opt": tw.Categorical(["sgd", "adam"]),
        }
    )


def rich_loss(p: Mapping[str, Any]) -> float:
    """A smooth loss over :func:`rich_space` with interacting choices."""
    loss = (math.log10(p["lr"]) + (3.0 if p["opt"] == "adam" else 1.5)) ** 2
    loss += (p["dropout"] - 0.2) ** 2 * 4 + (math.log(1 - p["momentum"]) + 3) ** 2 * 0.1
    loss += (p["layers"] - 3) ** 2 * 0.1 + (math.log2(p["units"]) - 7) ** 2 * 0.05
    loss += ((p["batch"] - 64) / 64) ** 2 * 0.1 + {"relu": 0.2, "tanh": 0.5, "gelu": 0.0}[p["act"]]
    return loss


def branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


BRANIN_SPACE = Space({"x1": tw.Float(-5.0, 10.0), "x2": tw.Float(0.0, 15.0)})
BRANIN_MIN = 0.397887357729738


def run(
    name: str,
    space: Space,
    objective: Objective,
    trials: int,
    seed: int,
    batch: int = 1,
) -> list[Trial]:
    """Drive a strategy like the tuner does: ask ``batch`` at a time, finish them all, repeat."""
    strategy = get_strategy(name)(MINIMIZE, seed)
    history: list[Trial] = []
    while len(history) < trials:
        n = min(batch, trials - len(history))
        suggestions = strategy.suggest(space, history, [], n, strategy_rng(seed, len(history)))
        if not suggestions:
            break
        for params in suggestions:
            value = objective(params)
            history.append(Trial(1, len(history), TrialState.COMPLETED, params, value=value))
    return history


def finished(
    space: Space, suggestions: list[dict[str, Any]], objective: Objective, start: int = 0
) -> list[Trial]:
    return [
        Trial(1, start + i, TrialState.COMPLETED, p, value=objective(p))
        for i, p in enumerate(suggestions)
    ]


def best(history: list[Trial]) -> float:
    return min(t.value for t in history if t.value is not None)
