"""The spec file ``import-sagemaker`` writes holds the request's text as data only.

Text from the request (a ``sagemaker_program`` holding newlines, a metric's name, a categorical
value, an environment variable, the request file's own name) once reached YAML comments
unescaped, so it could add real top-level keys (``storage:``, ``runs_dir:``, ``executor:``) to
the written spec. Every string field that reaches the spec is filled here with text built from
the pieces YAML gives meaning to, and the written file must load back as exactly the imported
spec, with one comment line per note.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integrations.helpers import request
from tunewise.cli.main import main
from tunewise.cli.sagemaker import render
from tunewise.integrations.sagemaker import import_request
from tunewise.specfile import load_spec_data

TENSORFLOW = "tensorflow-cifar10-random.json"
PIECES = [
    "\n",
    "\r\n",
    "\r",
    "\u2028",
    "\u2029",
    "\x85",
    "\t",
    "#",
    " # ",
    ": ",
    "'",
    '"',
    "\\",
    "- ",
    "{",
    "}",
    "[",
    "]",
    "&a ",
    "*a",
    "!!python/object/apply:os.system ",
    "---",
    "...",
    "%YAML 1.1",
    "storage: sqlite:////tmp/evil.db",
    "runs_dir: /tmp/evil",
    "executor: {type: ray, address: evil.example:6379}",
    "yes",
    "on",
    "null",
    "1e3",
    "été",
    "x",
]


def payloads(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = ["x\nstorage: sqlite:////tmp/evil.db\nruns_dir: /tmp/evil"]
    for _ in range(count):
        texts.append("x" + "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 6))))
    return texts


Setter = Callable[[dict[str, Any], str], None]


def _definition(req: dict[str, Any]) -> dict[str, Any]:
    definition: dict[str, Any] = req["TrainingJobDefinition"]
    return definition


def _program(req: dict[str, Any], text: str) -> None:
    _definition(req)["StaticHyperParameters"]["sagemaker_program"] = json.dumps(text)


def _program_raw(req: dict[str, Any], text: str) -> None:
    _definition(req)["StaticHyperParameters"]["sagemaker_program"] = text


def _static(req: dict[str, Any], text: str) -> None:
    _definition(req)["StaticHyperParameters"]["model_dir"] = text


def _categorical(req: dict[str, Any], text: str) -> None:
    ranges = req["HyperParameterTuningJobConfig"]["ParameterRanges"]
    ranges["CategoricalParameterRanges"][0]["Values"][0] = text


def _metric_name(req: dict[str, Any], text: str) -> None:
    _definition(req)["AlgorithmSpecification"]["MetricDefinitions"][1]["Name"] = text


def _metric_regex(req: dict[str, Any], text: str) -> None:
    metric = _definition(req)["AlgorithmSpecification"]["MetricDefinitions"][1]
    metric["Regex"] = re.escape(text) + "([0-9.]+)"


def _objective(req: dict[str, Any], text: str) -> None:  # no definition: a note names it
    req["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]["MetricName"] = text


def _environment(req: dict[str, Any], text: str) -> None:
    _definition(req)["Environment"]["PYTHONHASHSEED"] = text


SETTERS: dict[str, Setter] = {
    "sagemaker_program": _program,
    "sagemaker_program unquoted": _program_raw,
    "static value": _static,
    "categorical value": _categorical,
    "metric name": _metric_name,
    "metric regex": _metric_regex,
    "objective metric": _objective,
    "environment value": _environment,
}


def comments(text: str) -> list[str]:
    lines = text.split("\n")
    head = []
    for line in lines:
        if not line.startswith("#"):
            break
        head.append(line)
    return head


@pytest.mark.parametrize("field", sorted(SETTERS))
def test_every_string_field_of_the_request_round_trips_as_data(field: str) -> None:
    for i, text in enumerate(payloads(25, seed=hash(field) % 1000)):
        req = request(TENSORFLOW)
        SETTERS[field](req, text)
        imported = import_request(req)
        source = f"job{text}.json" if i % 5 == 0 else "job.json"
        written = render(imported.spec, imported.notes, source, as_json=False)
        assert load_spec_data(written, "out.yaml") == imported.spec, (field, text)
        assert yaml.safe_load(written) == imported.spec, (field, text)
        assert len(comments(written)) == 1 + len(imported.notes), (field, text)
        for line in comments(written):
            assert line.isprintable(), (field, text, line)
        as_json = render(imported.spec, imported.notes, source, as_json=True)
        assert json.loads(as_json) == imported.spec


def test_a_program_name_with_newlines_adds_no_key_to_the_written_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exploit as found: exit 0, and the spec gained storage, runs_dir and executor."""
    req = request(TENSORFLOW)
    evil = "train.py\nstorage: sqlite:////tmp/evil.db\nruns_dir: /tmp/evil\nexecutor: {type: ray}"
    _program_raw(req, evil)
    source = tmp_path / "job.json"
    source.write_text(json.dumps(req))
    target = tmp_path / "spec.yaml"
    assert main(["import-sagemaker", str(source), "-o", str(target)]) == 0
    spec = load_spec_data(target.read_text(), str(target))
    assert "storage" not in spec and "runs_dir" not in spec and "executor" not in spec
    assert spec["trial"]["command"][:2] == ["python", evil.replace("{", "{{").replace("}", "}}")]
    capsys.readouterr()
