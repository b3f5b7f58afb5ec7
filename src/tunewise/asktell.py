"""Ask and tell from another process or language: what ``tunewise ask|tell`` and the REST
routes ``POST /api/studies/{name}/ask`` and ``.../trials/{number}/tell`` share.

A caller of another language holds no heartbeat thread: its trial is leased until a deadline
given at ask (default the study's trial timeout, else an hour). A caller that never tells
loses the trial at that deadline — requeued or failed by the study's retry policy — so it
never blocks the study. ``tell`` needs no lease token: the trial's number is the handle, as in
Optuna's ``optuna tell``; a trial already finished (or lost and requeued) is refused in one
sentence that says what happened.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunewise.errors import IllegalTransition, StoreError, TunewiseError
from tunewise.trial import FailureKind, Trial, TrialState

if TYPE_CHECKING:
    from tunewise.study import Study

__all__ = [
    "AskTellError",
    "TrialNotRunning",
    "UnknownTrial",
    "ask_trial",
    "default_lease",
    "tell_trial",
]

#: The lease of an asked trial when neither the caller nor the study's trial timeout gives one.
DEFAULT_LEASE_SECONDS = 3600.0
#: Tell states a caller may give.
TELL_STATES = ("completed", "failed", "stopped")


class AskTellError(TunewiseError, ValueError):
    """A tell (or ask) that cannot be done: ``str()`` is one sentence to show as is."""


class UnknownTrial(AskTellError):
    """The study has no trial of that number."""


class TrialNotRunning(AskTellError):
    """The trial is finished, or was lost and queued again: a tell comes too late."""


def default_lease(study: Study) -> float:
    """The study's trial timeout (``trial.timeout`` of its spec), else an hour."""
    trial = study.spec.trial
    if trial is not None and trial.timeout is not None:
        return float(trial.timeout)
    return DEFAULT_LEASE_SECONDS


def ask_trial(study: Study, lease: float | None = None) -> dict[str, Any]:
    """A new trial of ``study`` leased for ``lease`` seconds: ``{"study", "trial", "attempt",
    "params", "lease_seconds", "lease_deadline"}`` (params with the static values merged in, as a
    training function receives them).

    Raises:
        AskTellError: ``lease`` is not a positive number, or the strategy has nothing left.
    """
    seconds = default_lease(study) if lease is None else lease
    if isinstance(seconds, bool) or not math.isfinite(seconds) or seconds <= 0:
        raise AskTellError(f"lease must be a positive number of seconds, got {lease!r}")
    try:
        trial = study.ask(lease=seconds)
    except ValueError as exc:  # e.g. a grid with no configuration left
        raise AskTellError(str(exc)) from None
    deadline = trial.lease_deadline
    return {
        "study": study.name,
        "trial": trial.number,
        "attempt": trial.attempt,
        "params": study.space.with_static(trial.params),
        "lease_seconds": seconds,
        "lease_deadline": deadline.isoformat() if deadline is not None else None,
    }


def tell_trial(
    study: Study,
    number: int,
    value: float | None = None,
    metrics: Mapping[str, Any] | None = None,
    state: str = "completed",
    error: str | None = None,
) -> Trial:
    """Finish trial ``number`` of ``study``: with ``value`` (the objective) or ``metrics`` (a
    dict holding it) when completed or stopped; with neither when failed.

    Raises:
        UnknownTrial: the study has no such trial.
        TrialNotRunning: the trial is finished, or was lost and queued again.
        AskTellError: the state is not one of completed/failed/stopped, or the result is
            missing or not a number.
    """
    if state not in TELL_STATES:
        raise AskTellError(f"state must be one of {', '.join(TELL_STATES)}, got {state!r}")
    trial = _running_trial(study, number)
    if state == "failed":
        if value is not None or metrics:
            raise AskTellError("a failed trial has no result: give no value and no metrics")
        return _finish(study, trial, TrialState.FAILED, error=error or "reported failed by tell")
    if value is not None and metrics is not None:
        raise AskTellError("give the value or the metrics, not both")
    if value is None and metrics is None and state == "completed":
        raise AskTellError("a completed trial needs its value (a number) or metrics (JSON)")
    from tunewise.runners.python import interpret_result

    result: Any = value if metrics is None else dict(metrics)
    if isinstance(result, Mapping) and study.objective.metric not in result:
        raise AskTellError(
            f"the metrics {sorted(map(str, result))} do not hold the objective "
            f"{study.objective.metric!r}"
        )
    reported: dict[str, float] = {}
    for report in study.store.get_reports(trial.study_id, number):
        reported.update(report.values)
    outcome = interpret_result(result, study.objective.metric, reported, stopped=state == "stopped")
    from tunewise.front import check_outcome

    # Several objectives or constraints: every one's metric must be there too.
    outcome = check_outcome(outcome, study.spec.objectives, study.spec.constraints)
    if outcome.state == TrialState.FAILED:  # not a number, NaN or inf: told, nothing stored
        raise AskTellError(f"trial {number} was not finished: {outcome.error}")
    return _finish(study, trial, outcome.state, value=outcome.value, metrics=outcome.metrics)


def _running_trial(study: Study, number: int) -> Trial:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise AskTellError(f"the trial number must be a non-negative integer, got {number!r}")
    record = study.store.get_study(study.name)
    try:
        trial = study.store.get_trial(record.id, number)
    except StoreError:
        raise UnknownTrial(f"study {study.name!r} has no trial {number}") from None
    if trial.state == TrialState.RUNNING:
        return trial
    if trial.state == TrialState.QUEUED:
        raise TrialNotRunning(
            f"trial {number} is queued, not running: its lease ran out before the tell and it "
            "waits to be asked again (ask with a longer --lease)"
        )
    why = f" ({trial.failure_kind})" if trial.failure_kind is not None else ""
    if trial.failure_kind == FailureKind.LOST:
        why = " (its lease ran out before the tell; ask with a longer --lease)"
    raise TrialNotRunning(f"trial {number} is already finished: {trial.state}{why}")


def _finish(study: Study, trial: Trial, state: TrialState, **fields: Any) -> Trial:
    kind = FailureKind.USER_ERROR if state == TrialState.FAILED else None
    try:
        return study.store.finish_trial(
            trial.study_id, trial.number, state, failure_kind=kind, **fields
        )
    except IllegalTransition:  # finished by someone else between the read and the write
        raise TrialNotRunning(f"trial {trial.number} is already finished") from None
