"""The spec reference, read from the spec's JSON Schema (:mod:`tunewise.schema`): every key
with its type, default, example and the error a wrong value really gets.

The error is not written by hand: :func:`error_for` puts the key's ``x-invalid`` value into a
small valid spec and asks :meth:`tunewise.spec.StudySpec.from_dict` what it says, so the
reference quotes the message a user will see. The documentation build renders
:func:`reference_markdown`; the tests check every row through the same functions.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tunewise.errors import SpecError
from tunewise.schema import schema

__all__ = ["KeyDoc", "base_spec", "error_for", "keys", "reference_markdown"]

#: The hyperparameter each kind's keys are shown on, in :func:`base_spec`.
PARAM_NAMES = {"float": "lr", "int": "layers", "categorical": "solver"}
#: Top-level keys whose subsections are shown under their own heading.
_NO_DESCENT = ("static", "enqueue")


@dataclass(frozen=True)
class KeyDoc:
    """One key of the spec: its dotted path (``space.NAME.low``), the hyperparameter kind it
    belongs to (for ``space`` keys) and its schema."""

    path: str
    schema: dict[str, Any]
    kind: str | None = None

    @property
    def top(self) -> str:
        return self.path.split(".")[0].split("[")[0]


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The mapping section a key holds (through $ref, anyOf and list items), if any."""
    if "$ref" in node:
        return _resolve(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    if "properties" in node and node.get("type") == "object":
        return node
    if node.get("type") == "array" and isinstance(node.get("items"), dict):
        return _resolve(node["items"], defs)
    for option in node.get("anyOf", []):
        found = _resolve(option, defs)
        if found is not None:
            return found
    return None


def keys() -> list[KeyDoc]:
    """Every key of the spec, parents before children, in the schema's order."""
    full = schema()
    defs = full["$defs"]
    out: list[KeyDoc] = []

    def walk(prefix: str, section: dict[str, Any], kind: str | None) -> Iterator[KeyDoc]:
        for name, node in section["properties"].items():
            if kind is not None and name == "type":
                continue
            path = f"{prefix}{name}"
            if name == "space" and not prefix:
                yield KeyDoc(path, node)
                for param_kind in PARAM_NAMES:
                    yield KeyDoc(f"space.NAME.type: {param_kind}", defs[param_kind], param_kind)
                    yield from walk("space.NAME.", defs[param_kind], param_kind)
                continue
            yield KeyDoc(path, node, kind)
            if name in _NO_DESCENT and not prefix:
                continue
            inner = _resolve(node, defs)
            if inner is not None:
                items = node.get("type") == "array"
                yield from walk(f"{path}[i]." if items else f"{path}.", inner, kind)

    out.extend(walk("", full, None))
    return out


def base_spec(path: str) -> dict[str, Any]:
    """A small valid spec in which the key at ``path`` can be given a value."""
    data: dict[str, Any] = {
        "study": "ref",
        "objective": {"metric": "score", "direction": "maximize"},
        "space": {
            "lr": {"type": "float", "low": 1.0e-4, "high": 0.1, "scale": "linear"},
            "layers": {"type": "int", "low": 1, "high": 4},
            "solver": {"type": "categorical", "values": ["adam", "sgd"]},
        },
        "trial": {"python": "mytrain:train"},
        "limits": {"max_trials": 2},
    }
    if path.startswith("objectives"):
        data["objectives"] = [data.pop("objective"), {"metric": "cost", "direction": "minimize"}]
    if path.startswith("constraints"):
        data["constraints"] = [{"metric": "memory_mb", "max": 512}]
    if path.startswith("trial.command"):
        data["trial"] = {"command": ["python", "t.py"]}
    if path.startswith("trial.metrics"):
        data["trial"] = {
            "command": ["python", "t.py"],
            "metrics": [{"name": "m", "regex": "m=(1)"}],
        }
    if path.startswith("hyperband"):
        data.update(strategy="hyperband", static={"epochs": 9}, hyperband={})
    if path.startswith(("executor.address", "executor.resources_per_trial.cpu")):
        data["executor"] = {"type": "ray"}
    if path.startswith("completion.not_improving"):
        data["completion"] = {"not_improving": {"trials": 5}}
    if path.startswith("warm_start"):
        data["warm_start"] = {"parents": ["old"]}
    if path.startswith("limits.max_cost") or path == "cost.aware":
        data["cost"] = {"per_hour": 3.06}
    if path.startswith("tracking"):
        data["tracking"] = {"wandb": {"mode": "offline"}, "tensorboard": {"log_dir": "tb"}}
    return data


def _set(data: dict[str, Any], path: str, kind: str | None, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        if part == "NAME":
            part = PARAM_NAMES[kind or "float"]
        name, _, index = part.partition("[")
        last = i == len(parts) - 1
        if last and not index:
            node[name] = value
            return
        node = node.setdefault(name, [] if index else {})
        if index:
            node = node[0]


def error_for(doc: KeyDoc, value: Any) -> str | None:
    """The message :meth:`StudySpec.from_dict` gives when ``doc``'s key holds ``value``
    (``None`` when it accepts it)."""
    from tunewise.spec import StudySpec

    data = copy.deepcopy(base_spec(doc.path))
    _set(data, doc.path, doc.kind, value)
    from tunewise.strategies.registry import get_strategy

    try:
        get_strategy(StudySpec.from_dict(data).strategy)
    except SpecError as exc:
        return str(exc)
    return None


def _code(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"`{text}`" if text else '`""`'


def _type_of(node: dict[str, Any]) -> str:
    return str(node.get("x-type") or node.get("type") or "")


def _row(doc: KeyDoc, more: str = "") -> str:
    """One key's table row: path and words, type, default, example, a wrong value's error."""
    node = doc.schema
    default = _code(node["default"]) if "default" in node else ""
    example = _code(node["examples"][0]) if node.get("examples") else ""
    wrong = ""
    if "x-invalid" in node:
        error = error_for(doc, node["x-invalid"])
        wrong = f"{_code(node['x-invalid'])}: {error}" if error else ""
    description = str(node.get("description", ""))
    cells = [f"`{doc.path}`<br>{description}", _type_of(node) + more, default, example, wrong]
    return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"


def reference_markdown() -> str:
    """The spec reference page: the top-level keys, then one table per section."""
    lines = [
        "# Spec reference",
        "",
        "<!-- generated from src/tunewise/schema.py by docs/gen/hooks.py: edit the schema -->",
        "",
        "Every key a spec file may hold, generated from the spec's JSON Schema "
        "(`tunewise schema` prints it). The error column quotes what tunewise really says "
        "when the key holds the wrong value shown (the message names the field to fix). "
        "Durations are seconds (`90`) or text such as `90s`, `5m`, `2h`, `1h30m`, `1.5d`.",
        "",
        "To have VS Code (the YAML extension) validate and complete your spec files, save the "
        "schema beside them and name it on the first line:",
        "",
        "```bash",
        "tunewise schema -o spec.schema.json",
        "```",
        "",
        "```text",
        "# yaml-language-server: $schema=./spec.schema.json",
        "```",
        "",
        "Some rules between fields are checked when the spec loads, not by the schema: `high` "
        "above `low`, a `when:` naming a categorical parent (no cycles), a command placeholder "
        "naming a hyperparameter, `lease.grace` longer than the heartbeat, a strategy's need for "
        "`limits.max_trials`, a grid's size, one objective for `hyperband` and early stopping.",
        "",
    ]
    header = [
        "| key | type | default | example | a wrong value and its error |",
        "|---|---|---|---|---|",
    ]
    docs = [d for d in keys() if not d.path.startswith("space.NAME.type")]
    lines += ["## The top level", "", *header]
    parents = {d.top for d in docs if d.path != d.top and d.kind is None}
    for doc in docs:
        if doc.path == doc.top:
            more = f" ([its keys](#{doc.top}))" if doc.top in parents else ""
            lines.append(_row(doc, more))
    lines += [
        "",
        "The hyperparameters' keys: [float](#space-a-float-hyperparameter), "
        "[int](#space-an-int-hyperparameter), "
        "[categorical](#space-a-categorical-hyperparameter).",
    ]
    current = None
    for doc in docs:
        if doc.path == doc.top:
            continue
        article = "an" if doc.kind == "int" else "a"
        section = doc.top if doc.kind is None else f"space: {article} {doc.kind} hyperparameter"
        if section != current:
            current = section
            lines += ["", f"## {section}", ""]
            if doc.kind is not None:
                lines += [f"Each `space.NAME` with `type: {doc.kind}` takes these keys.", ""]
            lines += header
        lines.append(_row(doc))
    return "\n".join(lines) + "\n"
