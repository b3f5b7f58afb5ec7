"""Sobol search: a scrambled low-discrepancy sequence, so a small budget covers the space more
evenly than random draws. Point k of the sequence is used by the k-th trial of the study, which
keeps the strategy stateless: the position comes from the number of trials so far."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy
from tunewise.strategies.registry import register

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.trial import Trial


@register
class SobolStrategy(Strategy):
    name = "sobol"

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
        from scipy.stats import qmc

        position = len(history) + len(pending)
        engine = qmc.Sobol(d=len(space), scramble=True, seed=self.seed & 0xFFFFFFFF)
        with warnings.catch_warnings():
            # Balance properties need powers of two; any prefix still covers evenly enough.
            warnings.simplefilter("ignore", category=UserWarning)
            if position:
                engine.fast_forward(position)
            points = engine.random(n)
        return [space.decode(point.tolist()) for point in points]
