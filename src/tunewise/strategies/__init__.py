"""Search strategies: one module per strategy, found by name through the registry."""

from tunewise.strategies.base import Strategy, strategy_rng
from tunewise.strategies.registry import get_strategy, register, strategy_for, strategy_names

__all__ = [
    "Strategy",
    "get_strategy",
    "register",
    "strategy_for",
    "strategy_names",
    "strategy_rng",
]
