"""A Python trial of the Ray cluster tests: ``python: tests.ray._curve:curve``.

It reports ``score = x * step`` for :data:`STEPS` steps and returns early once the study says
stop; with early stopping on, each report waits for the study's decision, so where a trial
stops does not depend on timing.
"""

from __future__ import annotations

import time
from typing import Any

from tunewise.runners.python import TrialContext

STEPS = 3


def curve(params: dict[str, Any], trial: TrialContext) -> float | None:
    for step in range(1, STEPS + 1):
        trial.report(params["x"] * step, step)
        if trial.should_stop():
            return None
        time.sleep(0.1)
    return float(params["x"] * STEPS)
