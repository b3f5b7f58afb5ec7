"""Early-stopping rules: pure decisions over learning curves (``continue`` or ``stop``, with the
reason that is stored with the trial and shown to the user).

A rule sees every trial's curve of the objective (step -> value, current attempts only) and
which trials completed; all of it comes from the store, so any process can decide, and a resumed
study decides as the interrupted one would have.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

Curve = Mapping[int, float]


@dataclass(frozen=True)
class Decision:
    stop: bool
    reason: str = ""


CONTINUE = Decision(False)


class StoppingRule(Protocol):
    """Decides, after trial ``number`` reported at ``step``, whether it goes on."""

    def decide(
        self,
        number: int,
        step: int,
        curves: Mapping[int, Curve],
        completed: Collection[int],
    ) -> Decision: ...


def describe(value: float) -> str:
    return f"{value:.6g}"
