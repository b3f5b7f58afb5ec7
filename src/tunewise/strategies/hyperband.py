"""Hyperband: new configurations for ASHA's brackets.

The early stopping itself is a rule (:mod:`tunewise.stopping.asha`) the tuner applies to every
report; this strategy only draws the configurations. ``sampler: random`` draws them uniformly;
``sampler: bayesian`` fits the Bayesian strategy on the trials that ended at the highest
resource with enough of them (model-based Hyperband, as BOHB does), so values measured at
different budgets are never mixed in one model; the trials of other budgets count as already
tried (never suggested again), as pending trials do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy
from tunewise.strategies.registry import get_strategy, register
from tunewise.trial import TrialState

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.trial import Trial


def same_budget_history(history: Sequence[Trial], min_points: int) -> list[Trial]:
    """The finished trials of the highest budget (last reported step) that has at least
    ``min_points`` of them; ``[]`` when no budget has that many."""
    usable = [
        t
        for t in history
        if t.state in (TrialState.COMPLETED, TrialState.STOPPED)
        and t.value is not None
        and t.last_step is not None
    ]
    counts = Counter(t.last_step for t in usable)
    budgets = [b for b, n in counts.items() if b is not None and n >= min_points]
    if not budgets:
        return []
    top = max(budgets)
    return [t for t in usable if t.last_step == top]


@register
class HyperbandStrategy(Strategy):
    name = "hyperband"
    multi_objective = False  # its rungs compare one value (MOASHA is not implemented)

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
        sampler = self.options.get("sampler", "random")
        if sampler == "bayesian":
            fitted = same_budget_history(history, min_points=len(space) + 2)
            if fitted:
                # The other trials (other budgets, failures) join the pending ones: the model
                # does not learn from their values but never suggests them again, and steers
                # away from where they already looked.
                numbers = {t.number for t in fitted}
                elsewhere = [t for t in history if t.number not in numbers]
                model = get_strategy("bayesian")(
                    self.objective, self.seed, constraints=self.constraints
                )
                return model.suggest(space, fitted, [*pending, *elsewhere], n, rng)
        random = get_strategy("random")(self.objective, self.seed, constraints=self.constraints)
        return random.suggest(space, history, pending, n, rng)
