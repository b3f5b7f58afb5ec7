"""Conditional spaces (trees): ``when`` on a parameter, what is refused, the active set, the
grid of valid combinations and the JSON round-trip."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

import tunewise as tw
from tunewise.errors import SpecError
from tunewise.space import Space


def tree() -> Space:
    """optimizer -> (sgd: momentum -> (nesterov), adam: beta1); lr everywhere."""
    return Space(
        {
            "lr": tw.Float(1e-4, 1e-1, scale="log", num=3),
            "optimizer": tw.Categorical(["sgd", "adam"]),
            "momentum": tw.Float(0.0, 0.9, num=2, when={"optimizer": ["sgd"]}),
            "nesterov": tw.Categorical([True, False], when={"optimizer": "sgd"}),
            "damping": tw.Float(0.0, 0.5, num=2, when={"nesterov": [True]}),
            "beta1": tw.Float(0.8, 0.99, num=3, when={"optimizer": ["adam"]}),
        }
    )


def test_order_puts_parents_before_children_even_when_declared_after() -> None:
    space = Space(
        {
            "child": tw.Int(1, 3, when={"kind": ["a"]}),
            "kind": tw.Categorical(["a", "b"]),
        }
    )
    assert space.order == ("kind", "child")
    assert space.names == ["child", "kind"]
    assert space.is_conditional and not Space({"x": tw.Int(1, 2)}).is_conditional


def test_active_names_follow_nested_conditions() -> None:
    space = tree()
    sgd = {"optimizer": "sgd", "nesterov": True}
    assert space.active_names(sgd) == ["lr", "optimizer", "momentum", "nesterov", "damping"]
    assert space.active_names({"optimizer": "sgd", "nesterov": False}) == [
        "lr",
        "optimizer",
        "momentum",
        "nesterov",
    ]
    assert space.active_names({"optimizer": "adam"}) == ["lr", "optimizer", "beta1"]
    # a grandchild is inactive when its parent is, whatever value the parent's key holds
    assert not space.is_active("damping", {"optimizer": "adam", "nesterov": True})
    assert space.active({"optimizer": "adam", "nesterov": True, "beta1": 0.9, "x": 1}) == {
        "optimizer": "adam",
        "beta1": 0.9,
        "x": 1,
    }


def test_all_keys_of_one_when_must_hold() -> None:
    space = Space(
        {
            "a": tw.Categorical(["x", "y"]),
            "b": tw.Categorical(["u", "v"]),
            "c": tw.Int(1, 4, when={"a": ["x"], "b": ["v"]}),
        }
    )
    assert space.is_active("c", {"a": "x", "b": "v"})
    assert not space.is_active("c", {"a": "x", "b": "u"})
    assert not space.is_active("c", {"a": "y", "b": "v"})


@pytest.mark.parametrize(
    ("data", "static", "field", "words"),
    [
        (
            {"a": {"type": "int", "low": 1, "high": 3, "when": {"b": ["x"]}}},
            {},
            "space.a.when.b",
            "names no searched",
        ),
        (
            {"a": {"type": "int", "low": 1, "high": 3, "when": {"b": ["x"]}}},
            {"b": "x"},
            "space.a.when.b",
            "static",
        ),
        (
            {
                "a": {"type": "int", "low": 1, "high": 3, "when": {"b": [1]}},
                "b": {"type": "int", "low": 1, "high": 3},
            },
            {},
            "space.a.when.b",
            "categorical",
        ),
        (
            {
                "a": {"type": "int", "low": 1, "high": 3, "when": {"b": ["z"]}},
                "b": {"type": "categorical", "values": ["x", "y"]},
            },
            {},
            "space.a.when.b",
            "'z'",
        ),
        (
            {
                "a": {"type": "categorical", "values": ["p"], "when": {"b": ["x"]}},
                "b": {"type": "categorical", "values": ["x"], "when": {"a": ["p"]}},
            },
            {},
            "space.a.when",
            "cycle",
        ),
        (
            {"a": {"type": "categorical", "values": ["p"], "when": {"a": ["p"]}}},
            {},
            "space.a.when.a",
            "itself",
        ),
        (
            {"a": {"type": "int", "low": 1, "high": 3, "when": ["b"]}},
            {},
            "space.a.when",
            "must map",
        ),
        (
            {
                "a": {"type": "int", "low": 1, "high": 3, "when": {"b": []}},
                "b": {"type": "categorical", "values": ["x"]},
            },
            {},
            "space.a.when.b",
            "non-empty",
        ),
        (
            {
                "a": {"type": "int", "low": 1, "high": 3},
                "b": {"type": "categorical", "values": ["x"]},
            },
            {"a": 2},
            "static.a",
            "searched",
        ),
    ],
)
def test_bad_conditions_are_refused_naming_the_field(
    data: dict[str, Any], static: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        Space.from_dict(data, static)
    assert caught.value.field == field
    assert words in caught.value.message


def test_validate_requires_active_and_refuses_inactive_parameters() -> None:
    space = tree()
    good = {"lr": 0.01, "optimizer": "adam", "beta1": 0.9}
    assert space.validate_params(good) == good
    with pytest.raises(SpecError, match=r"params\.momentum: is inactive"):
        space.validate({**good, "momentum": 0.5})
    with pytest.raises(SpecError, match=r"params\.nesterov: is missing"):
        space.validate({"lr": 0.01, "optimizer": "sgd", "momentum": 0.5})
    with pytest.raises(SpecError, match=r"params\.damping: is inactive"):
        space.validate(
            {"lr": 0.01, "optimizer": "sgd", "momentum": 0.5, "nesterov": False, "damping": 0.1}
        )


def test_decode_keeps_only_active_parameters_and_encode_marks_inactive_as_nan() -> None:
    space = tree()
    for u in (0.1, 0.3, 0.6, 0.9):
        values = space.decode([u] * len(space))
        assert space.validate(values) == values
        assert set(values) == set(space.active_names(values))
    adam = {"lr": 0.01, "optimizer": "adam", "beta1": 0.9}
    encoded = dict(zip(space.names, space.encode(adam), strict=True))
    assert math.isnan(encoded["momentum"]) and math.isnan(encoded["damping"])
    assert not math.isnan(encoded["beta1"])


def test_grid_is_exactly_the_valid_combinations_each_once() -> None:
    space = tree()
    # sgd: lr 3 x momentum 2 x (nesterov True: damping 2 | False: 1) = 18; adam: 3 x 3 = 9
    assert space.grid_size() == 27
    combos = space.grid_combinations()
    assert len(combos) == 27
    assert len({json.dumps(c, sort_keys=True) for c in combos}) == 27
    for combo in combos:
        assert space.validate(combo) == combo


def test_json_round_trip_keeps_conditions() -> None:
    space = tree()
    data = json.loads(json.dumps(space.to_dict()))
    assert data["params"]["momentum"]["when"] == {"optimizer": ["sgd"]}
    assert "when" not in data["params"]["lr"]
    again = Space.from_json(data)
    assert again == space and again.order == space.order
    assert again.params["nesterov"].when == {"optimizer": ("sgd",)}
    hash(again.params["momentum"])  # parameters stay hashable values


def test_spec_file_form_loads_conditions() -> None:
    from tunewise.spec import StudySpec

    spec = StudySpec.from_dict(
        {
            "study": "tree",
            "objective": {"metric": "loss", "direction": "minimize"},
            "strategy": "random",
            "space": {
                "solver": {"type": "categorical", "values": ["sgd", "adam"]},
                "momentum": {
                    "type": "float",
                    "low": 0.0,
                    "high": 0.99,
                    "when": {"solver": ["sgd"]},
                },
            },
            "enqueue": [{"solver": "adam"}],
        }
    )
    assert spec.space.params["momentum"].when == {"solver": ("sgd",)}
    assert StudySpec.from_dict(spec.to_dict()).space == spec.space
    with pytest.raises(SpecError, match=r"enqueue\[0\]\.momentum: is inactive"):
        StudySpec.from_dict({**spec.to_dict(), "enqueue": [{"solver": "adam", "momentum": 0.5}]})


# A conditional study end to end: the store, the frame, the CSV, SageMaker, the dashboard --------
def conditional_study(tmp_path: Any) -> tw.Study:
    space = {
        "solver": tw.Categorical(["sgd", "adam"]),
        "momentum": tw.Float(0.0, 0.9, when={"solver": ["sgd"]}),
        "lr": tw.Float(1e-3, 1.0, scale="log"),
    }
    study = tw.create_study(
        "tree",
        objective=tw.Objective("score", "maximize"),
        space=space,
        strategy="random",
        seed=1,
        storage=f"sqlite:///{tmp_path}/t.db",
    )

    def train(params: dict[str, Any]) -> float:
        assert ("momentum" in params) == (params["solver"] == "sgd"), params
        return float(params["lr"] + params.get("momentum", 0.0))

    study.optimize(train, n_trials=8, progress=False)
    return study


def test_a_conditional_study_keeps_only_active_parameters_everywhere(tmp_path: Any) -> None:
    from tunewise.analysis.frame import TrialFrame
    from tunewise.analysis.importance import ped_anova
    from tunewise.analysis.plots import parallel, slices
    from tunewise.cli.views import render_csv, trials_table
    from tunewise.integrations.sagemaker_api import describe_study

    study = conditional_study(tmp_path)
    trials = study.trials
    assert {t.params["solver"] for t in trials} == {"sgd", "adam"}
    for t in trials:
        assert study.space.validate(t.params) == t.params
    again = tw.load_study("tree", storage=f"sqlite:///{tmp_path}/t.db")
    assert [t.params for t in again.trials] == [t.params for t in trials]
    assert again.space == study.space

    frame = study.trials_dataframe()
    adam = frame["params_solver"] == "adam"
    assert frame.loc[adam, "params_momentum"].isna().all()
    assert frame.loc[~adam, "params_momentum"].notna().all()

    header, rows = trials_table(study, trials)
    column = header.index("momentum")
    lines = render_csv(header, rows).splitlines()[1:]
    for t, line in zip(trials, lines, strict=True):
        cell = next(iter(__import__("csv").reader([line])))[column]
        assert (cell == "") == (t.params["solver"] == "adam")

    tframe = TrialFrame.from_trials(trials, study.space, study.objective)
    axes = {a["name"]: a for a in parallel(tframe)["axes"]}
    numbers = parallel(tframe)["number"]
    by_number = {t.number: t for t in trials}
    for i, n in enumerate(numbers):
        has = "momentum" in by_number[n].params
        assert (axes["momentum"]["values"][i] is None) == (not has)
    assert {p["name"] for p in slices(tframe)["params"]} == {"solver", "momentum", "lr"}
    ped_anova(tframe)  # counts momentum over the sgd trials only; must not fail on NaN

    record = study.store.get_study("tree")
    with pytest.raises(SpecError, match=r"space\.momentum\.when: SageMaker .* no conditional"):
        describe_study(record, study.store.count_trials(record.id), tframe)
    study.close()
    again.close()


def test_distance_counts_a_parameter_active_in_one_only_as_the_largest_gap() -> None:
    space = tree()
    adam = {"lr": 0.01, "optimizer": "adam", "beta1": 0.9}
    assert space.distance(adam, adam) == 0.0
    sgd = {"lr": 0.01, "optimizer": "sgd", "momentum": 0.0, "nesterov": False}
    # optimizer differs by 0.5 in the unit encoding; beta1, momentum, nesterov each count 1
    assert math.isclose(space.distance(adam, sgd), math.sqrt(0.25 + 3))


def test_a_command_placeholder_naming_a_conditional_parameter_is_refused() -> None:
    from tunewise.spec import StudySpec

    data = {
        "study": "cmd",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": {
            "solver": {"type": "categorical", "values": ["sgd", "adam"]},
            "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": {"solver": "sgd"}},
        },
        "trial": {"command": ["python", "train.py", "--solver={solver}", "--m={momentum}"]},
    }
    with pytest.raises(SpecError, match=r"^trial\.command\[3\]: \{momentum\} is conditional"):
        StudySpec.from_dict(data)


def test_warm_start_and_hyperband_keep_a_trees_inactive_parameters_absent(tmp_path: Any) -> None:
    parent = conditional_study(tmp_path)  # the "tree" study: adam trials have no momentum
    parent_params = [t.params for t in parent.trials]
    parent.close()
    url = f"sqlite:///{tmp_path}/t.db"
    space = {
        "solver": tw.Categorical(["sgd", "adam"]),
        "momentum": tw.Float(0.0, 0.9, when={"solver": ["sgd"]}),
        "lr": tw.Float(1e-3, 1.0, scale="log"),
    }
    child = tw.create_study(
        "child", objective=tw.Objective("score", "maximize"), space=space, storage=url,
        strategy="hyperband", hyperband={"max_resource": 4, "sampler": "bayesian"}, seed=3,
        warm_start={"parents": ["tree"], "type": "transfer"},
    )  # fmt: skip
    assert len(child.parents().trials) == len(parent_params)  # none left out for a missing key
    assert [t.params for t in child.parents().trials] == parent_params

    def train(params: dict[str, Any], trial: Any) -> float:
        value = params["lr"] + params.get("momentum", 0.0)
        for step in range(1, params["epochs"] + 1):
            trial.report(value * step, step)
        return value * params["epochs"]

    child.optimize(train, n_trials=12, progress=False)
    for t in child.trials:
        assert child.space.validate(t.params) == t.params
    first = [t.params for t in child.trials[:3]]
    assert all(p in parent_params for p in first)  # transfer: the parents' best first
    child.close()


def test_describe_refuses_a_tree_in_one_line_and_enqueue_checks_it(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunewise.cli.main import main

    study = conditional_study(tmp_path)
    with pytest.raises(SpecError, match=r"enqueue_trial\.params\.momentum: is inactive"):
        study.enqueue_trial({"solver": "adam", "lr": 0.1, "momentum": 0.5})
    with pytest.raises(SpecError, match=r"enqueue_trial\.params\.momentum: is missing"):
        study.enqueue_trial({"solver": "sgd", "lr": 0.1})
    study.enqueue_trial({"solver": "adam", "lr": 0.1})
    study.close()
    capsys.readouterr()
    code = main(["describe", "tree", "--storage", f"sqlite:///{tmp_path}/t.db"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "space.momentum.when: SageMaker" in err


@pytest.mark.parametrize(
    "when",
    [None, {}, "solver", 3, [["sgd"]], {"solver": {"sgd": 1}}, {"solver": [["sgd"]]},
     {"solver": [None]}, {"solver": [float("nan")]}, {"": ["sgd"]}, {"solver": b"sgd"},
     {"lr": [0.1]}, {"solver": ["sgd"], "nope": ["x"]}, {"solver": [True]}],
)  # fmt: skip
def test_any_when_loads_or_is_one_spec_error(when: Any) -> None:
    data = {
        "solver": {"type": "categorical", "values": ["sgd", "adam"]},
        "lr": {"type": "float", "low": 0.1, "high": 1.0},
        "momentum": {"type": "float", "low": 0.0, "high": 0.9, "when": when},
    }
    try:
        space = Space.from_dict(data)
    except SpecError as exc:
        assert exc.field.startswith("space.momentum.when"), exc
    else:
        assert Space.from_json(json.loads(json.dumps(space.to_dict()))) == space
