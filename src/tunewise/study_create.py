"""Create a study, or continue the stored one of that name: what ``create_study`` and
``tunewise run`` share (the definition compared, the seed kept, the first configurations queued
once)."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from tunewise.errors import SpecError, StudyExists, StudyNotFound
from tunewise.space import Space
from tunewise.spec import StudySpec
from tunewise.study_admin import enqueue_new

if TYPE_CHECKING:
    from tunewise.store.base import Store


def open_or_create(store: Store, spec: StudySpec) -> StudySpec:
    """Create the study of ``spec`` in ``store``, or check that the stored one matches it.

    Returns the spec as stored (its seed fixed). Raises SpecError when a study of that name has
    another space, objective, static values or strategy, or another explicit seed.
    """
    from tunewise.strategies import get_strategy
    from tunewise.strategies.base import check_multi_objective

    # Unknown names, and strategies that cannot search several objectives, fail here, before
    # anything is stored.
    check_multi_objective(get_strategy(spec.strategy), len(spec.objectives))
    if spec.hyperband is not None and spec.hyperband.sampler != "random":
        try:
            get_strategy(spec.hyperband.sampler)
        except SpecError as exc:
            raise SpecError("hyperband.sampler", exc.message) from None
    explicit_seed = spec.seed
    if spec.seed is None:
        spec = spec.with_overrides(seed=random.SystemRandom().randrange(2**31))
    try:
        store.get_study(spec.name)
    except StudyNotFound:
        first = _first_configurations(store, spec)  # parents checked before anything is stored
        try:
            record = store.create_study(spec.name, spec.to_dict())
        except StudyExists:
            pass  # created by another process meanwhile: continue it as below
        else:
            for params in first:
                store.add_trial(record.id, params)
            return spec
    record = store.get_study(spec.name)
    stored = StudySpec.from_dict(dict(record.definition))
    mine, theirs = spec.search_definition(), stored.search_definition()
    for key in mine:
        if mine[key] != theirs[key]:
            edited = ""
            if key in ("space", "static") and len(store.get_space_versions(record.id)) > 1:
                edited = (
                    f" (edited with `tunewise edit`: `tunewise status {spec.name}` shows it; "
                    "write it in this spec to continue the study with its new space)"
                )
            raise SpecError(
                "study",
                f"a study named {spec.name!r} already exists with another {key}{edited}; "
                "give a new name (--study NAME) or the same definition to continue it",
            )
    if explicit_seed is not None and explicit_seed != stored.seed:
        raise SpecError(
            "seed",
            f"study {spec.name!r} was created with seed {stored.seed}, not {explicit_seed}; "
            "drop the seed to continue it, or give a new study name",
        )
    # Same search: keep the stored seed, take the new limits and trial settings.
    continued = spec.with_overrides(seed=stored.seed)
    if spec.define_by_run:  # the space its trials asked so far, stored as they asked
        continued = continued.with_overrides(space=Space(stored.space.params, spec.space.static))
    if continued.to_dict() != stored.to_dict():
        store.update_study_definition(record.id, continued.to_dict())
    enqueue_new(store, record.id, continued)  # each configuration once: see enqueue_new
    return continued


def _first_configurations(store: Store, spec: StudySpec) -> list[dict[str, Any]]:
    """What a new study runs first: ``enqueue``, then (``transfer`` warm start) the parents'
    best configurations. Loading the parents also checks they exist."""
    from tunewise.warmstart import load_parents, starting_points

    configurations = [dict(p) for p in spec.enqueue]
    if spec.warm_start is not None:
        parents = load_parents(spec.warm_start, spec.space, spec.objective, store)
        if spec.warm_start.type == "transfer":
            for params in starting_points(parents, spec.objective.sign):
                if params not in configurations:
                    configurations.append(params)
    return configurations
