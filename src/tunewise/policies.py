"""Policies of a study: limits, retries, leases — validated value types of the spec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tunewise.errors import SpecError
from tunewise.validation import check_keys, parse_duration, positive_int

DEFAULT_MAX_CONSECUTIVE_FAILURES = 10


@dataclass(frozen=True)
class Limits:
    """When the study ends and how much runs at once."""

    max_trials: int | None = None
    max_parallel: int = 1
    max_runtime: float | None = None  # seconds of study wall clock
    max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_trials": self.max_trials,
            "max_parallel": self.max_parallel,
            "max_runtime": self.max_runtime,
            "max_consecutive_failures": self.max_consecutive_failures,
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "limits") -> Limits:
        keys = ("max_trials", "max_parallel", "max_runtime", "max_consecutive_failures")
        data = check_keys(data or {}, path, keys)
        max_trials = data.get("max_trials")
        if max_trials is not None:
            max_trials = positive_int(max_trials, f"{path}.max_trials")
        max_runtime = data.get("max_runtime")
        if max_runtime is not None:
            max_runtime = parse_duration(max_runtime, f"{path}.max_runtime")
        return cls(
            max_trials=max_trials,
            max_parallel=positive_int(data.get("max_parallel", 1), f"{path}.max_parallel"),
            max_runtime=max_runtime,
            max_consecutive_failures=positive_int(
                data.get("max_consecutive_failures", DEFAULT_MAX_CONSECUTIVE_FAILURES),
                f"{path}.max_consecutive_failures",
            ),
        )


RETRYABLE_KINDS = (
    "crashed",
    "timeout",
    "lost",
    "user_error",
    "metric_missing",
    "metric_invalid",
    "infrastructure",
)


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures run the trial again, as a new attempt of the same trial, and how often.

    ``max_attempts`` counts every attempt (1: never retry). By default a trial whose process
    crashed or vanished (lost lease) gets one more attempt; an exception in the training code
    is the user's and is not retried unless ``on`` says so.
    """

    max_attempts: int = 2
    on: frozenset[str] = frozenset({"crashed", "lost"})

    def allows(self, kind: str | None, attempt: int) -> bool:
        """Whether a failure of ``kind`` at ``attempt`` is retried."""
        return kind is not None and str(kind) in self.on and attempt < self.max_attempts

    def to_dict(self) -> dict[str, Any]:
        return {"max_attempts": self.max_attempts, "on": sorted(self.on)}

    @classmethod
    def from_dict(cls, data: Any, path: str = "retries") -> RetryPolicy:
        data = check_keys(data or {}, path, ("max_attempts", "on"))
        on = data.get("on", sorted(cls.on))
        if isinstance(on, str) or not isinstance(on, Sequence):
            raise SpecError(f"{path}.on", "must be a list such as [crashed, timeout, lost]")
        for i, kind in enumerate(on):
            if kind not in RETRYABLE_KINDS:
                raise SpecError(
                    f"{path}.on[{i}]",
                    f"{kind!r} is not a failure kind; use {', '.join(RETRYABLE_KINDS)}",
                )
        return cls(
            positive_int(data.get("max_attempts", cls.max_attempts), f"{path}.max_attempts"),
            frozenset(on),
        )


@dataclass(frozen=True)
class LeasePolicy:
    """How a running trial's owner proves it is alive: a heartbeat every ``heartbeat`` seconds;
    the lease ends ``grace`` seconds after the last one, and the trial is then lost."""

    heartbeat: float = 10.0
    grace: float = 30.0

    def to_dict(self) -> dict[str, float]:
        return {"heartbeat": self.heartbeat, "grace": self.grace}

    @classmethod
    def from_dict(cls, data: Any, path: str = "lease") -> LeasePolicy:
        data = check_keys(data or {}, path, ("heartbeat", "grace"))
        heartbeat = parse_duration(data.get("heartbeat", cls.heartbeat), f"{path}.heartbeat")
        grace = parse_duration(data.get("grace", cls.grace), f"{path}.grace")
        if grace <= heartbeat:
            raise SpecError(f"{path}.grace", f"must be longer than the heartbeat ({heartbeat:g}s)")
        return cls(heartbeat, grace)
