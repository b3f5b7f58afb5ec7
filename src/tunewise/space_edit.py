"""Edit a study's space in the middle of the study: ``tunewise edit STUDY --space new.yaml``
and ``study.set_space(...)``.

An edit stores a new version of the study's definition (:meth:`Store.add_space_version`)
whose space and static values replace the study's; everything else stays. From then on the
trials record the new version, the strategies learn from the earlier trials that lie inside
the new space (:mod:`tunewise.space_versions`) and a running ``tunewise run`` picks the edit up
within a fraction of a second.

What an edit may do, and what it refuses (one sentence naming the field):

- widen, narrow or move a range, change a scale or step, add or drop categorical choices,
  add a parameter (earlier trials lack it, as in define-by-run), change a static value;
- remove a parameter: only when a static value fixes it (``static: {momentum: 0.9}``), which
  every later trial receives; the earlier trials are kept with it projected away;
- never change a parameter's type, the objective (metric or direction), the constraints or
  the strategy, nor the space of a define-by-run study (its trials ask their space).

The static values given are added to the study's (or replace them); a static value whose
name becomes searched leaves the static values.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.errors import SpecError
from tunewise.space import Categorical, Param, Space
from tunewise.space_versions import describe_set_aside, removed_values, same_value, usable_history
from tunewise.spec import StudySpec
from tunewise.trial import SpaceVersion, TrialState

if TYPE_CHECKING:
    from tunewise.store.base import Store

__all__ = ["edit_space", "read_space_file"]

#: Sections of a spec an edit file may hold besides ``space`` and ``static``: each must say
#: what the study already says (a whole spec file can be given, its space edited).
_MUST_MATCH = ("objective", "objectives", "constraints", "strategy", "define_by_run")


def read_space_file(path: str | Path) -> tuple[Mapping[str, Any], Mapping[str, Any], dict]:
    """The ``space`` and ``static`` sections of a spec file (YAML, or JSON for ``.json``),
    and the file's whole mapping (its other sections are checked against the study)."""
    from tunewise.specfile import load_spec_data

    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(source, f"cannot be read ({exc.strerror or exc})") from None
    data = dict(load_spec_data(text, source))
    if "space" not in data:
        raise SpecError(
            f"{source}: space", "is required: the file gives the study's new space (and static)"
        )
    static = data.get("static") or {}
    if not isinstance(static, Mapping):
        raise SpecError(f"{source}: static", "must map names to fixed values")
    return data["space"], static, data


def edit_space(
    store: Store,
    name: str,
    space: Space | Mapping[str, Any],
    static: Mapping[str, Any] | None = None,
    *,
    sections: Mapping[str, Any] | None = None,
    dry_run: bool = False,
) -> SpaceVersion:
    """Store ``space`` (a :class:`Space`, declared parameters, or the spec form
    ``{lr: {type: float, ...}}``) with ``static`` as study ``name``'s next space version.

    ``sections``: the rest of the edit file, whose objective, constraints and strategy must be
    the study's. Returns the stored version, whose note says what changed and which earlier
    trials are set aside. ``dry_run``: the version it would store, stored nowhere.

    Raises:
        SpecError: the edit is refused (the field and why are named).
        StudyNotFound: no study of that name.
    """
    record = store.get_study(name)
    definition = dict(record.definition)
    current = StudySpec.from_dict(definition)
    if current.define_by_run:
        raise SpecError(
            "space",
            f"study {name!r} is define-by-run: its space is what its trials ask with "
            "trial.suggest_*; change what the function asks instead",
        )
    _check_sections(current, sections or {})
    new_space = _as_space(space, static)
    old = current.space
    merged_static = {k: v for k, v in old.static.items() if k not in new_space.params}
    merged_static.update(new_space.static)
    for name_ in old.params:
        if name_ not in new_space.params and name_ not in merged_static:
            raise SpecError(
                f"space.{name_}",
                f"is removed, so fix it at a value every later trial receives: add "
                f"`static: {{{name_}: VALUE}}` to the file (Python: static={{{name_!r}: VALUE}})",
            )
    for name_, param in new_space.params.items():
        before = old.params.get(name_)
        if before is not None and before.kind != param.kind:
            raise SpecError(
                f"space.{name_}.type",
                f"was {before.kind} and cannot become {param.kind}: the earlier trials' values "
                "would mean something else; give it a new name or start a new study",
            )
    edited = Space(new_space.params, merged_static)
    if edited == old:
        raise SpecError("space", f"is the space of study {name!r} already: nothing to change")
    new_definition = _new_definition(current, edited)
    note = _note(store, record.id, old, edited)
    if dry_run:
        latest = store.get_space_versions(record.id)[-1].version
        return SpaceVersion(latest + 1, new_definition, note)
    return store.add_space_version(record.id, new_definition, note)


def _as_space(space: Any, static: Mapping[str, Any] | None) -> Space:
    if static is not None and not isinstance(static, Mapping):
        raise TypeError(f"static must be a dict of names to fixed values, got {static!r}")
    if isinstance(space, Space):
        return Space(space.params, {**space.static, **(static or {})})
    if not isinstance(space, Mapping):
        raise TypeError(
            "space must be a dict of names to tw.Float / tw.Int / tw.Categorical (or a "
            f"tw.Space, or the spec form {{lr: {{type: float, ...}}}}), got {space!r}"
        )
    if space and all(isinstance(v, Mapping) for v in space.values()):
        return Space.from_dict(space, static or {})
    return Space(dict(space), dict(static or {}))


def _check_sections(current: StudySpec, sections: Mapping[str, Any]) -> None:
    """Refuse an edit file whose objective, constraints or strategy differ from the study's."""
    present = {k: v for k, v in sections.items() if k in _MUST_MATCH}
    if not present:
        return
    stored = current.to_dict()
    probe = {**stored, **present}
    if "objectives" in present:
        probe.pop("objective", None)
    elif "objective" in present:
        probe.pop("objectives", None)
    given = StudySpec.from_dict(probe)
    mine, theirs = current.objectives, given.objectives
    for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
        where = "objective" if "objective" in present else f"objectives[{i}]"
        if a.metric != b.metric:
            raise SpecError(
                f"{where}.metric",
                f"is {a.metric!r} in this study, not {b.metric!r}: an edit cannot change the "
                "objective; start a new study warm-started from this one (warm_start)",
            )
        if a.direction != b.direction:
            raise SpecError(
                f"{where}.direction",
                f"is {a.direction} in this study, not {b.direction}: an edit cannot change the "
                "direction; start a new study warm-started from this one (warm_start)",
            )
    if len(mine) != len(theirs):
        raise SpecError(
            "objectives",
            f"this study has {len(mine)} objective(s), the file {len(theirs)}: an edit cannot "
            "change the objectives; start a new study",
        )
    if given.constraints != current.constraints:
        raise SpecError("constraints", "differ from the study's: an edit changes only the space")
    if given.strategy != current.strategy:
        raise SpecError(
            "strategy",
            f"is {current.strategy} in this study, not {given.strategy}: an edit changes only "
            "the space and static values",
        )
    if given.define_by_run != current.define_by_run:
        raise SpecError("define_by_run", "differs from the study's: an edit changes only the space")


def _new_definition(current: StudySpec, space: Space) -> dict[str, Any]:
    """The study's definition with the new space, validated as a whole (a command's
    placeholders must name known parameters, Hyperband's resource stays static); the
    configurations to run first that lie outside the new space are dropped."""
    enqueue = []
    for params in current.enqueue:
        try:
            enqueue.append(space.validate(params))
        except SpecError:
            continue
    try:
        spec = current.with_overrides(space=space, enqueue=tuple(enqueue))
    except SpecError as exc:  # a check of the whole spec (a command's placeholder, ...)
        raise SpecError(exc.field or "space", exc.message) from None
    return StudySpec.from_dict(spec.to_dict()).to_dict()


def _note(store: Store, study_id: int, old: Space, new: Space) -> dict[str, Any]:
    """What the edit says about itself, stored with the version and shown by ``status``."""
    changes = [c for name in old.params if (c := _change(name, old, new)) is not None]
    changes += [
        f"{name}: added, {_range(param)} (earlier trials lack it)"
        for name, param in new.params.items()
        if name not in old.params
    ]
    removed = {n: new.static[n] for n in old.params if n not in new.params}
    for name, value in old.static.items():
        if name in new.static and not same_value(new.static[name], value):
            changes.append(f"static {name}: {value!r} -> {new.static[name]!r}")
    for name in new.static:
        if name not in old.static and name not in old.params:
            changes.append(f"static {name}: added, {new.static[name]!r}")
    finished = [t for t in store.get_trials(study_id) if t.state.is_finished]
    usable = usable_history(new, finished)
    reasons = describe_set_aside(usable.set_aside, len(finished))
    aside = {item.trial.number for item in usable.set_aside}
    kept = [t for t in finished if t.number not in aside]
    other = removed_values(kept, removed)
    kept_notes = [
        f"{count} of the {len(kept)} kept ran {name} at another value than {value!r}; "
        f"they are kept with {name} projected away"
        for name, value in removed.items()
        if (count := other[name])
    ]
    outside_queued = usable_history(new, store.get_trials(study_id, [TrialState.QUEUED]))
    summary = "; ".join(changes) or "no parameter changed"
    aside_text = "; ".join(reasons) if reasons else "no earlier trial set aside"
    note: dict[str, Any] = {
        "changes": changes,
        "fixed": dict(removed),
        "trials": len(finished),
        "set_aside": len(usable.set_aside),
        "set_aside_why": reasons,
        "kept_with_removed": kept_notes,
        "summary": "; ".join([f"{summary}. {aside_text}", *kept_notes]),
    }
    if outside_queued.set_aside:  # enqueued by someone: they still run as given
        note["queued_outside"] = [item.trial.number for item in outside_queued.set_aside]
    return note


def _change(name: str, old: Space, new: Space) -> str | None:
    before = old.params[name]
    if name not in new.params:
        return f"{name}: removed, fixed at {new.static[name]!r}"
    after = new.params[name]
    if before == after:
        return None
    parts = []
    if isinstance(before, Categorical) and isinstance(after, Categorical):
        added = [v for v in after.values if not any(same_value(v, w) for w in before.values)]
        dropped = [v for v in before.values if not any(same_value(v, w) for w in after.values)]
        if added:
            parts.append(f"choices added {added!r}")
        if dropped:
            parts.append(f"choices dropped {dropped!r}")
    elif not isinstance(before, Categorical) and not isinstance(after, Categorical):
        lo0, hi0, lo1, hi1 = before.low, before.high, after.low, after.high
        assert lo0 is not None and hi0 is not None and lo1 is not None and hi1 is not None
        if (lo0, hi0) != (lo1, hi1):
            if lo1 <= lo0 and hi1 >= hi0:
                verb = "widened"
            elif lo1 >= lo0 and hi1 <= hi0:
                verb = "narrowed"
            else:
                verb = "moved"
            parts.append(f"{verb} [{lo0!r}, {hi0!r}] -> [{lo1!r}, {hi1!r}]")
        if before.scale != after.scale:
            parts.append(f"scale {before.scale} -> {after.scale}")
        if before.step != after.step:
            parts.append(f"step {before.step!r} -> {after.step!r}")
    if before.when != after.when:
        parts.append(f"condition {dict(before.when or {})!r} -> {dict(after.when or {})!r}")
    return f"{name}: " + (", ".join(parts) or "grid points changed")


def _range(param: Param) -> str:
    if isinstance(param, Categorical):
        return f"categorical {list(param.values)!r}"
    return f"{param.kind} [{param.low!r}, {param.high!r}] {param.scale}"
