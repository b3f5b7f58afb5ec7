"""Strategies by name. Each strategy module registers its class with :func:`register`."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from tunewise.errors import SpecError
from tunewise.strategies.base import Strategy, check_multi_objective

if TYPE_CHECKING:
    from tunewise.spec import StudySpec

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


def strategy_for(spec: StudySpec, seed: int | None = None) -> Strategy:
    """The strategy ``spec`` names, given its objectives, constraints and options (every
    face builds it here, so none forgets the objectives); ``seed`` overrides the spec's."""
    cls = get_strategy(spec.strategy)
    check_multi_objective(cls, len(spec.objectives))
    from tunewise.strategies.cost_model import cost_options  # cost: {aware: true}

    options = spec.hyperband.to_dict() if spec.hyperband is not None else cost_options(spec)
    return cls(
        spec.objective,
        spec.seed or 0 if seed is None else seed,
        options,
        objectives=spec.objectives,
        constraints=spec.constraints,
    )
