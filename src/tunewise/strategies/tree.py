"""The tree of a conditional space, as the model strategies see it.

A conditional parameter is *inactive* in a trial where its parent does not take one of the
listed values (or is itself inactive); the trial then has no value for it. A model still needs
a row of numbers per trial, so an inactive column holds a fixed marker that is not one of the
parameter's values:

- a categorical column holds the extra index ``k`` (its choices are ``0 .. k-1``): the GP's
  mismatch term and TPE's categorical kernel treat "inactive" as one more unordered choice, so
  two trials where the parameter is inactive match on it and an inactive one never matches an
  active one;
- a numeric column holds ``INACTIVE`` (the middle of the unit interval). On its own that would
  pretend to a value, but the parent's categorical column, which decides the activity, always
  differs between an active and an inactive trial: the kernel separates the branches through
  it (the "imputation with branch indicators" design, Lévesque et al. 2017), and between two
  trials of the same branch the column's terms are zero (both at the marker) or genuine (both
  active). Acquisition gradients along inactive columns are zeroed, and every candidate is
  projected (:meth:`Tree.project`) so that its children follow its parents' values.

A parameter a trial lacks for another reason (a define-by-run space that grew after the trial
ran) is encoded the same way: the trial did not use it, which is all a model can know.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tunewise.space import Categorical, Space

#: The unit value a numeric column holds where its parameter is inactive.
INACTIVE = 0.5


class Tree:
    """Which columns of a space's rows are active, decided from the parents' columns."""

    def __init__(self, space: Space) -> None:
        params = list(space.params.values())
        names = list(space.params)
        column = {name: j for j, name in enumerate(names)}
        self.dim = len(params)
        self.categorical = np.array([isinstance(p, Categorical) for p in params], dtype=bool)
        self.marker = np.array(
            [float(len(p.values)) if isinstance(p, Categorical) else INACTIVE for p in params]
        )
        #: Per column: (parent column, the parent's choice indices that activate it).
        self.conditions: list[list[tuple[int, np.ndarray]]] = []
        for p in params:
            conditions = []
            for parent, values in (getattr(p, "when", None) or {}).items():
                parent_param = space.params[parent]
                assert isinstance(parent_param, Categorical)
                allowed = [_index(parent_param, v) for v in _as_list(values)]
                conditions.append(
                    (column[parent], np.array([i for i in allowed if i is not None], dtype=float))
                )
            self.conditions.append(conditions)
        self.conditional = any(self.conditions)
        order = getattr(space, "order", None) or names
        self.order = [column[name] for name in order]

    def active(self, rows: np.ndarray) -> np.ndarray:
        """``(m, d)`` booleans: which columns of each row are active (parents' columns read
        as they are; an inactive parent's children are inactive)."""
        rows = np.atleast_2d(rows)
        out = np.ones(rows.shape, dtype=bool)
        if not self.conditional:
            return out
        for j in self.order:
            for parent, allowed in self.conditions[j]:
                out[:, j] &= out[:, parent] & np.isin(rows[:, parent], allowed)
        return out

    def project(self, rows: np.ndarray) -> np.ndarray:
        """Rows with every inactive column set to its marker, in place (and returned).

        A categorical that has just become active (its parent switched) while holding its
        marker takes its first choice, so a projected row is always one the space can run;
        parents are decided before their children, as in :meth:`active`.
        """
        if not self.conditional:
            return rows
        flat = rows.reshape(-1, self.dim)
        active = np.ones(flat.shape, dtype=bool)
        for j in self.order:
            for parent, allowed in self.conditions[j]:
                active[:, j] &= active[:, parent] & np.isin(flat[:, parent], allowed)
            flat[~active[:, j], j] = self.marker[j]
            if self.categorical[j]:
                stale = active[:, j] & (flat[:, j] >= self.marker[j])
                flat[stale, j] = 0.0
        return rows

    def groups(self, active: np.ndarray) -> list[np.ndarray]:
        """Columns that are always active together, from the activity rows of a history
        (Optuna's ``group=True`` decomposition): each group is a boolean column mask."""
        found: list[np.ndarray] = []
        for pattern in np.unique(active, axis=0):
            left = pattern.copy()
            next_found = []
            for group in found:
                inter, rest = group & pattern, group & ~pattern
                next_found += [g for g in (inter, rest) if g.any()]
                left &= ~group
            found = next_found + ([left] if left.any() else [])
        return found


def _as_list(values: Any) -> Sequence[Any]:
    if isinstance(values, (list, tuple)):
        return values
    return [values]


def _index(param: Categorical, value: Any) -> int | None:
    try:
        return param.index(value)
    except (KeyError, ValueError, TypeError):
        return None
