"""The spec fuzzer of the adversarial pass: mutated spec documents either load or are refused
with one :class:`SpecError` sentence, never another exception; what loads can be stored and
read back; and ``tunewise run`` on a bad spec exits 2 with one line.

Documents are made from valid specs by seeded mutations, on the data (a value replaced by an
awkward one, a key dropped or added, a list emptied) and on the text (YAML's and JSON's
significant characters inserted, lines dropped or repeated, anchors and aliases planted), so
every run checks the same few hundred documents in a second or two.
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunewise.errors import SpecError
from tunewise.spec import StudySpec, parse_spec_text

SEED = 20261206
DATA_CASES = 300
TEXT_CASES = 300

BASES: list[dict[str, Any]] = [
    {
        "study": "fuzz",
        "objective": {"metric": "loss", "direction": "minimize"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    },
    {
        "study": "fuzz-full_1.0",
        "objective": {"metric": "acc", "direction": "maximize"},
        "strategy": "random",
        "space": {
            "lr": {"type": "float", "low": 1e-4, "high": 0.1, "scale": "log"},
            "momentum": {"type": "float", "low": 0.5, "high": 0.99, "scale": "reverse_log"},
            "drop": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.1},
            "layers": {"type": "int", "low": 1, "high": 4},
            "act": {"type": "categorical", "values": ["relu", "tanh", 1, True]},
        },
        "static": {"epochs": 3, "data": {"name": "digits", "split": [0.8, 0.2]}},
        "trial": {
            "command": ["python", "train.py", "--lr", "{lr}", "--epochs={epochs}"],
            "metrics": [{"name": "acc", "regex": "acc=([0-9.]+)"}],
            "timeout": "5m",
            "env": {"SEED": "1"},
        },
        "limits": {"max_trials": 10, "max_parallel": 2, "max_runtime": "1h"},
        "seed": 7,
        "retries": {"max_attempts": 2, "on": ["crashed", "lost"]},
        "lease": {"heartbeat": "10s", "grace": "30s"},
        "early_stopping": {"rule": "median", "min_trials": 3},
        "completion": {"target": 0.99, "not_improving": {"trials": 5, "min_delta": "1%"}},
        "enqueue": [{"lr": 0.01, "momentum": 0.9, "drop": 0.1, "layers": 2, "act": "relu"}],
    },
    {
        "study": "fuzz-hb",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "hyperband",
        "space": {"x": {"type": "int", "low": 1, "high": 9, "scale": "log"}},
        "static": {"epochs": 27},
        "hyperband": {"min_resource": 1, "max_resource": 27, "reduction_factor": 3},
        "trial": {"python": "examples.mlp_digits:train"},
    },
]

AWKWARD: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**70,
    1e308,
    -1e308,
    5e-324,
    math.nan,
    math.inf,
    -math.inf,
    "",
    " ",
    "x" * 2000,
    "\x00",
    "a\nb",
    "on",
    "1e-4",
    "-1",
    "{x}",
    "{nope}",
    "5 minutes",
    "nan",
    [],
    [None],
    [[[]]],
    {},
    {"on": 1},
    {"type": "float"},
    {"type": "categorical", "values": [math.nan]},
    {"type": "float", "low": -1e308, "high": 1e308},
    datetime.date(2024, 1, 1),
    ["a", "a"],
]
SIGNIFICANT = [
    ":", " ", "\n", "  ", "-", "[", "]", "{", "}", ",", "#", "&a", "*a", "!", "!!str", "|", ">",
    "'", '"', "\\", "\t", "?", "%", "@", "`", "\x00", "\u2028", "~", "0", "on", "1e308", "...",
    "---", "<<: ", ".nan", "2024-01-01",
]  # fmt: skip


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a document: mapping keys and list indexes."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def mutate_data(rng: random.Random) -> dict[str, Any]:
    doc = copy.deepcopy(rng.choice(BASES))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(paths(doc)[1:])
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        last = path[-1]
        action = rng.random()
        if action < 0.55:
            parent[last] = copy.deepcopy(rng.choice(AWKWARD))
        elif action < 0.7:
            del parent[last]
        elif action < 0.85 and isinstance(parent, dict):
            parent[rng.choice(["on", "yes", "extra", "type", "values", "low", "1"])] = (
                copy.deepcopy(rng.choice(AWKWARD))
            )
        else:
            parent[last] = [parent[last]] if rng.random() < 0.5 else {"v": parent[last]}
        if not doc:
            break
    return doc


def mutate_text(rng: random.Random) -> tuple[str, str]:
    doc = rng.choice(BASES)
    if rng.random() < 0.3:
        text, source = json.dumps(doc, indent=1), "fuzz.json"
    else:
        style = rng.choice([False, None, True])
        text, source = yaml.safe_dump(doc, default_flow_style=style, sort_keys=False), "f.yaml"
    for _ in range(rng.randint(1, 4)):
        lines = text.split("\n")
        action = rng.random()
        if action < 0.5:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(SIGNIFICANT) + text[at:]
        elif action < 0.65 and len(text) > 1:
            at = rng.randrange(len(text))
            text = text[:at] + text[at + rng.randint(1, 5) :]
        elif action < 0.8:
            i = rng.randrange(len(lines))
            lines.insert(i, lines[i])
            text = "\n".join(lines)
        elif action < 0.9:
            del lines[rng.randrange(len(lines))]
            text = "\n".join(lines)
        else:  # an anchor on one value, an alias on another
            i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
            if ": " in lines[i] and ": " in lines[j]:
                lines[i] = lines[i].replace(": ", ": &a ", 1)
                lines[j] = lines[j].split(": ", 1)[0] + ": *a"
            text = "\n".join(lines)
    return text, source


def check_outcome(load: Callable[[], StudySpec], what: str) -> bool:
    """Loads (then stores and reads back the same) or raises one SpecError sentence."""
    try:
        spec = load()
    except SpecError as exc:
        assert "\n" not in str(exc), (what, str(exc))
        assert str(exc).strip(), what
        return False
    stored = json.dumps(spec.to_dict(), allow_nan=False)  # what the store keeps
    again = StudySpec.from_dict(json.loads(stored))
    assert again.search_definition() == spec.search_definition(), what
    return True


def test_mutated_spec_data_loads_or_is_one_spec_error() -> None:
    rng = random.Random(SEED)
    accepted = 0
    for _ in range(DATA_CASES):
        doc = mutate_data(rng)
        accepted += check_outcome(lambda doc=doc: StudySpec.from_dict(doc), repr(doc)[:2000])
    assert 0 < accepted < DATA_CASES  # the mutations reach both outcomes


def test_mutated_spec_text_loads_or_is_one_spec_error() -> None:
    rng = random.Random(SEED + 1)
    accepted = 0
    for _ in range(TEXT_CASES):
        text, source = mutate_text(rng)
        load: Callable[[], StudySpec] = lambda t=text, s=source: parse_spec_text(t, s)  # noqa: E731
        accepted += check_outcome(load, f"{source}: {text!r}"[:3000])
    assert 0 < accepted < TEXT_CASES


BAD_SPECS = {
    "bomb.yaml": "study: s\nstatic:\n  a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]\n" for i in range(1, 9)),
    "deep.json": '{"study": "s", "static": {"x": ' + "[" * 5000 + "]" * 5000 + "}}",
    "date.yaml": "study: s\nobjective: {metric: m, direction: maximize}\n"
    "space: {x: {type: float, low: 0, high: 1}}\nstatic: {when: [2024-01-01]}\n"
    "trial: {command: [echo, '{x}']}\nlimits: {max_trials: 1}\n",
    "wide.yaml": "study: s\nobjective: {metric: m, direction: maximize}\n"
    "space: {x: {type: float, low: -1.0e308, high: 1.0e308}}\n"
    "trial: {command: [echo, '{x}']}\nlimits: {max_trials: 1}\n",
    "nan.json": '{"study": "s", "objective": {"metric": "m", "direction": "maximize"}, '
    '"space": {"c": {"type": "categorical", "values": [NaN]}}}',
}


def test_run_on_a_bad_spec_exits_2_with_one_line(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    for name, text in BAD_SPECS.items():
        (tmp_path / name).write_text(text)
        database = tmp_path / f"{name}.db"
        argv = ["run", name, "--storage", f"sqlite:///{database}"]
        result = subprocess.run(
            [sys.executable, "-m", "tunewise.cli.main", *argv],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, (name, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("tunewise: "), (
            name,
            result.stderr,
        )
        assert not database.exists(), name


@pytest.mark.parametrize("base", range(len(BASES)))
def test_the_fuzzers_starting_points_are_valid(base: int) -> None:
    assert check_outcome(lambda: StudySpec.from_dict(copy.deepcopy(BASES[base])), "base")
