"""Completion criteria of a study with several objectives or with constraints.

- ``target: {accuracy: 0.95, latency_ms: 10}``: some feasible completed trial reaches every
  named value at once (objectives not named are free). With one objective and constraints, the
  plain ``target`` counts feasible trials only.
- ``not_improving`` and ``convergence`` judge the hypervolume of the feasible Pareto front, in
  objective space NORMALISED by the ranges seen so far among the feasible completed trials
  (each objective's best value maps to 0 and its worst to 1, the reference point is 1.1 in every
  objective), so objectives in different units weigh the same:

  * ``not_improving: {trials: N, min_delta: d}``: the hypervolume of all feasible completed
    trials exceeds that of all but the last N by at most ``d`` times the latter (relatively, as
    the single-objective rule does with the best value; ``d = 0``: it did not grow at all);
  * ``convergence``: once there are ``max(20, 5 dims)`` completed trials, the last ``w =
    max(10, 2 dims)`` grew the hypervolume by at most 0.1% and lie close to the front (median
    distance, in the unit encoding of the space, to the nearest front trial below ``0.1 *
    sqrt(dims)``): the search has settled on its front instead of exploring.

Both hypervolumes of a comparison use the same normalisation (the ranges of all the trials
seen), so growth is never an artefact of rescaling.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from tunewise.stopping.completion import Completion, check_criteria, stayed_near
from tunewise.trial import Constraint, Objective, Trial, is_feasible, objective_values

if TYPE_CHECKING:
    from tunewise.policies import CompletionCriteria
    from tunewise.space import Space


def check_criteria_for(
    criteria: CompletionCriteria,
    completed: Sequence[Trial],
    objectives: Sequence[Objective],
    constraints: Sequence[Constraint],
    space: Space,
) -> Completion | None:
    """The first criterion met (target, not improving, convergence); ``completed`` in the order
    the trials finished. One objective: the single-objective rules on the feasible trials."""
    feasible = [t for t in completed if is_feasible(t.metrics, constraints)]
    if len(objectives) == 1:
        target = criteria.target
        if isinstance(target, Mapping):  # {metric: value} with one objective
            from dataclasses import replace

            criteria = replace(criteria, target=target[objectives[0].metric])
        return check_criteria(criteria, feasible, objectives[0].sign, space)
    points, kept = _points(feasible, objectives)
    if isinstance(criteria.target, Mapping):
        met = _check_target(kept, criteria.target, objectives)
        if met is not None:
            return met
    if criteria.not_improving is not None:
        rule = criteria.not_improving
        met = _check_not_improving(points, rule.trials, rule.min_delta)
        if met is not None:
            return met
    if criteria.convergence:
        return _check_convergence(points, kept, space)
    return None


def _points(
    trials: Sequence[Trial], objectives: Sequence[Objective]
) -> tuple[np.ndarray, list[Trial]]:
    """The trials with every objective, as normalised points to minimise (best 0, worst 1)."""
    rows, kept = [], []
    for trial in trials:
        values = objective_values(trial.metrics, objectives)
        if values is not None:
            rows.append([-o.sign * v for o, v in zip(objectives, values, strict=True)])
            kept.append(trial)
    points = np.asarray(rows, dtype=float).reshape(len(rows), len(objectives))
    if len(points):
        low, high = points.min(axis=0), points.max(axis=0)
        points = (points - low) / np.where(high > low, high - low, 1.0)
    return points, kept


def _hypervolume(points: np.ndarray) -> float:
    from tunewise.pareto import hypervolume

    if len(points) == 0:
        return 0.0
    return hypervolume(points, np.full(points.shape[1], 1.1))


def _check_target(
    trials: Sequence[Trial], target: Mapping[str, float], objectives: Sequence[Objective]
) -> Completion | None:
    by_metric = {o.metric: o for o in objectives}
    for trial in trials:
        if all(
            trial.metrics[m] * by_metric[m].sign >= value * by_metric[m].sign
            for m, value in target.items()
        ):
            reached = ", ".join(f"{m} {trial.metrics[m]:.6g} vs {v:.6g}" for m, v in target.items())
            return Completion(
                "target",
                f"trial #{trial.number} reached every target: {reached}",
                {"criterion": "target", "target": dict(target), "trial": trial.number,
                 "values": {m: trial.metrics[m] for m in target}},
            )  # fmt: skip
    return None


def _check_not_improving(points: np.ndarray, trials: int, min_delta: float) -> Completion | None:
    if len(points) <= trials:
        return None
    before, now = _hypervolume(points[:-trials]), _hypervolume(points)
    improvement = now - before
    if improvement > min_delta * before or (min_delta == 0 and improvement > 0):
        return None
    return Completion(
        "not_improving",
        f"the hypervolume of the Pareto front ({now:.4g}, normalised) did not grow by more "
        f"than {min_delta:.2%} over the last {trials} completed trials (before: {before:.4g})",
        {"criterion": "not_improving", "trials": trials, "min_delta": min_delta,
         "hypervolume_before": before, "hypervolume_now": now, "improvement": improvement},
    )  # fmt: skip


def _check_convergence(
    points: np.ndarray, kept: Sequence[Trial], space: Space
) -> Completion | None:
    from tunewise.pareto import pareto_front

    d = max(1, len(space))
    window = max(10, 2 * d)
    if len(points) < max(20, 5 * d):
        return None
    before, now = _hypervolume(points[:-window]), _hypervolume(points)
    improvement = now - before
    if improvement > 1e-3 * max(now, 1e-12):
        return None
    front = [kept[i] for i in pareto_front(points)]
    distances = [min(space.distance(t.params, f.params) for f in front) for t in kept[-window:]]
    near = stayed_near(distances, d)
    if near is None:
        return None
    median_distance, radius = near
    return Completion(
        "convergence",
        f"the search converged: the last {window} trials stayed near the Pareto front (median "
        f"distance {median_distance:.3f} < {radius:.3f}) and grew its hypervolume by "
        f"{improvement:.3g}",
        {"criterion": "convergence", "window": window, "median_distance": median_distance,
         "radius": radius, "improvement": improvement, "hypervolume": now},
    )  # fmt: skip
