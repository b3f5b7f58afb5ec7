"""The model-facing view of a search space, shared by the ``bayesian`` and ``tpe`` strategies.

A model works on one row of numbers per configuration. Every column is the parameter's unit
value from :class:`~tunewise.space.Space` (so log and reverse-log scales are already applied,
once, in ``space.py``), except categorical columns, which hold the choice's *index*: models treat
those as unordered (a Hamming/overlap term in the GP kernel, a categorical kernel in TPE) instead
of pretending that ``(i + 0.5) / k`` is an ordered number.

Discrete columns (ints, stepped floats) keep their admissible unit values so that candidates can
be snapped to what will really run before a model scores them; the final choice always goes
through ``Space.decode`` / ``Space.encode``, so what the model saw is what runs.

This module imports numpy at the top: it is only imported by strategy modules, which the
registry loads on lookup, so ``import tunewise`` stays light.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tunewise.space import Categorical, Float, Int, Space
from tunewise.strategies.tree import Tree
from tunewise.trial import Objective, Trial, TrialState

#: Discrete parameters with at most this many values are snapped exactly in bulk.
MAX_SNAP_VALUES = 10_000
#: Finite spaces up to this size are scored exhaustively instead of searched.
MAX_ENUMERATION = 4_096
#: Decimals kept when comparing configurations (distinct runs differ far more).
KEY_DECIMALS = 10


#: States whose value is a result: an early-stopped trial's value at its last step still is.
_RESULT_STATES = frozenset({TrialState.COMPLETED, TrialState.STOPPED})


@dataclass(frozen=True)
class Observation:
    """Finished trials a model learns from: ``x`` rows and ``y`` values to *minimise*."""

    x: np.ndarray
    y: np.ndarray
    failed: np.ndarray  # rows of FAILED trials (no value); models ignore or penalise them
    seen: np.ndarray  # rows of every trial of the history, whatever its state
    #: ``(len(y), d)``: which columns of ``x`` hold a value (False: inactive, or a parameter
    #: first seen after the trial ran); None when every column of every row does.
    present: np.ndarray | None = None


class Features:
    """Columns of a space for models: unit values, with categoricals as choice indices.

    In a conditional space (or one that grew: define-by-run) a column where a trial has no
    value holds the marker of :mod:`.tree` (one more categorical index, or the middle of a
    numeric column), and every row a model proposes is projected onto the tree.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        params = list(space.params.values())
        self.dim = len(params)
        self.categorical = np.array([isinstance(p, Categorical) for p in params], dtype=bool)
        self.n_choices = np.array(
            [len(p.values) if isinstance(p, Categorical) else 0 for p in params], dtype=np.int64
        )
        self.grids: list[np.ndarray | None] = [_unit_grid(p) for p in params]
        self.discrete = np.array(
            [g is not None and not c for g, c in zip(self.grids, self.categorical, strict=True)],
            dtype=bool,
        )
        self.continuous = ~self.categorical
        self.tree = Tree(space)
        self.conditional = self.tree.conditional
        self.size = _finite_size(params)
        if self.conditional and self.size is not None:
            self.size = self._tree_size(self.size)

    def _tree_size(self, product: int) -> int | None:
        """The number of valid configurations of a finite tree (None: too many to count)."""
        if product > 16 * MAX_ENUMERATION:
            return None
        return len(self._product())

    def _product(self) -> np.ndarray:
        axes = []
        for j, grid in enumerate(self.grids):
            if self.categorical[j]:
                axes.append(np.arange(self.n_choices[j], dtype=float))
            else:
                assert grid is not None
                axes.append(grid)
        rows = np.array(list(itertools.product(*axes)), dtype=float).reshape(-1, self.dim)
        if self.conditional:
            rows = np.unique(self.tree.project(rows), axis=0)
        return rows

    def project(self, rows: np.ndarray) -> np.ndarray:
        """Rows with every inactive column at its marker (children follow their parents)."""
        return self.tree.project(rows)

    def active(self, rows: np.ndarray) -> np.ndarray:
        """Which columns of each row are active (all of them in a flat space)."""
        return self.tree.active(rows)

    # Rows <-> values ----------------------------------------------------------------------
    def encode(self, params: Mapping[str, Any]) -> np.ndarray:
        """The row of one assignment (raises ``SpecError``/``KeyError`` when it does not fit).

        A parameter the assignment lacks (inactive, or first seen after it) gets its marker.
        """
        if self.conditional or any(name not in params for name in self.space.params):
            rows, ok = self.encode_many([params])
            if not ok[0]:
                raise ValueError("the assignment does not fit the space")
            return rows[0]
        row = np.asarray(self.space.encode(params), dtype=float)
        cat = self.categorical
        row[cat] = np.minimum(np.floor(row[cat] * self.n_choices[cat]), self.n_choices[cat] - 1)
        return row

    def to_unit(self, rows: np.ndarray) -> np.ndarray:
        """Rows back to the unit encoding (categorical index ``i`` -> ``(i + 0.5) / k``)."""
        unit = np.array(rows, dtype=float, copy=True)
        cat = self.categorical
        unit[..., cat] = (unit[..., cat] + 0.5) / self.n_choices[cat]
        return unit

    def from_unit(self, unit: np.ndarray) -> np.ndarray:
        """Unit points (e.g. Sobol draws) to rows: categorical columns become indices."""
        rows = np.clip(np.array(unit, dtype=float, copy=True), 0.0, 1.0)
        cat = self.categorical
        rows[..., cat] = np.minimum(
            np.floor(rows[..., cat] * self.n_choices[cat]), self.n_choices[cat] - 1
        )
        return self.project(rows)

    def decode(self, row: np.ndarray) -> dict[str, Any]:
        """The runnable values of one row (exact: through ``Space.decode``, which keeps only
        the active parameters of a conditional space)."""
        if self.conditional:
            row = self.project(np.array(row, dtype=float, copy=True))
            cat = self.categorical
            row[cat] = np.minimum(row[cat], self.n_choices[cat] - 1)
        return self.space.decode(self.to_unit(row).tolist())

    def exact(self, row: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
        """Round one row to what will really run: ``(encode(decode(row)), decode(row))``."""
        params = self.decode(row)
        return self.encode(params), params

    def snap(self, rows: np.ndarray) -> np.ndarray:
        """Bulk rounding of candidate rows: clip to the cube, snap discrete columns to their
        nearest admissible value and categorical columns to a valid index. Close to
        :meth:`exact` (identical but at the rare value boundaries of log-scaled ints) and cheap
        enough for thousands of candidates; the final choice still goes through :meth:`exact`.
        """
        out = np.array(rows, dtype=float, copy=True)
        cont = self.continuous
        out[..., cont] = np.clip(out[..., cont], 0.0, 1.0)
        for j in np.flatnonzero(self.discrete):
            grid = self.grids[j]
            assert grid is not None
            out[..., j] = _nearest(grid, out[..., j])
        cat = self.categorical
        out[..., cat] = np.clip(np.rint(out[..., cat]), 0, self.n_choices[cat] - 1)
        return self.project(out)

    def key(self, row: np.ndarray) -> bytes:
        """A hashable identity of a configuration's row (for de-duplication)."""
        return (np.round(np.asarray(row, dtype=float), KEY_DECIMALS) + 0.0).tobytes()

    # Sampling -------------------------------------------------------------------------------
    def random(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """``count`` uniform rows (in the unit encoding), snapped to runnable values."""
        return self.snap(self.from_unit(rng.random((count, self.dim))))

    def latin_hypercube(self, seed: int, position: int, size: int, count: int = 16) -> np.ndarray:
        """Rows ``position, position + 1, ...`` of the seed's initial design: a Latin hypercube
        of ``size`` points (McKay et al. 1979), then uniform draws for positions past it.

        A Latin hypercube stratifies every parameter like a Sobol prefix does, but without the
        lattice structure that short Sobol prefixes show in their 2-D projections; on the
        public benchmark it led the GP to the global basin of hartmann6 in 9 of 10 seeds
        against 3 of 10 from a Sobol start of the same size.
        """
        from scipy.stats import qmc

        design = qmc.LatinHypercube(d=self.dim, seed=seed & 0xFFFFFFFF).random(size)[position:]
        extra = max(0, count - len(design))
        rng = np.random.default_rng([seed & 0xFFFFFFFF, position, 1])
        return self.from_unit(np.vstack([design, rng.random((extra, self.dim))]))

    def enumerate(self) -> np.ndarray | None:
        """Every row of a finite space small enough to score exhaustively, else ``None``."""
        if self.size is None or self.size > MAX_ENUMERATION:
            return None
        return self._product()

    # History ----------------------------------------------------------------------------------
    def encode_many(
        self, assignments: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of many assignments at once, and which of them fit the space.

        Column by column, so encoding a long history costs one call per value; an assignment
        that does not fit (an edited spec: a value out of range) is flagged instead of raising.
        A name an assignment lacks (an inactive parameter, or one first seen after the trial
        ran) gets its column's marker (:mod:`.tree`).
        """
        rows, ok, _ = self.encode_present(assignments)
        return rows, ok

    def encode_present(
        self, assignments: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """:meth:`encode_many`, and which cells hold a value (None: all of them)."""
        count = len(assignments)
        rows = np.zeros((count, self.dim))
        ok = np.ones(count, dtype=bool)
        has: np.ndarray | None = None
        for j, (name, param) in enumerate(self.space.params.items()):
            present = [i for i, a in enumerate(assignments) if name in a]
            if len(present) < count:
                if has is None:
                    has = np.ones((count, self.dim), dtype=bool)
                has[:, j] = False
                has[present, j] = True
                rows[:, j] = self.tree.marker[j]
                if not present:
                    continue
                sub = [assignments[i] for i in present]
                sub_rows, sub_ok = self._encode_column(param, [a[name] for a in sub])
                rows[present, j] = sub_rows
                ok[present] &= sub_ok
                continue
            column = [a[name] for a in assignments]
            rows[:, j], column_ok = self._encode_column(param, column)
            ok &= column_ok
        if self.conditional:
            self.project(rows)
        return rows, ok, has

    @staticmethod
    def _encode_column(
        param: Float | Int | Categorical, column: list[Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The unit values (categorical: choice indices) of one column, and which values fit."""
        ok = np.ones(len(column), dtype=bool)
        if isinstance(param, Float) and param.scale == "linear":
            units = _linear_units(param, column)
            if units is not None:
                return units, ok
        convert: Any
        if isinstance(param, Categorical):
            memo: dict[tuple[type, Any], float] = {}
            convert = _memo_index(param, memo)
        else:
            convert = param.to_unit
        out = np.zeros(len(column))
        try:
            out[:] = list(map(convert, column))
        except (KeyError, TypeError, ValueError):  # SpecError is a ValueError
            for i, value in enumerate(column):
                try:
                    out[i] = convert(value)
                except (KeyError, TypeError, ValueError):
                    ok[i] = False
        return out, ok

    def observations(self, history: Sequence[Trial], objective: Objective) -> Observation:
        """Rows and minimisation values of the usable trials of ``history``.

        COMPLETED and STOPPED trials with a finite value are used (an early-stopped trial's
        value at its last step is still a valid result); FAILED ones are returned apart; trials
        whose values no longer fit the space (an edited spec) are skipped. ``seen`` holds the
        rows of every trial that fits, whatever its state.
        """
        rows, ok, has = self.encode_present([t.params for t in history])
        # Column-wise too: the whole history is read again at every suggestion.
        values = np.array(
            [
                t.value if t.value is not None and t.state in _RESULT_STATES else math.nan
                for t in history
            ],
            dtype=float,
        )
        usable = np.isfinite(values) & ok
        failed = np.array([t.state == TrialState.FAILED for t in history], dtype=bool) & ok
        y = -objective.sign * values[usable]
        present = None if has is None else has[usable]
        return Observation(x=rows[usable], y=y, failed=rows[failed], seen=rows[ok], present=present)

    def known(
        self, history: Sequence[Trial], pending: Sequence[Trial], objective: Objective
    ) -> tuple[Observation, np.ndarray, set[bytes]]:
        """What a model strategy starts from: the observations of ``history``, the rows of the
        ``pending`` trials, and the keys of every configuration run or pending (never to be
        suggested again)."""
        obs = self.observations(history, objective)
        pending_rows = self.rows(pending)
        return obs, pending_rows, self.keys(np.vstack([obs.seen, pending_rows]))

    def rows(self, trials: Sequence[Trial]) -> np.ndarray:
        """Rows of trials (e.g. the pending ones), skipping those that do not fit the space."""
        rows, ok = self.encode_many([t.params for t in trials])
        return rows[ok]

    def keys(self, rows: np.ndarray) -> set[bytes]:
        """The keys (see :meth:`key`) of many rows."""
        rounded = np.round(np.asarray(rows, dtype=float).reshape(-1, self.dim), KEY_DECIMALS)
        rounded += 0.0  # -0.0 -> 0.0
        return {r.tobytes() for r in rounded}

    def try_encode(self, params: Mapping[str, Any]) -> np.ndarray | None:
        try:
            return self.encode(params)
        except (KeyError, TypeError, ValueError):  # SpecError is a ValueError
            return None

    # Picking new configurations -------------------------------------------------------------
    def first_new(
        self, rows: Iterable[np.ndarray], avoid: set[bytes]
    ) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The first row whose exact (decoded, re-encoded) configuration is not in ``avoid``,
        with its values; ``None`` when every row was run or is pending."""
        tried: set[bytes] = set()
        for row in rows:
            quick = self.key(row)
            if quick in tried:
                continue
            tried.add(quick)
            exact, params = self.exact(row)
            if self.key(exact) not in avoid:
                return exact, params
        return None

    def random_new(
        self, avoid: set[bytes], rng: np.random.Generator, draws: int = 256
    ) -> tuple[np.ndarray, dict[str, Any]] | None:
        """A uniformly random configuration not in ``avoid`` (``None``: none found)."""
        rows = self.enumerate()
        rows = rows[rng.permutation(len(rows))] if rows is not None else self.random(rng, draws)
        return self.first_new(rows, avoid)

    def take(
        self,
        pick: tuple[np.ndarray, dict[str, Any]] | None,
        avoid: set[bytes],
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, dict[str, Any]] | None:
        """The strategy's ``pick``, else a random new configuration (the fallback every model
        strategy uses), marked as taken in ``avoid``; ``None`` when none is left."""
        if pick is None:
            pick = self.random_new(avoid, rng)
        if pick is not None:
            avoid.add(self.key(pick[0]))
        return pick

    def exhausted(self, avoid: set[bytes]) -> bool:
        """Whether a finite space has no configuration left outside ``avoid``."""
        return self.size is not None and len(avoid) >= self.size


def _memo_index(param: Categorical, memo: dict[tuple[type, Any], float]) -> Any:
    """``value -> choice index`` through ``Categorical.index``, remembered per distinct value."""

    def convert(value: Any) -> float:
        key = (type(value), value)
        if key not in memo:
            memo[key] = float(param.index(value))
        return memo[key]

    return convert


def _unit_grid(param: Float | Int | Categorical) -> np.ndarray | None:
    """The sorted unit values a discrete parameter can take (``None``: continuous or huge)."""
    if isinstance(param, Categorical):
        return np.array([param.to_unit(v) for v in param.values])
    values: Iterable[Any]
    if isinstance(param, Int):
        step = param.step or 1
        if (param.high - param.low) // step + 1 > MAX_SNAP_VALUES:
            return None
        values = range(param.low, param.high + 1, step)
    else:
        low, high = float(param.low or 0.0), float(param.high or 0.0)
        if high == low:
            return np.array([0.5])
        if param.step is None:
            return None
        count = math.floor((high - low) / param.step + 1e-9) + 1
        if count > MAX_SNAP_VALUES:
            return None
        values = (min(high, round(low + k * param.step, 12)) for k in range(count))
    return np.unique(np.array([param.to_unit(v) for v in values], dtype=float))


def _finite_size(params: Sequence[Float | Int | Categorical]) -> int | None:
    """How many distinct configurations the space has, or ``None`` when it is continuous."""
    size = 1
    for p in params:
        if isinstance(p, Categorical):
            size *= len(p.values)
        elif isinstance(p, Int):
            size *= (p.high - p.low) // (p.step or 1) + 1
        elif p.low == p.high:
            continue
        elif p.step is not None:
            low, high = float(p.low or 0.0), float(p.high or 0.0)
            size *= math.floor((high - low) / p.step + 1e-9) + 1
        else:
            return None
    return size


def _nearest(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The nearest element of sorted ``grid`` to each of ``values``."""
    idx = np.clip(np.searchsorted(grid, values), 1, len(grid) - 1) if len(grid) > 1 else None
    if idx is None:
        return np.full_like(values, grid[0])
    left, right = grid[idx - 1], grid[idx]
    return np.where(values - left <= right - values, left, right)


_BLAS_CONTROLLER: Any = None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread when ``threadpoolctl`` is installed.

    A strategy's linear algebra is many small calls (matrices of a few hundred rows), where
    BLAS threads cost more in start-up and contention than they save — badly so on a busy
    machine (measured here: one GP likelihood evaluation at 100 points took 1 ms on one thread
    and 20+ ms on two contended ones). Optuna's GPSampler limits threads for the same reason.
    Without ``threadpoolctl`` the block runs unchanged.
    """
    global _BLAS_CONTROLLER
    if _BLAS_CONTROLLER is None:
        try:
            import scipy.linalg  # noqa: F401  (load SciPy's BLAS so that it is controlled too)
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _BLAS_CONTROLLER = False
        else:
            _BLAS_CONTROLLER = ThreadpoolController()
    if not _BLAS_CONTROLLER:
        yield
        return
    with _BLAS_CONTROLLER.limit(limits=1, user_api="blas"):
        yield


def _linear_units(param: Float, column: list[Any]) -> np.ndarray | None:
    """:meth:`Float.to_unit` of a whole column of a linear float in one numpy pass (the same
    subtraction, division and clip, so the same bits; a long history is re-encoded at every
    suggestion) — or None when a value is not a finite
    number (the caller then encodes value by value and flags the bad ones)."""
    try:
        values = np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if values.ndim != 1 or not np.all(np.isfinite(values)):
        return None
    low, high = float(param.low), float(param.high)  # type: ignore[arg-type]
    if high == low:
        return np.full(len(values), 0.5)
    return np.clip((values - low) / (high - low), 0.0, 1.0) + 0.0  # -0.0 as min() gives 0.0
