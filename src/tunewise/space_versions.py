"""Which earlier trials a strategy learns from once a study's space was edited.

A study's space can change in the middle of the study (``tunewise edit``,
``study.set_space``): each edit stores a new version and trials record the version they were
suggested under. The strategies then learn from every earlier trial whose values lie inside
the current space, and set the others aside. The rule lives here, in one pure and
deterministic function, so that the tuner, ``study.ask``, the edit's note and ``tunewise
replay`` all draw the same line:

- a parameter the space no longer searches (removed: it is fixed now, a ``static`` value) is
  projected away: the trial is kept and the strategies model the parameters that remain, as
  Optuna's samplers do with a parameter a trial lacks. A parameter is removed because it
  matters little, or is fixed at its best value; either way the trials that tried other values
  still tell where the remaining parameters do well, and setting them aside would throw away
  almost every trial of a float parameter (no earlier trial has exactly the fixed value). To
  set aside the trials with another value of a categorical, keep it searched with that one
  choice instead;
- a parameter the trial lacks (added later) stays absent: the strategies encode it as a
  define-by-run trial's unasked parameter (:mod:`tunewise.strategies.tree`);
- a value outside the parameter's new range or choices, or a value for a parameter the new
  conditions make inactive, sets the whole trial aside: the model cannot place it in the
  space it searches now.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from tunewise.errors import SpecError
from tunewise.space import Categorical, Space
from tunewise.trial import SpaceVersion, Trial

__all__ = [
    "SetAside",
    "Usable",
    "UsableCache",
    "describe_versions",
    "fit_trial",
    "space_document",
    "usable_history",
    "versions_document",
]


@dataclass(frozen=True)
class SetAside:
    """A trial the strategies no longer learn from, and why (one line)."""

    trial: Trial
    #: The first parameter (in the space's order) whose value lies outside.
    parameter: str
    #: Where it lies: ``outside [0.0001, 0.01]``, ``not among the choices [...]``, ...
    where: str

    @property
    def reason(self) -> str:
        """``trial 7 has lr=0.5 outside [0.0001, 0.01]``."""
        value = self.trial.params.get(self.parameter)
        return f"trial {self.trial.number} has {self.parameter}={value!r} {self.where}"


class Usable(NamedTuple):
    """A history split by :func:`usable_history`."""

    #: The trials inside the space, in the order given, each with only the parameters the
    #: space searches (the same object when it had no other).
    kept: list[Trial]
    set_aside: list[SetAside]


def fit_trial(space: Space, trial: Trial) -> Trial | SetAside:
    """``trial`` as ``space`` sees it (removed parameters projected away), or why it lies
    outside ``space``. Pure: the same space and trial always give the same answer."""
    params = trial.params
    decided: dict[str, Any] = {}
    for name in space.order:
        if name not in params:
            continue  # added after the trial ran, or inactive in it
        value = params[name]
        param = space.params[name]
        if not space.is_active(name, decided):
            conditions = " and ".join(
                f"{parent} in {list(values)!r}" for parent, values in (param.when or {}).items()
            )
            return SetAside(trial, name, f"where it applies only when {conditions}")
        try:
            param.validate(value)
        except SpecError:
            return SetAside(trial, name, _outside(space, name))
        decided[name] = value
    if all(name in space.params for name in params):
        return trial
    return replace(trial, params={k: v for k, v in params.items() if k in space.params})


def usable_history(space: Space, trials: Sequence[Trial]) -> Usable:
    """Split ``trials`` (of any state and space version) into those the strategies learn from
    in ``space`` (projected onto it) and those set aside, each with its reason."""
    kept: list[Trial] = []
    set_aside: list[SetAside] = []
    for trial in trials:
        fitted = fit_trial(space, trial)
        if isinstance(fitted, SetAside):
            set_aside.append(fitted)
        else:
            kept.append(fitted)
    return Usable(kept, set_aside)


def _outside(space: Space, name: str) -> str:
    param = space.params[name]
    if isinstance(param, Categorical):
        return f"not among the choices {list(param.values)!r}"
    return f"outside [{param.low!r}, {param.high!r}]"


def space_document(definition: Mapping[str, Any]) -> tuple[Any, Any]:
    """The parts of a stored study definition an edit of the space changes: a process that
    compares them with what it searches knows when to take up an edit."""
    return definition.get("space"), definition.get("static")


class UsableCache:
    """:func:`usable_history` for a process that asks it again and again (the tuner, before
    every suggestion): finished trials never change, so each is fitted once per space and
    only looked up afterwards. A study whose space was never edited skips it altogether (every
    trial fits the space it was suggested in)."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self._fitted: dict[tuple[int, int], Trial | SetAside] = {}

    def kept(self, trials: Sequence[Trial], *, finished: bool = True) -> list[Trial]:
        """The trials of ``trials`` the strategies learn from, projected onto the space;
        ``finished=False``: trials that may still change (pending), fitted afresh each time."""
        out = []
        for trial in trials:
            key = (trial.study_id, trial.number)  # warm-start parents' trials are others
            fitted = self._fitted.get(key) if finished else None
            if fitted is None:
                fitted = fit_trial(self.space, trial)
                if finished:
                    self._fitted[key] = fitted
            if not isinstance(fitted, SetAside):
                out.append(fitted)
        return out


def describe_set_aside(set_aside: Sequence[SetAside], total: int) -> list[str]:
    """One line per parameter that set trials aside: ``12 of 40 trials have lr outside
    [0.0001, 0.01]``."""
    counts: dict[tuple[str, str], int] = {}
    for item in set_aside:
        key = (item.parameter, item.where)
        counts[key] = counts.get(key, 0) + 1
    return [f"{n} of {total} trials have {name} {where}" for (name, where), n in counts.items()]


def same_value(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same value (``1 == 1.0``, never ``True == 1``)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0) or a == b
    return bool(a == b)


def removed_values(trials: Sequence[Trial], fixed: Mapping[str, Any]) -> dict[str, int]:
    """For each removed parameter fixed at a value, how many of ``trials`` ran another value
    of it (kept all the same: see the module's docstring)."""
    return {
        name: sum(name in t.params and not same_value(t.params[name], value) for t in trials)
        for name, value in fixed.items()
    }


def versions_document(
    versions: Sequence[SpaceVersion], space: Space, trials: Sequence[Trial]
) -> dict[str, Any]:
    """What ``tunewise status --format json`` and the dashboard show of a study's space
    versions: each with when it began and what its edit changed, and the finished trials the
    strategies set aside in the current space (counted now, so trials that were running at the
    edit count too)."""
    finished = [t for t in trials if t.state.is_finished]
    aside = usable_history(space, finished).set_aside
    return {
        "current": versions[-1].version if versions else 1,
        "versions": [
            {
                "version": v.version,
                "began": v.created_at.isoformat(timespec="seconds") if v.created_at else None,
                "changes": list(v.note.get("changes", [])),
                "fixed": dict(v.note.get("fixed", {})),
            }
            for v in versions
        ],
        "trials": len(finished),
        "set_aside": len(aside),
        "set_aside_why": describe_set_aside(aside, len(finished)),
    }


def describe_versions(document: Mapping[str, Any]) -> list[str]:
    """:func:`versions_document` as lines for people (``tunewise status``)."""
    lines = []
    for v in document["versions"]:
        began = (v["began"] or "").replace("T", " ")
        what = "; ".join(v["changes"]) if v["version"] > 1 else "as created"
        lines.append(f"{v['version']:>3}  {began}  {what}")
    trials, aside = document["trials"], document["set_aside"]
    why = "; ".join(document["set_aside_why"])
    lines.append(f"set aside: {aside} of {trials} finished trials" + (f" ({why})" if why else ""))
    return lines
