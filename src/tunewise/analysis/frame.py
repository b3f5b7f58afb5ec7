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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tunewise.space import Categorical, Float, Param, Space
from tunewise.trial import Objective, Trial, TrialState

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
    trials: tuple[Trial, ...]
    number: np.ndarray  # int64
    state: np.ndarray  # int8 codes into STATES
    value: np.ndarray  # float64, NaN where there is none
    duration: np.ndarray  # float64 seconds, NaN while unknown
    started_at: np.ndarray  # float64 epoch seconds, NaN while not started
    attempt: np.ndarray  # int64
    unit: dict[str, np.ndarray] = field(default_factory=dict)  # per param, NaN if unencodable
    metric_names: tuple[str, ...] = ()

    @classmethod
    def from_trials(cls, trials: Sequence[Trial], space: Space, objective: Objective) -> TrialFrame:
        n = len(trials)
        number = np.empty(n, np.int64)
        state = np.empty(n, np.int8)
        value = np.full(n, np.nan)
        duration = np.full(n, np.nan)
        started_at = np.full(n, np.nan)
        attempt = np.empty(n, np.int64)
        metric_names: set[str] = set()
        for i, t in enumerate(trials):  # one pass: 100,000 trials in a fraction of a second
            number[i] = t.number
            state[i] = _STATE_CODE[t.state]
            attempt[i] = t.attempt
            if t.value is not None:
                value[i] = t.value
            if t.started_at is not None:
                started_at[i] = t.started_at.timestamp()
                if t.finished_at is not None:
                    duration[i] = (t.finished_at - t.started_at).total_seconds()
            if t.metrics:
                metric_names.update(t.metrics)
        unit = {name: _encode(param, name, trials) for name, param in space.params.items()}
        return cls(
            space=space,
            objective=objective,
            trials=tuple(trials),
            number=number,
            state=state,
            value=value,
            duration=duration,
            started_at=started_at,
            attempt=attempt,
            unit=unit,
            metric_names=tuple(sorted(metric_names)),
        )

    def __len__(self) -> int:
        return len(self.trials)

    # Selections -------------------------------------------------------------------------
    def in_state(self, *states: TrialState) -> np.ndarray:
        """Boolean mask of the rows in any of ``states``."""
        codes = [_STATE_CODE[TrialState(s)] for s in states]
        return np.isin(self.state, codes)

    @property
    def scored(self) -> np.ndarray:
        """COMPLETED rows with a finite value: what importance, slices and best-so-far use.

        STOPPED trials are left out on purpose: their value is from a lower fidelity (an
        earlier epoch) and would bias comparisons between hyperparameters.
        """
        return self.in_state(TrialState.COMPLETED) & np.isfinite(self.value)

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
            return np.fromiter(
                (_float(t.metrics.get(name)) for t in self.trials), np.float64, len(self)
            )
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


def _encode(param: Param, name: str, trials: Sequence[Trial]) -> np.ndarray:
    """One parameter's unit encoding per trial; NaN where the space cannot encode the value.

    Ints and categories take few values: each is encoded once (keyed by type and value, so
    ``1``, ``True`` and ``"1"`` stay apart, as the space keeps them).
    """
    column = np.full(len(trials), np.nan)
    memo: dict[tuple[type, Any], float] = {}
    remember = not isinstance(param, Float)
    for i, trial in enumerate(trials):
        raw = trial.params.get(name, _MISSING)
        if raw is _MISSING:
            continue
        try:
            key = (type(raw), raw)
            u = memo.get(key) if remember else None
        except TypeError:  # an unhashable value (a list) cannot be one of the space's
            continue
        if u is None:
            try:
                u = float(param.to_unit(raw))
            except (ValueError, TypeError, ArithmeticError):
                u = math.nan  # a value of an older space
            if remember:
                memo[key] = u
        column[i] = u
    return column


_MISSING = object()


def _float(value: Any) -> float:
    return math.nan if value is None else float(value)
