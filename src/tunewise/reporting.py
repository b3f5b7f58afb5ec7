"""``tunewise.report``: the one way a trial reports metrics, from Python or from any command.

A training script calls ``tunewise.report(step=3, loss=0.41, accuracy=0.91)``. Inside a Python
trial run by tunewise the values go straight to the study; anywhere else they are printed as one
tagged JSON line on stdout and flushed, which the command runner reads live::

    @tunewise {"step": 3, "loss": 0.41, "accuracy": 0.91}

Scripts in other languages print the same line themselves. This module imports nothing beyond
the standard library, so ``import tunewise`` stays cheap in a training script.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any

TAG = "@tunewise "

#: Set by the Python runner inside a trial's process: receives (step, metrics).
_sink: Callable[[int | None, Mapping[str, float]], None] | None = None
#: Set beside ``_sink``: whether the study wants the running trial to end (the framework
#: callbacks in ``tunewise.integrations`` ask it when no trial was passed to them).
_stop_check: Callable[[], bool] | None = None


def report(step: int | None = None, **metrics: float) -> None:
    """Report metric values of the current trial at ``step`` (an epoch, an iteration).

    The objective's last reported value is the trial's result unless the training function
    returns one. Values must be numbers; ``step`` a non-negative integer or omitted.
    """
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        raise ValueError(f"step must be a non-negative integer, got {step!r}")
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report(step=1, loss=0.3)")
    values = {name: _as_float(name, v) for name, v in metrics.items()}
    if _sink is not None:
        _sink(step, values)
        return
    payload: dict[str, Any] = {} if step is None else {"step": step}
    payload.update(values)
    sys.stdout.write(TAG + json.dumps(payload) + "\n")
    sys.stdout.flush()


def parse_report_line(line: str) -> tuple[int | None, dict[str, float]] | None:
    """Read a tagged line back: ``(step, metrics)``, or ``None`` if the line is not one.

    Malformed payloads after the tag are ignored (``None``) rather than failing the trial:
    a stray print must not kill a training run.
    """
    index = line.find(TAG)
    if index < 0:
        return None
    try:
        payload = json.loads(line[index + len(TAG) :])
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    step = payload.pop("step", None)
    if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
        return None
    values: dict[str, float] = {}
    for name, value in payload.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        values[str(name)] = float(value)
    return (step, values) if values else None


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"metric {name!r} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"metric {name!r} must be a number, got {value!r}") from None
    if math.isnan(result):
        return result
    return result
