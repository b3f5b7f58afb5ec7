"""The median stopping rule (SageMaker's early stopping ``Auto``; Google Vizier's median rule).

After each step ``s`` a trial is stopped when its value at ``s`` is worse than the median of the
running averages, up to ``s``, of the objective of the completed trials — once at least
``min_trials`` of them reported by then and from step ``min_steps`` on.
"""

from __future__ import annotations

import statistics
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from tunewise.stopping.rules import CONTINUE, Curve, Decision, describe


def running_average(curve: Curve, step: int) -> float | None:
    """Mean of the values reported at steps up to ``step`` (``None`` if none)."""
    values = [value for s, value in curve.items() if s <= step]
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class MedianRule:
    sign: float  # +1 when larger is better
    min_trials: int = 5
    min_steps: int = 1

    def decide(
        self,
        number: int,
        step: int,
        curves: Mapping[int, Curve],
        completed: Collection[int],
    ) -> Decision:
        value = curves.get(number, {}).get(step)
        if value is None or step < self.min_steps:
            return CONTINUE
        averages = []
        for other in sorted(completed):
            if other == number:
                continue
            average = running_average(curves.get(other, {}), step)
            if average is not None:
                averages.append(average)
        if len(averages) < self.min_trials:
            return CONTINUE
        median = statistics.median(averages)
        if value * self.sign < median * self.sign:
            word = "below" if self.sign > 0 else "above"
            return Decision(
                True,
                f"median rule at step {step}: {describe(value)} is {word} the median "
                f"{describe(median)} of the running averages of {len(averages)} completed trials",
            )
        return CONTINUE
