"""The spec's JSON Schema (tunewise.schema) against the spec itself (tunewise.spec).

The schema must accept every spec the project shows (the example files, the README's and the
docs' yaml blocks) and reject every invalid spec the validation tests use — except the cases a
JSON Schema cannot judge (rules between fields, checks that need the machine), which are listed
below with the reason. The published file and `tunewise schema` must be the schema itself.
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import tests.cli.test_validation as validation
import tests.test_spec as spec_tests
from tests.test_docs_specs import blocks, merged
from tunewise.cli.main import main
from tunewise.schema import STRATEGIES, schema, schema_text
from tunewise.schema_doc import keys
from tunewise.spec import StudySpec
from tunewise.specfile import load_spec_data
from tunewise.strategies.registry import strategy_names

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = Draft202012Validator(schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)
YAML_BLOCK = re.compile(r"```yaml\n(.*?)```", re.S)

#: Invalid specs of tests/cli/test_validation.py the schema accepts, and why it cannot see them.
NOT_IN_SCHEMA = {
    "low-above-high": "high > low compares two fields",
    "low-equals-high": "high > low compares two fields",
    "int-low-above-high": "high > low compares two fields",
    "log-low-zero": "the log scale's low > 0 depends on scale (expressible, but the auto scale "
    "resolves to log only for some ranges, so the schema leaves bounds to the spec)",
    "log-low-negative": "as log-low-zero",
    "command-not-on-path": "needs the machine: is the program on PATH",
    "command-file-not-executable": "needs the machine: the file's mode",
    "placeholder-names-no-hyperparameter": "a placeholder must name a key of space or static",
    "python-module-missing": "needs the machine: does the module import",
    "python-function-missing": "needs the machine: does the function exist",
    "python-module-fails-to-import": "needs the machine: importing the module",
    "trial-missing": "tunewise run needs a trial; a spec without one is valid in Python",
    "random-without-max-trials": "which strategies need max_trials is a rule between fields",
    "grid-over-100000-points": "a grid's size is a product over the space",
    "grid-float-without-num": "num is needed by grid only (a rule between fields)",
    "static-shadows-param": "a static name equal to a space name compares two mappings",
    "flag-max-trials-zero": "a command-line flag, not the file",
    "flag-max-parallel-zero": "a command-line flag, not the file",
    "flag-bad-study-name": "a command-line flag, not the file",
    "storage-folder-missing": "a command-line flag, and needs the machine",
    "storage-unknown-scheme": "a command-line flag, not the file",
}

#: Invalid cases of tests/test_spec.py the schema accepts (by the field they fail on).
NOT_IN_SCHEMA_SPEC = {
    ("trial", "trial.command[3]"): "a placeholder must name a key of space or static",
    ("trial", "trial.command[2]"): "`{}` names no hyperparameter: placeholders vs the space",
    ("trial", "trial.metrics[0].regex"): "a regular expression's groups (regex semantics)",
    ("trial", "trial.metrics[1].regex"): "a regular expression's groups (regex semantics)",
    ("trial", "trial.metrics[1].name"): "metric names unique across list items",
    ("top", "space.x.high"): "high > low compares two fields",
    ("top", "space.x.low"): "the log scale's bound depends on scale",
    ("top", "static.x"): "a static name equal to a space name compares two mappings",
}


def errors(data: Any) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in VALIDATOR.iter_errors(data)]


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(schema())


def test_the_published_file_is_the_schema() -> None:
    published = ROOT / "src" / "tunewise" / "spec.schema.json"
    assert published.read_text(encoding="utf-8") == schema_text(), (
        "regenerate it: tunewise schema -o src/tunewise/spec.schema.json"
    )


def test_tunewise_schema_prints_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out) == schema()
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text(encoding="utf-8") == schema_text()
    assert main(["schema", "-o", str(tmp_path / "no" / "s.json")]) == 2


def test_the_strategies_are_the_registered_ones() -> None:
    assert sorted(STRATEGIES) == sorted(strategy_names())


def test_every_top_level_key_of_the_spec_is_described() -> None:
    assert sorted(schema()["properties"]) == sorted(StudySpec.KEYS)


def example_specs() -> list[tuple[str, str]]:
    found = [
        (p.name, p.read_text(encoding="utf-8")) for p in sorted(ROOT.glob("examples/**/*.yaml"))
    ]
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        for i, match in enumerate(YAML_BLOCK.finditer(page.read_text(encoding="utf-8"))):
            found.append((f"{page.relative_to(ROOT)}#yaml{i}", match.group(1)))
    return found


@pytest.mark.parametrize(("where", "text"), example_specs(), ids=[w for w, _ in example_specs()])
def test_the_schema_accepts_every_spec_the_project_shows(where: str, text: str) -> None:
    data = dict(load_spec_data(text, where))
    if "study" not in data:  # a few keys shown alone: as test_docs_specs pastes them
        data = merged(data)
    StudySpec.from_dict(data)  # (the spec accepts it: else the example is the bug)
    assert errors(data) == []


def test_the_docs_pages_are_among_the_examples() -> None:
    assert len(blocks()) >= 4
    assert any(w.startswith("docs") for w, _ in example_specs())


def validation_cases() -> list[Any]:
    return [pytest.param(*case.values, id=case.id) for case in validation.BAD_SPECS]


@pytest.mark.parametrize(("changes", "args", "field"), validation_cases())
def test_the_schema_rejects_the_cli_validation_tests_bad_specs(
    request: pytest.FixtureRequest, tmp_path: Path, changes: Any, args: list[str], field: str
) -> None:
    case = request.node.callspec.id
    data = validation.base_spec()
    for dotted, value in changes(tmp_path).items():
        validation.edit(data, dotted, value)
    found = errors(data)
    if case in NOT_IN_SCHEMA:
        assert found == [], f"the schema now rejects {case}: drop it from NOT_IN_SCHEMA"
    else:
        assert found, f"the schema accepts the invalid spec {case} ({field})"


def marked_cases(test: Any) -> list[tuple[Any, str]]:
    """The (value, field) pairs of a tests/test_spec.py parametrized test."""
    mark = next(m for m in test.pytestmark if m.name == "parametrize")
    return [(values[0], values[-1]) for values in mark.args[1]]


def spec_cases() -> list[Any]:
    out = []
    for kind, test, build in (
        ("limits", spec_tests.test_bad_limits_name_their_field, lambda v: {"limits": v}),
        ("trial", spec_tests.test_bad_trial_sections_name_their_field, lambda v: {"trial": v}),
        (
            "trial",
            spec_tests.test_trial_metrics_errors_name_the_path,
            lambda v: {"trial": {"command": ["python", "t.py"], "metrics": v}},
        ),
    ):
        for value, field in marked_cases(test):
            out.append(pytest.param(kind, spec_tests.minimal(**build(value)), field, id=field))
    for data, field in marked_cases(spec_tests.test_top_level_errors_name_their_field):
        out.append(pytest.param("top", data, field, id=f"top-{field}"))
    return out


@pytest.mark.parametrize(("kind", "data", "field"), spec_cases())
def test_the_schema_rejects_the_spec_tests_bad_specs(kind: str, data: Any, field: str) -> None:
    data = copy.deepcopy(data)
    if (kind, field) in NOT_IN_SCHEMA_SPEC:
        return  # listed above with its reason; the spec refuses it (tests/test_spec.py)
    assert errors(data), f"the schema accepts an invalid spec failing on {field}"


def test_the_exceptions_are_only_of_cases_that_exist() -> None:
    assert set(NOT_IN_SCHEMA) <= {case.id for case in validation.BAD_SPECS}
    fields = {(c.values[0], c.values[2]) for c in spec_cases()}
    assert set(NOT_IN_SCHEMA_SPEC) <= fields


@pytest.mark.parametrize(
    "doc", [k for k in keys() if "x-invalid" in k.schema], ids=lambda k: k.path
)
def test_each_wrong_value_of_the_reference_is_refused_by_both(doc: Any) -> None:
    """The reference's error column: the schema refuses the value, and so does the spec,
    with a message naming the key's field."""
    from tunewise.schema_doc import base_spec, error_for

    value = doc.schema["x-invalid"]
    message = error_for(doc, value)
    assert message is not None, f"{doc.path}: the spec accepts {value!r}"
    data = base_spec(doc.path)
    from tunewise.schema_doc import _set

    _set(data, doc.path, doc.kind, value)
    assert errors(data), f"{doc.path}: the schema accepts {value!r}"


@pytest.mark.parametrize(
    "doc", [k for k in keys() if k.schema.get("examples")], ids=lambda k: k.path
)
def test_each_example_of_the_reference_is_accepted_by_both(doc: Any) -> None:
    from tunewise.schema_doc import _set, base_spec, error_for

    value = doc.schema["examples"][0]
    if doc.path in ("objectives", "space.NAME.when") and doc.kind in (None, "categorical"):
        return  # these examples name other keys (their own parameters); shown, not pasted
    assert error_for(doc, value) is None
    data = base_spec(doc.path)
    _set(data, doc.path, doc.kind, value)
    assert errors(data) == []


def valid_forms() -> list[Any]:
    """Whole specs using the newer keys (conditions, define-by-run, several objectives with
    constraints and a target per objective, GPUs, Ray, trackers)."""
    minimal = spec_tests.minimal
    two = [
        {"metric": "accuracy", "direction": "maximize"},
        {"metric": "latency_ms", "direction": "minimize"},
    ]
    return [
        pytest.param(spec_tests.full(), id="full"),
        pytest.param(
            minimal(
                space={
                    "solver": {"type": "categorical", "values": ["sgd", "adam"]},
                    "momentum": {
                        "type": "float",
                        "low": 0.5,
                        "high": 0.99,
                        "when": {"solver": "sgd"},
                    },
                }
            ),
            id="conditional",
        ),
        pytest.param(
            {**{k: v for k, v in minimal().items() if k != "space"}, "define_by_run": True},
            id="define-by-run",
        ),
        pytest.param(
            {
                **{k: v for k, v in minimal().items() if k != "objective"},
                "objectives": two,
                "constraints": [{"metric": "memory_mb", "max": 512}],
                "completion": {"target": {"accuracy": 0.98, "latency_ms": 20}},
            },
            id="several-objectives",
        ),
        pytest.param(
            minimal(
                executor={"type": "local", "resources_per_trial": {"gpu": 0.5}, "gpus": [0, 2]}
            ),
            id="local-gpus",
        ),
        pytest.param(
            minimal(executor={"type": "ray", "address": "ray://10.0.0.5:10001"}), id="ray"
        ),
        pytest.param(
            minimal(
                tracking={
                    "mlflow": {"tracking_uri": "http://127.0.0.1:5000", "experiment": "e"},
                    "wandb": {"project": "p", "mode": "offline"},
                    "tensorboard": {"log_dir": "tb"},
                }
            ),
            id="trackers",
        ),
    ]


@pytest.mark.parametrize("data", valid_forms())
def test_the_schema_accepts_the_newer_keys(data: dict[str, Any]) -> None:
    StudySpec.from_dict(copy.deepcopy(data))
    assert errors(data) == []


def single_arg_cases(test: Any) -> list[Any]:
    mark = next(m for m in test.pytestmark if m.name == "parametrize")
    return list(mark.args[1])


@pytest.mark.parametrize("name", single_arg_cases(spec_tests.test_invalid_study_names))
def test_the_schema_rejects_the_invalid_study_names(name: str) -> None:
    assert errors(spec_tests.minimal(study=name))


@pytest.mark.parametrize("name", single_arg_cases(spec_tests.test_valid_study_names))
def test_the_schema_accepts_the_valid_study_names(name: str) -> None:
    assert errors(spec_tests.minimal(study=name)) == []


@pytest.mark.parametrize(
    "low",
    [*single_arg_cases(spec_tests.test_bad_numeric_strings_refused), float("inf"), float("nan")],
)
def test_the_schema_rejects_bad_numbers(low: Any) -> None:
    """Text that is no number, and the infinities YAML can write (.inf). NaN (.nan) is beyond
    JSON Schema, whose bounds compare with it as with nothing: the spec refuses it."""
    if isinstance(low, float) and math.isnan(low):
        assert (
            errors(spec_tests.minimal(space={"x": {"type": "float", "low": low, "high": 1.0}}))
            == []
        )
        return
    assert errors(spec_tests.minimal(space={"x": {"type": "float", "low": low, "high": 1.0}}))
