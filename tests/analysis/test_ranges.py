"""Range proposals (issue 27 §4) on constructed histories: each rule with and without the
evidence it needs, conditional spaces, refusals, and the next study's spec."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import yaml

import tunewise as tw
from tunewise.analysis.ranges import RangeProposals, propose_ranges
from tunewise.spec import StudySpec
from tunewise.trial import Trial

from .conftest import trial

MIN = tw.Objective("loss", "minimize")


def history(points: Sequence[dict[str, Any]], f: Callable[[dict[str, Any]], float]) -> list[Trial]:
    return [trial(i, p, f(p)) for i, p in enumerate(points)]


def spread(n: int, low: float, high: float) -> list[float]:
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def scatter(n: int, k: int = 1) -> list[float]:
    """``n`` numbers in [0, 1) that a sorted column never predicts (golden-ratio steps)."""
    return [((i + 1) * 0.6180339887 * k) % 1.0 for i in range(n)]


def propose(space: tw.Space, trials: list[Trial], **kw: Any) -> RangeProposals:
    return propose_ranges(space, trials, MIN, study="parent", **kw)


def change(proposals: RangeProposals, name: str) -> Any:
    return next(c for c in proposals.changes if c.param == name)


# widen --------------------------------------------------------------------------------------
def test_a_bound_the_good_trials_press_is_widened_by_half_the_range() -> None:
    space = tw.Space({"x": tw.Float(0.0, 5.0)})
    trials = history([{"x": x} for x in spread(40, 0, 5)], lambda p: (p["x"] - 7) ** 2)
    c = change(propose(space, trials), "x")
    assert c.action == "widen"
    assert c.after["high"] == 7.5  # 5 + 0.5 * (5 - 0)
    assert c.after["low"] > 0  # the good trials never go low: that side comes in
    assert c.evidence["press_high"] and not c.evidence["press_low"]
    assert "widen high 5.0 -> 7.5" in c.reason


def test_widening_works_on_the_range_s_scale() -> None:
    space = tw.Space({"lr": tw.Float(1e-4, 1e-2, scale="log")})
    points = [{"lr": 10 ** (-4 + 2 * u)} for u in scatter(40)]
    c = change(propose(space, history(points, lambda p: math.log10(p["lr"]) ** 2)), "lr")
    assert c.action == "widen" and c.after["high"] == pytest.approx(0.1)  # a decade more
    assert c.after["scale"] == "log"


def test_widening_keeps_an_int_on_its_step_s_grid() -> None:
    space = tw.Space({"units": tw.Int(0, 20, step=4)})
    points = [{"units": 4 * (i % 6)} for i in range(40)]
    c = change(propose(space, history(points, lambda p: (p["units"] - 30) ** 2)), "units")
    assert c.action == "widen" and c.after["high"] == 32  # 20 + 10 = 30, up to the grid
    assert c.after["step"] == 4 and c.after["low"] % 4 == 0


def test_a_bound_at_zero_is_not_moved_across_zero() -> None:
    space = tw.Space({"dropout": tw.Float(0.0, 0.5)})
    trials = history([{"dropout": x} for x in spread(40, 0, 0.5)], lambda p: p["dropout"])
    c = change(propose(space, trials), "dropout")
    assert c.after is None or c.after["low"] == 0.0
    assert "not moved across 0" in c.reason


def test_good_trials_in_the_middle_press_no_bound() -> None:
    space = tw.Space({"x": tw.Float(0.0, 5.0)})
    trials = history([{"x": x} for x in spread(40, 0, 5)], lambda p: math.sin(7 * p["x"]))
    c = change(propose(space, trials), "x")
    assert c.action == "keep" and "press no bound" in c.reason


# narrow -------------------------------------------------------------------------------------
def test_a_range_the_good_trials_never_leave_is_narrowed_around_them() -> None:
    space = tw.Space({"y": tw.Float(-10.0, 10.0)})
    trials = history([{"y": y} for y in spread(50, -10, 10)], lambda p: (p["y"] - 1) ** 2)
    c = change(propose(space, trials), "y")
    assert c.action == "narrow"
    low, high = c.after["low"], c.after["high"]
    assert low < 1 < high and high - low <= 0.6 * 20
    assert c.evidence["good"] == 10 and "never leave" in c.reason


def test_too_few_good_trials_narrow_nothing() -> None:
    space = tw.Space({"y": tw.Float(-10.0, 10.0)})
    trials = history([{"y": y} for y in spread(12, -10, 10)], lambda p: (p["y"] - 1) ** 2)
    assert change(propose(space, trials), "y").action == "keep"  # 3 good trials, not 5


# log / linear -------------------------------------------------------------------------------
def test_good_trials_in_the_lowest_tenth_of_a_wide_linear_range_switch_it_to_log() -> None:
    space = tw.Space({"lr": tw.Float(1e-5, 1.0, scale="linear")})
    points = [{"lr": v} for v in spread(40, 1e-5, 1.0)]
    points += [{"lr": 10 ** (-5 + 3 * u)} for u in scatter(10)]
    trials = history(points, lambda p: (math.log10(p["lr"]) + 4) ** 2)
    c = change(propose(space, trials), "lr")
    assert c.action == "log"
    assert c.after == {"type": "float", "low": 1e-5, "high": 1.0, "scale": "log"}
    assert c.evidence["decades"] == 5.0


def test_switched_to_log_a_low_bound_the_good_trials_press_there_is_widened() -> None:
    space = tw.Space({"lr": tw.Float(1e-3, 1.0, scale="linear")})
    points = [{"lr": v} for v in spread(40, 1e-3, 1.0)]
    points += [{"lr": 10 ** (-3 + u)} for u in scatter(10)]
    trials = history(points, lambda p: (math.log10(p["lr"]) + 4) ** 2)  # best at 1e-4
    c = change(propose(space, trials), "lr")
    assert c.action == "log" and c.after["scale"] == "log"
    assert c.after["low"] == pytest.approx(3.1e-5)  # 1e-3 / 10 ** 1.5, 2 digits down
    assert "widen low 0.001 -> 3.1e-05" in c.reason


def test_a_narrow_linear_range_stays_linear() -> None:
    space = tw.Space({"lr": tw.Float(0.1, 1.0, scale="linear")})
    trials = history([{"lr": v} for v in spread(40, 0.1, 1.0)], lambda p: p["lr"])
    assert change(propose(space, trials), "lr").action != "log"


def test_good_trials_in_the_top_decade_of_a_log_range_switch_it_to_linear() -> None:
    space = tw.Space({"width": tw.Float(1.0, 1000.0, scale="log")})
    trials = history(
        [{"width": 10 ** (3 * u)} for u in scatter(40)], lambda p: (p["width"] - 300) ** 2
    )
    c = change(propose(space, trials), "width")
    assert c.action == "linear" and c.after["scale"] == "linear"
    assert (c.after["low"], c.after["high"]) == (1.0, 1000.0)


# fix ----------------------------------------------------------------------------------------
def test_a_parameter_of_negligible_importance_is_fixed_at_the_best_value() -> None:
    space = tw.Space({"a": tw.Float(0.0, 1.0), "b": tw.Float(0.0, 1.0)})
    points = [{"a": a, "b": b} for a, b in zip(spread(60, 0, 1), scatter(60), strict=True)]
    trials = history(points, lambda p: (p["a"] - 0.5) ** 2)
    proposals = propose(space, trials)
    b = change(proposals, "b")
    assert b.action == "fix" and b.evidence["importance"] < 0.05
    best = min(trials, key=lambda t: t.value or 0.0)
    assert proposals.proposed.static == {"b": best.params["b"]}
    assert proposals.proposed.names == ["a"]


def test_a_parameter_the_good_trials_cover_little_of_is_not_fixed() -> None:
    """A small share alone is no evidence: a choice that ran twice barely moves PED-ANOVA,
    but nothing says it does not matter (fixing would drop it on two runs)."""
    space = tw.Space(
        {"a": tw.Float(0.0, 1.0), "k": tw.Categorical(["x", "y"]), "c": tw.Float(0.0, 1.0)}
    )
    points = [
        {"a": a, "k": "y" if i in (0, 59) else "x", "c": c}
        for i, (a, c) in enumerate(zip(spread(60, 0, 1), scatter(60, 3), strict=True))
    ]
    proposals = propose(space, history(points, lambda p: (p["a"] - 0.5) ** 2))
    k, c = change(proposals, "k"), change(proposals, "c")
    assert c.action == "fix" and c.evidence["good_spread"] >= 0.5
    assert k.action == "keep"  # its share is negligible, but the good trials used one choice


def test_two_parameters_that_matter_are_not_fixed() -> None:
    space = tw.Space({"a": tw.Float(0.0, 1.0), "b": tw.Float(0.0, 1.0)})
    points = [{"a": a, "b": b} for a, b in zip(scatter(60, 1), scatter(60, 3), strict=True)]
    trials = history(points, lambda p: (p["a"] - 0.5) ** 2 + (p["b"] - 0.5) ** 2)
    assert {c.action for c in propose(space, trials).changes}.isdisjoint({"fix"})


# categorical --------------------------------------------------------------------------------
def categorical_trials(runs_each: int) -> tuple[tw.Space, list[Trial]]:
    space = tw.Space({"opt": tw.Categorical(["adam", "sgd", "rms"]), "x": tw.Float(0.0, 1.0)})
    choices = ["adam", "sgd", "rms"]
    points = [{"opt": choices[i % 3], "x": u} for i, u in enumerate(scatter(3 * runs_each))]
    penalty = {"adam": 0.0, "sgd": 5.0, "rms": 0.01}
    return space, history(points, lambda p: penalty[p["opt"]] + (p["x"] - 0.5) ** 2)


def test_a_choice_never_among_the_good_trials_is_dropped_with_enough_runs() -> None:
    space, trials = categorical_trials(15)
    c = change(propose(space, trials), "opt")
    assert c.action == "drop" and c.after["values"] == ["adam", "rms"]
    assert c.evidence["sgd"] == {"ran": 15, "good": 0}
    assert "'sgd' (15 runs) never among the good trials" in c.reason


def test_a_choice_that_ran_seldom_is_kept() -> None:
    space, trials = categorical_trials(5)  # 0.8 ** 5 = 0.33: could be chance
    assert change(propose(space, trials), "opt").action == "keep"


# conditional spaces and static values ---------------------------------------------------------
def test_a_parent_left_with_one_choice_is_fixed_and_takes_its_children_along() -> None:
    space = tw.Space(
        {
            "opt": tw.Categorical(["adam", "sgd"]),
            "momentum": tw.Float(0.0, 0.9, when={"opt": ["sgd"]}),
            "beta": tw.Float(0.8, 0.99, when={"opt": ["adam"]}),
            "x": tw.Float(0.0, 1.0),
        },
        static={"epochs": 5},
    )
    points = []
    for i, u in enumerate(scatter(40)):
        p: dict[str, Any] = {"opt": "adam" if i % 2 else "sgd", "x": u}
        p["beta" if i % 2 else "momentum"] = 0.8 + 0.09 * ((i * 7) % 3)
        points.append(p)
    trials = history(points, lambda p: (5.0 if p["opt"] == "sgd" else 0) + (p["x"] - 0.5) ** 2)
    proposals = propose(space, trials)
    assert change(proposals, "opt").action == "fix"
    assert change(proposals, "momentum").action == "remove"
    assert proposals.proposed.static == {"epochs": 5, "opt": "adam"}
    assert "momentum" not in proposals.proposed.params
    assert not proposals.proposed.params["beta"].when  # its condition now always holds


def test_a_conditional_parameter_is_judged_on_the_trials_where_it_is_active() -> None:
    space = tw.Space(
        {
            "opt": tw.Categorical(["adam", "sgd"]),
            "lr": tw.Float(0.0, 1.0, when={"opt": ["sgd"]}),
        }
    )
    points = [
        {"opt": "sgd", "lr": u} if i % 2 else {"opt": "adam"} for i, u in enumerate(scatter(60))
    ]
    trials = history(
        points, lambda p: 0.0 - p["lr"] if p["opt"] == "sgd" else 0.5
    )  # sgd trials are the good ones; the higher lr the better
    proposals = propose(space, trials)
    c = change(proposals, "lr")
    assert c.action == "widen" and c.after["high"] == 1.5
    assert c.after["when"] == {"opt": ["sgd"]}
    # 'adam' never good in 30 runs: opt is fixed at 'sgd', so lr's condition always holds
    assert change(proposals, "opt").action == "fix"
    assert proposals.proposed.static == {"opt": "sgd"}
    lr = proposals.proposed.params["lr"]
    assert isinstance(lr, tw.Float) and lr.high == 1.5 and not lr.when


# refusals, evidence, determinism, the next spec ----------------------------------------------
def test_no_completed_trial_is_refused_in_a_sentence() -> None:
    space = tw.Space({"x": tw.Float(0.0, 1.0)})
    failed = [trial(0, {"x": 0.5}, None, state="failed")]
    with pytest.raises(tw.SpecError, match="'parent' has no completed trial with a value yet"):
        propose(space, failed)


def test_few_trials_propose_nothing_and_say_why() -> None:
    space = tw.Space({"x": tw.Float(0.0, 5.0)})
    trials = history([{"x": x} for x in spread(8, 0, 5)], lambda p: (p["x"] - 7) ** 2)
    proposals = propose(space, trials)
    assert not proposals.changed and proposals.proposed == space
    assert proposals.note == "needs at least 10 scored trials to propose anything (8 so far)"


def test_proposals_are_deterministic() -> None:
    space, trials = categorical_trials(15)
    assert propose(space, trials).to_dict() == propose(space, list(trials)).to_dict()


def base_spec(space: tw.Space) -> StudySpec:
    return StudySpec(
        name="parent", objective=MIN, space=space, strategy="tpe", seed=4,
        enqueue=({"x": 1.0},),
    )  # fmt: skip


def test_to_spec_is_the_next_study_warm_started_from_this_one(tmp_path: Any) -> None:
    space = tw.Space({"x": tw.Float(0.0, 5.0)}, static={"epochs": 3})
    trials = history([{"x": x} for x in spread(40, 0, 5)], lambda p: (p["x"] - 7) ** 2)
    proposals = propose(space, trials, base=base_spec(space))
    path = tmp_path / "next.yaml"
    text = proposals.write(str(path))
    assert text.startswith("# proposed by tunewise suggest-ranges from study parent:\n")
    spec = StudySpec.from_dict(yaml.safe_load(path.read_text()))
    assert spec.name == "parent-next" and spec.strategy == "tpe" and spec.enqueue == ()
    assert spec.warm_start is not None and spec.warm_start.parents == ("parent",)
    assert spec.space == proposals.proposed and spec.space.static == {"epochs": 3}
    assert proposals.to_spec("other", storage="sqlite:///x.db").storage == "sqlite:///x.db"


def test_a_define_by_run_study_s_spec_is_refused() -> None:
    space = tw.Space({"x": tw.Float(0.0, 5.0)})
    trials = history([{"x": x} for x in spread(40, 0, 5)], lambda p: (p["x"] - 7) ** 2)
    base = StudySpec(name="parent", objective=MIN, space=space, define_by_run=True)
    with pytest.raises(tw.SpecError, match="define-by-run"):
        propose(space, trials, base=base).to_spec()


def test_study_suggest_ranges_reads_the_stored_study() -> None:
    study = tw.create_study(
        "s", objective=MIN, space={"x": tw.Float(0.0, 5.0)}, strategy="random", seed=1
    )
    for x in spread(30, 0, 5):
        study.add_trial({"x": x}, (x - 7) ** 2)
    proposals = study.suggest_ranges()
    assert change(proposals, "x").action == "widen"
    assert proposals.to_spec().warm_start.parents == ("s",)  # type: ignore[union-attr]
    two = tw.create_study(
        "two", objectives=[MIN, tw.Objective("t", "minimize")], space={"x": tw.Float(0, 1)}
    )
    with pytest.raises(tw.SpecError, match="range proposals judge one objective"):
        two.suggest_ranges()


def test_too_few_good_trials_to_narrow_say_so() -> None:
    space = tw.Space({"y": tw.Float(-10.0, 10.0)})
    trials = history([{"y": y} for y in spread(20, -10, 10)], lambda p: (p["y"] - 1) ** 2)
    c = change(propose(space, trials), "y")  # 20 scored: the best 4 are the good ones
    assert c.action == "keep" and "too few, 4 < 5, to narrow it" in c.reason
