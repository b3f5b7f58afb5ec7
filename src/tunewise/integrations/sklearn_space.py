"""scikit-learn's ways of writing a search space, turned into one tunewise :class:`Space`.

A scikit-learn user writes ``{"C": loguniform(1e-3, 1e3), "kernel": ["rbf", "linear"]}``;
tunewise's strategies need typed parameters with bounds and a scale. This module maps:

- tunewise ``Float`` / ``Int`` / ``Categorical``: used as given;
- a list (tuple, array) of choices: a ``Categorical``. Choices that are not JSON scalars
  (estimators, callables, ``None``-like objects, NaN) are searched through a label per choice
  and mapped back to the very object, so ``{"clf": [SVC(), LogisticRegression()]}`` works;
- frozen ``scipy.stats`` distributions with a bounded, flat shape: ``uniform(loc, scale)`` ->
  ``Float`` on a linear scale, ``loguniform(a, b)`` -> ``Float`` on a log scale,
  ``randint(low, high)`` -> ``Int`` in ``[low, high - 1]``. Any other distribution (``norm``,
  ``expon``, ...) has no bounds to search within and is refused in one sentence.

It imports neither scikit-learn nor SciPy: distributions are recognised by their methods.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunewise.space import Categorical, Float, Int, Param, Space

#: How a choice that is not a JSON scalar is named in the stored study (its label).
_LABEL_CHARS = 60


def _plain(value: Any) -> Any:
    """A NumPy scalar as its Python value (``np.int64(3)`` -> ``3``); anything else as is."""
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def _json_scalar(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    return isinstance(value, float) and math.isfinite(value)


@dataclass(frozen=True)
class SearchSpace:
    """The tunewise space searched plus how to turn a trial's values back into estimator
    parameters (the objects behind the labels of non-JSON choices)."""

    space: Space
    choices: Mapping[str, tuple[Any, ...]]

    def to_estimator_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A trial's stored values as the parameters ``set_params`` receives."""
        out: dict[str, Any] = {}
        for name, value in values.items():
            param = self.space.params.get(name)
            objects = self.choices.get(name)
            if objects is not None and isinstance(param, Categorical):
                out[name] = objects[param.index(value)]
            else:
                out[name] = value
        return out


def _choices(name: str, values: Any) -> tuple[Categorical, tuple[Any, ...] | None]:
    """A ``Categorical`` for a list of choices; the objects when labels stand in for them."""
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise TypeError(f"parameter {name!r}: expected a list of choices, got {values!r}")
    items = [_plain(v) for v in values]
    if not items:
        raise ValueError(f"parameter {name!r}: the list of choices is empty")
    unique: list[Any] = []
    for item in items:  # a repeated choice would be refused by Categorical: keep the first
        if not any(type(item) is type(u) and _same(item, u) for u in unique):
            unique.append(item)
    if all(_json_scalar(v) for v in unique):
        return Categorical(unique), None
    labels = [f"{i}: {repr(v)[:_LABEL_CHARS]}" for i, v in enumerate(unique)]
    return Categorical(labels), tuple(unique)


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(a == b)
    except Exception:  # arrays and other objects whose == is not a truth value
        return False


def _distribution(name: str, dist: Any) -> Param:
    """A tunewise parameter for a frozen SciPy distribution, or a ``ValueError`` that says
    which distributions are understood."""
    family = getattr(getattr(dist, "dist", None), "name", type(dist).__name__)
    supported = "scipy.stats uniform, loguniform or randint (or tw.Float / tw.Int / a list)"
    if family == "uniform":
        low, high = (float(v) for v in dist.support())
        return Float(low, high, scale="linear")
    if family in ("loguniform", "reciprocal"):
        low, high = (float(v) for v in dist.support())
        # log-uniform on [low, high] has its median at the geometric mean; a shifted one
        # (loc != 0) does not, and has no log scale tunewise could search on
        if low <= 0 or not math.isclose(float(dist.median()), math.sqrt(low * high), rel_tol=1e-6):
            raise ValueError(
                f"parameter {name!r}: loguniform with loc != 0 is not log-uniform on its "
                f"bounds; write loguniform(a, b) (optionally with scale), or tw.Float(..., "
                f"scale='log')"
            )
        return Float(low, high, scale="log")
    if family == "randint":
        low, high = (int(v) for v in dist.support())
        if low == high:
            return Categorical([low])
        return Int(low, high, scale="linear")
    raise ValueError(
        f"parameter {name!r}: the {family} distribution has no bounds to search within; "
        f"use {supported}"
    )


def to_search_space(distributions: Any) -> SearchSpace:
    """Build the tunewise space for ``param_distributions`` as scikit-learn users write it.

    Raises:
        TypeError: not a dict, or a parameter given in a form no search understands.
        ValueError: an unsupported distribution, an empty list; SpecError: a bad range.
    """
    if isinstance(distributions, Sequence) and not isinstance(distributions, str | bytes):
        if len(distributions) == 1 and isinstance(distributions[0], Mapping):
            distributions = distributions[0]
        else:
            raise TypeError(
                "param_distributions: a list of several dicts (alternative sub-spaces) is not "
                "supported; give one dict, with conditional parameters (tw.Float(..., when=...)) "
                "for what depends on a choice"
            )
    if not isinstance(distributions, Mapping) or not distributions:
        raise TypeError(
            "param_distributions must be a non-empty dict of parameter names to "
            f"tw.Float/tw.Int/tw.Categorical, lists or scipy.stats distributions, "
            f"got {distributions!r}"
        )
    params: dict[str, Param] = {}
    choices: dict[str, tuple[Any, ...]] = {}
    for name, spec in distributions.items():
        if not isinstance(name, str):
            raise TypeError(f"param_distributions: parameter names are strings, got {name!r}")
        if isinstance(spec, Float | Int | Categorical):
            params[name] = spec
        elif hasattr(spec, "rvs"):
            params[name] = _distribution(name, spec)
        elif isinstance(spec, numbers.Number | str | bytes):
            raise TypeError(
                f"parameter {name!r}: a single value {spec!r}; give a list of choices "
                f"([{spec!r}]) or set it on the estimator"
            )
        else:
            param, objects = _choices(name, spec)
            params[name] = param
            if objects is not None:
                choices[name] = objects
    return SearchSpace(Space(params), choices)
