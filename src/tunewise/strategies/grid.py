"""Grid search: every combination of the per-parameter grid values exactly once.

The grid's order is a permutation fixed by the seed (so a study stopped early has sampled the
whole grid evenly, not one corner). Which points remain is derived from the history and the
pending trials, so resume and parallel workers never repeat a point.

On a conditional space (a tree) the grid is the list of valid combinations: each branch of a
parent brings the grid of its own children, and inactive parameters take no value, so no
combination differs from another only by a value that is never used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy
from tunewise.strategies.registry import register

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.trial import Trial


def _point_key(space: Space, params: Mapping[str, Any]) -> str:
    if space.is_conditional:
        # an inactive parameter is absent, never None (None can be a categorical's value)
        return json.dumps([[name, params[name]] for name in space.names if name in params])
    return json.dumps([params.get(name) for name in space.names])


@register
class GridStrategy(Strategy):
    name = "grid"

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
        import numpy as np

        if space.is_conditional:
            return self._suggest_tree(space, history, pending, n)
        axes = space.grid_points()
        sizes = [len(axis) for axis in axes]
        total = int(np.prod(sizes))
        seen = {_point_key(space, t.params) for t in (*history, *pending)}
        order = np.random.default_rng(self.seed & 0xFFFFFFFF).permutation(total)
        out: list[dict[str, Any]] = []
        for flat in order:
            index = np.unravel_index(int(flat), sizes)
            params = {name: axis[i] for name, axis, i in zip(space.names, axes, index, strict=True)}
            key = _point_key(space, params)
            if key in seen:
                continue
            seen.add(key)
            out.append(params)
            if len(out) == n:
                break
        return out

    def _suggest_tree(
        self, space: Space, history: Sequence[Trial], pending: Sequence[Trial], n: int
    ) -> list[dict[str, Any]]:
        import numpy as np

        combos = space.grid_combinations()
        seen = {_point_key(space, t.params) for t in (*history, *pending)}
        order = np.random.default_rng(self.seed & 0xFFFFFFFF).permutation(len(combos))
        out: list[dict[str, Any]] = []
        for index in order:
            params = combos[int(index)]
            key = _point_key(space, params)
            if key in seen:
                continue
            seen.add(key)
            out.append(params)
            if len(out) == n:
                break
        return out

    def default_max_trials(self, space: Space) -> int | None:
        space.grid_points()  # refuses grids over the limit with a clear message
        return space.grid_size()
