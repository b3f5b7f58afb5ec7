"""A small JSON Schema checker for the keywords ``describe_response.schema.json`` uses.

``jsonschema`` is not a dependency of the project; this covers type, enum, required,
properties, additionalProperties, items, min/maxItems, min/maxLength, maxProperties, pattern,
minimum, maximum, ``$ref`` to ``#/definitions/...`` and the ``date-time`` format (RFC 3339:
an ISO 8601 time with its offset). When ``jsonschema`` is installed it checks the document too.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).parent / "data" / "describe_response.schema.json"
TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


def load_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def errors(document: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every place ``document`` breaks the schema, as ``path: problem`` (empty: it conforms)."""
    root = schema or load_schema()
    found: list[str] = []
    _check(document, root, root, "$", found)
    try:
        import jsonschema
    except ImportError:
        return found
    validator = jsonschema.Draft7Validator(root, format_checker=jsonschema.FormatChecker())
    found += [f"jsonschema: {e.message}" for e in validator.iter_errors(document)]
    return found


def _check(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str, found: list[str]
) -> None:
    if "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        _check(value, node, root, path, found)
        return
    kind = schema.get("type")
    if kind is not None:
        is_bool = isinstance(value, bool)
        if not isinstance(value, TYPES[kind]) or (is_bool and kind != "boolean"):
            found.append(f"{path}: {value!r} is not of type {kind}")
            return
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        _check_object(value, schema, root, path, found)
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            found.append(f"{path}: {len(value)} items is outside the allowed count")
        for i, item in enumerate(value):
            if "items" in schema:
                _check(item, schema["items"], root, f"{path}[{i}]", found)
    if isinstance(value, str):
        if not schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value)):
            found.append(f"{path}: {value!r} has a length outside the allowed range")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not _is_date_time(value):
            found.append(f"{path}: {value!r} is not an RFC 3339 date-time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{path}: {value} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{path}: {value} is above {schema['maximum']}")


def _check_object(
    value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], path: str, found: list[str]
) -> None:
    for key in schema.get("required", []):
        if key not in value:
            found.append(f"{path}: {key} is required")
    if len(value) > schema.get("maxProperties", len(value)):
        found.append(f"{path}: more than {schema['maxProperties']} properties")
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            _check(item, properties[key], root, f"{path}.{key}", found)
        elif extra is False:
            found.append(f"{path}: {key} is not a documented field")
        elif isinstance(extra, dict):
            _check(item, extra, root, f"{path}.{key}", found)


def _is_date_time(text: str) -> bool:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return False
    return "T" in text and moment.tzinfo is not None
