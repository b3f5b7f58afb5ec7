"""When a study ends, and why: decisions as data (``Completion(reason, evidence)``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Completion:
    """The study should end: ``reason`` is a short code, ``message`` the sentence shown."""

    reason: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


def check_limits(
    *,
    started: int,
    max_trials: int | None,
    elapsed: float,
    max_runtime: float | None,
    consecutive_failures: int,
    max_consecutive_failures: int,
    last_error: str | None = None,
) -> Completion | None:
    """Whether a limit ends the study now.

    ``started`` counts every trial of the study that has begun (finished or running), so a
    resumed study ends with exactly ``max_trials`` trials.
    """
    if consecutive_failures >= max_consecutive_failures:
        quoted = (last_error or "no error text").strip().splitlines()
        last_line = quoted[-1] if quoted else "no error text"
        return Completion(
            "too_many_failures",
            f"{consecutive_failures} consecutive trials failed; the last error was: {last_line}",
            {"consecutive_failures": consecutive_failures, "last_error": last_error},
        )
    if max_runtime is not None and elapsed >= max_runtime:
        return Completion(
            "max_runtime",
            f"reached max_runtime ({max_runtime:g}s)",
            {"elapsed_s": round(elapsed, 3), "max_runtime_s": max_runtime},
        )
    if max_trials is not None and started >= max_trials:
        return Completion(
            "max_trials",
            f"reached max_trials ({max_trials})",
            {"trials": started, "max_trials": max_trials},
        )
    return None
