"""The Python API an Optuna user expects: optimize's n_trials/timeout/trial_timeout/callbacks/
progress, no silent failure, a required direction, report(value, step), enqueue_trial,
add_trial, user attributes, and the argument checks at the boundary (issues 20 and 21)."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.spec import StudySpec
from tunewise.trial import FailureKind, StudyState, TrialState

MIN = tw.Objective("loss", "minimize")
SPACE = {"x": tw.Float(0.0, 1.0), "k": tw.Categorical(["a", "b"])}


def loss(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + (0.1 if params["k"] == "b" else 0.0)


def new(name: str = "s", **kwargs: Any) -> tw.Study:
    kwargs.setdefault("strategy", "random")
    return tw.create_study(name, objective=MIN, space=SPACE, seed=0, **kwargs)


# optimize ---------------------------------------------------------------------------------
def test_n_trials_runs_that_many_more_and_continues_an_ended_study(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = new(storage=url)
    assert study.optimize(loss, 3, progress=False).reason == "max_trials"
    assert len(study.trials) == 3 and study.state == StudyState.COMPLETED
    study.optimize(loss, n_trials=2, progress=False)  # an ended study runs 2 more
    assert len(study.trials) == 5 and study.state == StudyState.COMPLETED
    study.optimize(loss, n_trials=4, max_trials=7, progress=False)  # the total still bounds it
    assert len(study.trials) == 7
    study.close()
    again = tw.load_study("s", storage=url)
    again.optimize(loss, n_trials=1, progress=False)
    assert [t.number for t in again.trials] == list(range(8))
    again.close()


def test_enqueued_trials_count_among_n_trials() -> None:
    study = new()
    study.enqueue_trial({"x": 0.3, "k": "a"})
    study.optimize(loss, n_trials=2, progress=False)
    trials = study.trials
    assert len(trials) == 2 and trials[0].params == {"x": 0.3, "k": "a"}


def test_timeout_is_this_calls_clock_and_running_trials_finish() -> None:
    def slow(params: dict[str, Any]) -> float:
        time.sleep(0.4)
        return loss(params)

    study = new()
    completion = study.optimize(slow, n_trials=1000, timeout=0.3, progress=False)
    assert completion.reason == "timeout" and "timeout (0.3 s)" in completion.message
    trials = study.trials
    assert 1 <= len(trials) < 1000
    assert all(t.state == TrialState.COMPLETED for t in trials)  # none cut short
    again = study.optimize(slow, n_trials=1, timeout="1h", progress=False)  # continued
    assert again.reason == "max_trials" and len(study.trials) == len(trials) + 1


def test_trial_timeout_is_the_per_trial_limit() -> None:
    def sometimes_slow(params: dict[str, Any]) -> float:
        if params["k"] == "b":
            time.sleep(30)
        return loss(params)

    study = new()
    study.enqueue_trial({"x": 0.1, "k": "b"})
    study.enqueue_trial({"x": 0.2, "k": "a"})
    study.optimize(sometimes_slow, n_trials=2, trial_timeout="0.5s", progress=False)
    assert [t.failure_kind for t in study.trials] == [FailureKind.TIMEOUT, None]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((5,), {}, TypeError, "^func must be a callable"),
        ((loss, "3"), {}, TypeError, "^n_trials must be an integer of 1 or more, got '3'$"),
        ((loss, 0), {}, ValueError, "^n_trials must be 1 or more, got 0$"),
        ((loss, True), {}, TypeError, "^n_trials must be an integer"),
        ((loss, 2, [1]), {}, TypeError, "^timeout must be seconds"),
        ((loss, 2, "soon"), {}, ValueError, "^timeout: expected a duration"),
        ((loss, 2), {"trial_timeout": {}}, TypeError, "^trial_timeout must be seconds"),
        ((loss, 2), {"callbacks": print}, TypeError, "^callbacks must be a list of functions"),
        ((loss, 2), {"callbacks": [1]}, TypeError, r"^callbacks\[0\] must be a function"),
        ((loss, 2), {"progress": "yes"}, TypeError, "^progress must be True, False or None"),
        ((loss,), {"max_trials": 0}, ValueError, "^max_trials must be 1 or more"),
        ((loss,), {}, ValueError, "^optimize needs an end: give n_trials"),
    ],
)
def test_optimize_arguments_are_checked(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    study = new()
    with pytest.raises(error, match=message):
        study.optimize(*args, **kwargs)
    assert study.trials == []


# No failure is silent -----------------------------------------------------------------------
def test_a_study_with_no_completed_trial_raises_with_kinds_counts_and_the_last_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(params: dict[str, Any]) -> Any:
        if params["k"] == "a":
            raise RuntimeError("kaboom-7: bad data path")
        return {"accuracy": 1.0}  # no loss in it

    study = new()
    study.enqueue_trial({"x": 0.5, "k": "b"})
    study.enqueue_trial({"x": 0.5, "k": "a"})
    with pytest.raises(tw.NoTrialCompleted) as caught:
        study.optimize(broken, n_trials=2, progress=False)
    error = caught.value
    assert isinstance(error, tw.StudyAborted)
    assert error.counts == {"metric_missing": 1, "user_error": 1}
    assert str(error).startswith("study 's' has no completed trial: 2 failed (")
    assert "the last failure (trial 1, user_error): " in str(error)
    assert "RuntimeError: kaboom-7: bad data path" in str(error)
    lines = [line for line in capsys.readouterr().err.splitlines() if "[tunewise]" in line]
    assert lines == [
        "[tunewise] trial 0 failed (metric_missing): the training function returned "
        "['accuracy'] without the objective 'loss'",
        "[tunewise] trial 1 failed (user_error): RuntimeError: kaboom-7: bad data path",
    ]


def test_nan_and_missing_objective_fail_their_trials_with_a_reason() -> None:
    study = new()
    study.enqueue_trial({"x": 0.5, "k": "a"})
    study.enqueue_trial({"x": 0.6, "k": "a"})
    study.enqueue_trial({"x": 0.7, "k": "a"})
    outcomes = {0.5: math.nan, 0.6: {"other": 1.0}, 0.7: 0.25}
    study.optimize(lambda p: outcomes[p["x"]], n_trials=3, progress=False)
    kinds = [(t.state, t.failure_kind) for t in study.trials]
    assert kinds == [
        (TrialState.FAILED, FailureKind.METRIC_INVALID),
        (TrialState.FAILED, FailureKind.METRIC_MISSING),
        (TrialState.COMPLETED, None),
    ]
    assert "'loss' is nan, not a finite number" in (study.trials[0].error or "")
    assert study.best_value == 0.25  # one completed: no error raised


# The direction is required ------------------------------------------------------------------
def test_the_objective_direction_is_required() -> None:
    with pytest.raises(tw.SpecError, match="^objective.direction: is required: minimize or"):
        tw.Objective("loss")
    data = {"study": "d", "objective": {"metric": "loss"}, "space": {"x": {"type": "int",
            "low": 0, "high": 3}}}  # fmt: skip
    with pytest.raises(tw.SpecError, match="^objective.direction: is required"):
        StudySpec.from_dict(data)


# report(value, step) ------------------------------------------------------------------------
def curve(params: dict[str, Any], trial: Any) -> float:
    trial.report(0.9, 1)  # Optuna's order
    trial.report(step=2, value=0.7)  # keywords either way
    trial.report(0.5, 3, accuracy=0.8)
    assert trial.should_prune() is False
    return 0.5


def test_trial_report_takes_value_then_step() -> None:
    study = new()
    study.optimize(curve, n_trials=1, progress=False)
    reports = study.reports(0)
    assert [(r.step, r.values) for r in reports] == [
        (1, {"loss": 0.9}),
        (2, {"loss": 0.7}),
        (3, {"accuracy": 0.8, "loss": 0.5}),
    ]


def test_ask_and_tell_report_and_user_attrs() -> None:
    study = new()
    trial = study.ask()
    trial.report(0.4, 0)
    study.report(trial, {"loss": 0.3, "acc": 0.9}, step=1)
    trial.set_user_attr("gpu", "A100")
    assert trial.user_attrs == {"gpu": "A100"}
    done = study.tell(trial, 0.3)
    assert done.user_attrs == {"gpu": "A100"} and done.value == 0.3
    assert [r.step for r in study.reports(trial.number)] == [0, 1]
    with pytest.raises(TypeError, match="^step must be a non-negative integer, got 0.5$"):
        study.report(study.ask(), 1.0, 0.5)  # type: ignore[arg-type]


# Results as in Optuna ---------------------------------------------------------------------
def test_best_trial_raises_value_error_when_none_completed() -> None:
    study = new()
    with pytest.raises(ValueError, match="no completed trial"):
        study.best_trial  # noqa: B018
    with pytest.raises(ValueError):
        study.best_params  # noqa: B018


def test_trials_dataframe_has_user_attrs_columns() -> None:
    study = new()
    study.optimize(loss, n_trials=2, progress=False)
    study.set_trial_user_attr(1, "note", "rerun")
    frame = study.trials_dataframe()
    assert {"number", "state", "value", "params_x", "params_k", "user_attrs_note"} <= set(
        frame.columns
    )
    assert list(frame["user_attrs_note"].fillna("")) == ["", "rerun"]


# enqueue_trial ------------------------------------------------------------------------------
def test_enqueue_trial_on_a_live_study_runs_first_and_is_validated() -> None:
    study = new()
    study.optimize(loss, n_trials=1, progress=False)
    queued = study.enqueue_trial({"x": 0.25, "k": "b"}, user_attrs={"why": "hunch"})
    assert queued.state == TrialState.QUEUED and queued.number == 1
    asked = study.ask()
    assert (asked.number, asked.params) == (1, {"x": 0.25, "k": "b"})
    assert asked.user_attrs == {"why": "hunch"}
    with pytest.raises(tw.SpecError, match=r"^enqueue_trial.params.x: .*0.0.*1.0"):
        study.enqueue_trial({"x": 2.0, "k": "a"})
    with pytest.raises(tw.SpecError, match=r"^enqueue_trial.params.lr: is not a hyperparameter"):
        study.enqueue_trial({"x": 0.5, "k": "a", "lr": 1})
    with pytest.raises(tw.SpecError, match=r"^enqueue_trial.params.k: is missing"):
        study.enqueue_trial({"x": 0.5})
    with pytest.raises(TypeError, match="^enqueue_trial: params must be a dict"):
        study.enqueue_trial([0.5, "a"])  # type: ignore[arg-type]


def test_enqueue_given_when_continuing_runs_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = {"x": 0.1, "k": "a"}
    second = {"x": 0.9, "k": "b"}
    study = new(storage=url, enqueue=[first])
    study.optimize(loss, n_trials=2, progress=False)
    study.close()
    again = new(storage=url, enqueue=[first, second])  # `second` is new: it is queued
    assert [t.params for t in again.trials if t.state == TrialState.QUEUED] == [second]
    again.close()
    third = new(storage=url, enqueue=[first, second])  # the same list again: nothing added
    assert len(third.trials) == 3
    third.optimize(loss, n_trials=1, progress=False)
    assert [t.params for t in third.trials].count(second) == 1
    assert third.trials[2].state == TrialState.COMPLETED
    third.close()


# add_trial ------------------------------------------------------------------------------------
def test_add_trial_records_results_obtained_elsewhere() -> None:
    study = new()
    done = study.add_trial({"x": 0.3, "k": "a"}, 0.01, user_attrs={"from": "paper"})
    assert (done.state, done.value) == (TrialState.COMPLETED, 0.01)
    assert done.user_attrs == {"from": "paper"}
    by_metrics = study.add_trial({"x": 0.4, "k": "a"}, metrics={"loss": 0.02, "acc": 0.9})
    assert by_metrics.value == 0.02 and by_metrics.metrics == {"loss": 0.02, "acc": 0.9}
    failed = study.add_trial({"x": 0.5, "k": "b"}, state="failed", error="diverged")
    assert (failed.state, failed.failure_kind, failed.error) == (
        TrialState.FAILED, FailureKind.USER_ERROR, "diverged",
    )  # fmt: skip
    stopped = study.add_trial({"x": 0.6, "k": "b"}, 0.5, state="stopped")
    assert stopped.state == TrialState.STOPPED
    assert study.best_trial.number == 0 and study.best_value == 0.01
    study.optimize(loss, n_trials=1, progress=False)  # numbers go on after them
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (({"x": 0.3, "k": "a"},), {}, ValueError, "^add_trial: .*never reported 'loss'"),
        (({"x": 0.3, "k": "a"}, math.nan), {}, ValueError, "^add_trial: the objective 'loss' is"),
        (({"x": 0.3, "k": "a"}, "low"), {}, ValueError, "^add_trial: .*not a number"),
        (({"x": 0.3, "k": "a"},), {"metrics": {"acc": 1}}, ValueError, "without the objective"),
        (({"x": 0.3, "k": "a"}, 0.1), {"state": "failed"}, ValueError, "^add_trial: a failed"),
        (({"x": 0.3, "k": "a"}, 0.1), {"state": "running"}, ValueError, "^state must be"),
        (({"x": 3, "k": "a"}, 0.1), {}, tw.SpecError, r"^add_trial.params.x: "),
        (({"x": 0.3, "k": "a"}, 0.1), {"user_attrs": {"f": print}}, TypeError, "'f' must be"),
    ],
)
def test_add_trial_refuses_what_does_not_fit(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    study = new()
    with pytest.raises(error, match=message):
        study.add_trial(*args, **kwargs)
    assert study.trials == []


# User attributes --------------------------------------------------------------------------
def test_study_and_trial_user_attrs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = new(storage=url)
    study.set_user_attr("dataset", "digits-v2")
    study.set_user_attr("folds", [0, 1, 2])
    study.optimize(loss, n_trials=1, progress=False)
    study.set_trial_user_attr(0, "checked", True)
    with pytest.raises(TypeError, match="^user attribute 'bad' must be a JSON value"):
        study.set_user_attr("bad", object())
    with pytest.raises(TypeError, match="^user attribute keys must be non-empty strings"):
        study.set_user_attr(3, "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^a trial number must be an integer"):
        study.set_trial_user_attr("0", "k", 1)  # type: ignore[arg-type]
    study.close()
    loaded = tw.load_study("s", storage=url)
    assert loaded.user_attrs == {"dataset": "digits-v2", "folds": [0, 1, 2]}
    assert loaded.trials[0].user_attrs == {"checked": True}
    loaded.close()


# Callbacks and stop -------------------------------------------------------------------------
def test_callbacks_see_every_finished_trial_and_may_stop_the_study() -> None:
    seen: list[tuple[int, TrialState]] = []

    def record(study: tw.Study, trial: tw.Trial) -> None:
        seen.append((trial.number, trial.state))
        study.set_trial_user_attr(trial.number, "seen", True)
        if len(seen) == 3:
            study.stop()

    def flaky(params: dict[str, Any]) -> float:
        if params["x"] > 0.5:
            raise ValueError("too big")
        return loss(params)

    study = new()
    for x in (0.1, 0.9, 0.2, 0.3, 0.4):
        study.enqueue_trial({"x": x, "k": "a"})
    completion = study.optimize(flaky, n_trials=5, callbacks=[record], progress=False)
    assert completion.reason == "stop_called"
    assert seen == [(0, TrialState.COMPLETED), (1, TrialState.FAILED), (2, TrialState.COMPLETED)]
    assert all(t.user_attrs == {"seen": True} for t in study.trials if t.state.is_finished)
    assert len([t for t in study.trials if t.state.is_finished]) == 3
    again = study.optimize(loss, n_trials=1, progress=False)  # stop() holds for one call only
    assert again.reason == "max_trials"


def test_an_exception_in_a_callback_ends_optimize_and_propagates() -> None:
    class Enough(Exception):
        pass

    calls: list[int] = []

    def explode(study: tw.Study, trial: tw.Trial) -> None:
        calls.append(trial.number)
        raise Enough(f"trial {trial.number}")

    study = new()
    with pytest.raises(Enough) as caught:
        study.optimize(loss, n_trials=6, callbacks=[explode], max_parallel=3, progress=False)
    assert calls == [int(str(caught.value).split()[1])]  # called once: its error is the one
    assert study.state == StudyState.INTERRUPTED
    assert study.trials[calls[0]].state == TrialState.COMPLETED
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]


def test_stop_from_another_thread() -> None:
    study = new()

    def slow(params: dict[str, Any]) -> float:
        time.sleep(0.2)
        return 0.0

    timer = threading.Timer(0.5, study.stop)
    timer.start()
    try:
        completion = study.optimize(slow, n_trials=10_000, progress=False)
    finally:
        timer.cancel()
    assert completion.reason == "stop_called" and len(study.trials) < 10_000


# Progress -----------------------------------------------------------------------------------
def test_progress_true_draws_and_false_draws_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    study = new()
    study.optimize(loss, n_trials=2, progress=False)
    assert "trials 2/2" not in capsys.readouterr().err
    study.optimize(loss, n_trials=2, progress=True)
    assert "trials 4/4" in capsys.readouterr().err
    study.optimize(loss, n_trials=1)  # None: not a terminal here, so nothing
    assert "trials 5/5" not in capsys.readouterr().err


# Arguments at the boundary (issue 21 #23, #5) -----------------------------------------------
def test_create_study_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="^space must be a dict of names to tw.Float"):
        tw.create_study("a", objective=MIN, space=5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^storage must be a database URL"):
        tw.create_study("a", objective=MIN, space=SPACE, storage=123)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^objective must be tw.Objective"):
        tw.create_study("a", objective="loss", space=SPACE)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^storage must be a database URL"):
        tw.load_study("a", storage=123)  # type: ignore[arg-type]


def test_ask_and_tell_check_their_arguments() -> None:
    study = new()
    with pytest.raises(TypeError, match="^remaining must be an integer of 1 or more, got 'x'$"):
        study.ask(remaining="x")  # type: ignore[arg-type]
    for bad in ("x", None, 1.5):
        with pytest.raises(TypeError, match="^tell: trial must be a trial from study.ask"):
            study.tell(bad, 0.1)  # type: ignore[arg-type]
    trial = study.ask()
    with pytest.raises(ValueError, match="^state must be 'completed', 'stopped' or 'failed'"):
        study.tell(trial, 0.1, state="running")
    assert study.tell(trial, 0.1).state == TrialState.COMPLETED


def test_tell_with_a_trial_of_another_study_names_both(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    first = new("first", storage=url)
    second = new("second", storage=url)
    theirs = first.ask()
    with pytest.raises(
        ValueError, match="^tell: trial 0 belongs to study 'first', not to study 'second'"
    ):
        second.tell(theirs, 0.1)
    plain = first.trials[0]  # a stored Trial (not from ask): found by its study id
    with pytest.raises(ValueError, match="belongs to study 'first', not to study 'second'"):
        second.tell(plain, 0.1)
    assert first.tell(theirs, 0.1).state == TrialState.COMPLETED
    first.close()
    second.close()


def test_get_trials_by_state() -> None:
    study = new()
    study.add_trial({"x": 0.1, "k": "a"}, 0.5)
    study.add_trial({"x": 0.2, "k": "a"}, state="failed")
    study.enqueue_trial({"x": 0.3, "k": "a"})
    assert [t.number for t in study.get_trials()] == [0, 1, 2]
    assert [t.number for t in study.get_trials([TrialState.COMPLETED, "queued"])] == [0, 2]
    with pytest.raises(ValueError, match="^states must be among queued, running"):
        study.get_trials(["done"])
    with pytest.raises(TypeError, match="^states must be a list of trial states"):
        study.get_trials("completed")


def _train_setting_attrs(params: dict[str, Any], trial: Any) -> float:
    trial.set_user_attr("k", 1)
    trial.set_user_attr("sizes", [params["x"], "a"])
    if params["x"] > 0.5:
        trial.set_user_attr("bad", object())  # not JSON: the trial fails, naming it
    return 0.0


def test_user_attrs_set_in_the_training_function_are_stored_with_the_trial() -> None:
    from tunewise.documents import trial_document

    study = new()
    study.enqueue_trial({"x": 0.25, "k": "a"})
    study.enqueue_trial({"x": 0.75, "k": "a"})
    study.optimize(_train_setting_attrs, n_trials=2, progress=False)
    first, second = study.trials
    assert first.state == TrialState.COMPLETED
    assert first.user_attrs == {"k": 1, "sizes": [0.25, "a"]}
    assert second.state == TrialState.FAILED and "must be a JSON value" in (second.error or "")
    study.set_trial_user_attr(0, "note", "flaky GPU")
    assert trial_document(study.trials[0])["user_attrs"] == {
        "k": 1, "sizes": [0.25, "a"], "note": "flaky GPU"
    }  # fmt: skip
