"""The search space: hyperparameters, their scales, and the one unit-interval encoding.

Every hyperparameter maps to and from ``[0, 1]`` (KerasTuner's idea): grid, random, Sobol,
Gaussian-process and TPE strategies all work on that encoding, so scales (linear, log,
reverse-log), integer rounding, steps and categories are handled here and nowhere else.

``decode(encode(v)) == v`` for every runnable value (exactly for ints, steps and categories; up to
floating-point rounding for continuous floats), and ``decode`` always returns a value that can
really be run (ints are ints, steps are honoured), so a model fitted on encoded history sees
exactly what was run.

Scales follow SageMaker Automatic Model Tuning:

- ``linear``;
- ``log``: uniform in log space, needs ``low > 0``;
- ``reverse_log``: for floats in ``[0, 1)`` whose interesting values crowd near 1 (momentum,
  an exponential-average decay): uniform in ``log(1 - v)``;
- ``auto``: ``log`` when ``low > 0`` and ``high / low >= 100``, else ``linear``. Resolved when the
  parameter is built, so the stored space always names the scale really used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar

from tunewise.errors import SpecError
from tunewise.validation import check_json_value, check_text

Scale = Literal["linear", "log", "reverse_log", "auto"]
SCALES: tuple[str, ...] = ("linear", "log", "reverse_log", "auto")
MAX_GRID_SIZE = 100_000
NAME_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")

JSONScalar = str | int | float | bool | None
#: A numeric parameter's field type: float for :class:`Float`, int for :class:`Int`.
_N = TypeVar("_N", int, float)


def _number(value: Any, field_name: str) -> float:
    """Accept ints, floats and numeric strings (YAML reads ``1e-4`` as a string)."""
    if isinstance(value, bool):
        raise SpecError(field_name, f"expected a number, got {value!r}")
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            raise SpecError(field_name, f"expected a number, got {value!r}") from None
    else:
        raise SpecError(field_name, f"expected a number, got {value!r}")
    if not math.isfinite(result):
        raise SpecError(field_name, f"must be a finite number, got {value!r}")
    return result


def _integer(value: Any, field_name: str) -> int:
    number = _number(value, field_name)
    if number != int(number):
        raise SpecError(field_name, f"expected an integer, got {value!r}")
    return int(number)


def _resolve_scale(scale: str, low: float, high: float) -> str:
    if scale not in SCALES:
        raise SpecError("scale", f"unknown scale {scale!r}; use one of {', '.join(SCALES)}")
    if scale == "auto":
        return "log" if low > 0 and high / low >= 100 else "linear"
    return scale


def _clip_unit(u: float) -> float:
    if not math.isfinite(u):
        raise ValueError(f"unit value must be finite, got {u!r}")
    return min(1.0, max(0.0, u))


@dataclass(frozen=True)
class Float:
    """A real-valued hyperparameter in ``[low, high]``.

    ``step`` snaps values to ``low + k * step`` (linear scale only). For grid search give either
    ``num`` (points spread evenly on the scale) or ``values`` (explicit points; ``low`` and
    ``high`` then default to their extremes).
    """

    low: float | None = None
    high: float | None = None
    scale: Scale | str = "auto"
    step: float | None = None
    num: int | None = None
    values: Sequence[float] | None = None
    when: Mapping[str, Any] | None = None
    kind: ClassVar[str] = "float"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _when(self.when))
        values = _value_list(self.values, "numbers", _number)
        low = self.low if self.low is not None else (min(values) if values else None)
        high = self.high if self.high is not None else (max(values) if values else None)
        if low is None:
            raise SpecError("low", "is required (or give `values`)")
        if high is None:
            raise SpecError("high", "is required (or give `values`)")
        low, high = _number(low, "low"), _number(high, "high")
        if low >= high and not (values is not None and len(set(values)) == 1 and low == high):
            raise SpecError("high", f"must be greater than low ({high!r} <= {low!r})")
        scale = _resolve_scale(str(self.scale), low, high)
        _check_scale_bounds(scale, low, high, integer=False)
        if low != high:
            _check_width(scale, low, high)
        step = _checked_step(self.step, _number, scale, low, high)
        num = _checked_num(self.num)
        _check_values_within(values, low, high)
        _set_fields(self, low=low, high=high, scale=scale, step=step, num=num, values=values)

    # The encoding -----------------------------------------------------------------------
    def to_unit(self, value: Any) -> float:
        low, high = self._bounds
        v = float(value)
        if high == low:
            return 0.5
        if self.scale == "log":
            return _clip_unit((math.log(v) - math.log(low)) / (math.log(high) - math.log(low)))
        if self.scale == "reverse_log":
            a, b = math.log1p(-low), math.log1p(-high)
            return _clip_unit((math.log1p(-v) - a) / (b - a))
        return _clip_unit((v - low) / (high - low))

    def to_unit_array(self, values: Any) -> Any:
        """:meth:`to_unit` of many numbers at once (a float numpy array in, one out), NaN where
        :meth:`to_unit` raises (a value the scale cannot take, a non-finite one): the
        dashboard encodes 100,000 trials at once. Same formulas, up to numpy's last bit."""
        import numpy as np

        low, high = self._bounds
        v = np.asarray(values, dtype=np.float64)
        if high == low:
            return np.full(v.shape, 0.5)
        with np.errstate(all="ignore"):
            if self.scale == "log":
                u = (np.log(v) - math.log(low)) / (math.log(high) - math.log(low))
            elif self.scale == "reverse_log":
                a, b = math.log1p(-low), math.log1p(-high)
                u = (np.log1p(-v) - a) / (b - a)
            else:
                u = (v - low) / (high - low)
        return np.where(np.isfinite(u), np.clip(u, 0.0, 1.0), np.nan)

    def from_unit(self, u: float) -> float:
        low, high = self._bounds
        u = _clip_unit(u)
        if self.scale == "log":
            v = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
        elif self.scale == "reverse_log":
            a, b = math.log1p(-low), math.log1p(-high)
            v = -math.expm1(a + u * (b - a))
        else:
            v = low + u * (high - low)
        if self.step is not None:
            k = round((v - low) / self.step)
            v = low + min(k, self._max_steps) * self.step
            v = round(v, 12)
        return min(high, max(low, v))

    def validate(self, value: Any) -> float:
        v = _number(value, "value")
        low, high = self._bounds
        if not low <= v <= high:
            raise SpecError("value", f"{value!r} is outside [{low!r}, {high!r}]")
        return self.from_unit(self.to_unit(v)) if self.step is not None else v

    def grid_points(self) -> list[float]:
        if self.values is not None:
            return sorted(set(self.values))
        if self.num is not None:
            return _dedupe(self.from_unit(i / (self.num - 1)) for i in range(self.num))
        if self.step is not None:
            low, _ = self._bounds
            return [round(low + k * self.step, 12) for k in range(self._max_steps + 1)]
        raise SpecError("num", "a grid needs `num` or `values` for a float hyperparameter")

    def grid_size(self) -> int:
        if self.values is not None:
            return len(set(self.values))
        if self.num is not None:
            return self.num
        if self.step is not None:
            return self._max_steps + 1
        raise SpecError("num", "a grid needs `num` or `values` for a float hyperparameter")

    @property
    def _bounds(self) -> tuple[float, float]:
        assert self.low is not None and self.high is not None  # set in __post_init__
        return float(self.low), float(self.high)

    @property
    def _max_steps(self) -> int:
        low, high = self._bounds
        assert self.step is not None
        return math.floor((high - low) / self.step + 1e-9)

    def to_dict(self) -> dict[str, Any]:
        return _numeric_dict(self)


@dataclass(frozen=True)
class Int:
    """An integer hyperparameter in ``[low, high]`` (both included), optionally on a ``step``.

    On the linear scale each admissible value owns an equal slice of the unit interval; on the
    log scale values are drawn log-uniformly over ``[low - 0.5, high + 0.5]`` and rounded, so
    every integer has the mass its log-width gives it.
    """

    low: int
    high: int
    scale: Scale | str = "auto"
    step: int | None = None
    num: int | None = None
    values: Sequence[int] | None = None
    when: Mapping[str, Any] | None = None
    kind: ClassVar[str] = "int"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _when(self.when))
        low, high = _integer(self.low, "low"), _integer(self.high, "high")
        if low >= high:
            raise SpecError("high", f"must be greater than low ({high!r} <= {low!r})")
        scale = _resolve_scale(str(self.scale), low, high)
        if scale == "reverse_log":
            raise SpecError("scale", "reverse_log is for floats in [0, 1); use linear or log")
        _check_scale_bounds(scale, low, high, integer=True)
        _check_width(scale, low, high)
        step = _checked_step(self.step, _integer, scale, low, high)
        num = _checked_num(self.num)
        values = _value_list(self.values, "integers", _integer)
        _check_values_within(values, low, high)
        _set_fields(self, low=low, high=high, scale=scale, step=step, num=num, values=values)

    @property
    def _count(self) -> int:
        return (self.high - self.low) // (self.step or 1) + 1

    def to_unit(self, value: Any) -> float:
        v = int(value)
        if self.scale == "log":
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            return _clip_unit((math.log(v) - lo) / (hi - lo))
        index = (v - self.low) // (self.step or 1)
        return (index + 0.5) / self._count

    def from_unit(self, u: float) -> int:
        u = _clip_unit(u)
        if self.scale == "log":
            lo, hi = math.log(self.low - 0.5), math.log(self.high + 0.5)
            v = math.floor(math.exp(lo + u * (hi - lo)) + 0.5)
            return min(self.high, max(self.low, v))
        index = min(int(u * self._count), self._count - 1)
        return self.low + index * (self.step or 1)

    def validate(self, value: Any) -> int:
        v = _integer(value, "value")
        if not self.low <= v <= self.high:
            raise SpecError("value", f"{value!r} is outside [{self.low!r}, {self.high!r}]")
        if self.step is not None and (v - self.low) % self.step:
            raise SpecError("value", f"{v!r} is not on the grid low + k * {self.step}")
        return v

    def grid_points(self) -> list[int]:
        if self.values is not None:
            return sorted(set(self.values))
        if self.num is not None:
            return _dedupe(self.from_unit(i / (self.num - 1)) for i in range(self.num))
        return list(range(self.low, self.high + 1, self.step or 1))

    def grid_size(self) -> int:
        if self.values is not None:
            return len(set(self.values))
        if self.num is not None:
            return len(self.grid_points())
        return self._count

    def to_dict(self) -> dict[str, Any]:
        return _numeric_dict(self)


@dataclass(frozen=True)
class Categorical:
    """One of a list of values (strings, numbers, booleans); unordered."""

    values: Sequence[JSONScalar]
    when: Mapping[str, Any] | None = None
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", _when(self.when))
        if isinstance(self.values, str | bytes) or not isinstance(self.values, Sequence):
            raise SpecError("values", "must be a list of choices")
        values = tuple(self.values)
        if not values:
            raise SpecError("values", "must not be empty: give at least one choice")
        for i, v in enumerate(values):
            if not isinstance(v, str | int | float | bool) and v is not None:
                raise SpecError(f"values[{i}]", f"must be a string, number or boolean, got {v!r}")
            if isinstance(v, float) and not math.isfinite(v):
                # NaN is not equal to itself: the stored space could never be matched again
                raise SpecError(f"values[{i}]", f"must be a finite number, got {v!r}")
            if isinstance(v, str):
                check_text(v, f"values[{i}]")
        if len({_key(v) for v in values}) != len(values):
            raise SpecError("values", "contains the same choice twice")
        object.__setattr__(self, "values", values)

    def to_unit(self, value: Any) -> float:
        return (self.index(value) + 0.5) / len(self.values)

    def from_unit(self, u: float) -> JSONScalar:
        u = _clip_unit(u)
        return self.values[min(int(u * len(self.values)), len(self.values) - 1)]

    def index(self, value: Any) -> int:
        key = _key(value)
        for i, v in enumerate(self.values):
            if _key(v) == key:
                return i
        raise SpecError("value", f"{value!r} is not one of {list(self.values)!r}")

    def validate(self, value: Any) -> JSONScalar:
        return self.values[self.index(value)]

    def grid_points(self) -> list[JSONScalar]:
        return list(self.values)

    def grid_size(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        return _with_when({"type": "categorical", "values": list(self.values)}, self.when)


class When(dict[str, tuple[JSONScalar, ...]]):
    """A parameter's condition: ``{parent: (values...)}``, all of which must hold. A dict that
    hashes (parameters are frozen, hashable values); never mutated after it is built."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple((k, tuple(_key(v) for v in vs)) for k, vs in sorted(self.items())))


def _when(data: Any) -> When:
    """Normalise ``when={"optimizer": ["sgd"]}`` (a scalar stands for a one-value list)."""
    if data is None:
        return When()
    if not isinstance(data, Mapping):
        raise SpecError(
            "when", "must map a categorical parent to its values, e.g. {optimizer: [sgd]}"
        )
    out = When()
    for parent, values in data.items():
        if not isinstance(parent, str) or not NAME_PATTERN.fullmatch(parent):
            raise SpecError(f"when.{parent}", "must name a categorical hyperparameter")
        if isinstance(values, str | int | float | bool) or values is None:
            values = [values]
        if isinstance(values, bytes) or not isinstance(values, Sequence) or not values:
            raise SpecError(f"when.{parent}", "must be a non-empty list of the parent's values")
        out[parent] = tuple(values)
    return out


def _with_when(out: dict[str, Any], when: Mapping[str, Sequence[Any]] | None) -> dict[str, Any]:
    if when:
        out["when"] = {parent: list(values) for parent, values in when.items()}
    return out


def _holds(values: Sequence[Any], value: Any) -> bool:
    key = _key(value)
    return any(_key(v) == key for v in values)


Param = Float | Int | Categorical
PARAM_TYPES: dict[str, type[Float] | type[Int] | type[Categorical]] = {
    "float": Float,
    "int": Int,
    "categorical": Categorical,
}


def _key(value: Any) -> tuple[str, Any]:
    """Compare choices by type and value, so ``1`` and ``True`` and ``"1"`` stay distinct."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return (type(value).__name__, value)


def _dedupe(values: Iterator[Any]) -> list[Any]:
    seen: list[Any] = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


# What Float and Int check and write alike -------------------------------------------------
def _value_list(
    given: Sequence[Any] | None, what: str, convert: Callable[[Any, str], _N]
) -> tuple[_N, ...] | None:
    """``values``, each converted (``_number`` or ``_integer``), or ``None`` when not given."""
    if given is None:
        return None
    if isinstance(given, str | bytes) or not isinstance(given, Sequence):
        raise SpecError("values", f"must be a list of {what}")
    if not given:
        raise SpecError("values", "must not be empty")
    return tuple(convert(v, f"values[{i}]") for i, v in enumerate(given))


def _checked_step(
    given: Any, convert: Callable[[Any, str], _N], scale: str, low: float, high: float
) -> _N | None:
    """``step``, converted, once positive, on the linear scale and within ``high - low``."""
    if given is None:
        return None
    step = convert(given, "step")
    if step <= 0:
        raise SpecError("step", f"must be positive, got {given!r}")
    if scale != "linear":
        raise SpecError("step", f"cannot be combined with the {scale} scale; drop one")
    if step > high - low:
        raise SpecError("step", f"{step!r} is larger than high - low")
    return step


def _checked_num(given: Any) -> int | None:
    num = None if given is None else _integer(given, "num")
    if num is not None and num < 2:
        raise SpecError("num", f"must be at least 2, got {given!r}")
    return num


def _check_values_within(values: Sequence[float] | None, low: float, high: float) -> None:
    for i, v in enumerate(values or ()):
        if not low <= v <= high:
            raise SpecError(f"values[{i}]", f"{v!r} is outside [{low!r}, {high!r}]")


def _set_fields(param: Float | Int, **fields: Any) -> None:
    """Store the checked fields on a frozen dataclass."""
    for name, value in fields.items():
        object.__setattr__(param, name, value)


def _numeric_dict(param: Float | Int) -> dict[str, Any]:
    out: dict[str, Any] = {"type": param.kind, "low": param.low, "high": param.high}
    out["scale"] = param.scale
    for key in ("step", "num"):
        if getattr(param, key) is not None:
            out[key] = getattr(param, key)
    if param.values is not None:
        out["values"] = list(param.values)
    return _with_when(out, param.when)


def _check_scale_bounds(scale: str, low: float, high: float, *, integer: bool) -> None:
    if scale == "log" and low <= 0:
        raise SpecError("low", f"the log scale needs low > 0, got {low!r}")
    if scale == "reverse_log" and not (low >= 0 and high < 1):
        field_name = "low" if low < 0 else "high"
        raise SpecError(field_name, "the reverse_log scale needs 0 <= low < high < 1")


def _check_width(scale: str, low: float, high: float) -> None:
    """The range's width on its scale must be a positive, finite float: every strategy divides
    by it (``-1e308..1e308`` overflows to inf, and random search would then return 1e308)."""
    try:
        if scale == "log":
            width = math.log(high) - math.log(low)
        elif scale == "reverse_log":
            width = math.log1p(-low) - math.log1p(-high)
        else:
            width = float(high - low)
    except OverflowError:
        width = math.inf
    if not math.isfinite(width):
        raise SpecError(
            "high",
            f"the range's width, high - low ({high!r} - {low!r}), is not a finite "
            "number; narrow the range",
        )
    if width <= 0:
        raise SpecError(
            "high",
            f"the range [{low!r}, {high!r}] is too narrow to search on the {scale} "
            "scale; widen it or make the value static",
        )


def param_from_dict(data: Any) -> Param:
    """Build a parameter from its spec form (``{type: float, low: ..., ...}``)."""
    if not isinstance(data, Mapping):
        raise SpecError("", "must be a mapping such as {type: float, low: 0.0, high: 1.0}")
    kind = data.get("type")
    if kind not in PARAM_TYPES:
        raise SpecError("type", f"must be one of float, int, categorical; got {kind!r}")
    cls = PARAM_TYPES[kind]
    allowed = (
        {"type", "values", "when"}
        if cls is Categorical
        else {"type", "low", "high", "scale", "step", "num", "values", "when"}
    )
    for key in data:
        if key not in allowed:
            raise SpecError(str(key), f"unknown key for a {kind} hyperparameter")
    kwargs = {k: v for k, v in data.items() if k != "type"}
    if cls is Categorical and "values" not in kwargs:
        raise SpecError("values", "is required for a categorical hyperparameter")
    if cls is Int:
        for required in ("low", "high"):
            if required not in kwargs:
                raise SpecError(required, "is required for an int hyperparameter")
    return cls(**kwargs)


@dataclass(frozen=True)
class Space:
    """Named hyperparameters to search plus static (fixed) values passed to every trial.

    A space may be a tree: a parameter whose ``when`` names a categorical parent is *active*
    only when that parent is active and takes one of the listed values (all keys must hold).
    A trial holds its active parameters and nothing else; ``order`` lists parents before
    children, so walking it decides every parent before its children.
    """

    params: Mapping[str, Param]
    static: Mapping[str, Any] = field(default_factory=dict)
    _order: tuple[str, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if not isinstance(self.params, Mapping):
            raise SpecError("space", "must be a mapping of names to hyperparameters")
        params: dict[str, Param] = {}
        for name, param in self.params.items():
            if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
                raise SpecError(
                    f"space.{name}",
                    "names start with a letter or _ and use letters, digits, _ . - only",
                )
            if not isinstance(param, Float | Int | Categorical):
                raise SpecError(f"space.{name}", "must be tw.Float, tw.Int or tw.Categorical")
            params[name] = param
        static = dict(self.static or {})
        for name in static:
            if name in params:
                raise SpecError(f"static.{name}", "is also a searched hyperparameter; keep one")
            if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
                raise SpecError(
                    f"static.{name}",
                    "names start with a letter or _ and use letters, digits, _ . - only",
                )
            check_json_value(static[name], f"static.{name}")
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "static", static)
        _check_conditions(params, static)
        object.__setattr__(self, "_order", _topological(params))

    @property
    def names(self) -> list[str]:
        """The searched parameters in declaration order (the encoding's coordinate order)."""
        return list(self.params)

    @property
    def order(self) -> tuple[str, ...]:
        """The searched parameters with every parent before its children (declaration order
        otherwise)."""
        return self._order

    @property
    def is_conditional(self) -> bool:
        return any(p.when for p in self.params.values())

    def branches(self, name: str) -> dict[str, dict[str, list[JSONScalar]]]:
        """The children of ``name`` and, for each, the values of ``name`` that activate it."""
        return {
            child: {name: list(p.when[name])}
            for child, p in self.params.items()
            if p.when and name in p.when
        }

    def is_active(self, name: str, params: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given (some of) the values: every parent in its ``when``
        is itself active, decided in ``params``, and takes one of the listed values."""
        when = self.params[name].when
        if not when:
            return True
        for parent, values in when.items():
            if parent not in params or not _holds(values, params[parent]):
                return False
            if not self.is_active(parent, params):
                return False
        return True

    def active_names(self, params: Mapping[str, Any]) -> list[str]:
        """The active parameters (in ``order``) given the values decided so far."""
        return [name for name in self.order if self.is_active(name, params)]

    def active(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` without its inactive searched keys (unknown keys are kept)."""
        return {
            k: v for k, v in params.items() if k not in self.params or self.is_active(k, params)
        }

    def __len__(self) -> int:
        return len(self.params)

    def encode(self, values: Mapping[str, Any]) -> list[float]:
        """Map searched values to the unit hypercube (order: ``names``). A parameter absent
        from ``values`` (inactive in a tree, or never asked by a define-by-run trial) encodes
        as NaN: it has no value, and a strategy must decide what that means for its model."""
        return [
            p.to_unit(values[name]) if name in values else math.nan
            for name, p in self.params.items()
        ]

    def decode(self, point: Sequence[float]) -> dict[str, Any]:
        """Map a point of the unit hypercube to runnable values of the searched parameters;
        in a conditional space only the active ones are kept (the children of a parent follow
        the value decoded for it)."""
        if len(point) != len(self.params):
            raise ValueError(f"expected {len(self.params)} coordinates, got {len(point)}")
        pairs = zip(self.params.items(), point, strict=True)
        out = {name: p.from_unit(float(u)) for (name, p), u in pairs}
        return self.active(out) if self.is_conditional else out

    def distance(self, a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
        """Euclidean distance of two assignments in the unit encoding; a parameter active in
        one only counts as the largest gap (1), one inactive in both as none."""
        total = 0.0
        for x, y in zip(self.encode(a), self.encode(b), strict=True):
            if math.isnan(x) or math.isnan(y):
                total += 0.0 if math.isnan(x) and math.isnan(y) else 1.0
            else:
                total += (x - y) ** 2
        return math.sqrt(total)

    def validate(self, values: Mapping[str, Any], path: str = "params") -> dict[str, Any]:
        """Check an assignment of the searched parameters: every active one present, no
        inactive one; returns it normalised (in ``names`` order)."""
        unknown = [k for k in values if k not in self.params]
        if unknown:
            raise SpecError(f"{path}.{unknown[0]}", "is not a hyperparameter of this space")
        out: dict[str, Any] = {}
        for name in self.order:
            p = self.params[name]
            if not self.is_active(name, out):
                if name in values:
                    raise SpecError(f"{path}.{name}", _inactive_reason(name, p, out))
                continue
            if name not in values:
                raise SpecError(f"{path}.{name}", "is missing")
            try:
                out[name] = p.validate(values[name])
            except SpecError as exc:
                raise SpecError(f"{path}.{name}", exc.message) from None
        return {name: out[name] for name in self.params if name in out}

    def validate_params(self, params: Mapping[str, Any], path: str = "params") -> dict[str, Any]:
        """:meth:`validate` under the name the tree's API uses."""
        return self.validate(params, path)

    def with_static(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """What a trial receives: the static values, then the searched ones."""
        return {**self.static, **values}

    def grid_size(self) -> int:
        """The number of valid combinations (each condition's branches counted apart)."""
        sizes: dict[str, int] = {}
        for name, p in self.params.items():
            try:
                sizes[name] = p.grid_size()
            except SpecError as exc:
                raise SpecError(f"space.{name}.{exc.field}", exc.message) from None
        if not self.is_conditional:
            return math.prod(sizes.values())
        parents = [n for n in self.order if self.branches(n)]

        def count(i: int, decided: dict[str, Any]) -> int:
            if i == len(parents):
                return math.prod(
                    sizes[n] for n in self.order if n not in decided and self.is_active(n, decided)
                )
            name = parents[i]
            if not self.is_active(name, decided):
                return count(i + 1, decided)
            param = self.params[name]
            assert isinstance(param, Categorical)
            return sum(count(i + 1, {**decided, name: v}) for v in param.grid_points())

        return count(0, {})

    def grid_points(self) -> list[list[Any]]:
        """Per-parameter grid values (order: ``names``); refuses grids over MAX_GRID_SIZE."""
        size = self.grid_size()
        if size > MAX_GRID_SIZE:
            raise SpecError(
                "space",
                f"the grid has {size:,} points, over the {MAX_GRID_SIZE:,} limit; "
                "give fewer `num`/`values` points or use strategy random",
            )
        return [p.grid_points() for p in self.params.values()]

    def grid_combinations(self) -> list[dict[str, Any]]:
        """Every valid combination of the tree's grid values, each once (active parameters
        only), in a fixed order; refuses grids over MAX_GRID_SIZE."""
        axes = dict(zip(self.names, self.grid_points(), strict=True))
        out: list[dict[str, Any]] = []

        def walk(i: int, decided: dict[str, Any]) -> None:
            if i == len(self.order):
                out.append({n: decided[n] for n in self.names if n in decided})
                return
            name = self.order[i]
            if not self.is_active(name, decided):
                walk(i + 1, decided)
                return
            for value in axes[name]:
                walk(i + 1, {**decided, name: value})

        walk(0, {})
        return out

    def describe(self) -> list[str]:
        """One line per searched parameter (parents first), for people: its type, range or
        choices, scale, and condition."""
        if not self.params:
            return ["(nothing yet: define-by-run trials add what they ask)"]
        width = max(len(n) for n in self.params)
        lines = []
        for name in self.order:
            p = self.params[name]
            if isinstance(p, Categorical):
                text = f"categorical {list(p.values)!r}"
            else:
                step = f" step {p.step}" if p.step is not None else ""
                text = f"{p.kind} [{p.low!r}, {p.high!r}] {p.scale}{step}"
            for parent, values in (p.when or {}).items():
                text += f"  when {parent} in {list(values)!r}"
            lines.append(f"{name:<{width}}  {text}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "params": {name: p.to_dict() for name, p in self.params.items()},
            "static": dict(self.static),
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        static: Mapping[str, Any] | None = None,
        path: str = "space",
        *,
        allow_empty: bool = False,
    ) -> Space:
        """Build from the spec form ``{name: {type: ..., ...}}``; errors name the field path."""
        if not isinstance(data, Mapping):
            raise SpecError(path, "must be a mapping of names to hyperparameters")
        if not data and not allow_empty:
            raise SpecError(path, "is empty: give at least one hyperparameter to search")
        params: dict[str, Param] = {}
        for name, spec in data.items():
            try:
                params[str(name)] = param_from_dict(spec)
            except SpecError as exc:
                where = f"{path}.{name}.{exc.field}" if exc.field else f"{path}.{name}"
                raise SpecError(where, exc.message) from None
            except TypeError as exc:
                raise SpecError(f"{path}.{name}", str(exc)) from None
        return cls(params, static or {})

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Space:
        """Inverse of :meth:`to_dict` (a stored define-by-run space may be empty)."""
        return cls.from_dict(data["params"], data.get("static") or {}, allow_empty=True)


def _inactive_reason(name: str, param: Param, decided: Mapping[str, Any]) -> str:
    conditions = " and ".join(
        f"{parent} is one of {list(values)!r}" for parent, values in (param.when or {}).items()
    )
    return f"is inactive here (it applies only when {conditions}); leave it out"


def _check_conditions(params: Mapping[str, Param], static: Mapping[str, Any]) -> None:
    """Refuse a ``when`` that names an unknown, static or non-categorical parent, or a value
    the parent cannot take."""
    for name, param in params.items():
        for parent, values in (param.when or {}).items():
            where = f"space.{name}.when.{parent}"
            if parent == name:
                raise SpecError(where, "a hyperparameter cannot be conditioned on itself")
            if parent not in params:
                hint = " (it is a static value)" if parent in static else ""
                raise SpecError(where, f"names no searched hyperparameter{hint}")
            parent_param = params[parent]
            if not isinstance(parent_param, Categorical):
                article = "an" if parent_param.kind == "int" else "a"
                raise SpecError(
                    where,
                    f"{parent} is {article} {parent_param.kind}; a parent must be categorical",
                )
            for value in values:
                if not _holds(parent_param.values, value):
                    raise SpecError(
                        where,
                        f"{value!r} is not one of {parent}'s values {list(parent_param.values)!r}",
                    )


def _topological(params: Mapping[str, Param]) -> tuple[str, ...]:
    """Parents before children, declaration order otherwise; a cycle is refused, named."""
    order: list[str] = []
    state: dict[str, int] = {}  # 1: being visited, 2: placed

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*trail[trail.index(name) :], name])
            raise SpecError(f"space.{name}.when", f"the conditions form a cycle: {cycle}")
        state[name] = 1
        for parent in params[name].when or {}:
            visit(parent, [*trail, name])
        state[name] = 2
        order.append(name)

    for name in params:
        visit(name, [])
    return tuple(order)
