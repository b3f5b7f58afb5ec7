"""When a study ends, and why: decisions as data (``Completion(reason, evidence)``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunewise.policies import CompletionCriteria
    from tunewise.space import Space
    from tunewise.trial import Trial


@dataclass(frozen=True)
class Completion:
    """The study should end: ``reason`` is a short code, ``message`` the sentence shown."""

    reason: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


def check_limits(
    *,
    started: int,
    max_trials: int | None,
    elapsed: float,
    max_runtime: float | None,
    consecutive_failures: int,
    max_consecutive_failures: int,
    last_error: str | None = None,
) -> Completion | None:
    """Whether a limit ends the study now.

    ``started`` counts every trial of the study that has begun (finished or running), so a
    resumed study ends with exactly ``max_trials`` trials.
    """
    if consecutive_failures >= max_consecutive_failures:
        quoted = (last_error or "no error text").strip().splitlines()
        last_line = quoted[-1] if quoted else "no error text"
        return Completion(
            "too_many_failures",
            f"{consecutive_failures} consecutive trials failed; the last error was: {last_line}",
            {"consecutive_failures": consecutive_failures, "last_error": last_error},
        )
    if max_runtime is not None and elapsed >= max_runtime:
        return Completion(
            "max_runtime",
            f"reached max_runtime ({max_runtime:g}s)",
            {"elapsed_s": round(elapsed, 3), "max_runtime_s": max_runtime},
        )
    if max_trials is not None and started >= max_trials:
        return Completion(
            "max_trials",
            f"reached max_trials ({max_trials})",
            {"trials": started, "max_trials": max_trials},
        )
    return None


# SageMaker's TuningJobCompletionCriteria -------------------------------------------------
def best_of(trials: Sequence[Trial], sign: float) -> Trial | None:
    best: Trial | None = None
    for trial in trials:
        if trial.value is None or not math.isfinite(trial.value):
            continue
        if best is None or trial.value * sign > (best.value or 0.0) * sign:
            best = trial
    return best


def check_target(completed: Sequence[Trial], sign: float, target: float) -> Completion | None:
    """The best completed value reached ``target`` (TargetObjectiveMetricValue)."""
    best = best_of(completed, sign)
    if best is None or best.value is None or best.value * sign < target * sign:
        return None
    return Completion(
        "target",
        f"trial #{best.number} reached the target: {best.value:.6g} vs {target:.6g}",
        {"criterion": "target", "target": target, "best": best.value, "trial": best.number},
    )


def check_not_improving(
    completed: Sequence[Trial], sign: float, trials: int, min_delta: float
) -> Completion | None:
    """The best of the last ``trials`` completed trials did not beat the best before them by
    more than ``min_delta`` (relative) — SageMaker's BestObjectiveNotImproving."""
    if len(completed) <= trials:
        return None
    before = best_of(completed[:-trials], sign)
    now = best_of(completed, sign)
    if before is None or now is None or before.value is None or now.value is None:
        return None
    improvement = (now.value - before.value) * sign
    needed = min_delta * abs(before.value)
    if improvement > needed or (min_delta == 0 and improvement > 0):
        return None
    return Completion(
        "not_improving",
        f"the best ({now.value:.6g}) did not improve by more than {min_delta:.2%} over the last "
        f"{trials} completed trials (best before them: {before.value:.6g})",
        {
            "criterion": "not_improving",
            "trials": trials,
            "min_delta": min_delta,
            "best_before": before.value,
            "best_now": now.value,
            "improvement": improvement,
        },
    )


def check_convergence(completed: Sequence[Trial], sign: float, space: Space) -> Completion | None:
    """The search has converged: it keeps sampling next to its incumbent and finds nothing
    better (SageMaker's ConvergenceDetected).

    Over the last ``w = max(10, 2d)`` completed trials (once there are at least
    ``max(20, 5d)``): (1) the best improved by at most 0.1% of the range of observed values, and
    (2) those trials lie close to the incumbent — their median distance to it in the unit
    encoding is below ``0.1 * sqrt(d)``, a tenth of the typical distance between random points.
    Random search never satisfies (2), so it never "converges" by luck of a flat stretch; a
    model-based search that has settled in one basin satisfies both.
    """
    d = max(1, len(space))
    window = max(10, 2 * d)
    if len(completed) < max(20, 5 * d):
        return None
    finite = [t for t in completed if t.value is not None and math.isfinite(t.value)]
    best_now = best_of(finite, sign)
    best_before = best_of(finite[:-window], sign)
    if best_now is None or best_before is None:
        return None
    assert best_now.value is not None and best_before.value is not None
    values = [t.value for t in finite if t.value is not None]
    spread = max(values) - min(values)
    improvement = (best_now.value - best_before.value) * sign
    if spread > 0 and improvement > 1e-3 * spread:
        return None
    near = stayed_near([space.distance(t.params, best_now.params) for t in finite[-window:]], d)
    if near is None:
        return None
    median_distance, radius = near
    return Completion(
        "convergence",
        f"the search converged: the last {window} trials stayed near the incumbent "
        f"(median distance {median_distance:.3f} < {radius:.3f}) and improved the best by "
        f"{improvement:.3g}",
        {
            "criterion": "convergence",
            "window": window,
            "median_distance": median_distance,
            "radius": radius,
            "improvement": improvement,
            "spread": spread,
            "best": best_now.value,
        },
    )


def stayed_near(distances: Sequence[float], d: int) -> tuple[float, float] | None:
    """``(median distance, radius)`` when the median of ``distances`` (the last trials' to
    the best, in the unit cube of ``d`` dimensions) is within a tenth of its diagonal, the
    convergence criterion's "the search stays near what it found"; else ``None``."""
    median_distance = sorted(distances)[len(distances) // 2]
    radius = 0.1 * math.sqrt(d)
    return (median_distance, radius) if median_distance < radius else None


def check_criteria(
    criteria: CompletionCriteria, completed: Sequence[Trial], sign: float, space: Space
) -> Completion | None:
    """The first completion criterion met, in SageMaker's order: target, not improving,
    convergence. ``completed``: the completed trials in the order they finished."""
    if isinstance(criteria.target, int | float):  # a mapping: completion_multi
        met = check_target(completed, sign, criteria.target)
        if met is not None:
            return met
    if criteria.not_improving is not None:
        rule = criteria.not_improving
        met = check_not_improving(completed, sign, rule.trials, rule.min_delta)
        if met is not None:
            return met
    if criteria.convergence:
        return check_convergence(completed, sign, space)
    return None
