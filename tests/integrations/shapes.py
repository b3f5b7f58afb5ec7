"""Documents checked against AWS's own model of the SageMaker API (botocore's service model,
what AWS's SDKs parse), rather than a hand-written copy of it.

:func:`errors` runs botocore's ``ParamValidator`` (required members, unknown members, types,
minimum lengths and values) on any shape, input or output, and adds what it leaves to the
service: maximum lengths, sizes and values, enumerations and patterns.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape
from botocore.session import get_session
from botocore.validate import ParamValidator


@functools.cache
def sagemaker() -> ServiceModel:
    model: ServiceModel = get_session().get_service_model("sagemaker")
    return model


def output_shape(operation: str) -> Shape:
    shape = sagemaker().operation_model(operation).output_shape
    assert shape is not None
    return shape


def input_shape(operation: str) -> Shape:
    shape = sagemaker().operation_model(operation).input_shape
    assert shape is not None
    return shape


def errors(document: Any, shape: Shape) -> list[str]:
    """Every place ``document`` breaks ``shape`` (empty: it conforms)."""
    report = ParamValidator().validate(document, shape)
    found = [report.generate_report()] if report.has_errors() else []
    _limits(document, shape, "$", found)
    return found


@functools.cache
def _pattern(text: str) -> re.Pattern[str] | None:
    try:
        return re.compile(text.removeprefix("^").removesuffix("$"), re.S)
    except re.error:  # a Java-only construct: left to ParamValidator's checks
        return None


def _limits(value: Any, shape: Shape, path: str, found: list[str]) -> None:
    meta = shape.metadata
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for key, item in value.items():
            if key in shape.members:
                _limits(item, shape.members[key], f"{path}.{key}", found)
        return
    if isinstance(shape, ListShape) and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{path}: {len(value)} items, over {meta['max']}")
        for i, item in enumerate(value):
            _limits(item, shape.member, f"{path}[{i}]", found)
        return
    if isinstance(shape, MapShape) and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{path}: {len(value)} entries, over {meta['max']}")
        for key, item in value.items():
            _limits(key, shape.key, f"{path}.{key}", found)
            _limits(item, shape.value, f"{path}.{key}", found)
        return
    if shape.type_name == "string" and isinstance(value, str):
        if "max" in meta and len(value) > meta["max"]:
            found.append(f"{path}: {len(value)} characters, over {meta['max']}")
        if shape.enum and value not in shape.enum:
            found.append(f"{path}: {value!r} is not one of {shape.enum}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(value):
            found.append(f"{path}: {value!r} does not match {meta['pattern']}")
    numeric = shape.type_name in ("integer", "long", "float", "double")
    if numeric and isinstance(value, int | float) and "max" in meta and value > meta["max"]:
        found.append(f"{path}: {value} is over {meta['max']}")
