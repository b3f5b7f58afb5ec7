"""Random search: independent uniform draws in the unit encoding (so log and reverse-log scales
get their mass where the scale puts it).

Each suggestion draws from its own generator, seeded by the study's seed and the number the trial
will get, so a trial's values do not depend on how suggestions were batched (one at a time or
several for parallel slots).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy, strategy_rng
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
        *,
        remaining: int | None = None,
    ) -> list[dict[str, Any]]:
        first = len(history) + len(pending)
        return [
            space.decode(strategy_rng(self.seed, first + i).random(len(space)).tolist())
            for i in range(n)
        ]
