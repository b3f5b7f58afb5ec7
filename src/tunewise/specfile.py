"""Reading a spec file's text: YAML or JSON, refusing keys given twice."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tunewise.errors import SpecError


def load_spec_data(text: str, source: str) -> Mapping[str, Any]:
    """The mapping a spec file holds (YAML, or JSON when ``source`` ends in ``.json``).

    A key given twice in one mapping is an error (YAML and JSON parsers silently keep the last
    one, which would hide a typo such as two hyperparameters of the same name).
    """
    data = _load_json(text, source) if source.endswith(".json") else _load_yaml(text, source)
    if not isinstance(data, Mapping):
        raise SpecError(source, "must hold a mapping with study, objective, space, trial, ...")
    return data


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _load_yaml(text: str, source: str) -> Any:
    import yaml

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        _refuse_yaml_duplicates(root, "", set())
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(source, f"is not valid YAML ({exc})".replace("\n", " ")) from None


def _refuse_yaml_duplicates(node: Any, path: str, visited: set[int]) -> None:
    """Walk the node tree once per node (aliases are shared nodes, possibly recursive)."""
    import yaml

    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in seen:
                line = key_node.start_mark.line + 1
                raise SpecError(_join(path, key), f"is defined twice (line {line}); keep one")
            seen.add(key)
            _refuse_yaml_duplicates(value_node, _join(path, key), visited)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _refuse_yaml_duplicates(item, f"{path}[{i}]", visited)


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as read, before duplicates are checked."""


def _load_json(text: str, source: str) -> Any:
    try:
        raw = json.loads(text, object_pairs_hook=_Pairs)
    except ValueError as exc:
        raise SpecError(source, f"is not valid JSON ({exc})") from None
    return _json_objects(raw, "")


def _json_objects(value: Any, path: str) -> Any:
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            if key in out:
                raise SpecError(_join(path, key), "is defined twice; keep one")
            out[key] = _json_objects(item, _join(path, key))
        return out
    if isinstance(value, list):
        return [_json_objects(item, f"{path}[{i}]") for i, item in enumerate(value)]
    return value
