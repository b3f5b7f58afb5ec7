"""Studies as a whole and trials from outside: delete, copy, recorded results, user
attributes, and the argument checks they share with :mod:`tunewise.study`.

Every check here is at the boundary of the Python API: one sentence that names the argument
(or the hyperparameter) and what to give instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunewise.space import Space
from tunewise.trial import FailureKind, Trial, TrialState

if TYPE_CHECKING:
    from tunewise.spec import StudySpec
    from tunewise.store.base import Store
    from tunewise.study import Study


# Argument checks --------------------------------------------------------------------------
def checked_params(space: Space, params: Any, where: str) -> dict[str, Any]:
    """``params`` validated against ``space`` (normalised), or a SpecError naming the
    parameter (``enqueue_trial.params.lr: ...``)."""
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{where}: params must be a dict of hyperparameter values such as "
            f"{{'{space.names[0] if space.names else 'lr'}': ...}}, got {params!r}"
        )
    return space.validate(params, path=f"{where}.params")


def user_attr(key: Any, value: Any) -> tuple[str, Any]:
    """A user attribute, checked: a string key and a JSON value."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"user attribute keys must be non-empty strings, got {key!r}")
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"user attribute {key!r} must be a JSON value (number, string, bool, None, list, "
            f"dict), got {type(value).__name__}: {exc}"
        ) from None
    return key, value


def user_attrs(attrs: Any) -> dict[str, Any]:
    if attrs is None:
        return {}
    if not isinstance(attrs, Mapping):
        raise TypeError(f"user_attrs must be a dict of JSON values, got {attrs!r}")
    return dict(user_attr(k, v) for k, v in attrs.items())


def trial_number(number: Any) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise TypeError(f"a trial number must be an integer of 0 or more, got {number!r}")
    return number


def finished_state(state: Any) -> TrialState:
    try:
        target = TrialState(str(state).lower())
    except ValueError:
        target = None
    if target is None or not target.is_finished:
        raise ValueError(f"state must be 'completed', 'stopped' or 'failed', got {state!r}")
    return target


def study_name(store: Store, study_id: int) -> str:
    """The name of the study with ``study_id`` in ``store`` (for messages)."""
    for record in store.list_studies():
        if record.id == study_id:
            return record.name
    return f"with id {study_id}"


# Results obtained elsewhere ---------------------------------------------------------------
def record_result(
    study: Study,
    params: Mapping[str, Any],
    value: Any,
    *,
    metrics: Mapping[str, Any] | None,
    state: TrialState | str,
    error: str | None,
    user_attrs: Mapping[str, Any],
) -> Trial:
    """``study.add_trial``: the result checked as a trial's own would be, then stored."""
    from tunewise.runners.python import interpret_result

    target = finished_state(state)
    if study.spec.define_by_run:  # the names that trial asked: seen ones checked
        from tunewise.define_by_run import checked_fixed

        checked = checked_fixed(study.space, params, "add_trial")
    else:
        checked = checked_params(study.space, params, "add_trial")
    if metrics is not None and not isinstance(metrics, Mapping):
        raise TypeError(f"add_trial: metrics must be a dict of numbers, got {metrics!r}")
    if target is TrialState.FAILED:
        if value is not None:
            raise ValueError("add_trial: a failed trial has no value; give error= instead")
        return study.store.record_trial(
            study._id, checked, TrialState.FAILED,
            metrics=dict(metrics or {}), failure_kind=FailureKind.USER_ERROR,
            error=error or "recorded as failed by add_trial()", user_attrs=user_attrs,
        )  # fmt: skip
    if value is not None and isinstance(value, Mapping):
        raise TypeError("add_trial: value must be a number; give a dict of metrics as metrics=")
    result: Any = dict(metrics or {})
    if value is not None:
        result[study.objective.metric] = value
    outcome = interpret_result(result or None, study.objective.metric, {})
    from tunewise.front import check_outcome

    outcome = check_outcome(outcome, study.spec.objectives, study.spec.constraints)
    if outcome.state is TrialState.FAILED:
        reason = (outcome.error or "").replace("the training function", "add_trial")
        raise ValueError(f"add_trial: {reason}; give value= (a finite number) or metrics=")
    assert outcome.value is not None and math.isfinite(outcome.value)
    return study.store.record_trial(
        study._id, checked, target, value=outcome.value, metrics=outcome.metrics,
        error=error, user_attrs=user_attrs,
    )  # fmt: skip


def enqueue_new(store: Store, study_id: int, spec: StudySpec) -> int:
    """Queue the configurations of ``spec.enqueue`` that no trial of the study has had yet.

    The rule for a study continued with an ``enqueue`` list (a spec run again, or
    ``create_study(..., enqueue=[...])`` on a stored study): a configuration is run once. Its
    trial may be queued, running or finished in any state; running the same spec again adds
    nothing, and a configuration added to the list is queued. Returns how many were queued.
    """
    if not spec.enqueue:
        return 0
    seen = [dict(t.params) for t in store.get_trials(study_id)]
    added = 0
    for params in spec.enqueue:
        if dict(params) not in seen:
            store.add_trial(study_id, params)
            seen.append(dict(params))
            added += 1
    return added


# Whole studies ------------------------------------------------------------------------------
def delete_study(study_name: str, *, storage: str | None = None) -> None:
    """Remove a study with all its trials, attempts, reports and user attributes (Optuna's
    ``delete_study``). Trial folders on disk are left where they are.

    Raises:
        StudyNotFound: no study of that name in ``storage``.
    """
    _check_name(study_name, "study_name")
    store = _existing(storage, "storage")
    try:
        store.delete_study(store.get_study(study_name).id)
    finally:
        store.close()


def copy_study(
    *,
    from_study_name: str,
    from_storage: str,
    to_storage: str,
    to_study_name: str | None = None,
) -> None:
    """Copy a study to another storage (SQLite <-> PostgreSQL, or the same one under
    ``to_study_name``): its definition and state, every trial with all its attempts, reports
    and user attributes, exactly (NaN, infinities, times). The copy gets its own uuid.

    Raises:
        StudyNotFound: no such study in ``from_storage``.
        StudyExists: the target name is taken in ``to_storage`` (nothing is written).
    """
    from tunewise.study import _open

    _check_name(from_study_name, "from_study_name")
    target_name = from_study_name if to_study_name is None else to_study_name
    _check_name(target_name, "to_study_name")
    source = _existing(from_storage, "from_storage")
    try:
        rows = source.export_study(from_study_name)
    finally:
        source.close()
    target = _open(to_storage)
    try:
        target.import_study(rows, target_name)
    finally:
        target.close()


def _existing(url: Any, argument: str) -> Store:
    """The store at ``url``, which must exist: deleting from or copying out of a mistyped
    SQLite path must not leave an empty database behind."""
    from tunewise.store import open_store

    if not isinstance(url, str):
        raise TypeError(
            f"{argument} must be a database URL such as sqlite:///tunewise.db or "
            f"postgresql://user@host/db, got {url!r}"
        )
    return open_store(url, create=False)


def _check_name(name: Any, argument: str) -> None:
    if not isinstance(name, str) or not name:
        raise TypeError(f"{argument} must be a study name (a non-empty string), got {name!r}")
