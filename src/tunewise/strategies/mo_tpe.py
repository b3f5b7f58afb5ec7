"""``tpe`` on studies with several objectives or with constraints.

The TPE of :mod:`.tpe` only needs to know which finished trials are *good*: the first
``n_good(n)`` of an order from best to worst. Here that order is
:func:`.feasibility.preference_order`:

- several objectives: Optuna's MOTPE split (Ozaki et al. 2020/2022) — non-dominated rank
  first, ties within a rank broken by each trial's exclusive hypervolume contribution, so the
  good group is the front and, of a rank that does not fit whole, its most spread-out members;
- constraints: Optuna's constrained TPE — feasible trials before infeasible ones, infeasible
  ones by their total violation, so that before anything is feasible the good group is the
  least violating trials.

The estimators, the sampling, the constant liars for failed and pending trials and the
per-group decomposition of a conditional space are those of :mod:`.tpe`, fed with each
trial's position in that order as the value to minimise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from tunewise.space import Space
    from tunewise.trial import Trial


def suggest(
    strategy: Any,
    space: Space,
    history: Sequence[Trial],
    pending: Sequence[Trial],
    n: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """``tpe``'s suggestions for a study with several objectives or constraints."""
    from tunewise.strategies.feasibility import known_outcomes, preference_order
    from tunewise.strategies.features import Features
    from tunewise.strategies.tpe import n_good, suggest_rounds

    features = Features(space)
    out, pending_rows, avoid = known_outcomes(features, strategy, history, pending)
    position = len(history) + len(pending)
    # Each trial's place in the preference order is its value: the first n_good are good.
    rank = np.empty(len(out.y))
    split = n_good(len(out.y))
    rank[preference_order(out.y, out.violation, split)] = np.arange(len(out.y), dtype=float)
    return suggest_rounds(
        features,
        strategy.seed,
        out.x,
        rank,
        out.present,
        [out.failed, pending_rows],
        avoid,
        position,
        n,
        rng,
    )
