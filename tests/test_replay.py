"""Replay and why (issue 27 §2): every stored suggestion re-derives exactly — one at a time, 4
at once, several processes asking — a tampered param is named, trials no strategy suggested
are told apart, records stay small; ``why`` explains bayesian and random picks."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tunewise as tw
from tunewise.replay import MISMATCH, NOT_REPLAYABLE, REPRODUCED
from tunewise.suggestion_record import from_ranges, numerics, to_ranges

OBJECTIVE = tw.Objective("accuracy", "maximize")
SPACE = {
    "lr": tw.Float(1e-4, 1e-1, scale="log"),
    "layers": tw.Int(1, 3),
    "act": tw.Categorical(["relu", "tanh"]),
}


def train(params: dict[str, Any]) -> float:
    bonus = 0.01 if params["act"] == "relu" else 0.0
    return 1.0 - (math.log10(params["lr"]) + 2) ** 2 / 10 - 0.01 * params["layers"] + bonus


def uneven_train(params: dict[str, Any]) -> float:
    """``train``, taking 0.05 to 0.45 s by its layers: trials of one batch end at different
    times, so the next suggestions are made beside running trials whatever the load."""
    time.sleep(0.05 + 0.2 * (params["layers"] - 1))
    return train(params)


def study_in(tmp_path: Path, strategy: str, name: str = "audit", seed: int = 5) -> tw.Study:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    return tw.create_study(
        name, objective=OBJECTIVE, space=SPACE, strategy=strategy, seed=seed, storage=url
    )


def tamper(tmp_path: Path, number: int, **changes: Any) -> None:
    """Change a stored trial's params behind the store's back (as an audit must detect)."""
    with sqlite3.connect(tmp_path / "audit.db") as db:
        (params,) = db.execute("SELECT params FROM trials WHERE number = ?", (number,)).fetchone()
        params = json.dumps({**json.loads(params), **changes})
        db.execute("UPDATE trials SET params = ? WHERE number = ?", (params, number))


def set_record(tmp_path: Path, number: int, **changes: Any) -> None:
    with sqlite3.connect(tmp_path / "audit.db") as db:
        query = "SELECT suggestion FROM trials WHERE number = ?"
        (record,) = db.execute(query, (number,)).fetchone()
        record = json.dumps({**json.loads(record), **changes})
        db.execute("UPDATE trials SET suggestion = ? WHERE number = ?", (record, number))


def test_ranges_round_trip() -> None:
    assert to_ranges([0, 1, 2, 5, 7, 8]) == [[0, 2], [5, 5], [7, 8]]
    assert from_ranges([[0, 2], [5, 5], [7, 8]]) == [0, 1, 2, 5, 7, 8]
    assert to_ranges([]) == []


def test_a_sequential_bayesian_study_replays_exactly(tmp_path: Path) -> None:
    study = study_in(tmp_path, "bayesian")
    study.optimize(train, n_trials=10, progress=False)
    report = study.replay()
    assert report.count(REPRODUCED) == 10 and report.rate == 1.0 and report.ok
    records = [t.suggestion for t in study.trials]
    assert all(r is not None for r in records)
    # one at a time: nothing pending, every earlier trial finished: no list is stored
    assert all(r["pending"] == [] and "finished" not in r for r in records if r)
    assert [r["number"] for r in records if r] == list(range(10))
    assert all(len(json.dumps(r)) < 300 for r in records)


@pytest.mark.parametrize("strategy", ["bayesian", "tpe", "random"])
def test_four_at_once_replays_exactly(tmp_path: Path, strategy: str) -> None:
    study = study_in(tmp_path, strategy)
    study.optimize(uneven_train, n_trials=14, max_parallel=4, progress=False)
    report = study.replay()
    assert [t.status for t in report.trials] == [REPRODUCED] * 14, report.to_dict()
    records = [t.suggestion for t in study.trials if t.suggestion]
    assert any(r["n"] > 1 for r in records)  # batches were suggested
    assert any(r["pending"] for r in records)  # and beside running trials


def test_asks_from_several_processes_replay_exactly(tmp_path: Path) -> None:
    """Two callers asking one stored study in turn, telling out of order (ask and tell)."""
    first = study_in(tmp_path, "bayesian")
    second = tw.load_study("audit", storage=f"sqlite:///{tmp_path / 'audit.db'}")
    open_trials = []
    for round_ in range(6):
        open_trials += [first.ask(), second.ask()]
        if round_ % 2:  # leave some pending while the next ones are asked
            for trial in open_trials[::-1]:
                trial.study.tell(trial, train(dict(trial.params)))
            open_trials = []
    report = first.replay()
    assert report.count(REPRODUCED) == 12 and report.ok
    assert any(t.suggestion and t.suggestion["pending"] for t in first.trials)


def test_a_tampered_param_is_a_mismatch_naming_the_trial_and_parameter(tmp_path: Path) -> None:
    study = study_in(tmp_path, "random")
    study.optimize(train, n_trials=6, progress=False)
    stored = study.trials[3].params["lr"]
    tamper(tmp_path, 3, lr=stored * (1 + 1e-15))  # one bit off is still off
    report = study.replay()
    bad = [t for t in report.trials if t.status != REPRODUCED]
    assert len(bad) == 1 and bad[0].number == 3 and bad[0].status == MISMATCH
    assert bad[0].parameter == "lr"
    assert bad[0].replayed == stored and bad[0].stored != stored
    assert "trial 3" in (bad[0].reason or "") and "'lr'" in (bad[0].reason or "")
    assert not report.ok and report.rate == 5 / 6
    assert "suggested with" not in str(bad[0].reason)
    set_record(tmp_path, 3, numerics="numpy 0.1")  # another numpy: the mismatch says so
    (again,) = [t for t in study.replay().trials if t.status == MISMATCH]
    assert str(again.reason).endswith(f"(suggested with numpy 0.1; this is {numerics()})")
    assert numerics().startswith(f"numpy {np.__version__}")


def test_trials_no_strategy_suggested_are_not_replayable(tmp_path: Path) -> None:
    study = study_in(tmp_path, "random")
    study.enqueue_trial({"lr": 0.01, "layers": 1, "act": "relu"})
    study.optimize(train, n_trials=4, progress=False)
    study.add_trial({"lr": 0.02, "layers": 2, "act": "tanh"}, 0.5)
    set_record(tmp_path, 2, tunewise="0.0.1")
    report = study.replay()
    status = {t.number: t for t in report.trials}
    assert status[0].status == NOT_REPLAYABLE and "no suggestion record" in str(status[0].reason)
    assert status[4].status == NOT_REPLAYABLE
    assert status[2].status == NOT_REPLAYABLE and "tunewise 0.0.1" in str(status[2].reason)
    assert status[1].status == status[3].status == REPRODUCED
    assert report.ok and report.replayable == 2  # nothing replayable failed


def test_why_explains_a_bayesian_pick(tmp_path: Path) -> None:
    study = study_in(tmp_path, "bayesian")
    study.optimize(train, n_trials=9, progress=False)
    start = study.why(0)
    assert start["details"]["phase"] == "initial" and "Latin hypercube" in start["summary"]
    doc = study.why(8)
    assert doc["explained"] and doc["reproduces"] and doc["strategy"] == "bayesian"
    details = doc["details"]
    assert details["phase"] == "model"
    earlier = [t for t in study.trials if t.number < 8]
    best = max(earlier, key=lambda t: t.value or -math.inf)
    assert details["incumbent"] == {"trial": best.number, "value": best.value}
    prediction = details["prediction"]
    assert math.isfinite(prediction["mean"]) and prediction["std"] > 0
    assert "expected improvement" in details["acquisition"]["name"]
    assert math.isfinite(details["acquisition"]["value"])
    nearest = details["nearest"]
    assert len(nearest) == 3 and all(n["trial"] < 8 for n in nearest)
    assert [n["distance"] for n in nearest] == sorted(n["distance"] for n in nearest)
    assert doc["suggested_from"]["finished"] == 8 and doc["suggested_from"]["pending"] == 0


def test_why_explains_a_random_draw_and_refuses_what_it_cannot(tmp_path: Path) -> None:
    study = study_in(tmp_path, "random", seed=11)
    study.enqueue_trial({"lr": 0.01, "layers": 1, "act": "relu"})
    study.optimize(train, n_trials=4, progress=False)
    doc = study.why(3)
    assert doc["explained"] and doc["reproduces"]
    assert doc["summary"] == (
        "sampled uniformly (each parameter in its unit encoding), seed 11, draw 3"
    )
    enqueued = study.why(0)
    assert not enqueued["explained"] and "no suggestion record" in enqueued["reason"]
    with pytest.raises(KeyError):
        study.why(40)


def test_warm_started_define_by_run_and_edited_studies_replay_exactly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'paths.db'}"
    parent = tw.create_study(
        "parent", objective=OBJECTIVE, space=SPACE, strategy="random", seed=2, storage=url
    )
    parent.optimize(train, n_trials=5, progress=False)
    child = tw.create_study(
        "child",
        objective=OBJECTIVE,
        space=SPACE,
        strategy="bayesian",
        seed=3,
        storage=url,
        warm_start={"parents": ["parent"], "type": "identical"},
    )
    child.optimize(train, n_trials=4, max_parallel=2, progress=False)
    assert child.replay().count(REPRODUCED) == 4
    record = child.trials[-1].suggestion
    assert record is not None and record["parents"] == [[parent.trials[0].study_id, 5, 5]]
    details = child.why(3)["details"]  # the model saw the parent's trials: it cites them so
    assert details["phase"] == "model"
    for cited in [details["incumbent"], *details["nearest"]]:
        source = parent if cited.get("warm_start") else child
        assert source.trials[cited["trial"]].value == cited["value"]
    # 2 at once: one of trials 0-2 still ran, so at most 2 of the 3 nearest are the child's
    assert any(c.get("warm_start") for c in details["nearest"])

    asked = tw.create_study("asked", direction="maximize", storage=url, seed=1, strategy="tpe")

    def by_run(trial: Any) -> float:
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        layers = trial.suggest_int("layers", 1, 3) if act == "relu" else 1
        return train({"lr": lr, "layers": layers, "act": act})

    asked.optimize(by_run, n_trials=8, max_parallel=2, progress=False)
    records = [t.suggestion for t in asked.trials]
    assert all(r is not None and r["define_by_run"] for r in records)
    assert {r["space_params"] for r in records if r} > {0}  # the space grew as trials asked
    assert asked.replay().count(REPRODUCED) == 8

    child.set_space({**SPACE, "lr": tw.Float(1e-3, 1e-1, scale="log")})  # sets some aside
    child.optimize(train, n_trials=3, progress=False)
    assert {t.space_version for t in child.trials} == {1, 2}
    assert child.replay().count(REPRODUCED) == 7


@pytest.mark.parametrize("strategy", ["grid", "sobol", "hyperband"])
def test_other_strategies_replay_exactly(tmp_path: Path, strategy: str) -> None:
    space = {"lr": tw.Float(1e-3, 1e-1, scale="log"), "act": SPACE["act"]}
    if strategy == "grid":
        space = {"layers": tw.Int(1, 3), "act": SPACE["act"]}
    options: dict[str, Any] = {}
    if strategy == "hyperband":
        options["hyperband"] = {"min_resource": 1, "max_resource": 3}
    study = tw.create_study(
        "other",
        objective=tw.Objective("loss", "minimize"),
        space=space,
        strategy=strategy,
        seed=6,
        storage=f"sqlite:///{tmp_path / 'other.db'}",
        **options,
    )

    def loss(params: dict[str, Any], trial: Any) -> float:
        value = float(params.get("layers", 1)) + (params["act"] == "tanh")
        for step in range(1, 4):
            trial.report(value + 1 / step, step)
            if trial.should_stop():
                raise tw.TrialStopped()
        return value

    study.optimize(loss, n_trials=6, max_parallel=2, progress=False)
    assert study.replay().count(REPRODUCED) == 6
    doc = study.why(5)
    assert doc["reproduces"]
    said = {"grid": "grid point ", "sobol": "of the study's scrambled Sobol sequence"}
    if strategy == "hyperband":  # 1..3 steps, factor 3: brackets 0 (a rung at 1) and 1 (none)
        assert doc["details"]["bracket"] in (0, 1) and doc["details"]["rungs"] in ([1], [])
        assert f"; bracket {doc['details']['bracket']} of 2 (rungs " in doc["summary"]
    else:
        assert said[strategy] in doc["summary"]


def test_a_multi_objective_study_replays_exactly(tmp_path: Path) -> None:
    study = tw.create_study(
        "front",
        objectives=[OBJECTIVE, tw.Objective("layers", "minimize")],
        space=SPACE,
        strategy="bayesian",
        seed=8,
        storage=f"sqlite:///{tmp_path / 'front.db'}",
    )
    study.optimize(
        lambda p: {"accuracy": train(p), "layers": p["layers"]},
        n_trials=8,
        max_parallel=2,
        progress=False,
    )
    assert study.replay().count(REPRODUCED) == 8
    assert "several objectives" in study.why(7)["summary"]


def test_a_define_by_run_trial_seen_with_what_it_asked_replays_exactly(tmp_path: Path) -> None:
    """A define-by-run trial's params become what it asked a moment before it finishes: a
    suggestion made in between saw those, and replay gives it those."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    study = tw.create_study(
        "asking", direction="minimize", strategy="bayesian", seed=4, storage=url
    )
    for _ in range(11):  # past the space-filling start: pending trials then weigh in
        trial = study.ask()
        x, z = trial.suggest_float("x", 0.0, 1.0), trial.suggest_float("z", 0.0, 1.0)
        study.tell(trial, (x - 0.3) ** 2 + z)
    ending = study.ask()
    assert set(ending.params) == {"x", "z"}  # suggested both; it asks only x
    x = ending.suggest_float("x", 0.0, 1.0)
    # as tell stores it, a moment before the trial finishes
    study.store.set_trial_params(ending.study_id, ending.number, ending.suggested)
    after = study.ask()
    record = after.suggestion
    assert record is not None and record["pending_asked"] == [ending.number]
    study.tell(ending, x)
    study.tell(after, 0.5)
    report = study.replay()
    assert report.count(REPRODUCED) == 13, [t for t in report.trials if t.status != REPRODUCED]
    assert study.why(0)["summary"].startswith("no value suggested: no trial of this define")
    modelled = study.why(12)
    assert modelled["details"]["phase"] == "model" and modelled["reproduces"]


def test_a_cost_aware_study_replays_and_why_weighs_the_cost(tmp_path: Path) -> None:
    study = tw.create_study(
        "costly",
        objective=tw.Objective("loss", "minimize"),
        space={"lr": SPACE["lr"], "width": tw.Int(8, 256, scale="log")},
        strategy="bayesian",
        seed=9,
        storage=f"sqlite:///{tmp_path / 'cost.db'}",
        cost={"metric": "dollars", "aware": True},
    )

    def train(params: dict[str, Any]) -> dict[str, float]:
        loss = (math.log10(params["lr"]) + 2) ** 2 + 64 / params["width"]
        return {"loss": loss, "dollars": params["width"] / 64}

    study.optimize(train, n_trials=10, max_parallel=2, progress=False)
    assert study.replay().count(REPRODUCED) == 10
    acquisition = study.why(9)["details"]["acquisition"]
    assert acquisition["name"].endswith("per unit of expected cost")
    assert acquisition["value"] != acquisition["before_cost"]


def test_why_cites_an_infinite_value_as_json_can_hold_it() -> None:
    from tunewise.explain import _cited
    from tunewise.trial import Trial, TrialState

    trial = Trial(study_id=1, number=4, state=TrialState.COMPLETED, params={}, value=-math.inf)
    assert _cited(trial, own=1) == {"trial": 4, "value": "-inf"}
    assert _cited(trial, own=2, distance=0.5)["warm_start"] is True
