"""Warm start: the trials of parent studies, mapped into a child's space.

A parent's trial is mapped in when each of the child's searched hyperparameters has a valid
value in it (ranges may have changed; values now outside them, or missing, leave the trial out,
counted). ``identical`` warm start gives the mapped trials to the strategy as history and lets
them compete for the best; ``transfer`` only runs the parents' best configurations again first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tunewise.errors import SpecError, StudyNotFound
from tunewise.policies import WarmStart
from tunewise.space import Space
from tunewise.store.base import Store
from tunewise.trial import Objective, Trial, TrialState

#: How many of the parents' best configurations a ``transfer`` warm start runs first.
TRANSFER_STARTS = 5


@dataclass(frozen=True)
class ParentTrials:
    """Completed trials of the parents, mapped into the child's space."""

    trials: list[Trial] = field(default_factory=list)
    left_out: int = 0
    names: dict[int, str] = field(default_factory=dict)  # parent study id -> name

    def summary(self) -> str:
        parents = ", ".join(sorted(set(self.names.values())))
        return (
            f"warm start from {parents}: {len(self.trials)} trials mapped in, "
            f"{self.left_out} left out (outside the new space)"
        )


def load_parents(
    warm_start: WarmStart, space: Space, objective: Objective, store: Store
) -> ParentTrials:
    """Read the parents (from ``warm_start.storage`` or ``store``) and map their trials."""
    from tunewise.store import open_store

    source = open_store(warm_start.storage) if warm_start.storage else store
    try:
        mapped: list[Trial] = []
        left_out = 0
        names: dict[int, str] = {}
        for i, name in enumerate(warm_start.parents):
            try:
                record = source.get_study(name)
            except StudyNotFound:
                raise SpecError(
                    f"warm_start.parents[{i}]", f"no study named {name!r} in the parents' storage"
                ) from None
            metric = record.definition.get("objective", {}).get("metric")
            if metric != objective.metric:
                raise SpecError(
                    f"warm_start.parents[{i}]",
                    f"study {name!r} optimises {metric!r}, not {objective.metric!r}",
                )
            names[record.id] = name
            for trial in source.get_trials(record.id, [TrialState.COMPLETED]):
                params = _map(trial.params, space)
                if params is None:
                    left_out += 1
                else:
                    mapped.append(replace(trial, params=params))
        return ParentTrials(mapped, left_out, names)
    finally:
        if source is not store:
            source.close()


def _map(params: Any, space: Space) -> dict[str, Any] | None:
    try:
        # a conditional parameter the parent trial left inactive stays absent; validate
        # refuses a trial whose active parameters are missing
        return space.validate({name: params[name] for name in space.names if name in params})
    except (KeyError, SpecError):
        return None


def starting_points(
    parents: ParentTrials, sign: float, k: int = TRANSFER_STARTS
) -> list[dict[str, Any]]:
    """The ``k`` best distinct configurations of the parents (for a ``transfer`` start)."""
    ranked = sorted(
        (t for t in parents.trials if t.value is not None),
        key=lambda t: -(t.value or 0.0) * sign,
    )
    out: list[dict[str, Any]] = []
    for trial in ranked:
        if dict(trial.params) not in out:
            out.append(dict(trial.params))
        if len(out) == k:
            break
    return out


def best(trials: Sequence[Trial], objective: Objective) -> Trial | None:
    found: Trial | None = None
    for trial in trials:
        if trial.value is not None and objective.is_better(
            trial.value, None if found is None else found.value
        ):
            found = trial
    return found
