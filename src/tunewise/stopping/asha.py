"""Asynchronous successive halving over Hyperband brackets (ASHA, Li et al. 2020).

Trial ``n`` belongs to bracket ``b`` (drawn from the seed and ``n`` with Hyperband's weights, so
any process finds the same bracket). Its rungs are ``min_resource * factor**(b + k)`` below
``max_resource``. When it reaches a rung it goes on only if its value there is among the top
``1/factor`` of the values of its bracket's trials at that rung (with fewer than ``factor`` of
them, only if it is the best so far — Optuna's successive-halving rule); otherwise it is
stopped, a valid result at a lower budget. Decisions depend only on stored reports.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tunewise.stopping.rules import CONTINUE, Curve, Decision, describe


def rung_value(curve: Curve, rung: int) -> float | None:
    """The value a trial had on reaching ``rung``: at the first reported step >= rung."""
    steps = [s for s in curve if s >= rung]
    return curve[min(steps)] if steps else None


@dataclass(frozen=True)
class AshaRule:
    sign: float
    min_resource: int
    max_resource: int
    reduction_factor: int = 3
    seed: int = 0

    @property
    def brackets(self) -> int:
        ratio = self.max_resource / self.min_resource
        # Hyperband's s_max + 1 brackets; the last one runs every trial to max_resource.
        return math.floor(math.log(ratio, self.reduction_factor) + 1e-9) + 1

    def bracket(self, number: int) -> int:
        """Hyperband's allocation: aggressive brackets (low first rung) get more trials."""
        s_max = self.brackets - 1
        weights = [
            math.ceil((s_max + 1) / (s_max - b + 1) * self.reduction_factor ** (s_max - b))
            for b in range(self.brackets)
        ]
        rng = random.Random(f"{self.seed}:{number}:bracket")
        return rng.choices(range(self.brackets), weights=weights)[0]

    def rungs(self, bracket: int) -> list[int]:
        rungs = []
        resource = self.min_resource * self.reduction_factor**bracket
        # A rung needs room for the next one above it: with max 30 and factor 3 the rungs are
        # 1, 3, 9 (not 27, which would cut trials 3 epochs short of the full budget).
        while resource * self.reduction_factor <= self.max_resource:
            rungs.append(resource)
            resource *= self.reduction_factor
        return rungs

    def decide(
        self,
        number: int,
        step: int,
        curves: Mapping[int, Curve],
        completed: Collection[int],
    ) -> Decision:
        curve = curves.get(number, {})
        if step not in curve:
            return CONTINUE
        earlier = [s for s in curve if s < step]
        previous = max(earlier) if earlier else 0
        bracket = self.bracket(number)
        reached = [r for r in self.rungs(bracket) if previous < r <= step]
        if not reached:
            return CONTINUE
        rung = reached[-1]
        mine = curve[step]
        values = []
        for other, other_curve in curves.items():
            if other != number and self.bracket(other) == bracket:
                value = rung_value(other_curve, rung)
                if value is not None:
                    values.append(value)
        values.append(mine)
        values.sort(key=lambda v: -v * self.sign)
        keep = max(1, len(values) // self.reduction_factor)
        cutoff = values[keep - 1]
        if mine * self.sign >= cutoff * self.sign:
            return CONTINUE
        return Decision(
            True,
            f"hyperband bracket {bracket}, rung {rung}: {describe(mine)} is not in the top "
            f"1/{self.reduction_factor} of the {len(values)} trials at that rung "
            f"(cutoff {describe(cutoff)})",
        )
