"""Every mistake in a spec or an argument stops ``tunewise`` before any trial runs.

The CLI runs as a real subprocess in a fresh folder. Each case checks: exit code 2, stderr is
one line ``tunewise: <field path>: ...`` with no traceback, the trial never ran (it would
write a marker file), and the store holds no study.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunewise.store import open_store

pytestmark = pytest.mark.timeout(60)

ENTRY_POINT = Path(sys.executable).with_name("tunewise")
MARKER = "trial-ran.marker"
DELETE = object()

#: A Python trial that leaves a marker when it runs.
TRAIN_MODULE = """\
from pathlib import Path

def train(params):
    Path({marker!r}).write_text("ran")
    return {{"score": 1.0}}
"""

#: A command trial that leaves a marker when it runs.
TRAIN_SCRIPT = """\
from pathlib import Path

Path({marker!r}).write_text("ran")
print("score=1.0")
"""

#: A module that fails while it is imported.
BROKEN_MODULE = """\
import tunewise_no_such_dependency  # noqa

def train(params):
    return 1.0
"""


def cli(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``tunewise ARGS`` in ``cwd`` (the installed entry point, as a user would)."""
    command = (
        [str(ENTRY_POINT)] if ENTRY_POINT.exists() else [sys.executable, "-m", "tunewise.cli.main"]
    )
    environ = {k: v for k, v in os.environ.items() if k != "TUNEWISE_STORAGE"}
    scratch = cwd / ".tmp"
    scratch.mkdir(exist_ok=True)
    environ["TMPDIR"] = str(scratch)  # stray temporary folders stay in tmp_path
    environ.update(env or {})
    return subprocess.run(
        [*command, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=45
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder with the trial module, the trial script and a module that cannot import."""
    marker = str(tmp_path / MARKER)
    (tmp_path / "mytrain.py").write_text(TRAIN_MODULE.format(marker=marker))
    (tmp_path / "train_script.py").write_text(TRAIN_SCRIPT.format(marker=marker))
    (tmp_path / "broken.py").write_text(BROKEN_MODULE)
    return tmp_path


def base_spec() -> dict[str, Any]:
    return {
        "study": "v",
        "objective": {"metric": "score", "direction": "maximize"},
        "space": {"momentum": {"type": "float", "low": 0.5, "high": 0.99}},
        "trial": {"python": "mytrain:train"},
        "limits": {"max_trials": 2},
    }


def command_trial(workdir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(workdir / "train_script.py"), *extra]


def edit(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Set (or with DELETE remove) the key at a dotted path."""
    *parents, last = dotted.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    if value is DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return data


Edits = Callable[[Path], dict[str, Any]]


def edits(**changes: Any) -> Edits:
    """Changes to the base spec, keyed by dotted path with ``__`` for ``.``; callables get
    the work folder."""

    def build(workdir: Path) -> dict[str, Any]:
        return {
            key.replace("__", "."): value(workdir) if callable(value) else value
            for key, value in changes.items()
        }

    return build


BAD_SPECS: list[Any] = [
    # Unknown keys, at every level.
    pytest.param(edits(bogus=1), [], "bogus", id="unknown-top-level-key"),
    pytest.param(
        edits(space__momentum__colour="red"), [], "space.momentum.colour", id="unknown-param-key"
    ),
    pytest.param(edits(limits__max_trial=5), [], "limits.max_trial", id="unknown-limits-key"),
    pytest.param(edits(trial__retries=2), [], "trial.retries", id="unknown-trial-key"),
    pytest.param(edits(objective__goal="max"), [], "objective.goal", id="unknown-objective-key"),
    # Bounds and scales.
    pytest.param(edits(space__momentum__high=0.4), [], "space.momentum.high", id="low-above-high"),
    pytest.param(edits(space__momentum__high=0.5), [], "space.momentum.high", id="low-equals-high"),
    pytest.param(
        edits(space={"layers": {"type": "int", "low": 4, "high": 2}}),
        [],
        "space.layers.high",
        id="int-low-above-high",
    ),
    pytest.param(
        edits(space={"lr": {"type": "float", "low": 0, "high": 1, "scale": "log"}}),
        [],
        "space.lr.low",
        id="log-low-zero",
    ),
    pytest.param(
        edits(space={"lr": {"type": "float", "low": -1, "high": 1, "scale": "log"}}),
        [],
        "space.lr.low",
        id="log-low-negative",
    ),
    pytest.param(
        edits(space={"act": {"type": "categorical", "values": []}}),
        [],
        "space.act.values",
        id="empty-categorical",
    ),
    pytest.param(
        edits(space={"act": {"type": "categorical"}}),
        [],
        "space.act.values",
        id="categorical-without-values",
    ),
    pytest.param(
        edits(space={"x": {"type": "double", "low": 0, "high": 1}}),
        [],
        "space.x.type",
        id="unknown-param-type",
    ),
    pytest.param(edits(space={}), [], "space", id="empty-space"),
    # The trial.
    pytest.param(
        edits(
            trial=lambda w: {
                "command": command_trial(w),
                "metrics": [{"name": "score", "regex": "score=([0-9.]+"}],
            }
        ),
        [],
        "trial.metrics[0].regex",
        id="regex-does-not-compile",
    ),
    pytest.param(
        edits(
            trial=lambda w: {
                "command": command_trial(w),
                "metrics": [{"name": "score", "regex": "score=[0-9.]+"}],
            }
        ),
        [],
        "trial.metrics[0].regex",
        id="regex-without-group",
    ),
    pytest.param(
        edits(trial={"command": ["tunewise-no-such-program-xyz", "train.py"]}),
        [],
        "trial.command[0]",
        id="command-not-on-path",
    ),
    pytest.param(
        edits(trial=lambda w: {"command": [str(w / "train_script.py")]}),
        [],
        "trial.command[0]",
        id="command-file-not-executable",
    ),
    pytest.param(
        edits(trial={"command": "python train_script.py --lr {momentum}"}),
        [],
        "trial.command",
        id="command-one-string",
    ),
    pytest.param(
        edits(trial=lambda w: {"command": command_trial(w, "--lr", "{lr}")}),
        [],
        "trial.command[3]",
        id="placeholder-names-no-hyperparameter",
    ),
    pytest.param(
        edits(trial={"python": "tunewise_no_such_module:train"}),
        [],
        "trial.python",
        id="python-module-missing",
    ),
    pytest.param(
        edits(trial={"python": "mytrain:no_such_function"}),
        [],
        "trial.python",
        id="python-function-missing",
    ),
    pytest.param(
        edits(trial={"python": "broken:train"}),
        [],
        "trial.python",
        id="python-module-fails-to-import",
    ),
    pytest.param(
        edits(trial={"python": "mytrain"}), [], "trial.python", id="python-target-without-function"
    ),
    pytest.param(edits(trial=DELETE), [], "trial", id="trial-missing"),
    pytest.param(edits(trial={}), [], "trial", id="trial-empty"),
    # Durations and limits.
    pytest.param(edits(trial__timeout="5 minutes"), [], "trial.timeout", id="bad-duration"),
    pytest.param(edits(trial__timeout=0), [], "trial.timeout", id="zero-duration"),
    pytest.param(edits(limits__max_runtime="soon"), [], "limits.max_runtime", id="bad-max-runtime"),
    pytest.param(
        edits(limits__max_trials=DELETE), [], "limits.max_trials", id="random-without-max-trials"
    ),
    pytest.param(edits(limits__max_trials=0), [], "limits.max_trials", id="max-trials-zero"),
    pytest.param(edits(limits__max_parallel=0), [], "limits.max_parallel", id="max-parallel-zero"),
    # The search.
    pytest.param(edits(strategy="hyperband-ish"), [], "strategy", id="unknown-strategy"),
    pytest.param(
        edits(
            strategy="grid",
            limits=DELETE,
            space={
                "a": {"type": "int", "low": 0, "high": 999},
                "b": {"type": "int", "low": 0, "high": 999},
            },
        ),
        [],
        "space",
        id="grid-over-100000-points",
    ),
    pytest.param(
        edits(strategy="grid", space={"x": {"type": "float", "low": 0, "high": 1}}),
        [],
        "space.x.num",
        id="grid-float-without-num",
    ),
    pytest.param(edits(objective=DELETE), [], "objective", id="objective-missing"),
    pytest.param(
        edits(objective__direction="upwards"), [], "objective.direction", id="bad-direction"
    ),
    pytest.param(edits(study="bad name!"), [], "study", id="bad-study-name"),
    pytest.param(edits(seed="seven"), [], "seed", id="bad-seed"),
    pytest.param(edits(static={"momentum": 0.9}), [], "static.momentum", id="static-shadows-param"),
    # Arguments.
    pytest.param(edits(), ["--max-trials", "0"], "--max-trials", id="flag-max-trials-zero"),
    pytest.param(edits(), ["--max-parallel", "0"], "--max-parallel", id="flag-max-parallel-zero"),
    pytest.param(edits(), ["--study", "no spaces allowed"], "study", id="flag-bad-study-name"),
    pytest.param(
        edits(),
        ["--storage", "sqlite:///no-such-folder/t.db"],
        "storage",
        id="storage-folder-missing",
    ),
    pytest.param(
        edits(), ["--storage", "mongodb://localhost/db"], "storage", id="storage-unknown-scheme"
    ),
]


def assert_refused(result: subprocess.CompletedProcess[str], field: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"tunewise: {field}: "), lines[0]
    assert len(lines[0]) > len(f"tunewise: {field}: ") + 5  # says what is wrong


def assert_nothing_ran(workdir: Path) -> None:
    assert not (workdir / MARKER).exists(), "a trial ran"
    assert not (workdir / "tunewise-runs").exists()
    for db in (workdir / "t.db", workdir / "tunewise.db"):
        if db.exists():
            store = open_store(f"sqlite:///{db}")
            try:
                assert store.list_studies() == []
            finally:
                store.close()


def storage_args(workdir: Path) -> list[str]:
    return ["--storage", f"sqlite:///{workdir / 't.db'}"]


@pytest.mark.parametrize(("changes", "args", "field"), BAD_SPECS)
def test_bad_spec_is_refused_before_any_trial(
    workdir: Path, changes: Edits, args: list[str], field: str
) -> None:
    data = base_spec()
    for dotted, value in changes(workdir).items():
        edit(data, dotted, value)
    spec = workdir / "spec.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = cli(workdir, "run", spec.name, *storage_args(workdir), *args)
    assert_refused(result, field)
    assert_nothing_ran(workdir)


@pytest.mark.parametrize("kind", ["python", "command"])
def test_control_the_marker_shows_when_a_trial_ran(workdir: Path, kind: str) -> None:
    """The negative checks above mean something: the same spec without the mistake runs."""
    data = base_spec()
    data["limits"] = {"max_trials": 1}
    if kind == "command":
        data["trial"] = {
            "command": command_trial(workdir, "--m", "{momentum}"),
            "metrics": [{"name": "score", "regex": r"score=([0-9.]+)"}],
        }
    (workdir / "spec.yaml").write_text(yaml.safe_dump(data))
    result = cli(workdir, "run", "spec.yaml", *storage_args(workdir))
    assert result.returncode == 0, result.stderr
    assert (workdir / MARKER).exists()
    store = open_store(f"sqlite:///{workdir / 't.db'}")
    try:
        [study] = store.list_studies()
        assert len(store.get_trials(study.id)) == 1
    finally:
        store.close()


def test_every_mistake_in_the_issue_has_a_case() -> None:
    ids = {p.id for p in BAD_SPECS}
    for needed in (
        "unknown-param-key",
        "low-above-high",
        "log-low-zero",
        "empty-categorical",
        "regex-does-not-compile",
        "command-not-on-path",
        "python-module-missing",
        "unknown-strategy",
        "grid-over-100000-points",
        "random-without-max-trials",
        "bad-duration",
        "flag-max-trials-zero",
        "command-one-string",
        "placeholder-names-no-hyperparameter",
    ):
        assert needed in ids


def test_the_field_path_example_of_the_issue(workdir: Path) -> None:
    data = base_spec()
    data["space"]["momentum"]["high"] = 0.1
    (workdir / "spec.yaml").write_text(yaml.safe_dump(data))
    result = cli(workdir, "run", "spec.yaml", *storage_args(workdir))
    assert result.returncode == 2
    assert result.stderr == (
        "tunewise: space.momentum.high: must be greater than low (0.1 <= 0.5)\n"
    )
    assert_nothing_ran(workdir)


def test_grid_refusal_says_why(workdir: Path) -> None:
    data = base_spec()
    data.update(
        strategy="grid",
        space={
            "a": {"type": "int", "low": 0, "high": 999},
            "b": {"type": "int", "low": 0, "high": 999},
        },
    )
    (workdir / "spec.yaml").write_text(yaml.safe_dump(data))
    result = cli(workdir, "run", "spec.yaml", *storage_args(workdir))
    assert_refused(result, "space")
    assert "1,000,000" in result.stderr and "100,000" in result.stderr
    assert "grid" in result.stderr
    assert_nothing_ran(workdir)


RAW_SPECS = [
    pytest.param(
        "spec.yaml",
        "study: v\nobjective: {metric: score, direction: maximize}\nspace:\n"
        "  momentum: {type: float, low: 0.5, high: 0.9}\n"
        "  momentum: {type: float, low: 0.1, high: 0.2}\n"
        "trial: {python: 'mytrain:train'}\nlimits: {max_trials: 2}\n",
        "space.momentum",
        id="duplicate-name-yaml",
    ),
    pytest.param("spec.yaml", "study: v\nspace: [unclosed\n", "spec.yaml", id="invalid-yaml"),
    pytest.param("spec.yaml", "", "spec.yaml", id="empty-file"),
    pytest.param("spec.yaml", "- study: v\n", "spec.yaml", id="yaml-list"),
    pytest.param(
        "spec.json",
        '{"study": "v", "objective": {"metric": "score", "direction": "maximize"}, '
        '"space": {"momentum": '
        '{"type": "float", "low": 0.5, "high": 0.9}, "momentum": {"type": "float", "low": 0.1, '
        '"high": 0.2}}, "trial": {"python": "mytrain:train"}, "limits": {"max_trials": 2}}',
        "space.momentum",
        id="duplicate-name-json",
    ),
    pytest.param("spec.json", '{"study": "v",}', "spec.json", id="invalid-json"),
    pytest.param("spec.json", "study: v\n", "spec.json", id="yaml-in-a-json-file"),
]


@pytest.mark.parametrize(("name", "text", "field"), RAW_SPECS)
def test_unreadable_spec_text_is_refused(workdir: Path, name: str, text: str, field: str) -> None:
    (workdir / name).write_text(text)
    result = cli(workdir, "run", name, *storage_args(workdir))
    assert_refused(result, field)
    assert_nothing_ran(workdir)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"space.momentum.high": 0.4}, "space.momentum.high"),
        ({"space.momentum.colour": "red"}, "space.momentum.colour"),
        ({"strategy": "nope"}, "strategy"),
        ({"trial.timeout": "5 minutes"}, "trial.timeout"),
    ],
)
def test_json_spec_errors_name_the_field(
    workdir: Path, changes: dict[str, Any], field: str
) -> None:
    data = base_spec()
    for dotted, value in changes.items():
        edit(data, dotted, value)
    (workdir / "spec.json").write_text(json.dumps(data))
    result = cli(workdir, "run", "spec.json", *storage_args(workdir))
    assert_refused(result, field)
    assert_nothing_ran(workdir)


def test_spec_file_that_does_not_exist(workdir: Path) -> None:
    result = cli(workdir, "run", "nosuch.yaml", *storage_args(workdir))
    assert_refused(result, "nosuch.yaml")
    assert "cannot be read" in result.stderr
    assert_nothing_ran(workdir)


def test_spec_path_that_is_a_folder(workdir: Path) -> None:
    (workdir / "specs").mkdir()
    result = cli(workdir, "run", "specs", *storage_args(workdir))
    assert_refused(result, "specs")
    assert_nothing_ran(workdir)


def test_spec_file_that_is_not_utf8(workdir: Path) -> None:
    (workdir / "spec.yaml").write_bytes(b"study: v\xff\xfe\n")
    result = cli(workdir, "run", "spec.yaml", *storage_args(workdir))
    assert_refused(result, "spec.yaml")
    assert_nothing_ran(workdir)


@pytest.mark.parametrize(
    "args",
    [
        ["best", "nosuch"],
        ["best", "nosuch", "--format", "json"],
        ["trials", "nosuch"],
        ["status", "nosuch"],
        ["export", "nosuch", "--format", "csv", "-o", "out.csv"],
    ],
    ids=["best", "best-json", "trials", "status", "export"],
)
def test_unknown_study_is_a_usage_error(workdir: Path, args: list[str]) -> None:
    open_store(f"sqlite:///{workdir / 't.db'}").close()  # a store, without that study
    result = cli(workdir, *args, *storage_args(workdir))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tunewise: ")
    assert "'nosuch'" in lines[0]
    assert result.stdout == ""
    assert not (workdir / "out.csv").exists()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["run"],
        ["run", "spec.yaml", "--max-trials", "many"],
        ["trials", "s", "--format", "xml"],
        ["export", "s", "--format", "csv"],
    ],
    ids=[
        "no-command",
        "unknown-command",
        "run-without-spec",
        "non-integer-flag",
        "bad-format",
        "export-without-output",
    ],
)
def test_bad_arguments_exit_2(workdir: Path, args: list[str]) -> None:
    result = cli(workdir, *args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "usage: tunewise" in result.stderr
    assert_nothing_ran(workdir)
