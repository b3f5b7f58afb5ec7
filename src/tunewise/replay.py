"""Replay: re-derive every stored suggestion and say whether it reproduces exactly.

A strategy keeps no state, so a suggestion is a function of what its record
(:mod:`tunewise.suggestion_record`) names: the space of the trial's version, the trials
finished and pending then, ``n``, the generator's number, ``remaining``, the strategy's name,
options and seed. Finished trials are read-only, so the stored ones are what the strategy saw;
pending ones are given as they were suggested (their params; no result yet). The strategy is
called again exactly as then and its pick compared with the stored params, value by value
after a JSON round trip (so floats compare bit for bit, and 1 is not 1.0).

Each trial is ``reproduced``, a ``mismatch`` (naming the first differing parameter with both
values), or ``not replayable`` (no record: enqueued, added by hand, or made before records;
another tunewise version, whose strategies may differ; a warm-start parent changed since).
One strategy call serves a whole batch (a trial's record differs from its batch mates' only
in its index), so replaying a study costs one suggestion round per round it ran.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tunewise.suggestion_record import RECORD_FORMAT, from_ranges, numerics
from tunewise.trial import Trial, TrialState

if TYPE_CHECKING:
    from tunewise.space import Space
    from tunewise.spec import StudySpec
    from tunewise.strategies.base import Strategy
    from tunewise.study import Study

__all__ = [
    "MISMATCH",
    "NOT_REPLAYABLE",
    "REPRODUCED",
    "ReplayReport",
    "StudyTrials",
    "SuggestionContext",
    "TrialReplay",
    "replay_study",
]

REPRODUCED, MISMATCH, NOT_REPLAYABLE = "reproduced", "mismatch", "not replayable"


@dataclass(frozen=True)
class TrialReplay:
    """How one trial's suggestion replayed."""

    number: int
    status: str
    #: Why it is not replayable, or what differed, in one sentence.
    reason: str | None = None
    parameter: str | None = None
    stored: Any = None
    replayed: Any = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"trial": self.number, "status": self.status}
        if self.reason is not None:
            data["reason"] = self.reason
        if self.status == MISMATCH and self.parameter is not None:
            data.update(parameter=self.parameter, stored=self.stored, replayed=self.replayed)
        return data


@dataclass(frozen=True)
class ReplayReport:
    """Every trial's replay, in number order, and the reproduction rate."""

    study: str
    version: str
    trials: list[TrialReplay] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(t.status == status for t in self.trials)

    @property
    def replayable(self) -> int:
        return len(self.trials) - self.count(NOT_REPLAYABLE)

    @property
    def rate(self) -> float | None:
        """Reproduced / replayable (None when no trial is replayable)."""
        return self.count(REPRODUCED) / self.replayable if self.replayable else None

    @property
    def ok(self) -> bool:
        """Every replayable trial reproduced (the command's exit code 0)."""
        return self.count(MISMATCH) == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "study": self.study,
            "tunewise": self.version,
            "trials": [t.to_dict() for t in self.trials],
            "summary": {
                "trials": len(self.trials),
                "replayable": self.replayable,
                "reproduced": self.count(REPRODUCED),
                "mismatch": self.count(MISMATCH),
                "not_replayable": self.count(NOT_REPLAYABLE),
                "rate": self.rate,
            },
        }


@dataclass(frozen=True)
class SuggestionContext:
    """A trial's suggestion call as it was made, rebuilt from the store."""

    trial: Trial
    record: Mapping[str, Any]
    spec: StudySpec
    space: Space
    strategy: Strategy
    history: list[Trial]  # as the strategy saw it: warm-start parents' trials first
    pending: list[Trial]
    #: What was suggested (a define-by-run trial's params become what it asked instead).
    expected: Mapping[str, Any]

    @property
    def number(self) -> int:
        """The trial number the generator was derived from (the batch's first)."""
        return int(self.record["number"])

    @property
    def index(self) -> int:
        return int(self.record["index"])

    def suggest(self) -> list[dict[str, Any]]:
        """Call the strategy exactly as then."""
        from tunewise.strategies.base import strategy_rng

        rng = strategy_rng(int(self.record["seed"]), self.number)
        return self.strategy.suggest(
            self.space,
            self.history,
            self.pending,
            int(self.record["n"]),
            rng,
            remaining=self.record.get("remaining"),
        )


class StudyTrials:
    """A study's stored trials, space versions and warm-start parents, read once, from which
    each trial's :class:`SuggestionContext` is rebuilt."""

    def __init__(self, study: Study) -> None:
        self.study = study
        store = study.store
        record = store.get_study(study.name)
        trials = store.get_trials(record.id)
        self.by_number: dict[int, Trial] = {t.number: t for t in trials}
        # numbers are contiguous from 0: a history is then slices of this list
        contiguous = all(t.number == i for i, t in enumerate(trials))
        self._ordered = trials if contiguous else None
        self.versions = {v.version: v for v in store.get_space_versions(record.id)}
        self._parents: list[Trial] | None = None

    def context(self, number: int) -> SuggestionContext | str:
        """Trial ``number``'s suggestion call, or why it cannot be rebuilt (one sentence)."""
        from tunewise import __version__
        from tunewise.errors import SpecError, TunewiseError
        from tunewise.spec import StudySpec

        trial = self.by_number.get(number)
        if trial is None:
            return f"the study has no trial {number}"
        record = trial.suggestion
        if record is None:
            return (
                "no suggestion record: the trial was enqueued, added by hand, or suggested "
                "before tunewise recorded suggestions"
            )
        if record.get("format") != RECORD_FORMAT:
            return (
                f"its record has format {record.get('format')!r}, which this tunewise cannot read"
            )
        if record.get("tunewise") != __version__:
            return (
                f"suggested by tunewise {record.get('tunewise')}, this is {__version__}: "
                "strategies may differ between versions (replay with that version)"
            )
        version = trial.space_version
        stored = self.versions.get(version)
        if stored is None:
            return f"the study has no space version {version}"
        try:
            spec = StudySpec.from_dict(dict(stored.definition))
            strategy = _strategy(spec, record)
        except (SpecError, TunewiseError, TypeError, ValueError) as exc:
            return f"its strategy cannot be rebuilt: {exc}"
        space = spec.space
        if record.get("define_by_run"):
            from tunewise.space import Space

            known = list(space.params.items())[: int(record["space_params"])]
            space = Space(dict(known), space.static)
        prior = self._prior(record)
        if isinstance(prior, str):
            return prior
        finished, pending = self._seen(record)
        history = [*prior, *finished]
        if version > 1 and not record.get("define_by_run"):  # edited: as the tuner filters
            from tunewise.space_versions import usable_history

            history = usable_history(space, history).kept
            pending = usable_history(space, pending).kept
        expected = record.get("params", trial.params)
        return SuggestionContext(
            trial, record, spec, space, strategy, history, pending, dict(expected)
        )

    def _seen(self, record: Mapping[str, Any]) -> tuple[list[Trial], list[Trial]]:
        """The finished and the pending trials the strategy was given, in number order."""
        number = int(record["number"])
        pending_numbers = from_ranges(record.get("pending", ()))
        asked = set(record.get("pending_asked", ()))
        pending = [_as_pending(self.by_number[n], n in asked) for n in pending_numbers]
        if "finished" in record:
            finished = [self.by_number[n] for n in from_ranges(record["finished"])]
        elif self._ordered is not None:  # every other number below `number`: list slices
            finished, start = [], 0
            for n in [*pending_numbers, number]:
                finished += self._ordered[start:n]
                start = n + 1
        else:
            skip = set(pending_numbers)
            finished = [self.by_number[n] for n in range(number) if n not in skip]
        return finished, pending

    def _prior(self, record: Mapping[str, Any]) -> list[Trial] | str:
        """The warm-start parents' trials the strategy saw before the study's own."""
        parents = record.get("parents")
        if not parents:
            return []
        if self._parents is None:
            self._parents = list(self.study.parents().trials)
        out: list[Trial] = []
        for study_id, below, count in parents:
            mine = [t for t in self._parents if t.study_id == study_id and t.number < below]
            if len(mine) != count:
                return (
                    f"its warm-start parent (study id {study_id}) changed since: {count} of its "
                    f"trials were seen, {len(mine)} are stored below trial {below}"
                )
            out += mine
        return out


def _strategy(spec: StudySpec, record: Mapping[str, Any]) -> Strategy:
    """The strategy the record names, with its options and seed, for the study's objectives."""
    from tunewise.strategies.registry import get_strategy

    cls = get_strategy(str(record["strategy"]))
    strategy: Strategy = cls(
        spec.objective,
        int(record["seed"]),
        dict(record.get("options") or {}) or None,
        objectives=spec.objectives,
        constraints=spec.constraints,
    )
    if record.get("define_by_run"):
        from tunewise.define_by_run import SeenSpaceStrategy

        strategy = SeenSpaceStrategy(strategy)
    return strategy


def _as_pending(trial: Trial, asked: bool = False) -> Trial:
    """A trial as it was while pending: its suggested params (``asked``: the params it asked,
    as stored, which a define-by-run trial already had then) and no result (strategies read only
    a pending trial's params; what it became later is not what they saw)."""
    record = trial.suggestion or {}
    params = trial.params if asked else record.get("params", trial.params)
    return replace(
        trial,
        state=TrialState.RUNNING,
        params=params,
        value=None,
        metrics={},
        last_step=None,
        finished_at=None,
    )


def canonical(value: Any) -> str:
    """A value as JSON: what the store keeps, so the comparison is bit-exact for floats."""
    return json.dumps(value, sort_keys=True)


def compare(
    number: int, expected: Mapping[str, Any], replayed: Sequence[Mapping[str, Any]], index: int
) -> TrialReplay:
    """The trial's stored suggestion against the strategy's pick ``index`` of this replay."""
    if index >= len(replayed):
        return TrialReplay(
            number,
            MISMATCH,
            f"the strategy suggested {len(replayed)} configuration(s) this time, not {index + 1}",
        )
    again = json.loads(json.dumps(replayed[index]))
    for name in [*expected, *(k for k in again if k not in expected)]:
        stored, now = expected.get(name, _ABSENT), again.get(name, _ABSENT)
        if stored is _ABSENT or now is _ABSENT or canonical(stored) != canonical(now):
            shown_stored = None if stored is _ABSENT else stored
            shown_now = None if now is _ABSENT else now
            return TrialReplay(
                number,
                MISMATCH,
                f"trial {number}: parameter {name!r} is {_show(stored)} stored, "
                f"{_show(now)} replayed",
                name,
                shown_stored,
                shown_now,
            )
    return TrialReplay(number, REPRODUCED)


_ABSENT = object()


def _show(value: Any) -> str:
    return "absent" if value is _ABSENT else canonical(value)


def _versions(text: str) -> dict[str, str]:
    return dict(item.split(" ", 1) for item in text.split(", ") if " " in item)


def _differ(then: str, now: str) -> bool:
    """Whether a library both name has another version now (``numpy 2.1.3, scipy 1.14.1``)."""
    old, new = _versions(then), _versions(now)
    return any(new[name] != version for name, version in old.items() if name in new)


def replay_study(study: Study, numbers: Sequence[int] | None = None) -> ReplayReport:
    """Replay every trial of ``study`` (or those ``numbers``) and compare (module docstring)."""
    from tunewise import __version__

    trials = StudyTrials(study)
    chosen = sorted(trials.by_number) if numbers is None else list(numbers)
    batches: dict[str, list[dict[str, Any]]] = {}  # one strategy call per stored batch
    out: list[TrialReplay] = []
    for number in chosen:
        context = trials.context(number)
        if isinstance(context, str):
            out.append(TrialReplay(number, NOT_REPLAYABLE, context))
            continue
        key = canonical({k: v for k, v in context.record.items() if k not in ("index", "params")})
        if key not in batches:
            batches[key] = context.suggest()
        result = compare(number, context.expected, batches[key], context.index)
        then = str(context.record.get("numerics", ""))
        if result.status == MISMATCH and _differ(then, numerics()):
            result = replace(
                result, reason=f"{result.reason} (suggested with {then}; this is {numerics()})"
            )
        out.append(result)
    return ReplayReport(study.name, __version__, out)
