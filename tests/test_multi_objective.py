"""Several objectives and constraints: spec, Python API, results (issue 23)."""

from __future__ import annotations

import math
from typing import Any

import pytest

import tunewise as tw
from tunewise.errors import SpecError
from tunewise.spec import StudySpec
from tunewise.trial import Constraint, missing_metrics

ACC = tw.Objective("accuracy", "maximize")
LAT = tw.Objective("latency_ms", "minimize")
BASE: dict[str, Any] = {
    "study": "mo",
    "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    "strategy": "random",
}


def spec_of(**extra: Any) -> StudySpec:
    return StudySpec.from_dict({**BASE, **extra})


# Constraint semantics ------------------------------------------------------------------------
def test_constraint_bounds_are_inclusive_and_violation_is_the_distance() -> None:
    c = Constraint("memory_mb", max=512)
    assert c.satisfied({"memory_mb": 512}) and c.violation({"memory_mb": 512}) == 0.0
    assert not c.satisfied({"memory_mb": 600}) and c.violation({"memory_mb": 600}) == 88.0
    both = Constraint("x", min=1, max=2)
    assert both.violation({"x": 0.5}) == 0.5 and both.violation({"x": 2.5}) == 0.5
    assert both.satisfied({"x": 1.5})


def test_constraint_missing_or_nan_metric_is_infeasible() -> None:
    c = Constraint("accuracy", min=0.9)
    assert not c.satisfied({}) and c.violation({}) == math.inf
    assert not c.satisfied({"accuracy": math.nan})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"metric": ""}, "constraints.metric"),
        ({"metric": "m"}, "constraints.min"),
        ({"metric": "m", "max": "5"}, "constraints.max"),
        ({"metric": "m", "min": math.inf}, "constraints.min"),
        ({"metric": "m", "min": 3, "max": 2}, "constraints.max"),
    ],
)
def test_constraint_validation_names_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as info:
        Constraint(**kwargs)
    assert info.value.field == field


def test_missing_metrics_names_the_objective_or_constraint() -> None:
    cons = [Constraint("memory_mb", max=512)]
    assert "latency_ms" in (missing_metrics({"accuracy": 1}, [ACC, LAT], cons) or "")
    reason = missing_metrics({"accuracy": 1, "latency_ms": 2}, [ACC, LAT], cons)
    assert reason is not None and "memory_mb" in reason
    assert (
        missing_metrics({"accuracy": 1, "latency_ms": 2, "memory_mb": 9e9}, [ACC, LAT], cons)
        is None
    )


# Spec ----------------------------------------------------------------------------------------
def test_spec_objectives_and_constraints_round_trip() -> None:
    spec = spec_of(
        objectives=[
            {"metric": "accuracy", "direction": "maximize"},
            {"metric": "latency_ms", "direction": "minimize"},
        ],
        constraints=[{"metric": "memory_mb", "max": 512}, {"metric": "accuracy", "min": 0.9}],
    )
    assert spec.objectives == (ACC, LAT) and spec.objective == ACC
    assert spec.constraints == (Constraint("memory_mb", max=512), Constraint("accuracy", min=0.9))
    data = spec.to_dict()
    assert "objective" not in data and len(data["objectives"]) == 2
    assert StudySpec.from_dict(data) == spec
    assert "constraints" in spec.search_definition()


def test_single_objective_spec_is_stored_as_before() -> None:
    spec = spec_of(objective={"metric": "loss", "direction": "minimize"})
    assert spec.objectives == (spec.objective,) and spec.constraints == ()
    data = spec.to_dict()
    assert "objectives" not in data and "constraints" not in data
    assert set(spec.search_definition()) == {"objective", "strategy", "space", "static"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (
            {"objective": {"metric": "a", "direction": "minimize"}, "objectives": []},
            "objectives",
        ),
        ({"objectives": []}, "objectives"),
        ({"objectives": [{"metric": "a"}]}, "objectives[0].direction"),
        (
            {
                "objectives": [
                    {"metric": "a", "direction": "minimize"},
                    {"metric": "a", "direction": "maximize"},
                ]
            },
            "objectives[1].metric",
        ),
        (
            {
                "objective": {"metric": "a", "direction": "minimize"},
                "constraints": [{"metric": "m"}],
            },
            "constraints[0].min",
        ),
        (
            {
                "objective": {"metric": "a", "direction": "minimize"},
                "constraints": [{"metric": "m", "max": 1, "below": 2}],
            },
            "constraints[0]",
        ),
        (
            {
                "objective": {"metric": "a", "direction": "minimize"},
                "constraints": {"metric": "m", "max": 1},
            },
            "constraints",
        ),
    ],
)
def test_spec_errors_name_the_field(extra: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as info:
        spec_of(**extra)
    assert info.value.field.startswith(field), info.value


TWO = [
    {"metric": "accuracy", "direction": "maximize"},
    {"metric": "latency_ms", "direction": "minimize"},
]


def test_hyperband_and_early_stopping_refuse_several_objectives() -> None:
    with pytest.raises(SpecError, match="strategy: hyperband needs one objective"):
        spec_of(objectives=TWO, strategy="hyperband", hyperband={"max_resource": 9})
    with pytest.raises(SpecError) as info:
        spec_of(objectives=TWO, early_stopping="median")
    assert info.value.field == "early_stopping" and "several" in info.value.message


# Python API ----------------------------------------------------------------------------------
def train(params: dict[str, Any]) -> dict[str, float]:
    x = params["x"]
    return {"accuracy": x, "latency_ms": x * x + 0.1, "memory_mb": 1000 * x}


def mo_study(**kwargs: Any) -> tw.Study:
    return tw.create_study(
        objectives=[ACC, LAT],
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        seed=3,
        **kwargs,
    )


def test_best_trials_is_the_feasible_front_and_best_trial_refuses() -> None:
    study = mo_study(constraints=[tw.Constraint("memory_mb", max=500)])
    study.optimize(train, n_trials=12, progress=False)
    front = study.best_trials
    assert front, "some trial must be feasible with this seed"
    trials = study.trials
    assert all(t.metrics["memory_mb"] <= 500 for t in front)
    # Here accuracy and latency both grow with x: every feasible trial is on the front.
    feasible = [t for t in trials if t.metrics["memory_mb"] <= 500]
    assert [t.number for t in front] == [t.number for t in feasible]
    for attribute in ("best_trial", "best_value", "best_params"):
        with pytest.raises(RuntimeError, match="best_trials"):
            getattr(study, attribute)


def test_front_excludes_dominated_trials() -> None:
    study = mo_study()
    for acc, lat in [(0.9, 10.0), (0.8, 5.0), (0.7, 20.0), (0.9, 10.0)]:
        study.tell(study.ask(), {"accuracy": acc, "latency_ms": lat})
    assert [t.number for t in study.best_trials] == [0, 1, 3]


def test_tell_a_list_and_missing_metrics_fail_with_the_reason() -> None:
    study = mo_study(constraints=[tw.Constraint("memory_mb", max=500)])
    told = study.tell(study.ask(), [0.5, 3.0])
    assert told.state == tw.TrialState.FAILED
    assert told.failure_kind == tw.FailureKind.METRIC_MISSING and "memory_mb" in (told.error or "")
    told = study.tell(study.ask(), {"accuracy": 0.5, "memory_mb": 1.0})
    assert told.state == tw.TrialState.FAILED and "latency_ms" in (told.error or "")
    told = study.tell(study.ask(), {"accuracy": 0.5, "latency_ms": math.inf, "memory_mb": 1.0})
    assert told.failure_kind == tw.FailureKind.METRIC_INVALID
    with pytest.raises(ValueError, match="2 objectives"):
        study.tell(study.ask(), [0.5])
    good = study.tell(study.ask(), {"accuracy": 0.5, "latency_ms": 3.0, "memory_mb": 1.0})
    assert good.state == tw.TrialState.COMPLETED and good.value == 0.5


def test_optimize_fails_a_trial_that_misses_a_metric() -> None:
    study = mo_study(constraints=[tw.Constraint("memory_mb", max=500)])
    with pytest.raises(tw.NoTrialCompleted, match="memory_mb"):
        study.optimize(
            lambda p: {"accuracy": p["x"], "latency_ms": 1.0}, n_trials=2, progress=False
        )
    for trial in study.trials:
        assert trial.state == tw.TrialState.FAILED
        assert "memory_mb" in (trial.error or "") and "not reported" in (trial.error or "")


def test_single_objective_with_constraints_best_is_feasible() -> None:
    study = tw.create_study(
        objective=ACC,
        constraints=[tw.Constraint("memory_mb", max=500)],
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        seed=3,
    )
    study.optimize(train, n_trials=12, progress=False)
    feasible = [t for t in study.trials if t.metrics["memory_mb"] <= 500]
    best = max(feasible, key=lambda t: t.metrics["accuracy"])
    assert study.best_trial.number == best.number
    assert study.best_trials == [study.best_trial]
    assert max(t.value or 0 for t in study.trials) > study.best_value  # an infeasible is higher


def test_no_feasible_trial_says_so() -> None:
    study = tw.create_study(
        objective=ACC,
        constraints=[tw.Constraint("memory_mb", max=-1)],
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
    )
    study.optimize(train, n_trials=2, progress=False)
    with pytest.raises(ValueError, match="no feasible completed trial"):
        _ = study.best_trial
    assert study.best_trials == []


def test_optuna_directions_name_the_values() -> None:
    study = tw.create_study(directions=["maximize", "minimize"], space={"x": tw.Float(0, 1)},
                            strategy="random")  # fmt: skip
    assert [o.metric for o in study.spec.objectives] == ["values_0", "values_1"]
    study.tell(study.ask(), [1.0, 2.0])
    assert study.trials[0].metrics == {"values_0": 1.0, "values_1": 2.0}


def test_create_study_argument_errors() -> None:
    with pytest.raises(TypeError, match="not"):
        tw.create_study(objective=ACC, objectives=[ACC, LAT], space={"x": tw.Float(0, 1)})
    with pytest.raises(TypeError, match="tw.Constraint"):
        tw.create_study(objective=ACC, constraints=[("m", 1)], space={"x": tw.Float(0, 1)})  # type: ignore[list-item]


def test_every_strategy_gets_the_objectives_and_constraints() -> None:
    from tunewise.strategies import strategy_for

    spec = spec_of(objectives=TWO, constraints=[{"metric": "m", "max": 1}])
    strategy = strategy_for(spec)
    assert strategy.objectives == (ACC, LAT)
    assert strategy.constraints == (Constraint("m", max=1),)


# Completion criteria -------------------------------------------------------------------------
def finished(number: int, **metrics: float) -> tw.Trial:
    return tw.Trial(
        study_id=1,
        number=number,
        state=tw.TrialState.COMPLETED,
        params={"x": number / 100},
        value=metrics.get("accuracy"),
        metrics=metrics,
    )


def criteria(**data: Any) -> Any:
    from tunewise.policies import CompletionCriteria

    return CompletionCriteria.from_dict(data)


def test_target_per_objective_needs_every_value_in_one_feasible_trial() -> None:
    from tunewise.stopping.completion_multi import check_criteria_for

    spec = spec_of(objectives=TWO, constraints=[{"metric": "memory_mb", "max": 10}])
    rule = criteria(target={"accuracy": 0.9, "latency_ms": 5})
    trials = [
        finished(0, accuracy=0.95, latency_ms=9, memory_mb=1),  # one value reached
        finished(1, accuracy=0.91, latency_ms=4, memory_mb=99),  # both, but infeasible
    ]
    check = lambda ts: check_criteria_for(rule, ts, spec.objectives, spec.constraints, spec.space)  # noqa: E731
    assert check(trials) is None
    met = check([*trials, finished(2, accuracy=0.9, latency_ms=5, memory_mb=1)])
    assert met is not None and met.reason == "target" and met.evidence["trial"] == 2


def test_not_improving_is_judged_on_the_hypervolume() -> None:
    from tunewise.stopping.completion_multi import check_criteria_for

    spec = spec_of(objectives=TWO)
    rule = criteria(not_improving={"trials": 3})
    front = [finished(0, accuracy=0.9, latency_ms=9), finished(1, accuracy=0.5, latency_ms=1)]
    dominated = [finished(n, accuracy=0.4, latency_ms=9) for n in (2, 3, 4)]
    met = check_criteria_for(rule, [*front, *dominated], spec.objectives, (), spec.space)
    assert met is not None and met.reason == "not_improving"
    assert met.evidence["hypervolume_now"] == met.evidence["hypervolume_before"] > 0
    # A new front point among the last three: the hypervolume grew.
    grown = [*front, *dominated[:2], finished(5, accuracy=0.7, latency_ms=2)]
    assert check_criteria_for(rule, grown, spec.objectives, (), spec.space) is None


def test_single_objective_target_counts_feasible_trials_only() -> None:
    from tunewise.stopping.completion_multi import check_criteria_for

    spec = spec_of(
        objective={"metric": "accuracy", "direction": "maximize"},
        constraints=[{"metric": "memory_mb", "max": 10}],
    )
    rule = criteria(target=0.9)
    over = [finished(0, accuracy=0.99, memory_mb=50)]
    assert check_criteria_for(rule, over, spec.objectives, spec.constraints, spec.space) is None
    ok = [*over, finished(1, accuracy=0.95, memory_mb=5)]
    met = check_criteria_for(rule, ok, spec.objectives, spec.constraints, spec.space)
    assert met is not None and met.evidence["trial"] == 1


def test_target_spec_errors_name_the_field() -> None:
    with pytest.raises(SpecError) as info:
        spec_of(objectives=TWO, completion={"target": 0.9})
    assert info.value.field == "completion.target" and "accuracy: ..." in info.value.message
    with pytest.raises(SpecError) as info:
        spec_of(objectives=TWO, completion={"target": {"loss": 0.9}})
    assert info.value.field == "completion.target.loss"
    spec = spec_of(objectives=TWO, completion={"target": {"accuracy": 0.9}})
    assert StudySpec.from_dict(spec.to_dict()).completion.target == {"accuracy": 0.9}


def test_optimize_ends_at_the_target_of_every_objective() -> None:
    study = mo_study(completion={"target": {"accuracy": 0.5, "latency_ms": 0.5}})
    study.optimize(train, n_trials=50, progress=False)
    last = study.trials[-1]
    assert last.metrics["accuracy"] >= 0.5 and last.metrics["latency_ms"] <= 0.5
    assert study.reason is not None and "every target" in study.reason


def test_convergence_needs_a_flat_hypervolume_and_trials_near_the_front() -> None:
    from dataclasses import replace

    from tunewise.stopping.completion_multi import check_criteria_for

    spec = spec_of(objectives=TWO)
    rule = criteria(convergence=True)
    front = [finished(0, accuracy=0.9, latency_ms=9), finished(1, accuracy=0.5, latency_ms=1)]
    near = [
        replace(finished(n, accuracy=0.4, latency_ms=9), params={"x": 0.01 * (n % 3)})
        for n in range(2, 25)
    ]
    met = check_criteria_for(rule, [*front, *near], spec.objectives, (), spec.space)
    assert met is not None and met.reason == "convergence"
    far = [replace(t, params={"x": 0.5 + 0.02 * (t.number % 20)}) for t in near]
    assert check_criteria_for(rule, [*front, *far], spec.objectives, (), spec.space) is None
    assert check_criteria_for(rule, [*front, *near[:10]], spec.objectives, (), spec.space) is None
