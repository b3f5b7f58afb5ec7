"""The spec's ``executor`` section: forms, defaults, JSON round trip, one-sentence errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tunewise.errors import SpecError
from tunewise.spec import ExecutorSpec, StudySpec


def spec_data(**extra: Any) -> dict[str, Any]:
    return {
        "study": "s",
        "objective": {"metric": "score", "direction": "maximize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        **extra,
    }


def test_default_is_local_and_is_not_stored() -> None:
    spec = StudySpec.from_dict(spec_data())
    assert spec.executor == ExecutorSpec() and spec.executor.type == "local"
    assert "executor" not in spec.to_dict()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ray", ExecutorSpec("ray", "auto", 1.0, 0.0)),
        ({"type": "ray", "address": "local"}, ExecutorSpec("ray", "local", 1.0, 0.0)),
        (
            {"type": "ray", "address": "10.0.0.5:6379", "resources_per_trial": {"gpu": 0.5}},
            ExecutorSpec("ray", "10.0.0.5:6379", 1.0, 0.5),
        ),
        (
            {
                "type": "ray",
                "address": "ray://head.example:10001",
                "resources_per_trial": {"cpu": 4, "gpu": 1},
            },
            ExecutorSpec("ray", "ray://head.example:10001", 4.0, 1.0),
        ),
        ({"type": "ray", "address": "[::1]:6379"}, ExecutorSpec("ray", "[::1]:6379", 1.0, 0.0)),
        ("local", ExecutorSpec()),
        ({"type": "local"}, ExecutorSpec()),
        ({"type": "local", "reuse_processes": True}, ExecutorSpec()),
        ({"type": "local", "reuse_processes": False}, ExecutorSpec(reuse_processes=False)),
    ],
)
def test_forms_round_trip_through_json(given: Any, expected: ExecutorSpec) -> None:
    spec = StudySpec.from_dict(spec_data(executor=given))
    assert spec.executor == expected
    again = StudySpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again.executor == expected and again.to_dict() == spec.to_dict()


@pytest.mark.parametrize(
    ("given", "field", "words"),
    [
        ("dask", "executor.type", "must be one of local, ray, got 'dask'"),
        ({"type": "local", "address": "auto"}, "executor.address", "applies only to type: ray"),
        ({"type": "local", "resources_per_trial": {}}, "executor.resources_per_trial", "only"),
        ({"type": "local", "reuse_processes": "no"}, "executor.reuse_processes", "true or false"),
        ({"type": "ray", "reuse_processes": False}, "executor.reuse_processes", "type: local"),
        ({"type": "ray", "address": "head"}, "executor.address", "HOST:PORT"),
        ({"type": "ray", "address": "head:70000"}, "executor.address", "HOST:PORT"),
        ({"type": "ray", "address": ""}, "executor.address", "auto, local"),
        ({"type": "ray", "address": 6379}, "executor.address", "auto, local"),
        ({"type": "ray", "nodes": 2}, "executor.nodes", "unknown key"),
        (
            {"type": "ray", "resources_per_trial": {"tpu": 1}},
            "executor.resources_per_trial.tpu",
            "unknown key",
        ),
        (
            {"type": "ray", "resources_per_trial": {"gpu": -1}},
            "executor.resources_per_trial.gpu",
            "zero or more",
        ),
        (
            {"type": "ray", "resources_per_trial": {"cpu": "two"}},
            "executor.resources_per_trial.cpu",
            "a number",
        ),
        (
            {"type": "ray", "resources_per_trial": {"cpu": True}},
            "executor.resources_per_trial.cpu",
            "a number",
        ),
        (
            {"type": "ray", "resources_per_trial": {"cpu": 0}},
            "executor.resources_per_trial",
            "asks for nothing",
        ),
        (["ray"], "executor", "must be a mapping"),
    ],
)
def test_errors_name_the_field(given: Any, field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        StudySpec.from_dict(spec_data(executor=given))
    assert caught.value.field == field
    assert words in caught.value.message
    assert str(caught.value).startswith(f"{field}: ")


def test_with_type_keeps_the_ray_settings() -> None:
    ray = ExecutorSpec("ray", "10.0.0.5:6379", 2.0, 1.0)
    assert ray.with_type("local").with_type("ray") == ray
    assert ExecutorSpec().with_type("ray") == ExecutorSpec("ray")
    assert ray.with_type("local").to_dict() == {"type": "local"}
    with pytest.raises(SpecError, match="executor.type"):
        ray.with_type("dask")
