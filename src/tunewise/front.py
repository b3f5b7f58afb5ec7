"""A study's results when it has several objectives or constraints: feasibility, the Pareto
front of trials, hypervolume. Every face (Python, CLI, dashboard, exports) asks here, so they
agree on which trials are best.

Feasibility is computed from a trial's metrics on read (no stored column): the constraints are
part of the study's definition and cannot change, so the answer never goes stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunewise.trial import (
    Constraint,
    Objective,
    Trial,
    TrialState,
    is_feasible,
    objective_values,
)

if TYPE_CHECKING:
    from tunewise.runners.base import Outcome
    from tunewise.study import Study

__all__ = [
    "as_metrics",
    "check_constraints",
    "check_outcome",
    "front_trials",
    "minimised",
    "refuse_single",
    "resolve_objectives",
    "study_flags",
]


def resolve_objectives(
    objective: Objective | None,
    direction: str | None,
    objectives: Sequence[Objective] | None,
    directions: Sequence[str] | None,
) -> tuple[Objective, ...]:
    """The objectives ``create_study`` was given, in one of its forms: ``objective=``,
    ``direction=`` (Optuna: the metric is ``value``), ``objectives=[...]`` or
    ``directions=[...]`` (Optuna: the metrics are ``values_0``, ``values_1``, ...).

    Raises:
        TypeError: none of them, or two that contradict each other.
    """
    given = [
        name
        for name, value in (
            ("objective", objective),
            ("objectives", objectives),
            ("directions", directions),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise TypeError(f"give one of objective=, objectives= or directions=, not {given}")
    if directions is not None:
        if direction is not None:
            raise TypeError("give direction= (one objective) or directions= (several), not both")
        if isinstance(directions, str) or not directions:
            raise TypeError("directions must be a non-empty list such as ['maximize', 'minimize']")
        if len(directions) == 1:
            return (Objective("value", directions[0]),)
        return tuple(Objective(f"values_{i}", d) for i, d in enumerate(directions))
    if objectives is not None:
        if direction is not None:
            raise TypeError("direction= applies to one objective; give each Objective a direction")
        if isinstance(objectives, Objective | str) or not objectives:
            raise TypeError(
                "objectives must be a non-empty list of tw.Objective(metric, direction)"
            )
        for item in objectives:
            if not isinstance(item, Objective):
                raise TypeError(f"objectives must hold tw.Objective values, got {item!r}")
        return tuple(objectives)
    if objective is None:
        if direction is None:
            raise TypeError(
                "give objective=tw.Objective(metric, direction), objectives=[...], or "
                "direction='minimize' or 'maximize' as Optuna's create_study does"
            )
        return (Objective("value", direction),)
    if not isinstance(objective, Objective):
        raise TypeError(f"objective must be tw.Objective(metric, direction), got {objective!r}")
    if direction is not None and str(direction) != str(objective.direction):
        raise TypeError(
            f"direction={direction!r} contradicts objective={objective!r}; give one of them"
        )
    return (objective,)


def check_constraints(constraints: Sequence[Constraint] | None) -> tuple[Constraint, ...]:
    """``create_study(constraints=...)`` as a tuple; anything else than Constraints is named."""
    if constraints is None:
        return ()
    if isinstance(constraints, Constraint) or not isinstance(constraints, Sequence):
        raise TypeError("constraints must be a list of tw.Constraint(metric, min=..., max=...)")
    for item in constraints:
        if not isinstance(item, Constraint):
            raise TypeError(f"constraints must hold tw.Constraint values, got {item!r}")
    return tuple(constraints)


def minimised(values: Sequence[float], objectives: Sequence[Objective]) -> list[float]:
    """Objective values turned so that every one is minimised (a maximised one negated)."""
    return [-o.sign * v for v, o in zip(values, objectives, strict=True)]


def _candidates(
    trials: Sequence[Trial], objectives: Sequence[Objective], constraints: Sequence[Constraint]
) -> tuple[list[Trial], np.ndarray]:
    """The completed, feasible trials with every objective, and their minimised points."""
    kept, points = [], []
    for trial in trials:
        if trial.state != TrialState.COMPLETED or not is_feasible(trial.metrics, constraints):
            continue
        metrics = trial.metrics
        if trial.value is not None:  # the first objective's value, as stored
            metrics = {**metrics, objectives[0].metric: trial.value}
        values = objective_values(metrics, objectives)
        if values is None:
            continue
        kept.append(trial)
        points.append(minimised(values, objectives))
    return kept, np.asarray(points, dtype=float).reshape(len(points), len(objectives))


def front_trials(
    trials: Sequence[Trial], objectives: Sequence[Objective], constraints: Sequence[Constraint]
) -> list[Trial]:
    """The feasible Pareto front in trial-number order (every trial of a tie is kept). With
    one objective: the best feasible trial (the lowest number among equals), in a list."""
    from tunewise.pareto import pareto_front

    kept, points = _candidates(trials, objectives, constraints)
    if not kept:
        return []
    if len(objectives) == 1:
        best = min(range(len(kept)), key=lambda i: (points[i, 0], kept[i].number))
        return [kept[best]]
    front = [kept[int(i)] for i in pareto_front(points)]
    return sorted(front, key=lambda t: t.number)


def refuse_single(name: str, count: int, attribute: str) -> None:
    """Optuna's behaviour: a single-objective result asked of a multi-objective study."""
    if count > 1:
        raise RuntimeError(
            f"study {name!r} has {count} objectives, so it has no single {attribute}: use "
            "study.best_trials (the feasible Pareto front)"
        )


def as_metrics(
    value: float | Sequence[float] | Mapping[str, float] | None, objectives: Sequence[Objective]
) -> Any:
    """``study.tell(trial, [v1, v2])``: a list gives each objective its value, in order;
    anything else (a number, a dict of metrics, None) is returned as it is.

    Raises:
        ValueError: a list whose length is not the number of objectives.
    """
    if isinstance(value, Mapping | str | bytes) or not isinstance(value, Sequence):
        return value
    if len(value) != len(objectives):
        names = ", ".join(o.metric for o in objectives)
        raise ValueError(
            f"tell got {len(value)} values for {len(objectives)} objectives ({names}); give one "
            "value per objective, in that order, or a dict of metrics"
        )
    return {o.metric: v for o, v in zip(objectives, value, strict=True)}


def check_outcome(
    outcome: Outcome, objectives: Sequence[Objective], constraints: Sequence[Constraint]
) -> Outcome:
    """A completed outcome that lacks an objective or a constrained metric becomes FAILED
    with that reason (the first objective is the runners' own check; this adds the others)."""
    from dataclasses import replace

    from tunewise.trial import FailureKind, missing_metrics

    if outcome.state != TrialState.COMPLETED or (len(objectives) < 2 and not constraints):
        return outcome
    reason = missing_metrics(outcome.metrics, objectives, constraints)
    if reason is None:
        return outcome
    kind = FailureKind.METRIC_INVALID if "finite" in reason else FailureKind.METRIC_MISSING
    return replace(outcome, state=TrialState.FAILED, value=None, failure_kind=kind, error=reason)


def study_flags(study: Study, trials: Sequence[Trial]) -> dict[int, dict[str, Any]] | None:
    """Feasibility and front membership of ``trials`` (any subset of the study's), judged
    against all of the study's trials; None for a study with one objective and no constraint
    (nothing to show beyond the best trial)."""
    spec = study.spec
    if len(spec.objectives) < 2 and not spec.constraints:
        return None
    on_front = {t.number for t in study.best_trials if t.study_id == study._id}
    out: dict[int, dict[str, Any]] = {}
    for trial in trials:
        feasible: bool | None = None
        if trial.state.is_finished and trial.metrics:
            feasible = is_feasible(trial.metrics, spec.constraints)
        out[trial.number] = {"feasible": feasible, "on_front": trial.number in on_front}
    return out
