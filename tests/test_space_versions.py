"""A study's space edited in the middle of the study (``study.set_space``, issue 27 §1): what
is refused, the note stored with the version, which earlier trials the strategies learn from
(:func:`tunewise.space_versions.usable_history`), and what the next trials get."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tunewise.errors import SpecError
from tunewise.space import Space
from tunewise.space_versions import usable_history
from tunewise.strategies.random import RandomStrategy
from tunewise.trial import Trial, TrialState

pytestmark = pytest.mark.timeout(120)
ENTRY_POINT = Path(sys.executable).with_name("tunewise")


class RecordingStrategy(RandomStrategy):
    """Random search that keeps what each call was given: the space and the history."""

    name = "test-recording"
    calls: list[tuple[Space, list[Trial]]] = []

    def suggest(
        self,
        space: Space,
        history: Sequence[Trial],
        pending: Sequence[Trial],
        n: int,
        rng: Any,
        *,
        remaining: int | None = None,
    ) -> list[dict[str, Any]]:
        RecordingStrategy.calls.append((space, list(history)))
        return super().suggest(space, history, pending, n, rng, remaining=remaining)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> type[RecordingStrategy]:
    """``RecordingStrategy`` registered for one test only (left registered, it showed up in
    every later test's list of strategies: ``tests/docs/test_schema.py``)."""
    from tunewise.strategies import registry

    registry.strategy_names()  # the built-ins first, so that undoing restores them
    monkeypatch.setitem(registry._REGISTRY, RecordingStrategy.name, RecordingStrategy)
    return RecordingStrategy


def _trial(number: int, **params: Any) -> Trial:
    return Trial(1, number, TrialState.COMPLETED, params, value=float(number))


def _study(strategy: str = "random", **space: Any) -> tw.Study:
    space = space or {"lr": tw.Float(0.0, 1.0), "m": tw.Float(0.0, 1.0)}
    return tw.create_study(
        objective=tw.Objective("loss", "minimize"), space=space, strategy=strategy, seed=7
    )


def _run(study: tw.Study, n: int, value: Any = None) -> list[Trial]:
    """``n`` trials by ask and tell, each scored by ``value(params)`` (default: lr)."""
    told = []
    for _ in range(n):
        asked = study.ask()
        score = asked.params["lr"] if value is None else value(asked.params)
        told.append(study.tell(asked, score))
    return told


# Which earlier trials the strategies learn from -----------------------------------------------
def test_a_trial_outside_the_new_range_is_set_aside_with_its_reason() -> None:
    space = Space({"lr": tw.Float(0.5, 2.0), "opt": tw.Categorical(["a", "b"])})
    trials = [_trial(0, lr=0.7, opt="a"), _trial(1, lr=0.2, opt="a"), _trial(2, lr=0.9, opt="c")]
    kept, aside = usable_history(space, trials)
    assert [t.number for t in kept] == [0]
    assert kept[0] is trials[0]  # nothing to project: the same trial
    assert [(a.trial.number, a.parameter) for a in aside] == [(1, "lr"), (2, "opt")]
    assert aside[0].reason == "trial 1 has lr=0.2 outside [0.5, 2.0]"
    assert aside[1].reason == "trial 2 has opt='c' not among the choices ['a', 'b']"


def test_a_removed_parameter_is_projected_away_and_an_added_one_stays_absent() -> None:
    space = Space({"lr": tw.Float(0.0, 1.0), "wd": tw.Float(0.0, 0.1)}, {"m": 0.9})
    trials = [_trial(0, lr=0.5, m=0.1), _trial(1, lr=0.5, m=0.9, wd=0.05)]
    kept, aside = usable_history(space, trials)
    assert aside == []
    assert [dict(t.params) for t in kept] == [{"lr": 0.5}, {"lr": 0.5, "wd": 0.05}]
    assert dict(trials[0].params) == {"lr": 0.5, "m": 0.1}  # the stored trial is unchanged
    assert usable_history(space, trials) == (kept, aside)  # pure: the same answer again


def test_a_value_of_a_parameter_that_became_conditional_and_inactive_is_set_aside() -> None:
    space = Space(
        {
            "opt": tw.Categorical(["sgd", "adam"]),
            "momentum": tw.Float(0.0, 1.0, when={"opt": ["sgd"]}),
        }
    )
    trials = [_trial(0, opt="sgd", momentum=0.5), _trial(1, opt="adam", momentum=0.5)]
    kept, aside = usable_history(space, trials)
    assert [t.number for t in kept] == [0]
    assert aside[0].parameter == "momentum"
    assert "applies only when opt in ['sgd']" in aside[0].reason


# Refusals --------------------------------------------------------------------------------------
def test_a_type_change_is_refused_naming_the_parameter() -> None:
    study = _study()
    with pytest.raises(SpecError, match=r"space\.lr\.type: was float and cannot become int"):
        study.set_space({"lr": tw.Int(1, 10), "m": tw.Float(0.0, 1.0)})
    with pytest.raises(SpecError, match=r"space\.m\.type: was float and cannot become categ"):
        study.set_space({"lr": tw.Float(0.0, 1.0), "m": tw.Categorical([0.1, 0.9])})
    assert len(study.space_versions) == 1  # nothing stored


def test_a_removed_parameter_without_a_fixed_value_is_refused_saying_how_to_fix_it() -> None:
    study = _study()
    with pytest.raises(SpecError, match=r"space\.m: is removed.*static: \{m: VALUE\}"):
        study.set_space({"lr": tw.Float(0.0, 1.0)})


def test_an_invalid_or_unchanged_space_and_a_define_by_run_study_are_refused() -> None:
    study = _study()
    with pytest.raises(SpecError, match=r"space\.lr\.high: must be greater than low"):
        study.set_space({"lr": {"type": "float", "low": 1, "high": 0}, "m": {"type": "float"}})
    with pytest.raises(SpecError, match="nothing to change"):
        study.set_space({"lr": tw.Float(0.0, 1.0), "m": tw.Float(0.0, 1.0)})
    with pytest.raises(TypeError, match="space must be a dict"):
        study.set_space(5)  # type: ignore[arg-type]
    free = tw.create_study(direction="minimize")
    with pytest.raises(SpecError, match="define-by-run"):
        free.set_space({"x": tw.Float(0.0, 1.0)})


# An edit mid-study ------------------------------------------------------------------------------
def test_a_widened_bound_is_searched_and_the_strategy_sees_only_the_trials_inside(
    recording: type[RecordingStrategy],
) -> None:
    study = _study(recording.name)
    earlier = _run(study, 8)
    RecordingStrategy.calls.clear()
    version = study.set_space({"lr": tw.Float(0.5, 3.0), "m": tw.Float(0.0, 1.0)})
    inside = [t.number for t in earlier if t.params["lr"] >= 0.5]
    assert 0 < len(inside) < 8  # the seed spreads the first trials over both halves
    assert version.version == 2
    assert version.note["changes"] == ["lr: moved [0.0, 1.0] -> [0.5, 3.0]"]
    assert version.note["set_aside"] == 8 - len(inside)
    assert version.note["set_aside_why"] == [
        f"{8 - len(inside)} of 8 trials have lr outside [0.5, 3.0]"
    ]
    later = _run(study, 6)
    space, history = RecordingStrategy.calls[0]
    assert space.params["lr"] == tw.Float(0.5, 3.0)
    assert [t.number for t in history] == inside  # and none of those set aside
    assert [t.number for t in RecordingStrategy.calls[-1][1]] == [*inside, *range(8, 13)]
    assert all(t.space_version == 2 for t in later)
    assert max(t.params["lr"] for t in later) > 1.0  # beyond the old bound
    assert all(0.5 <= t.params["lr"] <= 3.0 for t in later)
    assert [t.space_version for t in study.trials] == [1] * 8 + [2] * 6


def test_bayesian_follows_a_widened_bound_the_best_trials_pressed_against() -> None:
    study = _study("bayesian", lr=tw.Float(0.0, 1.0))
    _run(study, 6, value=lambda p: -p["lr"])  # lower is better: the larger lr, the better
    study.set_space({"lr": tw.Float(0.0, 4.0)})
    later = _run(study, 4, value=lambda p: -p["lr"])
    assert max(t.params["lr"] for t in later) > 1.5


def test_a_removed_parameter_runs_at_its_fixed_value_and_an_added_one_is_searched() -> None:
    study = _study("bayesian")
    _run(study, 5)
    version = study.set_space(
        {"lr": tw.Float(0.0, 1.0), "opt": tw.Categorical(["a", "b"])}, static={"m": 0.25}
    )
    assert version.note["fixed"] == {"m": 0.25}
    assert "m: removed, fixed at 0.25" in version.note["changes"]
    assert "opt: added, categorical ['a', 'b'] (earlier trials lack it)" in version.note["changes"]
    assert version.note["set_aside"] == 0
    assert study.static == {"m": 0.25}
    later = _run(study, 3)
    assert all(set(t.params) == {"lr", "opt"} for t in later)
    assert study.space.with_static(later[0].params)["m"] == 0.25  # what a trial receives


def test_an_enqueued_or_added_trial_is_checked_against_the_current_version() -> None:
    study = _study()
    with pytest.raises(SpecError, match=r"lr: 2\.0 is outside"):
        study.enqueue_trial({"lr": 2.0, "m": 0.5})
    study.set_space({"lr": tw.Float(0.0, 3.0)}, static={"m": 0.5})
    assert study.enqueue_trial({"lr": 2.0}).space_version == 2
    with pytest.raises(SpecError, match=r"m: is not a hyperparameter"):
        study.add_trial({"lr": 1.0, "m": 0.5}, 1.0)


def test_an_edit_from_another_handle_is_seen_by_ask(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    mine = tw.create_study(
        "s", objective=tw.Objective("loss", "minimize"), space={"lr": tw.Float(0.0, 1.0)},
        strategy="random", storage=url, seed=1,
    )  # fmt: skip
    _run(mine, 2)
    other = tw.load_study("s", storage=url)
    other.set_space({"lr": tw.Float(5.0, 6.0)})
    asked = mine.ask()
    assert 5.0 <= asked.params["lr"] <= 6.0 and asked.space_version == 2
    mine.tell(asked, 1.0)
    mine.close()
    other.close()


def test_a_running_study_takes_up_an_edit_made_by_another_process(tmp_path: Path) -> None:
    (tmp_path / "slowtrain.py").write_text(
        "import time\n\ndef train(params):\n    time.sleep(0.3)\n    return params['x']\n"
    )
    (tmp_path / "spec.yaml").write_text(
        "study: edited\nobjective: {metric: score, direction: maximize}\n"
        "space: {x: {type: float, low: 0.0, high: 1.0}}\nstrategy: random\n"
        'trial: {python: "slowtrain:train"}\nlimits: {max_trials: 10}\nseed: 1\n'
    )
    url = f"sqlite:///{tmp_path / 't.db'}"
    argv = [str(ENTRY_POINT), "run", "spec.yaml", "--storage", url]
    env = {**os.environ, "TUNEWISE_STORAGE": ""}
    process = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        study = None
        while time.monotonic() < deadline:
            try:
                study = study or tw.load_study("edited", storage=url)
                if study.counts()[TrialState.COMPLETED] >= 2:
                    break
            except (tw.StudyNotFound, SpecError):  # not created yet
                pass
            time.sleep(0.05)
        assert study is not None
        study.set_space({"x": tw.Float(2.0, 3.0)})
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        trials = study.trials
        assert len(trials) == 10
        first = [t for t in trials if t.space_version == 1]
        second = [t for t in trials if t.space_version == 2]
        assert len(second) >= 5
        assert all(0.0 <= t.params["x"] <= 1.0 for t in first)
        assert all(2.0 <= t.params["x"] <= 3.0 for t in second)
        assert [t.number for t in trials] == [
            *(t.number for t in first),
            *(t.number for t in second),
        ]
        study.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _x(params: dict[str, Any]) -> float:
    return float(params["x"])


def test_completion_criteria_judge_the_trials_inside_an_edited_space() -> None:
    # convergence measures distances in the space: a choice dropped by the edit made the
    # tuner fail on the first trial that held it ("'c' is not one of ['a', 'b']")
    study = tw.create_study(
        objective=tw.Objective("loss", "minimize"),
        space={"x": tw.Float(0.0, 1.0), "k": tw.Categorical(["a", "b", "c"])},
        strategy="random",
        seed=1,
        completion={"convergence": True},
    )
    for i in range(24):
        study.add_trial({"x": i / 30, "k": "c"}, i / 30)
    study.set_space({"x": tw.Float(0.0, 1.0), "k": tw.Categorical(["a", "b"])})
    completion = study.optimize(_x, n_trials=3, progress=False)
    assert completion.reason == "max_trials"
    assert [t.space_version for t in study.trials[-3:]] == [2, 2, 2]


def test_the_trials_dataframe_keeps_a_removed_parameters_earlier_values() -> None:
    study = _study()
    _run(study, 2)
    study.set_space({"lr": tw.Float(0.0, 1.0)}, static={"m": 0.5})
    _run(study, 1)
    frame = study.trials_dataframe()
    assert list(frame.columns[6:8]) == ["params_lr", "params_m"]
    ran = [t.params["m"] for t in study.trials[:2]]
    assert frame["params_m"].tolist()[:2] == ran and frame["params_m"].isna().tolist()[2]
