"""What went wrong in a study with no result: failure kinds with counts and the last reason.

Shared by the faces (``study.optimize`` raises it, ``tunewise run``/``resume`` print it and
exit 1), so that a study whose every trial failed is never reported as a success.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from tunewise.errors import NoTrialCompleted
from tunewise.trial import Trial, TrialState


def has_result(trials: Sequence[Trial]) -> bool:
    """Whether some trial gave a result: completed, or stopped early with a value."""
    return any(
        t.state == TrialState.COMPLETED or (t.state == TrialState.STOPPED and t.value is not None)
        for t in trials
    )


def no_result_error(study: str, trials: Sequence[Trial]) -> NoTrialCompleted | None:
    """The error for a study whose trials failed without one result, or ``None`` when some
    trial has a result or none failed (a study that ran nothing yet is not a failure)."""
    failed = [t for t in trials if t.state == TrialState.FAILED]
    if not failed or has_result(trials):
        return None
    counts = Counter(str(t.failure_kind or "unknown") for t in failed)
    kinds = ", ".join(f"{kind} {count}" for kind, count in counts.most_common())
    last = max(failed, key=lambda t: (t.finished_at is not None, t.finished_at, t.number))
    error = (last.error or "no reason recorded").strip()
    message = (
        f"study {study!r} has no completed trial: {len(failed)} failed ({kinds}); the last "
        f"failure (trial {last.number}, {last.failure_kind}): {error}"
    )
    return NoTrialCompleted(message, dict(counts), last.error)
