"""Define-by-run: ``trial.suggest_float / suggest_int / suggest_categorical``, Optuna's API.

A study created without a space (``tw.create_study(direction="maximize")``) learns its space
from what its trials ask. The design is Optuna's relative + independent sampling:

- the driver's strategy suggests values for the space seen so far (the study's stored space),
  and the trial gets them (its stored params while it runs);
- ``suggest_*`` returns that pre-suggested value when the name is known with the same
  distribution; a name never seen before is drawn in the trial itself, uniformly in the unit
  encoding, from a generator seeded by (study seed, trial number, name): the same trial asks
  the same value on a retry, in another process, on a worker or on Ray;
- when the trial ends, what it asked (values and distributions) travels back with its outcome:
  the trial's params become exactly what was suggested, and a new name joins the study's
  stored space (so a later trial's strategy models it, ``tunewise status`` shows it and
  ``tunewise export --format spec`` writes it).

A name asked with another distribution than the one the study has seen is an error naming
the parameter (in one trial, as in Optuna; across trials too, since a stored space holds one
distribution per name).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunewise.errors import SpecError
from tunewise.space import (
    Categorical,
    Float,
    Int,
    JSONScalar,
    Param,
    Space,
    _holds,
    param_from_dict,
)
from tunewise.strategies.base import Strategy

if TYPE_CHECKING:
    import numpy as np

    from tunewise.store.base import Store
    from tunewise.trial import StudyRecord, Trial


def _param(kind: str, build: Any, name: str) -> Param:
    try:
        param: Param = build()
    except SpecError as exc:
        raise ValueError(f"suggest_{kind}({name!r}, ...): {exc.field}: {exc.message}") from None
    return param


def float_param(name: str, low: float, high: float, step: float | None, log: bool) -> Param:
    if step is not None and log:
        raise ValueError(f"suggest_float({name!r}, ...): step and log cannot be used together")
    scale = "log" if log else "linear"
    return _param("float", lambda: Float(low, high, scale=scale, step=step), name)


def int_param(name: str, low: int, high: int, step: int, log: bool) -> Param:
    if step != 1 and log:
        raise ValueError(f"suggest_int({name!r}, ...): step and log cannot be used together")
    scale = "log" if log else "linear"
    return _param(
        "int", lambda: Int(low, high, scale=scale, step=None if step == 1 else step), name
    )


def categorical_param(name: str, choices: Sequence[JSONScalar]) -> Param:
    if isinstance(choices, str | bytes) or not isinstance(choices, Sequence):
        raise ValueError(
            f"suggest_categorical({name!r}, choices): choices must be a list, got {choices!r}"
        )
    return _param("categorical", lambda: Categorical(list(choices)), name)


def _same(a: Param, b: Param) -> bool:
    """Same distribution, whatever condition the stored one carries."""
    left, right = a.to_dict(), b.to_dict()
    left.pop("when", None)
    right.pop("when", None)
    return left == right


def _describe(param: Param) -> str:
    data = param.to_dict()
    data.pop("when", None)
    return ", ".join(f"{k}={v!r}" for k, v in data.items())


class Suggester:
    """The ``suggest_*`` methods of a trial: a training function's trial (in the trial's
    process) and an asked trial (in the caller's) share them.

    Subclasses call :meth:`_start_suggesting` with the study's seen space (name -> spec form),
    the pre-suggested values, the study's seed and the trial number.
    """

    _seen: dict[str, Param]
    _given: dict[str, Any]
    _suggested: dict[str, Any]
    _asked: dict[str, Param]
    _seed: int
    _number: int
    _grows: bool

    def _start_suggesting(
        self,
        seen: Mapping[str, Mapping[str, Any]] | Space | None,
        given: Mapping[str, Any],
        seed: int,
        number: int,
        *,
        grows: bool = True,
    ) -> None:
        """``grows``: the study is define-by-run (a new name joins its space); False for a
        declared space, where only its own names may be asked."""
        if isinstance(seen, Space):
            params: dict[str, Param] = dict(seen.params)
        else:
            params = {name: param_from_dict(data) for name, data in (seen or {}).items()}
        object.__setattr__(self, "_seen", params)
        object.__setattr__(self, "_given", dict(given))
        object.__setattr__(self, "_suggested", {})
        object.__setattr__(self, "_asked", {})
        object.__setattr__(self, "_seed", int(seed))
        object.__setattr__(self, "_number", int(number))
        object.__setattr__(self, "_grows", grows)

    def suggest_float(
        self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False
    ) -> float:
        """A float in ``[low, high]`` (``log``: uniform in log space; ``step``: on
        ``low + k * step``), as Optuna's ``trial.suggest_float``."""
        if low == high:
            return float(self._fixed(name, float(low)))
        return float(self._suggest(name, float_param(name, low, high, step, log)))

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        """An integer in ``[low, high]`` (both included), as Optuna's ``trial.suggest_int``."""
        if low == high:
            return int(self._fixed(name, int(low)))
        return int(self._suggest(name, int_param(name, low, high, step, log)))

    def suggest_categorical(self, name: str, choices: Sequence[JSONScalar]) -> Any:
        """One of ``choices`` (None, bools, numbers, strings), as Optuna's
        ``trial.suggest_categorical``."""
        return self._suggest(name, categorical_param(name, choices))

    @property
    def suggested(self) -> dict[str, Any]:
        """What this trial has asked so far, by name."""
        return dict(self._suggested)

    @property
    def distributions(self) -> dict[str, dict[str, Any]]:
        """The distributions this trial has asked, in the spec's form."""
        return {name: param.to_dict() for name, param in self._asked.items()}

    def _fixed(self, name: str, value: Any) -> Any:
        """A range of one value (Optuna allows it): recorded, never searched."""
        if name in self._suggested and self._suggested[name] != value:
            raise ValueError(
                f"parameter {name!r} was already suggested with another range in this trial"
            )
        self._suggested[name] = value
        return value

    def _suggest(self, name: str, param: Param) -> Any:
        if not isinstance(name, str):
            raise TypeError(f"a parameter name must be a string, got {name!r}")
        asked = self._asked.get(name)
        if asked is not None:
            if not _same(asked, param):
                raise ValueError(
                    f"parameter {name!r} was already suggested in this trial with "
                    f"{_describe(asked)}; it cannot be asked again with {_describe(param)}"
                )
            return self._suggested[name]
        seen = self._seen.get(name)
        if seen is None and not self._grows:
            raise ValueError(
                f"suggest_*({name!r}, ...): this study declares its space, which has no "
                f"{name!r}; read the declared values from params, or create the study without "
                "a space to define it by run"
            )
        if seen is not None and not _same(seen, param):
            raise ValueError(
                f"parameter {name!r} is in this study's space with {_describe(seen)}; asking it "
                f"with {_describe(param)} is refused (a study keeps one distribution per name: "
                "use another name)"
            )
        value = self._pre_suggested(name, param)
        if value is _NONE:
            value = param.from_unit(_unit(self._seed, self._number, name))
        self._asked[name] = seen if seen is not None else param
        self._suggested[name] = value
        return value

    def _pre_suggested(self, name: str, param: Param) -> Any:
        # the driver's suggestion, or a value enqueued for a name not seen yet (Optuna's
        # enqueue_trial: used when it fits the distribution asked)
        if name not in self._given:
            return _NONE
        try:
            return param.validate(self._given[name])
        except SpecError:  # a value the driver drew for another distribution: draw anew
            return _NONE


_NONE = object()
#: How long recording a trial's new names waits for the other processes' suggestions.
SPACE_LOCK_SECONDS = 10.0


def _unit(seed: int, number: int, name: str) -> float:
    """The unit value a trial draws for a name it asks first: fixed by (seed, number, name)."""
    import numpy as np

    key = zlib.crc32(name.encode("utf-8"))
    return float(np.random.default_rng([seed & 0xFFFFFFFF, number, key]).random())


class SeenSpaceStrategy(Strategy):
    """A define-by-run study's strategy: the wrapped one on the space seen so far; no values
    to suggest while nothing has been seen (the first trials ask everything themselves)."""

    name = "define_by_run"

    def __init__(self, inner: Strategy) -> None:
        super().__init__(
            inner.objective,
            inner.seed,
            inner.options,
            objectives=inner.objectives,
            constraints=inner.constraints,
        )
        self.inner = inner

    def suggest(
        self,
        space: Space,
        history: Sequence[Trial],
        pending: Sequence[Trial],
        n: int,
        rng: np.random.Generator,
        *,
        remaining: int | None = None,
    ) -> list[dict[str, Any]]:
        if not space.params:
            return [{} for _ in range(n)]
        tree = inferred_tree(space, history)
        return self.inner.suggest(tree, history, pending, n, rng, remaining=remaining)


def inferred_tree(space: Space, history: Sequence[Trial]) -> Space:
    """The seen space with the conditions the finished trials show (Optuna's TPE infers its
    groups the same way): ``p`` is conditioned on the categorical ``q`` taking the values
    ``S`` when every trial that asked ``p`` asked ``q`` with a value in ``S``, every trial
    whose ``q`` is in ``S`` asked ``p``, and some trial asked ``q`` with another value and no
    ``p``. The trials that asked ``p`` are then a strict subset of those that asked ``q``, so
    the conditions form no cycle. Derived from the history on every call (nothing stored): a
    later trial that contradicts a condition removes it; a wrong guess only means the trial
    draws that value itself. A space that already has conditions is returned as it is."""
    if space.is_conditional or len(history) < 2:
        return space
    asked = [t.params for t in history]
    params = dict(space.params)
    changed = False
    for name, param in space.params.items():
        holders = [p for p in asked if name in p]
        if not holders or len(holders) == len(asked):
            continue
        best: tuple[int, str, tuple[Any, ...]] | None = None
        for parent, candidate in space.params.items():
            if parent == name or not isinstance(candidate, Categorical):
                continue
            if any(parent not in p for p in holders):
                continue
            values = [v for v in candidate.values if any(_eq(p[parent], v) for p in holders)]
            others = [p for p in asked if parent in p]
            inside = [p for p in others if any(_eq(p[parent], v) for v in values)]
            if len(inside) != len(holders) or len(inside) == len(others):
                continue
            if best is None or len(others) < best[0]:  # the deepest parent
                best = (len(others), parent, tuple(values))
        if best is not None:
            params[name] = _with_condition(param, {best[1]: best[2]})
            changed = True
    return Space(params, space.static) if changed else space


def _eq(a: Any, b: Any) -> bool:
    return _holds([b], a)


def _with_condition(param: Param, when: Mapping[str, tuple[Any, ...]]) -> Param:
    data = param.to_dict()
    data["when"] = {k: list(v) for k, v in when.items()}
    return param_from_dict(data)


def checked_fixed(space: Space, params: Any, where: str) -> dict[str, Any]:
    """Values enqueued for a define-by-run study (Optuna's ``enqueue_trial``): some names, not
    all; those the study has seen are checked against their distribution, others must be JSON
    values (the trial uses one when it fits what it asks)."""
    from tunewise.validation import check_json_value

    if not isinstance(params, Mapping):
        raise TypeError(f"{where}: params must be a dict of hyperparameter values, got {params!r}")
    out: dict[str, Any] = {}
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"{where}: parameter names must be strings, got {name!r}")
        if name in space.params:
            try:
                out[name] = space.params[name].validate(value)
            except SpecError as exc:
                raise SpecError(f"{where}.params.{name}", exc.message) from None
        else:
            check_json_value(value, f"{where}.params.{name}")
            out[name] = value
    return out


def grown_space(space: Space, distributions: Mapping[str, Mapping[str, Any]]) -> Space | None:
    """``space`` with the parameters of ``distributions`` it lacks; None when none is new."""
    new = {n: d for n, d in distributions.items() if n not in space.params}
    if not new:
        return None
    params = dict(space.params)
    for name, data in new.items():
        params[name] = param_from_dict(data)
    return Space(params, space.static)


def record_suggested(
    store: Store,
    record: StudyRecord,
    number: int,
    params: Mapping[str, Any],
    distributions: Mapping[str, Mapping[str, Any]],
) -> Space | None:
    """Store what a define-by-run trial asked: its params become exactly those, and the
    study's stored space gains the names it lacked (read again under the study's suggestion
    lock, so the names another process adds at the same moment are kept). Returns the grown
    space (None: unchanged)."""
    store.set_trial_params(record.id, number, dict(params))
    known = Space.from_json({"params": record.definition.get("space") or {}, "static": {}})
    if not any(name not in known.params for name in distributions):
        return None  # nothing new since this process last read the space: no write
    with store.suggestion_lock(record.id, SPACE_LOCK_SECONDS):
        return _grow_stored(store, record, distributions)


def _grow_stored(
    store: Store, record: StudyRecord, distributions: Mapping[str, Mapping[str, Any]]
) -> Space | None:
    current = store.get_study(record.name)
    definition = dict(current.definition)
    space = Space.from_json({"params": definition.get("space") or {}, "static": {}})
    grown = grown_space(space, distributions)
    if grown is None:
        return None
    definition["space"] = {name: p.to_dict() for name, p in grown.params.items()}
    store.update_study_definition(record.id, definition)
    static = definition.get("static") or {}
    return Space(grown.params, static)
