"""Random search: independent uniform draws in the unit encoding (so log and reverse-log scales
get their mass where the scale puts it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy
from tunewise.strategies.registry import register

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.trial import Trial


@register
class RandomStrategy(Strategy):
    name = "random"

    def suggest(
        self,
        space: Space,
        history: Sequence[Trial],
        pending: Sequence[Trial],
        n: int,
        rng: np.random.Generator,
    ) -> list[dict[str, Any]]:
        return [space.decode(rng.random(len(space)).tolist()) for _ in range(n)]
