"""Small validators shared by the spec's value types: durations, key checks, counts.

Each raises :class:`SpecError` naming the field path, so every message a user sees starts with
what to edit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tunewise.errors import SpecError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, field_name: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"2h"``, ``"1h30m"`` or ``"1.5d"``."""
    if isinstance(value, bool):
        raise SpecError(field_name, f"expected a duration such as 90s, 5m or 2h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _DURATION.findall(text)
            if not parts or "".join(n + u for n, u in parts).lower() != text.lower():
                raise SpecError(
                    field_name, f"expected a duration such as 90s, 5m or 2h, got {value!r}"
                ) from None
            seconds = sum(float(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    else:
        raise SpecError(field_name, f"expected a duration such as 90s, 5m or 2h, got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise SpecError(field_name, f"must be a positive, finite duration, got {value!r}")
    return seconds


def check_keys(data: Any, path: str, allowed: Sequence[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise SpecError(path, "must be a mapping")
    for key in data:
        if key not in allowed:
            raise SpecError(
                f"{path}.{key}" if path else str(key),
                f"unknown key; expected one of {', '.join(allowed)}",
            )
    return data


def positive_int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(path, f"must be a positive integer, got {value!r}")
    return value


def check_json_value(value: Any, path: str) -> None:
    """Refuse what cannot be stored as JSON and read back equal: a date, a set, a non-string
    key, NaN or an infinity (never equal to itself, so a study holding one could not be
    continued), and text with a NUL byte (no command line can carry it). Iterative, so a deep
    value fails here with its path rather than in the store."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise SpecError(where, f"must be a finite number, got {item!r}")
        elif isinstance(item, Mapping):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise SpecError(
                        f"{where}.{key}", f"names must be text, got {type(key).__name__} {key!r}"
                    )
                check_text(key, f"{where}.{key}")
                stack.append((sub, f"{where}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
        elif callable(getattr(item, "tolist", None)):  # numpy, which the store writes as JSON
            stack.append((item.tolist(), where))
        elif item is not None and not isinstance(item, bool | int):
            hint = "; quote it to pass it as text" if hasattr(item, "isoformat") else ""
            raise SpecError(
                where,
                f"must be a JSON value (text, number, boolean, list, mapping), "
                f"got the {type(item).__name__} {item!r}{hint}",
            )


def check_text(text: str, path: str) -> None:
    """Refuse text with a NUL byte: an argument, an environment variable or a file name
    cannot hold one, so every trial given it would fail."""
    if "\x00" in text:
        raise SpecError(
            path, f"{text!r} holds a NUL byte (\\x00), which no argument or file name can hold"
        )
