"""Whether a stored "running" study still has a driver: one answer for every face.

A driver killed with ``kill -9`` (or a reboot, a closed laptop) cannot write that it ended, so
the store keeps saying ``running``. Its trials' leases tell the truth: when every running
trial's lease has expired, or its owner is a dead process of this machine, nobody runs the
study any more. ``tunewise status``, ``Study.state`` and the user guide call that ``interrupted``
(``tunewise resume`` continues it), the same word Ctrl-C stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tunewise.trial import StudyState, Trial, TrialState

__all__ = ["effective_state", "stale_leases"]


def stale_leases(trials: Sequence[Trial], now: datetime | None = None) -> list[Trial]:
    """RUNNING trials whose lease deadline passed, or whose owner is a dead local process:
    nobody is running them any more (the next driver or ``ask()`` requeues them)."""
    from tunewise.tuner import dead_owners

    moment = now or datetime.now(UTC)
    running = [t for t in trials if t.state == TrialState.RUNNING]
    dead = set(dead_owners(t.lease_owner for t in running))
    return [
        t
        for t in running
        if t.lease_owner in dead or (t.lease_deadline is not None and t.lease_deadline < moment)
    ]


def effective_state(stored: StudyState, trials: Sequence[Trial]) -> StudyState:
    """The stored state, except that a running study whose running trials are all stale has
    lost its driver: it is INTERRUPTED (``trials`` may hold the running trials only)."""
    running = [t for t in trials if t.state == TrialState.RUNNING]
    if stored == StudyState.RUNNING and running and len(stale_leases(running)) == len(running):
        return StudyState.INTERRUPTED
    return stored
