"""Range proposals: from a finished study's space and trials, the space of the next study.

Why: a user who sees the best trials pressed against a bound, or crowded in a corner of a
range, today reads plots and edits a spec by hand. These rules do that reading the same way
every time, and say what they read (issue 27 §4).

The *good* trials are the top :data:`QUANTILE` of the scored ones (COMPLETED, with a value,
feasible), at least :data:`MIN_GOOD`. Every rule works on a parameter's *fraction*: where a
value lies between its range's bounds on the range's own scale (linear, log or reverse-log),
0 at ``low`` and 1 at ``high``. Per parameter, in this order:

- **fix** a parameter whose PED-ANOVA importance is negligible (under :data:`NEGLIGIBLE` of an
  even share, from :data:`FIX_TRIALS_PER_PARAM` scored trials per parameter) and whose range or
  choices the good trials mostly cover (:data:`FIX_MIN_SPREAD`), at the best trial's value;
- **log / linear**: switch a linear range spanning two decades or more to log when
  :data:`CROWD_SHARE` of the good trials lie in its lowest tenth; switch a log range spanning
  two decades or more to linear when as many lie in its top decade (and none presses a bound);
- **widen** a bound the good trials press against (the best trial within :data:`EDGE` of it
  and a third of the good ones within :data:`ZONE`) by :data:`WIDEN` of the range's width on
  its scale (a bound at 0 is not moved across 0);
- **narrow** a range the good trials never leave: to their span, padded by half of it (at
  least a tenth of the range) on each side, when that keeps at most :data:`NARROW_MAX` of it;
- **drop** categorical choices that ran at least as often as makes "never among the good
  trials" unlikely by chance (:data:`DROP_CHANCE`) and never were; a categorical left with
  one choice is fixed.

Conditional parameters are judged on the trials where they are active; a fixed parent takes
its children with it (those its value activates lose the condition, the others are removed).
Explicit grid ``values`` are kept as they are. Everything here is deterministic: the same
space and trials give the same proposals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tunewise.analysis.range_rules import (
    ACTIONS,
    MIN_GOOD,
    MIN_TRIALS,
    QUANTILE,
    Change,
    Context,
)
from tunewise.errors import SpecError
from tunewise.space import Categorical, Param, Space
from tunewise.trial import Objective, Trial

if TYPE_CHECKING:
    from tunewise.analysis.frame import TrialFrame
    from tunewise.spec import StudySpec


@dataclass(frozen=True)
class RangeProposals:
    """The proposals for a study and the space they make; ``to_spec`` writes the next study."""

    study: str
    space: Space  # the study's space
    proposed: Space  # the next study's space (fixed parameters in its static values)
    changes: tuple[Change, ...]
    n_scored: int
    n_good: int
    quantile: float = QUANTILE
    note: str | None = None  # why nothing was proposed
    base: StudySpec | None = field(default=None, repr=False, compare=False)

    @property
    def changed(self) -> bool:
        return any(c.action != "keep" for c in self.changes)

    def lines(self) -> list[str]:
        """One line per parameter, for people: ``name  action  reason``."""
        head = [
            f"study {self.study}: {self.n_scored} scored trials, the good ones are the best "
            f"{self.n_good} (top {self.quantile:.0%})"
        ]
        if self.note:
            head.append(self.note)
        if not self.changes:
            return head
        width = max(len(c.param) for c in self.changes)
        return head + [f"{c.param:<{width}}  {c.action:<6}  {c.reason}" for c in self.changes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "n_scored": self.n_scored,
            "n_good": self.n_good,
            "quantile": self.quantile,
            "note": self.note,
            "changes": [c.to_dict() for c in self.changes],
            "space": {n: p.to_dict() for n, p in self.proposed.params.items()},
            "static": dict(self.proposed.static),
        }

    def to_spec(self, name: str | None = None, *, storage: str | None = None) -> StudySpec:
        """The next study: the base spec with the proposed space, warm-started (``identical``)
        from this study, named ``name`` (default ``<study>-next``), nothing enqueued.

        Raises:
            SpecError: no base spec (built without one), or a define-by-run study (its
                ranges live in its function's ``trial.suggest_*`` calls).
        """
        from tunewise.spec import WarmStart

        if self.base is None:
            raise SpecError("spec", "these proposals were made without the study's spec")
        if self.base.define_by_run:
            raise SpecError(
                "define_by_run",
                f"study {self.study!r} is define-by-run: its ranges are the trial.suggest_* "
                "calls of its function; change them there",
            )
        changes: dict[str, Any] = {
            "name": name or f"{self.study}-next",
            "space": self.proposed,
            "warm_start": WarmStart((self.study,), "identical"),
            "enqueue": (),
        }
        if storage is not None:
            changes["storage"] = storage
        return self.base.with_overrides(**changes)

    def write(self, path: str, name: str | None = None, *, storage: str | None = None) -> str:
        """Write :meth:`to_spec` to ``path`` (what ``tunewise run`` reads): JSON for a ``.json``
        file, else YAML headed by the proposals as comments. Returns the text written."""
        spec = self.to_spec(name, storage=storage).to_dict()
        if path.lower().endswith(".json"):
            import json

            text = json.dumps(spec, indent=2) + "\n"
        else:
            import yaml

            head = [f"proposed by tunewise suggest-ranges from study {self.study}:"]
            head += [f"  {c.param}: {c.action}: {c.reason}" for c in self.changes]
            text = "".join(f"# {line}\n" for line in head)
            text += yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return text


def propose_ranges(
    space: Space,
    trials: Sequence[Trial],
    objective: Objective,
    *,
    study: str = "study",
    constraints: Sequence[Any] = (),
    base: StudySpec | None = None,
) -> RangeProposals:
    """The proposals for a study with ``space``, ``trials`` and one ``objective``.

    Raises:
        SpecError: not one scored trial (nothing to read).
    """
    from tunewise.analysis.frame import TrialFrame

    frame = TrialFrame.from_trials(list(trials), space, objective, constraints=constraints)
    return propose_from_frame(frame, study=study, base=base)


def propose_from_frame(
    frame: TrialFrame, *, study: str = "study", base: StudySpec | None = None
) -> RangeProposals:
    """:func:`propose_ranges` of a study's :class:`TrialFrame` (the dashboard keeps one)."""
    space = frame.space
    rows = np.flatnonzero(frame.scored)
    n = int(rows.size)
    if n == 0:
        raise SpecError(
            "study",
            f"{study!r} has no completed trial with a value yet; range proposals read the "
            "completed trials, so run some first",
        )
    goodness = frame.goodness()[rows]
    order = np.argsort(-goodness, kind="stable")
    n_good = min(n, max(MIN_GOOD, math.ceil(QUANTILE * n)))
    good = {int(rows[i]) for i in order[:n_good]}
    best = int(rows[order[0]])
    params = [dict(frame.params[i]) for i in range(len(frame))]
    if n < MIN_TRIALS:
        note = f"needs at least {MIN_TRIALS} scored trials to propose anything ({n} so far)"
        keeps = tuple(
            Change(name, "keep", "too few trials", before=p.to_dict())
            for name, p in space.params.items()
        )
        return RangeProposals(study, space, space, keeps, n, n_good, note=note, base=base)
    rank = {int(rows[i]): place for place, i in enumerate(order)}
    ctx = Context(space, [int(r) for r in rows], good, best, rank, params, frame)
    changes = [ctx.judge(name) for name in space.order]
    proposed, changes = _apply(space, changes)
    by_name = {c.param: c for c in changes}
    ordered = tuple(by_name[n] for n in space.names if n in by_name)
    return RangeProposals(study, space, proposed, ordered, n, n_good, base=base)


# Applying the changes ------------------------------------------------------------------------
def _apply(space: Space, changes: list[Change]) -> tuple[Space, list[Change]]:
    """The proposed space: replaced, fixed (to static) and dropped parameters, conditions of
    fixed parents resolved and children no value activates removed (each listed)."""
    from tunewise.space import param_from_dict

    params: dict[str, Param] = dict(space.params)
    static = dict(space.static)
    out = list(changes)
    for change in changes:  # new ranges and choices first: a fixed parent then edits them
        if change.after is not None:
            params[change.param] = param_from_dict(change.after)
        if change.action == "drop":
            assert change.after is not None
            _trim_children(params, change.param, change.after["values"])
    for change in changes:
        if change.action == "fix":
            value = change.evidence["value"]
            del params[change.param]
            static[change.param] = value
            _resolve_parent(params, change.param, value)
    removed = True
    while removed:  # children whose condition can no longer hold, and theirs
        removed = False
        for name, param in list(params.items()):
            dead = [
                p
                for p, vs in (param.when or {}).items()
                if p not in params or not _overlap(params[p], vs)
            ]
            if dead:
                del params[name]
                removed = True
                out = [c for c in out if c.param != name]
                out.append(
                    Change(
                        name,
                        "remove",
                        f"active only when {dead[0]} takes a value it no longer can: removed",
                        {"when": {k: list(v) for k, v in (param.when or {}).items()}},
                        param.to_dict(),
                    )
                )
    return Space(params, static), out


def _resolve_parent(params: dict[str, Param], parent: str, value: Any) -> None:
    """A parent fixed at ``value``: the children it activates lose that condition; the others
    keep it (and are removed by :func:`_apply`, the parent being gone)."""
    from tunewise.space import _holds

    for name, param in list(params.items()):
        when = dict(param.when or {})
        if parent in when and _holds(when[parent], value):
            del when[parent]
            data = param.to_dict()
            data.pop("when", None)
            if when:
                data["when"] = {k: list(v) for k, v in when.items()}
            from tunewise.space import param_from_dict

            params[name] = param_from_dict(data)


def _trim_children(params: dict[str, Param], parent: str, kept: Sequence[Any]) -> None:
    from tunewise.space import _holds, param_from_dict

    for name, param in list(params.items()):
        when = param.when or {}
        if parent not in when:
            continue
        values = [v for v in when[parent] if _holds(kept, v)]
        if values and len(values) < len(when[parent]):
            data = param.to_dict()
            data["when"] = {**data["when"], parent: values}
            params[name] = param_from_dict(data)


def _overlap(param: Param, values: Sequence[Any]) -> bool:
    from tunewise.space import _holds

    return isinstance(param, Categorical) and any(_holds(param.values, v) for v in values)


def for_study(study: Any) -> RangeProposals:
    """The proposals for a :class:`~tunewise.study.Study` (its current space and trials).

    Raises:
        SpecError: several objectives (the rules judge one), or no scored trial.
    """
    spec = study.spec
    if spec.multi_objective:
        metrics = ", ".join(o.metric for o in spec.objectives)
        raise SpecError(
            "objectives",
            f"range proposals judge one objective; study {study.name!r} has "
            f"{len(spec.objectives)} ({metrics})",
        )
    space = study.space
    return propose_ranges(
        space,
        study.trials,
        spec.objective,
        study=study.name,
        constraints=spec.constraints,
        base=spec.with_overrides(space=space) if spec.define_by_run else spec,
    )


__all__ = [
    "ACTIONS",
    "Change",
    "RangeProposals",
    "for_study",
    "propose_from_frame",
    "propose_ranges",
]
