"""Pure decisions: stop a running trial early, or end the whole study (with a reason)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunewise.stopping.asha import AshaRule
from tunewise.stopping.completion import Completion, check_limits
from tunewise.stopping.median import MedianRule
from tunewise.stopping.rules import CONTINUE, Decision, StoppingRule

if TYPE_CHECKING:
    from tunewise.spec import StudySpec

__all__ = [
    "CONTINUE",
    "AshaRule",
    "Completion",
    "Decision",
    "MedianRule",
    "StoppingRule",
    "build_stopping_rule",
    "check_limits",
]


def build_stopping_rule(spec: StudySpec) -> StoppingRule | None:
    """The rule a spec asks for: Hyperband's rungs, the median rule, or none."""
    sign = spec.objective.sign
    if spec.hyperband is not None:
        hb = spec.hyperband
        assert hb.max_resource is not None
        return AshaRule(sign, hb.min_resource, hb.max_resource, hb.reduction_factor, spec.seed or 0)
    if spec.early_stopping is not None:
        es = spec.early_stopping
        return MedianRule(sign, es.min_trials, es.min_steps)
    return None
