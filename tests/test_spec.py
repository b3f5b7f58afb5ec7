"""Unit tests of the study spec: parsing, validation, defaults, round trips, error paths."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tunewise.errors import SpecError
from tunewise.space import Categorical, Float, Int
from tunewise.spec import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    DEFAULT_STRATEGY,
    Limits,
    MetricDefinition,
    StudySpec,
    TrialSpec,
    parse_duration,
    parse_spec_text,
)
from tunewise.trial import Direction

OBJ = "objective: {metric: m, direction: maximize}\n"


def minimal(**extra: Any) -> dict[str, Any]:
    """The smallest valid spec form, plus ``extra`` top-level keys."""
    data: dict[str, Any] = {
        "study": "demo",
        "objective": {"metric": "score", "direction": "maximize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    }
    data.update(extra)
    return data


def full() -> dict[str, Any]:
    """A spec form that uses every section."""
    return {
        "study": "full-study_v1.2",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": {
            "lr": {"type": "float", "low": "1e-4", "high": "1e-1", "scale": "log"},
            "momentum": {"type": "float", "low": 0.5, "high": 0.99, "scale": "reverse_log"},
            "dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
            "layers": {"type": "int", "low": 1, "high": 8, "step": 1},
            "width": {"type": "int", "low": 16, "high": 4096, "scale": "log"},
            "act": {"type": "categorical", "values": ["relu", "tanh", 1, True]},
        },
        "static": {"epochs": 3, "data": "digits", "flags": [1, 2], "opts": {"a": None}},
        "trial": {
            "command": ["python", "train.py", "--lr", "{lr}", "--epochs={epochs}", "{{lit}}"],
            "metrics": [
                {"name": "loss", "regex": r"loss=([0-9.]+)"},
                {"name": "acc", "regex": r"epoch=(?P<step>\d+) acc=(?P<value>[0-9.]+)"},
            ],
            "timeout": "1h30m",
            "env": {"CUDA_VISIBLE_DEVICES": "0", "SEED": 7},
        },
        "limits": {
            "max_trials": 20,
            "max_parallel": 4,
            "max_runtime": "2h",
            "max_consecutive_failures": 5,
        },
        "seed": 11,
        "storage": "sqlite:///x.db",
        "runs_dir": "runs",
    }


def spec_error(func: Any, *args: Any, **kwargs: Any) -> SpecError:
    with pytest.raises(SpecError) as info:
        func(*args, **kwargs)
    return info.value


# Durations --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5d", 129600.0),
        ("500ms", 0.5),
        ("2H", 7200.0),
        (" 45s ", 45.0),
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("2.5", 2.5),
    ],
)
def test_parse_duration_accepts(text: Any, seconds: float) -> None:
    assert parse_duration(text, "trial.timeout") == pytest.approx(seconds)


@pytest.mark.parametrize(
    "bad",
    [
        "5 minutes",
        "soon",
        "",
        "s",
        "5x",
        "m5",
        "-5s",
        "1h-30m",
        0,
        -3,
        "0s",
        "0",
        True,
        None,
        [5],
        {"s": 5},
    ],
)
def test_parse_duration_refuses(bad: Any) -> None:
    error = spec_error(parse_duration, bad, "trial.timeout")
    assert error.field == "trial.timeout"
    assert str(error).startswith("trial.timeout: ")


@pytest.mark.parametrize("bad", ["nan", "inf", float("nan"), float("inf")])
def test_parse_duration_refuses_non_finite(bad: Any) -> None:
    spec_error(parse_duration, bad, "trial.timeout")


def test_durations_in_the_spec_name_their_field() -> None:
    data = minimal(trial={"python": "m:f", "timeout": "5 minutes"})
    assert spec_error(StudySpec.from_dict, data).field == "trial.timeout"
    data = minimal(limits={"max_runtime": "forever"})
    assert spec_error(StudySpec.from_dict, data).field == "limits.max_runtime"
    spec = StudySpec.from_dict(
        minimal(trial={"python": "m:f", "timeout": 90}, limits={"max_runtime": "1h30m"})
    )
    assert spec.trial is not None and spec.trial.timeout == 90.0
    assert spec.limits.max_runtime == 5400.0


# Defaults ---------------------------------------------------------------------------------


def test_defaults() -> None:
    spec = StudySpec.from_dict(minimal())
    assert spec.name == "demo"
    assert spec.strategy == DEFAULT_STRATEGY == "bayesian"
    assert spec.objective.metric == "score"
    assert spec.objective.direction == Direction.MAXIMIZE
    assert spec.trial is None
    assert spec.seed is None and spec.storage is None and spec.runs_dir is None
    assert spec.limits == Limits()
    assert spec.limits.max_parallel == 1
    assert spec.limits.max_trials is None
    assert spec.limits.max_runtime is None
    assert spec.limits.max_consecutive_failures == DEFAULT_MAX_CONSECUTIVE_FAILURES
    assert dict(spec.space.static) == {}


def test_empty_limits_and_trial_sections_use_defaults() -> None:
    spec = StudySpec.from_dict(minimal(limits=None, static=None))
    assert spec.limits == Limits()
    trial = TrialSpec.from_dict({"python": "pkg.mod:train"})
    assert trial.metrics == () and trial.timeout is None and dict(trial.env) == {}


def test_full_spec_is_read_as_written() -> None:
    spec = StudySpec.from_dict(full())
    assert spec.objective.direction == Direction.MINIMIZE
    assert isinstance(spec.space.params["lr"], Float)
    assert spec.space.params["lr"].low == pytest.approx(1e-4)
    assert isinstance(spec.space.params["layers"], Int)
    assert isinstance(spec.space.params["act"], Categorical)
    assert spec.space.static["epochs"] == 3
    assert spec.trial is not None
    assert spec.trial.timeout == 5400.0
    assert dict(spec.trial.env) == {"CUDA_VISIBLE_DEVICES": "0", "SEED": "7"}
    assert [m.name for m in spec.trial.metrics] == ["loss", "acc"]
    assert spec.limits == Limits(20, 4, 7200.0, 5)
    assert (spec.seed, spec.storage, spec.runs_dir) == (11, "sqlite:///x.db", "runs")


# Round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [minimal(), full(), minimal(trial={"python": "a.b:c"})])
def test_to_dict_from_dict_round_trip(data: dict[str, Any]) -> None:
    spec = StudySpec.from_dict(data)
    again = StudySpec.from_dict(spec.to_dict())
    assert again == spec
    assert again.to_dict() == spec.to_dict()


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_round_trip_through_text(suffix: str) -> None:
    spec = StudySpec.from_dict(full())
    text = json.dumps(spec.to_dict())  # JSON is YAML too
    assert parse_spec_text(text, f"spec{suffix}") == spec


def test_search_definition_ignores_limits_trial_and_seed() -> None:
    a = StudySpec.from_dict(full())
    b = a.with_overrides(max_trials=99, max_parallel=1, seed=5, storage=None, trial=None)
    assert a.search_definition() == b.search_definition()
    assert set(a.search_definition()) == {"objective", "strategy", "space", "static"}


# with_overrides ---------------------------------------------------------------------------


def test_with_overrides_changes_fields_and_limits() -> None:
    spec = StudySpec.from_dict(full())
    changed = spec.with_overrides(name="other", seed=3, max_trials=7, max_parallel=2)
    assert changed.name == "other"
    assert changed.seed == 3
    assert changed.limits.max_trials == 7
    assert changed.limits.max_parallel == 2
    # untouched fields kept
    assert changed.limits.max_runtime == spec.limits.max_runtime
    assert changed.limits.max_consecutive_failures == 5
    assert changed.space == spec.space and changed.trial == spec.trial
    # the original is unchanged (frozen)
    assert spec.name == "full-study_v1.2" and spec.limits.max_trials == 20


def test_with_overrides_no_changes_is_equal() -> None:
    spec = StudySpec.from_dict(full())
    assert spec.with_overrides() == spec


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "bad name"}, "study"),
        ({"name": ""}, "study"),
        ({"seed": "seven"}, "seed"),
        ({"seed": True}, "seed"),
        ({"strategy": ""}, "strategy"),
    ],
)
def test_with_overrides_validates_again(changes: dict[str, Any], field: str) -> None:
    spec = StudySpec.from_dict(full())
    assert spec_error(spec.with_overrides, **changes).field == field


def test_with_overrides_checks_placeholders_against_the_new_space() -> None:
    spec = StudySpec.from_dict(full())
    smaller = StudySpec.from_dict(minimal()).space
    error = spec_error(spec.with_overrides, space=smaller)
    assert error.field == "trial.command[3]"
    assert "{lr}" in error.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"max_trials": 0}, "limits.max_trials"), ({"max_parallel": -1}, "limits.max_parallel")],
)
def test_with_overrides_validates_limits(changes: dict[str, Any], field: str) -> None:
    spec = StudySpec.from_dict(full())
    assert spec_error(spec.with_overrides, **changes).field == field


# Limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ({"max_trials": 0}, "limits.max_trials"),
        ({"max_trials": -1}, "limits.max_trials"),
        ({"max_trials": 2.5}, "limits.max_trials"),
        ({"max_trials": "10"}, "limits.max_trials"),
        ({"max_trials": True}, "limits.max_trials"),
        ({"max_parallel": 0}, "limits.max_parallel"),
        ({"max_consecutive_failures": 0}, "limits.max_consecutive_failures"),
        ({"max_runtime": "0s"}, "limits.max_runtime"),
        ({"max_trial": 5}, "limits.max_trial"),
        ([5], "limits"),
    ],
)
def test_bad_limits_name_their_field(limits: Any, field: str) -> None:
    assert spec_error(StudySpec.from_dict, minimal(limits=limits)).field == field


def test_limits_to_dict_from_dict() -> None:
    limits = Limits(max_trials=3, max_parallel=2, max_runtime=60.0, max_consecutive_failures=4)
    assert Limits.from_dict(limits.to_dict()) == limits
    assert Limits.from_dict(None) == Limits()


# MetricDefinition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "regex",
    [
        r"loss=([0-9.]+)",
        r"loss=(?P<value>[0-9.]+)",
        r"epoch=(?P<step>\d+) loss=(?P<value>[0-9.]+)",
        r"epoch=(?P<step>\d+) loss=([0-9.]+)",
        r"(?P<value>[0-9.]+) \((\d+)\)",
        r"(?:val_)?loss=([0-9.]+)",
        r"loss=(?P<loss>[0-9.]+)",
    ],
)
def test_metric_definition_accepts(regex: str) -> None:
    metric = MetricDefinition("loss", regex)
    assert metric.pattern.pattern == regex
    assert metric.to_dict() == {"name": "loss", "regex": regex}


@pytest.mark.parametrize(
    ("name", "regex", "field", "words"),
    [
        ("loss", r"loss=[0-9.]+", "regex", "capture group"),
        ("loss", r"loss=(?:[0-9.]+)", "regex", "capture group"),
        ("loss", r"(\d+) loss=([0-9.]+)", "regex", "(?P<value>"),
        ("loss", r"(?P<a>\d+) (?P<b>[0-9.]+)", "regex", "(?P<value>"),
        ("loss", r"(?P<step>\d+) (\d+) ([0-9.]+)", "regex", "(?P<value>"),
        ("loss", r"loss=([0-9.]+", "regex", "does not compile"),
        ("loss", "", "regex", "non-empty"),
        ("", r"loss=([0-9.]+)", "name", "non-empty"),
    ],
)
def test_metric_definition_refuses(name: str, regex: str, field: str, words: str) -> None:
    error = spec_error(MetricDefinition, name, regex)
    assert error.field == field
    assert words in error.message


@pytest.mark.parametrize(
    ("metrics", "field"),
    [
        ([{"name": "loss", "regex": "loss=([0-9.]+"}], "trial.metrics[0].regex"),
        (
            [{"name": "a", "regex": "a=(1)"}, {"name": "b", "regex": "b=(1)(2)"}],
            "trial.metrics[1].regex",
        ),
        ([{"regex": "a=(1)"}], "trial.metrics[0].name"),
        ([{"name": "a"}], "trial.metrics[0].regex"),
        ([{"name": "a", "regex": "a=(1)", "pattern": "x"}], "trial.metrics[0].pattern"),
        (
            [{"name": "a", "regex": "a=(1)"}, {"name": "a", "regex": "b=(1)"}],
            "trial.metrics[1].name",
        ),
        ("loss=(1)", "trial.metrics"),
        ({"name": "a", "regex": "a=(1)"}, "trial.metrics"),
        (["loss"], "trial.metrics[0]"),
    ],
)
def test_trial_metrics_errors_name_the_path(metrics: Any, field: str) -> None:
    data = minimal(trial={"command": ["python", "t.py"], "metrics": metrics})
    assert spec_error(StudySpec.from_dict, data).field == field


# TrialSpec --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trial", "field"),
    [
        ({}, "trial"),
        ({"python": "m:f", "command": ["python"]}, "trial"),
        ({"python": "no_colon"}, "trial.python"),
        ({"python": "m:f g"}, "trial.python"),
        ({"python": 5}, "trial.python"),
        ({"command": "python train.py --lr {lr}"}, "trial.command"),
        ({"command": []}, "trial.command"),
        ({"command": {"a": 1}}, "trial.command"),
        ({"command": ["python", True]}, "trial.command[1]"),
        ({"command": ["python", ["x"]]}, "trial.command[1]"),
        ({"command": ["python", "t.py", "--y", "{y}"]}, "trial.command[3]"),
        ({"command": ["python", "t.py", "{}"]}, "trial.command[2]"),
        ({"python": "m:f", "env": ["A=1"]}, "trial.env"),
        ({"python": "m:f", "env": {"A": [1]}}, "trial.env"),
        ({"python": "m:f", "timeout": "5 minutes"}, "trial.timeout"),
        ({"python": "m:f", "retries": 2}, "trial.retries"),
        (["python", "t.py"], "trial"),
    ],
)
def test_bad_trial_sections_name_their_field(trial: Any, field: str) -> None:
    assert spec_error(StudySpec.from_dict, minimal(trial=trial)).field == field


def test_command_one_string_says_why() -> None:
    error = spec_error(StudySpec.from_dict, minimal(trial={"command": "python t.py"}))
    assert "list" in error.message and "one string" in error.message


@pytest.mark.parametrize(
    "command",
    [
        ["python", "t.py", "--x", "{x}"],
        ["python", "t.py", "--x={x}", "--e", "{epochs}"],
        ["python", "t.py", "{{literal}}", "{{{x}}}"],
        ["python", 3, 1.5],
    ],
)
def test_placeholders_may_name_params_and_static_values(command: list[Any]) -> None:
    spec = StudySpec.from_dict(minimal(static={"epochs": 2}, trial={"command": command}))
    assert spec.trial is not None
    assert spec.trial.command == tuple(str(a) for a in command)


def test_placeholder_error_lists_the_known_names() -> None:
    data = minimal(static={"epochs": 2}, trial={"command": ["python", "t.py", "{lr}"]})
    error = spec_error(StudySpec.from_dict, data)
    assert error.field == "trial.command[2]"
    assert "{lr}" in error.message and "epochs" in error.message and "x" in error.message


# The top level ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({k: v for k, v in minimal().items() if k != "study"}, "study"),
        ({k: v for k, v in minimal().items() if k != "objective"}, "objective"),
        ({k: v for k, v in minimal().items() if k != "space"}, "space"),
        (minimal(extra=1), "extra"),
        (minimal(objective={}), "objective.metric"),
        (minimal(objective={"metric": "", "direction": "maximize"}), "objective.metric"),
        (minimal(objective={"metric": "m", "direction": "up"}), "objective.direction"),
        (minimal(objective={"metric": "m", "goal": "max"}), "objective.goal"),
        (minimal(objective="score"), "objective"),
        (minimal(space={}), "space"),
        (minimal(space=[]), "space"),
        (minimal(space={"x": {"type": "float", "low": 1, "high": 0}}), "space.x.high"),
        (
            minimal(space={"x": {"type": "float", "low": 0, "high": 1, "colour": 1}}),
            "space.x.colour",
        ),
        (
            minimal(space={"x": {"type": "float", "low": 0, "high": 1, "scale": "log"}}),
            "space.x.low",
        ),
        (minimal(space={"x": {"type": "categorical", "values": []}}), "space.x.values"),
        (minimal(space={"x": {"type": "double", "low": 0, "high": 1}}), "space.x.type"),
        (minimal(space={"x": {"type": "int", "low": 0}}), "space.x.high"),
        (minimal(space={"x": {"type": "float", "low": "abc", "high": 1}}), "space.x.low"),
        (minimal(space={"1x": {"type": "float", "low": 0, "high": 1}}), "space.1x"),
        (minimal(static={"x": 1}), "static.x"),
        (minimal(static=[1]), "static"),
        (minimal(static={"s": {1, 2}}), "static.s"),
        (minimal(strategy=""), "strategy"),
        (minimal(strategy=5), "strategy"),
        (minimal(seed="1"), "seed"),
        (minimal(seed=1.5), "seed"),
        (minimal(storage=5), "storage"),
        (minimal(runs_dir=["a"]), "runs_dir"),
    ],
)
def test_top_level_errors_name_their_field(data: dict[str, Any], field: str) -> None:
    error = spec_error(StudySpec.from_dict, data)
    assert error.field == field
    assert str(error) == f"{field}: {error.message}"
    assert "\n" not in str(error)


@pytest.mark.parametrize("data", [None, [], "study: x", 5])
def test_from_dict_needs_a_mapping(data: Any) -> None:
    spec_error(StudySpec.from_dict, data)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n", "42\n"])
def test_parse_spec_text_needs_a_mapping(text: str) -> None:
    error = spec_error(parse_spec_text, text, "my.yaml")
    assert error.field == "my.yaml"


# Numbers as YAML writes them ---------------------------------------------------------------


def test_numeric_strings_accepted_for_bounds() -> None:
    text = """
study: demo
objective: {metric: loss, direction: minimize}
space:
  lr: {type: float, low: 1e-4, high: 1e-1, scale: log}
  wd: {type: float, low: 1.0e-6, high: "1e-2"}
  units: {type: int, low: "8", high: 1e3}
"""
    spec = parse_spec_text(text, "spec.yaml")
    lr = spec.space.params["lr"]
    assert isinstance(lr, Float)
    assert lr.low == pytest.approx(1e-4) and isinstance(lr.low, float)
    assert lr.high == pytest.approx(1e-1)
    assert spec.space.params["wd"].high == pytest.approx(1e-2)  # type: ignore[union-attr]
    units = spec.space.params["units"]
    assert isinstance(units, Int)
    assert (units.low, units.high) == (8, 1000)
    # The stored form holds numbers, not the strings, and reads back the same.
    stored = spec.to_dict()["space"]["lr"]
    assert stored["low"] == pytest.approx(1e-4) and isinstance(stored["low"], float)
    assert StudySpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("low", ["1e-4x", "nan", "inf", ".inf"])
def test_bad_numeric_strings_refused(low: str) -> None:
    data = minimal(space={"x": {"type": "float", "low": low, "high": 1.0}})
    assert spec_error(StudySpec.from_dict, data).field == "space.x.low"


# Duplicate keys --------------------------------------------------------------------------

YAML_DUPLICATES = [
    (
        "study: a\nstudy: b\n" + OBJ + "space: {x: {type: int, low: 0, high: 3}}\n",
        "study",
    ),
    (
        "study: a\n" + OBJ + "space:\n  x: {type: int, low: 0, high: 3}\n"
        "  x: {type: float, low: 0, high: 1}\n",
        "space.x",
    ),
    (
        "study: a\n" + OBJ + "space:\n  x: {type: int, low: 0, low: 1, high: 3}\n",
        "space.x.low",
    ),
    (
        "study: a\n" + OBJ + "space: {x: {type: int, low: 0, high: 3}}\n"
        "trial:\n  command: [python, t.py]\n  metrics:\n    - {name: a, regex: 'a=(1)', name: b}\n",
        "trial.metrics[0].name",
    ),
]


@pytest.mark.parametrize(("text", "field"), YAML_DUPLICATES)
def test_duplicate_yaml_keys_are_refused(text: str, field: str) -> None:
    error = spec_error(parse_spec_text, text, "spec.yaml")
    assert error.field == field
    assert "twice" in error.message and "line" in error.message


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('{"study": "a", "study": "b"}', "study"),
        (
            '{"study": "a", "objective": {"metric": "m", "direction": "maximize"}, '
            '"space": {"x": {"type": "int", '
            '"low": 0, "high": 3}, "x": {"type": "int", "low": 0, "high": 3}}}',
            "space.x",
        ),
        ('{"space": {"x": {"type": "int", "high": 3, "high": 4}}}', "space.x.high"),
        ('{"trial": {"metrics": [{"name": "a", "name": "b"}]}}', "trial.metrics[0].name"),
    ],
)
def test_duplicate_json_keys_are_refused(text: str, field: str) -> None:
    error = spec_error(parse_spec_text, text, "spec.json")
    assert error.field == field
    assert "twice" in error.message


def test_json_and_yaml_give_the_same_spec() -> None:
    data = full()
    assert parse_spec_text(json.dumps(data), "s.json") == StudySpec.from_dict(data)
    assert parse_spec_text(json.dumps(data), "s.yml") == StudySpec.from_dict(data)


@pytest.mark.parametrize(
    ("text", "source", "words"),
    [
        ("study: [unclosed\n", "s.yaml", "not valid YAML"),
        ("study: a\n  bad indent: b\n", "s.yaml", "not valid YAML"),
        ('{"study": "a",}', "s.json", "not valid JSON"),
        ("study: a\n", "s.json", "not valid JSON"),
    ],
)
def test_unparsable_text_names_the_file(text: str, source: str, words: str) -> None:
    error = spec_error(parse_spec_text, text, source)
    assert error.field == source
    assert words in error.message
    assert "\n" not in str(error)


def test_yaml_aliases_are_fine() -> None:
    text = """
study: a
objective: {metric: m, direction: maximize}
space:
  x: &unit {type: float, low: 0, high: 1}
  y: *unit
  z: {<<: *unit, high: 2}
"""
    spec = parse_spec_text(text, "s.yaml")
    assert spec.space.names == ["x", "y", "z"]
    assert spec.space.params["z"].high == 2.0  # type: ignore[union-attr]


def test_recursive_yaml_alias_is_a_spec_error() -> None:
    text = "study: a\nobjective: {metric: m, direction: maximize}\nspace: &s {x: *s}\n"
    spec_error(parse_spec_text, text, "s.yaml")


# Study names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "A", "7", "demo", "my-study_v1.2", "2024.01.run", "x" * 128, "a-", "a."]
)
def test_valid_study_names(name: str) -> None:
    assert StudySpec.from_dict(minimal(study=name)).name == name


@pytest.mark.parametrize(
    "name", ["", "-a", ".a", "_a", "a b", "a/b", "a\\b", "x" * 129, "été", "a:b", " a", "a*"]
)
def test_invalid_study_names(name: str) -> None:
    error = spec_error(StudySpec.from_dict, minimal(study=name))
    assert error.field == "study"


def test_numeric_study_name_becomes_text() -> None:
    assert StudySpec.from_dict(minimal(study=2024)).name == "2024"


def test_study_name_with_trailing_newline_is_refused() -> None:
    error = spec_error(
        parse_spec_text,
        "study: |\n  demo\n" + OBJ + "space: {x: {type: float, low: 0, high: 1}}\n",
        "s.yaml",
    )
    assert error.field == "study"


def test_null_study_name_is_refused() -> None:
    assert spec_error(StudySpec.from_dict, minimal(study=None)).field == "study"


def test_study_name_override_is_checked() -> None:
    spec = StudySpec.from_dict(minimal())
    assert spec_error(spec.with_overrides, name="a b").field == "study"
    assert spec.with_overrides(name="b-2").name == "b-2"


# Reading spec files: bounds, YAML 1.2 booleans, JSON values (issue 21) --------------------

SPEC_HEAD = "study: s\nobjective: {metric: m, direction: maximize}\n"
SPACE_LINE = "space: {x: {type: float, low: 0, high: 1}}\n"
TRIAL_LINES = "trial: {command: [echo, '{x}']}\nlimits: {max_trials: 1}\n"


def alias_bomb(levels: int = 9) -> str:
    """``static:`` holding nine levels of nine aliases to the level below (9**9 values)."""
    lines = ["  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return SPEC_HEAD + SPACE_LINE + TRIAL_LINES + "static:\n" + "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_in_one_sentence() -> None:
    error = spec_error(parse_spec_text, alias_bomb(), "bomb.yaml")
    assert error.field.startswith("static.") and "aliases" in error.message
    assert "100,000" in error.message and "\n" not in str(error)


def test_an_alias_bomb_is_refused_by_run_before_anything_is_stored(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunewise.cli.main import main

    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb())
    database = tmp_path / "t.db"
    assert main(["run", str(path), "--storage", f"sqlite:///{database}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "aliases" in err
    assert not database.exists()


def test_aliases_used_legitimately_still_load() -> None:
    text = (
        SPEC_HEAD
        + "space:\n  a: &range {type: float, low: 0, high: 1}\n  b: *range\n"
        + "  c: {<<: *range, high: 2}\n"
        + "static: {shared: &s [1, 2, 3], again: *s}\n"
    )
    spec = parse_spec_text(text, "ok.yaml")
    assert spec.space.params["b"] == spec.space.params["a"]
    assert spec.space.params["c"].high == 2.0
    assert spec.space.static == {"shared": [1, 2, 3], "again": [1, 2, 3]}


def test_a_recursive_alias_is_a_field_error_not_a_storage_error(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunewise.cli.main import main

    text = SPEC_HEAD + SPACE_LINE + TRIAL_LINES + "static: {loop: &l [1, *l]}\n"
    assert spec_error(parse_spec_text, text, "r.yaml").field == "static.loop[1]"
    path = tmp_path / "r.yaml"
    path.write_text(text)
    assert main(["run", str(path), "--storage", f"sqlite:///{tmp_path / 't.db'}"]) == 2
    assert "static.loop[1]: contains itself" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "source"),
    [
        ("study: s\nstatic: {x: " + "[" * 5000 + "]" * 5000 + "}\n", "deep.yaml"),
        ('{"study": "s", "static": {"x": ' + "[" * 5000 + "]" * 5000 + "}}", "deep.json"),
        ('{"study": "s", "static": {"x": ' + "[" * 100 + "]" * 100 + "}}", "deep.json"),
        (  # each anchor is shallow, but written out the aliases nest 66 levels deep
            "static:\n  a0: &a0 "
            + "[" * 40
            + "]" * 40
            + "\n  a1: &a1 "
            + "[" * 20
            + "*a0"
            + "]" * 20
            + "\n  b: "
            + "[" * 5
            + "*a1"
            + "]" * 5
            + "\n",
            "x.yaml",
        ),
    ],
)
def test_deep_nesting_is_a_one_sentence_error(text: str, source: str) -> None:
    error = spec_error(parse_spec_text, text, source)
    assert "levels deep" in error.message


def test_deep_nesting_below_the_limit_loads() -> None:
    text = SPEC_HEAD + SPACE_LINE + "static: {deep: " + "[" * 50 + "1" + "]" * 50 + "}\n"
    assert parse_spec_text(text, "ok.yaml").space.static["deep"] is not None


def test_the_readme_retries_line_loads_as_yaml() -> None:
    """YAML 1.1 reads the key ``on`` as True ("retries.True: unknown key")."""
    text = SPEC_HEAD + SPACE_LINE + "retries: {max_attempts: 2, on: [crashed, lost]}\n"
    spec = parse_spec_text(text, "r.yaml")
    assert spec.retries.max_attempts == 2


@pytest.mark.parametrize("word", ["on", "off", "yes", "no", "y", "n", "On", "NO"])
def test_yaml_11_boolean_words_are_text_and_only_true_false_are_booleans(word: str) -> None:
    text = (
        SPEC_HEAD
        + f"space: {{c: {{type: categorical, values: [{word}, true, False]}}}}\n"
        + f"static: {{{word}: 1}}\n"
    )
    spec = parse_spec_text(text, "b.yaml")
    assert spec.space.params["c"].values == (word, True, False)
    assert spec.space.static == {word: 1}


@pytest.mark.parametrize(
    ("static", "field"),
    [
        ("{when: [2024-01-01]}", "static.when[0]"),
        ("{at: 2024-01-01 10:00:00}", "static.at"),
        ("{opts: {limit: .nan}}", "static.opts.limit"),
        ("{opts: {1: a}}", "static.opts.1"),
        ('{path: "a\\0b"}', "static.path"),
    ],
)
def test_static_that_is_not_plain_json_is_a_field_error(static: str, field: str) -> None:
    text = SPEC_HEAD + SPACE_LINE + f"static: {static}\n"
    assert spec_error(parse_spec_text, text, "s.yaml").field == field


def test_a_date_in_static_exits_2_naming_its_path(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunewise.cli.main import main

    path = tmp_path / "d.yaml"
    path.write_text(SPEC_HEAD + SPACE_LINE + TRIAL_LINES + "static: {when: [2024-01-01]}\n")
    assert main(["run", str(path), "--storage", f"sqlite:///{tmp_path / 't.db'}"]) == 2
    err = capsys.readouterr().err
    assert "static.when[0]:" in err and "quote it" in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("trial", "field"),
    [
        ({"command": ["echo", "a\x00b"]}, "trial.command[1]"),
        ({"command": ["echo"], "env": {"A": "x\x00"}}, "trial.env.A"),
    ],
)
def test_a_nul_byte_in_the_command_is_refused(trial: dict[str, Any], field: str) -> None:
    assert spec_error(StudySpec.from_dict, minimal(trial=trial)).field == field


def test_an_enqueued_configuration_with_a_nul_byte_is_refused() -> None:
    data = minimal(space={"c": {"type": "categorical", "values": ["a"]}}, enqueue=[{"c": "\x00"}])
    assert spec_error(StudySpec.from_dict, data).field.startswith("enqueue[0]")


def test_a_huge_integer_or_impossible_date_is_a_spec_error() -> None:
    for value in ("1" * 5000, "2024-13-45"):
        text = SPEC_HEAD + SPACE_LINE + f"static: {{v: {value}}}\n"
        assert "cannot read" in spec_error(parse_spec_text, text, "v.yaml").message


@pytest.mark.parametrize("key", ["storage", "runs_dir"])
def test_a_nul_byte_in_a_path_is_refused(key: str) -> None:
    """It once failed every trial ("embedded null byte"), or crashed opening the store."""
    assert spec_error(StudySpec.from_dict, minimal(**{key: "a\x00b"})).field == key
