"""The Python face: create/load, optimize, ask and tell, limits, resume, failures."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.trial import FailureKind, StudyState, TrialState

OBJECTIVE = tw.Objective("accuracy", "maximize")
SPACE = {
    "lr": tw.Float(1e-4, 1e-1, scale="log"),
    "layers": tw.Int(1, 3),
    "act": tw.Categorical(["relu", "tanh"]),
}


def train(params: dict[str, Any]) -> float:
    return 1.0 - (math.log10(params["lr"]) + 2) ** 2 / 10 - 0.01 * params["layers"]


def test_the_readme_example_in_memory() -> None:
    study = tw.create_study("demo", objective=OBJECTIVE, space=SPACE, strategy="random", seed=0)
    completion = study.optimize(train, max_trials=12, max_parallel=2)
    assert completion.reason == "max_trials"
    trials = study.trials
    assert [t.number for t in trials] == list(range(12))
    assert all(t.state == TrialState.COMPLETED for t in trials)
    best = study.best_trial
    assert best.value == max(t.value for t in trials if t.value is not None)
    assert set(best.params) == {"lr", "layers", "act"}
    assert study.state == StudyState.COMPLETED
    assert study.reason == "reached max_trials (12)"

    trial = study.ask()
    assert trial.state == TrialState.RUNNING and trial.number == 12
    finished = study.tell(trial, 0.93)
    assert (finished.state, finished.value) == (TrialState.COMPLETED, 0.93)


def test_a_file_study_persists_and_continues(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    study = tw.create_study("demo", objective=OBJECTIVE, space=SPACE, storage=url, seed=1)
    study.optimize(train, max_trials=4)
    first = [t.params for t in study.trials]
    study.close()

    again = tw.create_study("demo", objective=OBJECTIVE, space=SPACE, storage=url, seed=1)
    again.optimize(train, max_trials=7)
    assert [t.number for t in again.trials] == list(range(7))
    assert [t.params for t in again.trials][:4] == first
    again.close()

    loaded = tw.load_study("demo", storage=url)
    assert len(loaded.trials) == 7 and loaded.static == {}
    loaded.close()


def test_the_same_seed_gives_the_same_trials(tmp_path: Path) -> None:
    runs = []
    for i in range(2):
        study = tw.create_study(f"s{i}", objective=OBJECTIVE, space=SPACE, seed=42)
        study.optimize(train, max_trials=5, max_parallel=2)
        runs.append([t.params for t in study.trials])
    assert runs[0] == runs[1]


def test_a_different_definition_under_the_same_name_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    tw.create_study("demo", objective=OBJECTIVE, space=SPACE, storage=url).close()
    other = {**SPACE, "lr": tw.Float(1e-3, 1e-1, scale="log")}
    with pytest.raises(
        tw.SpecError, match="^study: a study named 'demo' already exists with another space"
    ):
        tw.create_study("demo", objective=OBJECTIVE, space=other, storage=url)


def test_load_study_of_an_unknown_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    tw.create_study("other", objective=OBJECTIVE, space=SPACE, storage=url)
    with pytest.raises(tw.StudyNotFound):
        tw.load_study("nope", storage=url)


def test_load_study_from_a_mistyped_path_names_it_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(tw.SpecError, match="typo.db"):
        tw.load_study("demo", storage=f"sqlite:///{missing}")
    assert not missing.exists()


def test_failing_trials_do_not_stop_the_study_until_the_limit() -> None:
    def flaky(params: dict[str, Any]) -> float:
        if params["layers"] == 2:
            raise RuntimeError("layer trouble")
        return 1.0

    study = tw.create_study("flaky", objective=OBJECTIVE, space=SPACE, seed=3)
    study.optimize(flaky, max_trials=15, max_parallel=2)
    failed = [t for t in study.trials if t.state == TrialState.FAILED]
    assert failed and len(study.trials) == 15
    assert all(t.failure_kind == FailureKind.USER_ERROR for t in failed)
    assert all("RuntimeError: layer trouble" in (t.error or "") for t in failed)


def test_consecutive_failures_abort_the_study_quoting_the_last_error() -> None:
    def broken(params: dict[str, Any]) -> float:
        raise ValueError("bad data path /nowhere")

    study = tw.create_study("broken", objective=OBJECTIVE, space=SPACE, seed=0)
    # 2 at once: the trial beside the third failure may end in the same turn and be counted
    with pytest.raises(tw.StudyAborted, match="[34] consecutive trials failed.*bad data path"):
        study.optimize(broken, max_trials=50, max_parallel=2, max_consecutive_failures=3)
    assert study.state == StudyState.FAILED
    assert len(study.trials) < 50
    assert all(t.state.is_finished for t in study.trials)


def test_max_runtime_ends_the_study_and_its_running_trials() -> None:
    def slow(params: dict[str, Any]) -> float:
        time.sleep(30)
        return 1.0

    study = tw.create_study("slow", objective=OBJECTIVE, space=SPACE, seed=0)
    started = time.monotonic()
    with pytest.raises(tw.NoTrialCompleted, match=r"2 failed \(timeout 2\).*max_runtime"):
        study.optimize(slow, max_runtime="1s", max_parallel=2)
    assert study.evidence is not None and study.evidence["criterion"] == "max_runtime"
    assert time.monotonic() - started < 15
    assert all(t.state == TrialState.FAILED for t in study.trials)
    assert all(t.failure_kind == FailureKind.TIMEOUT for t in study.trials)


def test_trial_timeout() -> None:
    study = tw.create_study("timeout", objective=OBJECTIVE, space=SPACE, seed=0)
    with pytest.raises(tw.NoTrialCompleted, match=r"timeout 2"):
        study.optimize(lambda p: time.sleep(30), 2, max_parallel=2, trial_timeout="0.5s")
    assert [t.failure_kind for t in study.trials] == [FailureKind.TIMEOUT] * 2


def test_optimize_needs_a_limit() -> None:
    study = tw.create_study("nolimit", objective=OBJECTIVE, space=SPACE)
    with pytest.raises(ValueError, match="^optimize needs an end: give n_trials"):
        study.optimize(train)


def test_grid_study_runs_every_point_once() -> None:
    space = {"a": tw.Int(1, 3), "b": tw.Categorical(["x", "y"])}
    study = tw.create_study("grid", objective=OBJECTIVE, space=space, strategy="grid")
    completion = study.optimize(lambda p: float(p["a"]), max_parallel=2)
    assert completion.reason == "max_trials"
    assert sorted((t.params["a"], t.params["b"]) for t in study.trials) == [
        (a, b) for a in (1, 2, 3) for b in ("x", "y")
    ]
    with pytest.raises(ValueError, match="no configuration left"):
        study.ask()


def test_tell_records_metrics_failures_and_reports() -> None:
    study = tw.create_study("tell", objective=OBJECTIVE, space=SPACE, seed=0)
    t0 = study.ask()
    done = study.tell(t0, {"accuracy": 0.8, "loss": 0.3})
    assert done.metrics == {"accuracy": 0.8, "loss": 0.3}
    t1 = study.ask()
    failed = study.tell(t1, state="failed", error="out of memory")
    assert (failed.state, failed.error) == (TrialState.FAILED, "out of memory")
    t2 = study.ask()
    study.report(t2, {"accuracy": 0.5}, 1)
    t2.report(step=2, value=0.6)  # Optuna's trial.report(value, step), keywords either way
    stopped = study.tell(t2, state="stopped")
    assert (stopped.state, stopped.value) == (TrialState.STOPPED, 0.6)
    assert [r.step for r in study.reports(t2.number)] == [1, 2]
    t3 = study.ask()
    assert study.tell(t3, float("nan")).state == TrialState.FAILED
    with pytest.raises(tw.StoreError):
        study.tell(t0, 0.5)  # finished trials are read-only


def test_minimize_picks_the_lowest() -> None:
    study = tw.create_study("min", objective=tw.Objective("loss", "minimize"), space=SPACE)
    study.optimize(lambda p: p["lr"], max_trials=6)
    assert study.best_value == min(t.value for t in study.trials if t.value is not None)


def _spy_on_remaining(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """What the random strategy is told of the trials left, call by call."""
    from tunewise.strategies.random import RandomStrategy

    seen: list[int | None] = []
    original = RandomStrategy.suggest

    def spy(self: RandomStrategy, *args: Any, remaining: int | None = None) -> Any:
        seen.append(remaining)
        return original(self, *args, remaining=remaining)

    monkeypatch.setattr(RandomStrategy, "suggest", spy)
    return seen


def test_strategies_are_told_how_many_trials_the_budget_leaves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _spy_on_remaining(monkeypatch)
    study = tw.create_study("left", objective=OBJECTIVE, space=SPACE, strategy="random", seed=0)
    study.optimize(train, max_trials=3)
    assert seen == [3, 2, 1]
    seen.clear()
    study.optimize(train, max_trials=5)  # max_trials counts the earlier runs' trials
    assert seen == [2, 1]
    seen.clear()
    study.tell(study.ask(remaining=4), 0.5)
    study.tell(study.ask(), 0.5)  # ask and tell: no budget unless told
    assert seen == [4, None]
    with pytest.raises(ValueError, match="^remaining must be 1 or more, got 0$"):
        study.ask(remaining=0)
