"""Cost budgets (issue 27 §3): the spec's ``cost`` and ``limits.max_cost``, the accounting, the
``max_cost`` completion rule, and studies that end on it (Python and ``tunewise status``)."""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.cli.main import main
from tunewise.cost import CostSpec, CostSummary, summarize, trial_cost, units_per_trial
from tunewise.errors import SpecError
from tunewise.policies import ExecutorSpec
from tunewise.runners.base import Outcome
from tunewise.spec import StudySpec
from tunewise.stopping.cost import CostMeter, check_cost, room
from tunewise.trial import FailureKind, Trial, TrialState

pytestmark = pytest.mark.timeout(60)


def minimal(**extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "study": "demo",
        "objective": {"metric": "loss", "direction": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "limits": {"max_trials": 5},
    }
    data.update(extra)
    return data


# The spec --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "field", "words"),
    [
        ({"limits": {"max_cost": 50}}, "limits.max_cost", "cost: {per_hour"),
        ({"limits": {"max_cost": 0}, "cost": {"per_hour": 1}}, "limits.max_cost", "positive"),
        ({"limits": {"max_cost": "lots"}, "cost": {"per_hour": 1}}, "limits.max_cost", "number"),
        ({"cost": {"per_hour": -3}}, "cost.per_hour", "positive"),
        ({"cost": {"per_hour": "3$"}}, "cost.per_hour", "number"),
        ({"cost": {"per_hour": float("inf")}}, "cost.per_hour", "finite"),
        ({"cost": {}}, "cost", "exactly one"),
        ({"cost": {"per_hour": 1, "metric": "dollars"}}, "cost", "exactly one"),
        ({"cost": {"metric": ""}}, "cost.metric", "metric"),
        ({"cost": {"metric": 5}}, "cost.metric", "metric"),
        ({"cost": {"per_hour": 1, "currency": "EUR"}}, "cost.currency", "unknown key"),
        ({"cost": {"per_hour": 1, "aware": "yes"}}, "cost.aware", "true or false"),
        ({"cost": {"per_hour": 1, "aware": True}, "strategy": "random"}, "cost.aware", "bayesian"),
        (
            {
                "cost": {"metric": "dollars", "aware": True},
                "constraints": [{"metric": "mem", "max": 1}],
            },
            "cost.aware",
            "one objective",
        ),
        ({"cost": "cheap"}, "cost", "mapping"),
    ],
)
def test_bad_cost_specs_are_refused_naming_the_field(
    extra: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        StudySpec.from_dict(minimal(**extra))
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).count(". ") == 0  # one sentence


def test_a_cost_spec_round_trips_and_old_specs_read_the_same() -> None:
    spec = StudySpec.from_dict(
        minimal(limits={"max_cost": 50}, cost={"per_hour": 3.06, "aware": True})
    )
    assert spec.cost == CostSpec(per_hour=3.06, aware=True)
    assert spec.limits.max_cost == 50.0
    data = spec.to_dict()
    assert data["cost"] == {"per_hour": 3.06, "aware": True}
    assert StudySpec.from_dict(data) == spec
    plain = StudySpec.from_dict(minimal()).to_dict()
    assert "cost" not in plain and "max_cost" not in plain["limits"]


# The accounting --------------------------------------------------------------------------
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def trial(number: int, state: TrialState, seconds: float | None, **metrics: float) -> Trial:
    return Trial(
        study_id=1,
        number=number,
        state=state,
        params={"x": 0.5},
        value=0.0 if state == TrialState.COMPLETED else None,
        metrics=metrics,
        started_at=T0 if seconds is not None else None,
        finished_at=T0 + timedelta(seconds=seconds)
        if seconds is not None and state.is_finished
        else None,
    )


def test_per_hour_counts_run_time_times_the_gpus_of_each_trial() -> None:
    spec = CostSpec(per_hour=3.0)
    done = trial(0, TrialState.COMPLETED, 1800)
    assert trial_cost(spec, done) == pytest.approx(1.5)
    assert trial_cost(spec, done, units=2) == pytest.approx(3.0)
    running = trial(1, TrialState.RUNNING, 0)
    now = T0 + timedelta(hours=2)
    assert trial_cost(spec, running, now=now) == pytest.approx(6.0)  # elapsed so far
    assert units_per_trial(ExecutorSpec.from_dict({"resources_per_trial": {"gpu": 2}})) == 2
    assert units_per_trial({"type": "ray", "resources_per_trial": {"gpu": 0.5}}) == 0.5
    assert units_per_trial(None) == 1


def test_a_metric_cost_is_the_trials_value_of_it() -> None:
    spec = CostSpec(metric="dollars")
    assert trial_cost(spec, trial(0, TrialState.COMPLETED, 5, dollars=4.5)) == 4.5
    assert trial_cost(spec, trial(1, TrialState.FAILED, 5)) == 0.0
    assert trial_cost(spec, trial(2, TrialState.RUNNING, 1), reported=2.0) == 2.0


def test_summary_counts_every_finished_state_and_the_running_trials() -> None:
    definition = {"cost": {"per_hour": 3600.0}, "limits": {"max_cost": 100}}
    trials = [
        trial(0, TrialState.COMPLETED, 10),
        trial(1, TrialState.COMPLETED, 30),
        trial(2, TrialState.FAILED, 2),  # paid for, not a basis of the estimate
        trial(3, TrialState.STOPPED, 5),
        trial(4, TrialState.RUNNING, 0),
        trial(5, TrialState.QUEUED, None),
    ]
    summary = summarize(definition, trials, now=T0 + timedelta(seconds=7))
    assert summary is not None
    assert summary.spent == pytest.approx(10 + 30 + 2 + 5 + 7)
    assert summary.running == pytest.approx(7)
    assert summary.left == pytest.approx(100 - 54)
    assert summary.estimate == pytest.approx(20)  # the median of the completed ones
    assert summary.basis == 2
    assert summary.to_dict()["left"] == pytest.approx(46)
    assert "spent 54 of 100 (46 left; next trial ~20)" in summary.describe()
    assert summarize({"limits": {}}, trials) is None


def summary(spent: float, estimate: float | None, limit: float = 10.0) -> CostSummary:
    return CostSummary(CostSpec(per_hour=1), spent, 0.0, limit, estimate, 3)


def test_the_study_ends_when_the_spend_reaches_max_cost() -> None:
    done = check_cost(summary(10.0, 1.0), running=2)
    assert done is not None and done.reason == "max_cost"
    assert done.evidence["spent"] == 10.0 and done.evidence["max_cost"] == 10.0


def test_the_study_ends_when_nothing_runs_and_the_next_trial_would_overrun() -> None:
    assert check_cost(summary(8.0, 1.5), running=0) is None  # 9.5 fits
    done = check_cost(summary(8.0, 2.5), running=0)
    assert done is not None and done.reason == "max_cost"
    assert done.evidence["estimate"] == 2.5
    assert "would overrun max_cost (10)" in done.message
    assert check_cost(summary(8.0, 2.5), running=1) is None  # the running trial ends first
    assert check_cost(summary(9.9, None), running=0) is None  # no estimate yet: allowed


def test_room_counts_the_trials_that_fit_beside_what_is_committed() -> None:
    assert room(summary(2.0, 2.0), committed=2.0) == 4  # 2 + 4 x 2 = 10
    assert room(summary(2.0, 2.0), committed=4.0) == 3
    assert room(summary(2.0, 3.0), committed=9.0) == 0
    assert room(summary(2.0, None), committed=2.0) is None  # before any completed trial
    assert room(summary(10.0, None), committed=10.0) == 0
    assert room(CostSummary(CostSpec(per_hour=1), 5.0, 0.0, None, 1.0, 1), 5.0) is None


def test_a_trial_that_does_not_report_the_cost_metric_fails_saying_so() -> None:
    meter = CostMeter(CostSpec(metric="dollars"), 10.0, 1.0)
    ok = Outcome(TrialState.COMPLETED, 0.5, {"loss": 0.5, "dollars": 1.0})
    assert meter.check_outcome(ok) is ok
    failed = meter.check_outcome(Outcome(TrialState.COMPLETED, 0.5, {"loss": 0.5}))
    assert failed.state == TrialState.FAILED
    assert failed.failure_kind == FailureKind.METRIC_MISSING
    assert failed.error is not None
    assert "'dollars'" in failed.error and "cost.metric" in failed.error
    bad = meter.check_outcome(Outcome(TrialState.COMPLETED, 0.5, {"loss": 0.5, "dollars": -1}))
    assert bad.failure_kind == FailureKind.METRIC_INVALID


# Studies that end on it ------------------------------------------------------------------
def two_dollars(params: dict[str, Any]) -> dict[str, float]:
    return {"loss": (params["x"] - 0.3) ** 2, "dollars": 2.0}


def no_dollars(params: dict[str, Any]) -> dict[str, float]:
    return {"loss": params["x"]}


def slow(params: dict[str, Any]) -> float:
    time.sleep(0.3)
    return float(params["x"])


def forever(params: dict[str, Any], trial: Any) -> float:
    for step in range(100):
        trial.report(float(params["x"]), step)
        time.sleep(0.1)
    return float(params["x"])


def study(name: str, url: str | None = None, **cost: Any) -> tw.Study:
    return tw.create_study(
        name,
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        seed=3,
        storage=url,
        cost=cost,
    )


def test_a_metric_budget_ends_the_study_without_starting_a_trial_it_would_overrun(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    s = study("dollars", url, metric="dollars")
    completion = s.optimize(two_dollars, max_cost=7, progress=False)
    # 3 trials spent 6; a 4th (estimated at 2) would reach 8 > 7, so it never started.
    assert completion.reason == "max_cost"
    assert len(s.trials) == 3
    assert completion.evidence["spent"] == 6.0 and completion.evidence["estimate"] == 2.0
    record = s._store.get_study("dollars")
    assert record.evidence is not None and record.evidence["criterion"] == "max_cost"
    s.close()
    assert main(["status", "dollars", "--format", "json", "--storage", url]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["reason"] == completion.message
    assert row["cost"]["spent"] == 6.0
    assert row["cost"]["left"] == 1.0
    assert row["cost"]["max_cost"] == 7.0
    assert row["cost"]["metric"] == "dollars"
    assert main(["status", "dollars", "--storage", url]) == 0
    assert "cost of dollars: spent 6 of 7 (1 left" in capsys.readouterr().out


def test_a_per_hour_budget_counts_run_time(tmp_path: Path) -> None:
    s = study("hours", per_hour=3600.0)  # 1 per second
    completion = s.optimize(slow, max_cost=1.0, progress=False)
    assert completion.reason == "max_cost"
    spent = completion.evidence["spent"]
    assert 2 <= len(s.trials) <= 3  # each ~0.3 s and more (a process start)
    assert spent <= 1.0 + 1e-9  # never started one it expected to overrun
    s.close()


def test_a_running_trial_is_stopped_when_the_spend_reaches_max_cost() -> None:
    s = study("stop-it", per_hour=3600.0)
    started = time.monotonic()
    completion = s.optimize(forever, n_trials=1, max_cost=0.5, progress=False)
    assert time.monotonic() - started < 8  # not the trial's 10 s
    assert completion.reason == "max_cost"
    assert completion.evidence["spent"] >= 0.5
    (only,) = s.trials
    assert only.state == TrialState.STOPPED
    # stopped promptly (within about 1 s), not after the usual grace period (5 s)
    assert only.duration is not None and only.duration < 4
    s.close()


def test_a_completed_trial_without_the_cost_metric_fails_naming_it() -> None:
    s = study("forgot", metric="dollars")
    with pytest.raises(tw.NoTrialCompleted) as caught:
        s.optimize(no_dollars, n_trials=1, max_cost=5, progress=False)
    assert "cost.metric" in str(caught.value)
    s.close()


def test_max_cost_needs_a_cost_in_python() -> None:
    plain = tw.create_study(
        "plain", objective=tw.Objective("loss", "minimize"), space={"x": tw.Float(0, 1)}
    )
    with pytest.raises(ValueError, match="max_cost needs to know what a trial costs"):
        plain.optimize(no_dollars, max_cost=5, progress=False)
    with pytest.raises(SpecError, match="cost.per_hour"):
        study("bad", per_hour=0)
    plain.close()


def test_the_dashboard_shows_spent_and_left(tmp_path: Path) -> None:
    from tests.server.conftest import client_for
    from tunewise.store import open_store

    url = f"sqlite:///{tmp_path / 'd.db'}"
    spec = StudySpec.from_dict(
        minimal(study="priced", cost={"metric": "dollars"}, limits={"max_cost": 10})
    )
    store = open_store(url)
    record = store.create_study("priced", spec.to_dict())
    for cost in (1.0, 2.0):
        added = store.add_trial(record.id, {"x": 0.5}, owner="t", lease_seconds=60)
        store.finish_trial(
            record.id,
            added.number,
            TrialState.COMPLETED,
            value=0.1,
            metrics={"loss": 0.1, "dollars": cost},
            owner="t",
        )
    store.close()
    with client_for(url) as client:
        page = client.get("/studies/priced").text
        assert 'id="cost">Cost: spent 3 of 10 (7 left; next trial ~1.5); metric dollars<' in page
        summary = client.get("/api/studies/priced").json()
        assert summary["cost"]["spent"] == 3.0 and summary["cost"]["left"] == 7.0


# Cost-aware bayesian -----------------------------------------------------------------------
def aware_spec(aware: bool, seed: int) -> StudySpec:
    return StudySpec.from_dict(
        minimal(
            space={
                "x": {"type": "float", "low": 0.0, "high": 1.0},
                "c": {"type": "float", "low": 0.0, "high": 1.0},
                "k": {"type": "categorical", "values": ["a", "b"]},
            },
            cost={"metric": "dollars", "aware": aware},
            seed=seed,
            limits={"max_trials": 30},
        )
    )


def suggested_c(aware: bool, seed: int, trials: int = 16) -> list[float]:
    """Run a simulated study where ``c`` sets the cost (e^(4c)) and does not change the loss;
    return the ``c`` of the model's suggestions (after the space-filling start)."""
    from tunewise.strategies import strategy_for, strategy_rng
    from tunewise.strategies.bayesian import initial_design_size

    spec = aware_spec(aware, seed)
    strategy = strategy_for(spec)
    assert bool(strategy.options) == aware
    history: list[Trial] = []
    for number in range(trials):
        rng = strategy_rng(spec.seed, number)
        (params,) = strategy.suggest(spec.space, history, [], 1, rng, remaining=30 - number)
        spec.space.validate(params)  # valid points: in bounds, every parameter
        loss = (params["x"] - 0.3) ** 2 + (0.1 if params["k"] == "b" else 0.0)
        dollars = math.exp(4 * params["c"])
        history.append(
            Trial(1, number, TrialState.COMPLETED, params, loss, {"loss": loss, "dollars": dollars})
        )
    keys = {json.dumps(t.params, sort_keys=True) for t in history}
    assert len(keys) == len(history)  # never twice
    return [t.params["c"] for t in history[initial_design_size(3) :]]


def test_cost_aware_bayesian_suggests_valid_cheaper_points() -> None:
    """Over 3 seeds the cost-aware suggestions keep the parameter that only costs low: their
    mean ``c`` is below the plain strategy's (measured: about 0.1 against 0.45)."""
    aware = [c for seed in range(3) for c in suggested_c(True, seed)]
    plain = [c for seed in range(3) for c in suggested_c(False, seed)]
    assert sum(aware) / len(aware) < sum(plain) / len(plain) - 0.15


def test_cost_weighting_stays_off_without_enough_costs_or_budget() -> None:
    from tunewise.strategies.cost_model import CostWeighting, _alpha
    from tunewise.strategies.features import Features

    spec = aware_spec(True, 0)
    features = Features(spec.space)
    options = {"cost": {"metric": "dollars", "max_cost": None, "units": 1.0}}
    few = [
        Trial(1, i, TrialState.COMPLETED, {"x": 0.1 * i, "c": 0.2, "k": "a"}, 0.1, {"dollars": 2.0})
        for i in range(3)
    ]
    assert CostWeighting.fit(options, features, few, None, 2) is None  # 3 < MIN_COSTS
    assert CostWeighting.fit({}, features, few * 3, None, 2) is None  # not cost-aware
    assert CostWeighting.fit(options, features, few * 3, None, 10) is None  # the start
    assert _alpha([10.0, 10.0, 30.0], 100.0, None, 2) == pytest.approx(50 / 80)
    assert _alpha([60.0, 50.0], 100.0, None, 1) == 0.0  # the budget is spent
    assert _alpha([1.0] * 6, None, 4, 2) == pytest.approx(0.5)
    assert _alpha([1.0] * 6, None, None, 2) == 1.0


def test_tunewise_run_ends_a_spec_at_max_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "pricedtrain.py").write_text(
        "def train(params):\n    return {'loss': params['x'], 'dollars': 1.5}\n", encoding="utf-8"
    )
    spec = {
        **minimal(study="priced-run"),
        "strategy": "random",
        "trial": {"python": "pricedtrain:train"},
        "limits": {"max_cost": 5},  # no max_trials: the budget ends it
        "cost": {"metric": "dollars"},
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    url = f"sqlite:///{tmp_path / 'r.db'}"
    assert main(["run", "spec.json", "--storage", url]) == 0
    out = capsys.readouterr()
    assert "the next trial would overrun max_cost (5): spent 4.5" in out.out
    assert "cost 4.5/5 (0.5 left)" in out.err  # the progress line
    assert main(["status", "priced-run", "--format", "json", "--storage", url]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["completed"] == 3 and row["cost"]["left"] == 0.5


def priced_by_c(params: dict[str, Any]) -> dict[str, float]:
    return {"loss": (params["x"] - 0.3) ** 2, "dollars": math.exp(3 * params["c"])}


def test_a_cost_aware_study_runs_and_every_suggestion_replays() -> None:
    s = tw.create_study(
        "aware",
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0.0, 1.0), "c": tw.Float(0.0, 1.0)},
        seed=2,
        cost={"metric": "dollars", "aware": True},
    )
    s.optimize(priced_by_c, n_trials=12, max_cost=200, progress=False)
    last = s.trials[-1].suggestion
    assert last is not None and last["options"]["cost"]["max_cost"] == 200.0
    report = s.replay()
    assert report.ok and report.rate == 1.0
    s.close()


def test_status_counts_a_running_trials_last_reported_cost(tmp_path: Path) -> None:
    from tunewise.cost import reported_costs
    from tunewise.store import open_store

    spec = StudySpec.from_dict(
        minimal(study="live", cost={"metric": "dollars"}, limits={"max_cost": 10})
    )
    store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
    record = store.create_study("live", spec.to_dict())
    running = store.add_trial(record.id, {"x": 0.5}, owner="t", lease_seconds=60)
    store.add_report(record.id, running.number, 1, {"dollars": 1.0, "loss": 0.3})
    store.add_report(record.id, running.number, 2, {"loss": 0.2})
    store.add_report(record.id, running.number, 3, {"dollars": 2.5})
    trials = store.get_trials(record.id)
    spent = reported_costs(store, record.id, record.definition, trials)
    assert spent == {running.number: 2.5}
    summary = summarize(record.definition, trials, reported=spent)
    assert summary is not None and summary.spent == 2.5 and summary.running == 2.5
    store.close()


def test_the_earlier_attempts_of_a_retried_trial_are_paid_for_too() -> None:
    from tunewise.cost import attempts_cost
    from tunewise.trial import Attempt

    spec = CostSpec(per_hour=3600.0)  # 1 a second
    earlier = [
        Attempt(
            0,
            1,
            FailureKind.CRASHED,
            "killed",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=4),
        )
    ]
    assert attempts_cost(spec, earlier, units=2) == pytest.approx(8.0)
    assert attempts_cost(CostSpec(metric="dollars"), earlier) == 0.0
    retried = replace_attempt(trial(0, TrialState.COMPLETED, 10), 2)
    definition = {"cost": {"per_hour": 3600.0}, "limits": {"max_cost": 100}}
    summary = summarize(definition, [retried], attempts={0: earlier})
    assert summary is not None and summary.spent == pytest.approx(14.0)
    meter = CostMeter(spec, 100.0, 1.0, attempts=lambda number: earlier)
    meter.count_finished([retried])
    assert meter._finished == pytest.approx(14.0)


def replace_attempt(t: Trial, attempt: int) -> Trial:
    from dataclasses import replace

    return replace(t, attempt=attempt)


def test_the_progress_line_shows_spent_and_left() -> None:
    from tunewise.progress import format_progress
    from tunewise.tuner import Progress

    shown = Progress(10, 4, 1, 0, 0.5, 2, 60.0, None, cost=summary(12.5, 3.0, limit=50.0))
    assert "| cost 12.5/50 (37.5 left) |" in format_progress(shown)
    unbounded = CostSummary(CostSpec(per_hour=1), 3.25, 0.0, None, None, 0)
    assert "| cost 3.25 |" in format_progress(
        Progress(None, 1, 0, 0, None, None, 1.0, None, unbounded)
    )
    assert "cost" not in format_progress(Progress(10, 4, 1, 0, 0.5, 2, 60.0, None))


def test_trials_running_at_once_count_their_expected_cost_before_another_starts() -> None:
    """3 at once, each trial costs 2, max_cost 9: the first 3 start (no estimate yet); then a
    trial starts only while finished + running (at least the estimate each) + 2 <= 9, so the
    study runs 4 trials (8) where counting only what was spent would start more and overrun."""
    s = study("at-once", metric="dollars")
    completion = s.optimize(two_dollars, max_cost=9, max_parallel=3, progress=False)
    assert completion.reason == "max_cost"
    assert len(s.trials) == 4
    assert completion.evidence["spent"] == 8.0
    s.close()
