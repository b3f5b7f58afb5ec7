"""Completion criteria (target, not improving, convergence) on scripted histories and in
studies; warm start (identical, transfer) and enqueued trials."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.space import Space
from tunewise.stopping.completion import check_convergence, check_not_improving, check_target
from tunewise.trial import StudyState, Trial, TrialState

SPACE = Space({"x": tw.Float(-1.0, 1.0), "y": tw.Float(-1.0, 1.0)})
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def history(values: list[float], params: list[dict[str, float]] | None = None) -> list[Trial]:
    params = params or [{"x": 0.0, "y": 0.0}] * len(values)
    return [
        Trial(1, i, TrialState.COMPLETED, p, value=v, finished_at=T0 + timedelta(seconds=i))
        for i, (v, p) in enumerate(zip(values, params, strict=True))
    ]


def test_target_stops_exactly_when_reached() -> None:
    values = [0.5, 0.8, 0.97, 0.991, 0.95]
    for n in range(1, len(values) + 1):
        met = check_target(history(values[:n]), 1.0, 0.99)
        assert (met is not None) == (n >= 4)
    met = check_target(history(values), 1.0, 0.99)
    assert met is not None and met.evidence == {
        "criterion": "target",
        "target": 0.99,
        "best": 0.991,
        "trial": 3,
    }
    assert check_target(history([0.3, 0.1]), -1.0, 0.2) is not None  # minimize


def test_not_improving_counts_trials_since_the_last_real_improvement() -> None:
    values = [0.5, 0.7, 0.80, 0.801, 0.79, 0.805, 0.6]
    # 3 trials without improving by more than 1% over the best before them (0.80)
    assert check_not_improving(history(values[:5]), 1.0, 3, 0.01) is None
    met = check_not_improving(history(values[:6]), 1.0, 3, 0.01)
    assert met is not None
    assert met.evidence["best_before"] == 0.80 and met.evidence["best_now"] == 0.805
    assert check_not_improving(history(values[:6]), 1.0, 3, 0.0) is None  # any gain counts
    assert check_not_improving(history([1.0, 0.9, 0.8]), -1.0, 2, 0.0) is None
    assert check_not_improving(history([0.8, 0.9, 0.95, 0.9]), -1.0, 3, 0.0) is not None


def _local_search(n: int, seed: int) -> list[Trial]:
    """A (1+1) search on a convex function: it converges to the optimum at (0.3, -0.2)."""
    rng = random.Random(seed)

    def f(p: dict[str, float]) -> float:
        return (p["x"] - 0.3) ** 2 + (p["y"] + 0.2) ** 2

    best = {"x": -0.9, "y": 0.9}
    values, params = [], []
    for i in range(n):
        step = 0.5 * 0.85**i
        cand = {k: min(1.0, max(-1.0, v + rng.gauss(0, step))) for k, v in best.items()}
        if f(cand) < f(best):
            best = cand
        values.append(f(cand))
        params.append(cand)
    return history(values, params)


def test_convergence_is_detected_where_the_search_converged() -> None:
    converging = _local_search(60, seed=1)
    first = next((n for n in range(1, 61) if check_convergence(converging[:n], -1.0, SPACE)), None)
    assert first is not None and first >= 20
    met = check_convergence(converging, -1.0, SPACE)
    assert met is not None and met.evidence["median_distance"] < met.evidence["radius"]


def test_random_search_does_not_converge() -> None:
    rng = random.Random(0)
    params = [{"x": rng.uniform(-1, 1), "y": rng.uniform(-1, 1)} for _ in range(200)]
    values = [math.hypot(p["x"], p["y"]) for p in params]
    for n in range(20, 201, 10):
        assert check_convergence(history(values[:n], params[:n]), -1.0, SPACE) is None


def test_a_study_ends_at_its_target_and_records_why(tmp_path: Path) -> None:
    study = tw.create_study(
        "target",
        objective=tw.Objective("acc", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        completion={"target": 0.7},
        storage=f"sqlite:///{tmp_path / 't.db'}",
        seed=0,
    )
    completion = study.optimize(lambda p: p["x"], max_trials=100)
    assert completion.reason == "target"
    assert study.state == StudyState.COMPLETED and "reached the target" in (study.reason or "")
    evidence = study.evidence
    assert evidence is not None and evidence["criterion"] == "target"
    assert evidence["best"] >= 0.7 and len(study.trials) < 100
    study.close()


def test_not_improving_in_a_study() -> None:
    study = tw.create_study(
        "flat",
        objective=tw.Objective("acc", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        completion={"not_improving": {"trials": 3}},
        seed=0,
    )
    study.optimize(lambda p: 1.0, max_trials=50)
    assert study.evidence is not None and study.evidence["criterion"] == "not_improving"
    assert len(study.trials) == 4


def train_xy(params: dict[str, Any]) -> float:
    return -((params["x"] - 0.2) ** 2) - (params["y"] - 0.1) ** 2


def test_enqueued_configurations_run_first() -> None:
    study = tw.create_study(
        "enq",
        objective=tw.Objective("acc", "maximize"),
        space=dict(SPACE.params),
        enqueue=[{"x": 0.2, "y": 0.1}, {"x": -1.0, "y": 1.0}],
        seed=0,
    )
    study.optimize(train_xy, max_trials=4)
    assert [dict(t.params) for t in study.trials[:2]] == [
        {"x": 0.2, "y": 0.1},
        {"x": -1.0, "y": 1.0},
    ]
    assert study.best_trial.number == 0
    with pytest.raises(tw.SpecError, match=r"^enqueue\[0\]\.x"):
        tw.create_study(
            "bad",
            objective=tw.Objective("acc", "maximize"),
            space=dict(SPACE.params),
            enqueue=[{"x": 3.0, "y": 0.0}],
        )


def test_identical_warm_start_learns_from_parents_and_reports_their_best(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    parent = tw.create_study(
        "parent",
        objective=tw.Objective("acc", "maximize"),
        space=dict(SPACE.params),
        storage=url,
        seed=1,
    )
    parent.optimize(train_xy, max_trials=12)
    parent_best = parent.best_trial
    parent.close()
    # the child narrows x: parent trials with x outside [-0.5, 0.5] are left out
    child = tw.create_study(
        "child",
        objective=tw.Objective("acc", "maximize"),
        space={"x": tw.Float(-0.5, 0.5), "y": tw.Float(-1.0, 1.0)},
        storage=url,
        seed=2,
        warm_start={"parents": ["parent"], "type": "identical"},
    )
    parents = child.parents()
    inside = [t for t in tw.load_study("parent", storage=url).trials if abs(t.params["x"]) <= 0.5]
    assert len(parents.trials) == len(inside) and parents.left_out == 12 - len(inside)
    child.optimize(lambda p: -10.0, max_trials=2)  # the child's own trials are all worse
    best = child.best_trial
    if abs(parent_best.params["x"]) <= 0.5:
        assert (best.study_id, best.number) == (parent_best.study_id, parent_best.number)
    assert best.study_id != child.trials[0].study_id
    child.close()


def test_transfer_warm_start_runs_the_parents_best_first(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    parent = tw.create_study(
        "p",
        objective=tw.Objective("acc", "maximize"),
        space=dict(SPACE.params),
        storage=url,
        seed=3,
    )
    parent.optimize(train_xy, max_trials=10)
    top = sorted(parent.trials, key=lambda t: -(t.value or 0))[:5]
    parent.close()
    child = tw.create_study(
        "c",
        objective=tw.Objective("acc", "maximize"),
        space=dict(SPACE.params),
        storage=url,
        warm_start={"parents": ["p"], "type": "transfer"},
        seed=4,
    )
    child.optimize(lambda p: -5.0, max_trials=6)
    assert [dict(t.params) for t in child.trials[:5]] == [dict(t.params) for t in top]
    assert child.best_trial.study_id == child.trials[0].study_id  # never a parent's trial
    assert child.best_value == -5.0
    with pytest.raises(tw.SpecError, match=r"^warm_start\.parents\[0\]"):
        tw.create_study(
            "d",
            objective=tw.Objective("acc", "maximize"),
            space=dict(SPACE.params),
            storage=url,
            warm_start={"parents": ["nope"], "type": "transfer"},
        )
    assert [s.name for s in child.store.list_studies()] == ["p", "c"]  # nothing half-made
    child.close()
