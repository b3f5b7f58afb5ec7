"""Grid search: every combination of the per-parameter grid values exactly once.

The grid's order is a permutation fixed by the seed (so a study stopped early has sampled the
whole grid evenly, not one corner). Which points remain is derived from the history and the
pending trials, so resume and parallel workers never repeat a point.
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

    def default_max_trials(self, space: Space) -> int | None:
        space.grid_points()  # refuses grids over the limit with a clear message
        return space.grid_size()
