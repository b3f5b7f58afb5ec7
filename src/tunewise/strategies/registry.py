"""Strategies by name. Each strategy module registers its class with :func:`register`."""

from __future__ import annotations

from importlib import import_module

from tunewise.errors import SpecError
from tunewise.strategies.base import Strategy

_REGISTRY: dict[str, type[Strategy]] = {}
#: Modules that hold the built-in strategies; imported on first lookup.
_BUILTIN_MODULES = (
    "tunewise.strategies.bayesian",
    "tunewise.strategies.grid",
    "tunewise.strategies.hyperband",
    "tunewise.strategies.random",
    "tunewise.strategies.sobol",
    "tunewise.strategies.tpe",
)


def register(cls: type[Strategy]) -> type[Strategy]:
    """Class decorator: make a strategy available under ``cls.name``."""
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls:
        raise ValueError(f"two strategies are named {cls.name!r}: {existing} and {cls}")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        import_module(module)


def strategy_names() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class called ``name``; a SpecError naming the field when unknown."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise SpecError(
            "strategy", f"unknown strategy {name!r}; use one of {', '.join(sorted(_REGISTRY))}"
        ) from None
