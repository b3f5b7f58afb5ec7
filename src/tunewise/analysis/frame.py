"""A study's trials as columns: the one shape every analysis, plot and table reads.

Built once from the store's trials (``TrialFrame.from_trials``) and then queried many times:
sorting, filtering and paging 100,000 trials is a numpy ``argsort`` and a mask, not a Python
loop, which is what lets the dashboard answer in milliseconds from a cached frame.

Hyperparameters are kept twice: as the values that ran (for display) and in the space's unit
encoding (for plots, importance and sorting), so scales and categories are handled by
:mod:`tunewise.space` and nowhere else. A value the space cannot encode (a trial from an older
space) is NaN in the encoding, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tunewise.space import Categorical, Float, Param, Space
from tunewise.store.table import TrialTable
from tunewise.trial import Constraint, FailureKind, Objective, Trial, TrialState

#: Trial states in a stable order, for codes in :attr:`TrialFrame.state`.
STATES: tuple[TrialState, ...] = tuple(TrialState)
_STATE_CODE = {state: code for code, state in enumerate(STATES)}

#: Columns a table may be sorted by besides ``param:NAME`` and ``metric:NAME``.
SORT_KEYS = ("number", "state", "value", "duration", "started_at", "attempt")


@dataclass(frozen=True)
class TrialFrame:
    """Columnar view of a study's trials (row ``i`` is ``trials[i]``, in number order)."""

    space: Space
    objective: Objective
    trials: Sequence[Trial]  # a tuple, or a TrialTable that builds a Trial when indexed
    number: np.ndarray  # int64
    state: np.ndarray  # int8 codes into STATES
    value: np.ndarray  # float64, NaN where there is none
    duration: np.ndarray  # float64 seconds, NaN while unknown
    started_at: np.ndarray  # float64 epoch seconds, NaN while not started
    attempt: np.ndarray  # int64
    unit: dict[str, np.ndarray] = field(default_factory=dict)  # per param, NaN if unencodable
    metric_names: tuple[str, ...] = ()
    finished_at: np.ndarray = field(default_factory=lambda: np.empty(0))  # epoch s, NaN: not yet
    params: Sequence[Mapping[str, Any]] = ()  # each trial's hyperparameters, as they ran
    metrics: Sequence[Mapping[str, float]] = ()  # each trial's final metrics
    #: Every objective (``objective`` first) and the constraints: the Pareto figures read them.
    objectives: tuple[Objective, ...] = ()
    constraints: tuple[Constraint, ...] = ()

    @classmethod
    def from_trials(
        cls,
        trials: Sequence[Trial],
        space: Space,
        objective: Objective,
        objectives: Sequence[Objective] = (),
        constraints: Sequence[Constraint] = (),
    ) -> TrialFrame:
        """The frame of ``trials`` (in number order): ``Trial`` objects, or a
        :class:`~tunewise.store.table.TrialTable`, read a column at a time without building a
        ``Trial`` per row (100,000 trials in a fraction of a second)."""
        columns = _columns(trials)
        params, metrics = columns["params"], columns["metrics"]
        started_at = _floats(columns["started_at"])
        finished_at = _floats(columns["finished_at"])
        return cls(
            space=space,
            objective=objective,
            trials=trials if isinstance(trials, TrialTable) else tuple(trials),
            number=np.array(columns["number"], dtype=np.int64).reshape(len(trials)),
            state=np.array([_STATE_CODE[s] for s in columns["state"]], dtype=np.int8),
            value=_floats(columns["value"]),
            duration=finished_at - started_at,  # NaN unless both are known
            started_at=started_at,
            attempt=np.array(columns["attempt"], dtype=np.int64).reshape(len(trials)),
            unit={name: _encode(param, name, params) for name, param in space.params.items()},
            metric_names=tuple(sorted(set().union(*metrics))),
            finished_at=finished_at,
            params=params,
            metrics=metrics,
            objectives=tuple(objectives) or (objective,),
            constraints=tuple(constraints),
        )

    def updated(self, start: int, newer: Sequence[Trial]) -> TrialFrame:
        """This frame's trials numbered below ``start``, then ``newer`` (the study's trials
        numbered ``start`` or more, read now): how a reader that keeps a frame takes in a
        study's changes, re-reading only from its first unfinished trial (finished trials are
        read-only) and encoding only the trials it read."""
        keep = int(np.searchsorted(self.number, start))
        tail = TrialFrame.from_trials(newer, self.space, self.objective)
        if isinstance(self.trials, TrialTable) and isinstance(tail.trials, TrialTable):
            trials: Sequence[Trial] = self.trials[:keep].concat(tail.trials)
        else:
            trials = (*self.trials[:keep], *tail.trials)

        def join(name: str) -> np.ndarray:
            return np.concatenate([getattr(self, name)[:keep], getattr(tail, name)])

        return replace(
            self,
            trials=trials,
            number=join("number"),
            state=join("state"),
            value=join("value"),
            duration=join("duration"),
            started_at=join("started_at"),
            attempt=join("attempt"),
            unit={
                name: np.concatenate([u[:keep], tail.unit[name]]) for name, u in self.unit.items()
            },
            metric_names=tuple(sorted({*self.metric_names, *tail.metric_names})),
            finished_at=join("finished_at"),
            params=[*self.params[:keep], *tail.params],
            metrics=[*self.metrics[:keep], *tail.metrics],
        )

    def __len__(self) -> int:
        return len(self.trials)

    def failure_kinds(self, rows: Iterable[int]) -> list[FailureKind | None]:
        """The failure kinds of ``rows`` (from the table's column, decoded once, when the frame
        has a table; so no ``Trial`` is built)."""
        if isinstance(self.trials, TrialTable):
            kinds = self.trials.column("failure_kind")
            return [kinds[i] for i in rows]
        return [self.trials[i].failure_kind for i in rows]

    # Selections -------------------------------------------------------------------------
    def in_state(self, *states: TrialState) -> np.ndarray:
        """Boolean mask of the rows in any of ``states``."""
        codes = [_STATE_CODE[TrialState(s)] for s in states]
        return np.isin(self.state, codes)

    @property
    def scored(self) -> np.ndarray:
        """COMPLETED rows with a finite value: what importance, slices and best-so-far use.

        STOPPED trials are left out on purpose: their value is from a lower fidelity (an
        earlier epoch) and would bias comparisons between hyperparameters. So are infeasible
        trials (a constraint violated): they can never be the best.
        """
        scored = self.in_state(TrialState.COMPLETED) & np.isfinite(self.value)
        return scored & self.feasible if self.constraints else scored

    @property
    def feasible(self) -> np.ndarray:
        """Rows whose metrics respect every constraint (all rows, without constraints)."""
        if not self.constraints:
            return np.ones(self.number.size, dtype=bool)
        from tunewise.trial import is_feasible

        flags = [is_feasible(m, self.constraints) for m in self.metrics]
        return np.array(flags, dtype=bool).reshape(self.number.size)

    def goodness(self) -> np.ndarray:
        """Values turned so that larger is better (``value * sign``), NaN kept."""
        return self.value * self.objective.sign

    def best_index(self) -> int | None:
        """Row of the best COMPLETED trial (lowest number among equals), as ``Study.best_trial``."""
        rows = np.flatnonzero(self.scored)
        if rows.size == 0:
            return None
        good = self.goodness()[rows]
        return int(rows[int(np.argmax(good))])  # argmax takes the first: lowest number

    def best_so_far(self) -> tuple[np.ndarray, np.ndarray]:
        """Trial numbers and the best COMPLETED value up to each of them (scored rows only)."""
        rows = np.flatnonzero(self.scored)
        good = np.maximum.accumulate(self.goodness()[rows]) if rows.size else np.array([])
        return self.number[rows], good * self.objective.sign

    # Tables -----------------------------------------------------------------------------
    def select(
        self,
        *,
        states: Sequence[TrialState] = (),
        min_value: float | None = None,
        max_value: float | None = None,
        sort: str = "number",
        descending: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[int, list[int]]:
        """Filter, sort and page: the total that matched and the rows of the page.

        ``sort`` is one of :data:`SORT_KEYS`, ``param:NAME`` or ``metric:NAME``; rows without a
        key (NaN) go last in both orders, ties keep number order.

        Raises:
            KeyError: ``sort`` names no column of this study.
        """
        mask = np.ones(len(self), dtype=bool)
        if states:
            mask &= self.in_state(*states)
        if min_value is not None:
            mask &= self.value >= min_value
        if max_value is not None:
            mask &= self.value <= max_value
        rows = np.flatnonzero(mask)
        key = self.sort_key(sort)[rows]
        missing = np.isnan(key)
        ordered = -key if descending else key
        # lexsort: last key is primary; stable, so number order breaks ties.
        order = np.lexsort((rows, np.where(missing, 0.0, ordered), missing))
        page = rows[order][offset : offset + limit]
        return int(rows.size), [int(i) for i in page]

    def sort_key(self, sort: str) -> np.ndarray:
        """The float column a table sorts by (categories by their order in the space)."""
        columns = {
            "number": self.number.astype(np.float64),
            "state": self.state.astype(np.float64),
            "value": self.value,
            "duration": self.duration,
            "started_at": self.started_at,
            "attempt": self.attempt.astype(np.float64),
        }
        if sort in columns:
            return columns[sort]
        kind, _, name = sort.partition(":")
        if kind == "param" and name in self.unit:
            return self.unit[name]
        if kind == "metric" and name in self.metric_names:
            return _floats([m.get(name) for m in self.metrics])
        raise KeyError(sort)

    def sort_keys(self) -> list[str]:
        """Every accepted ``sort`` value, for validation and documentation."""
        return [
            *SORT_KEYS,
            *(f"param:{n}" for n in self.space.names),
            *(f"metric:{m}" for m in self.metric_names),
        ]

    def param_labels(self, name: str) -> list[str] | None:
        """The category names of a categorical parameter (``None`` for numbers)."""
        param = self.space.params[name]
        return [str(v) for v in param.values] if isinstance(param, Categorical) else None


def _columns(trials: Sequence[Trial]) -> dict[str, list[Any]]:
    """What a frame reads of each trial: a table's columns, or the trials' attributes."""
    if isinstance(trials, TrialTable):
        return {name: trials.column(name) for name in _READ}
    return {
        "number": [t.number for t in trials],
        "state": [t.state for t in trials],
        "value": [t.value for t in trials],
        "attempt": [t.attempt for t in trials],
        "started_at": [None if t.started_at is None else t.started_at.timestamp() for t in trials],
        "finished_at": [
            None if t.finished_at is None else t.finished_at.timestamp() for t in trials
        ],
        "params": [t.params for t in trials],
        "metrics": [t.metrics for t in trials],
    }


_READ = ("number", "state", "value", "attempt", "started_at", "finished_at", "params", "metrics")


def _floats(values: Sequence[float | None]) -> np.ndarray:
    """A float column; ``None`` is NaN."""
    return np.array(values, dtype=np.float64).reshape(len(values))


def _encode(param: Param, name: str, params: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """One parameter's unit encoding per trial; NaN where the space cannot encode the value.

    Floats are encoded as one numpy array (:meth:`Float.to_unit_array`) when every value is a
    number or missing. Ints and categories take few values: each distinct one is encoded once
    (keyed by type and value, so ``1``, ``True`` and ``"1"`` stay apart, as the space keeps
    them).
    """
    raw = [p.get(name, _MISSING) for p in params]
    if isinstance(param, Float):
        numbers = [None if v is _MISSING else v for v in raw]
        try:
            values = np.array(numbers, dtype=np.float64).reshape(len(raw))
        except (TypeError, ValueError, OverflowError):  # a string, a list: one by one below
            return np.array([_unit(param, v) for v in raw], dtype=np.float64).reshape(len(raw))
        column = param.to_unit_array(values)
        column[[i for i, v in enumerate(numbers) if v is None]] = np.nan
        return np.asarray(column, dtype=np.float64)
    try:
        if len(set(map(type, raw))) == 1:  # the usual case: one type, values are their keys
            units = {v: _unit(param, v) for v in set(raw)}
            return np.fromiter(map(units.__getitem__, raw), np.float64, len(raw))
        keys = list(zip(map(type, raw), raw, strict=True))
        memo = {key: _unit(param, key[1]) for key in set(keys)}
        return np.fromiter(map(memo.__getitem__, keys), np.float64, len(keys))
    except TypeError:  # an unhashable value (a list): cannot be one of the space's
        return np.array([_unit(param, v) for v in raw], dtype=np.float64).reshape(len(raw))


def _unit(param: Param, value: Any) -> float:
    """``param.to_unit(value)``, or NaN for a value it cannot encode (missing, unhashable, of
    an older space)."""
    if value is _MISSING:
        return math.nan
    try:
        hash(value)
        return float(param.to_unit(value))
    except (ValueError, TypeError, ArithmeticError):
        return math.nan


_MISSING = object()
