"""What a suggestion was made from, stored with the trial it became (``Trial.suggestion``).

Strategies keep no state: a suggestion is a function of the space, the trials finished and
pending as the strategy saw them, how many it was asked for, the generator drawn from
``(seed, number)``, the budget left and the strategy's name, options and code version. This
module writes that down at suggestion time, compactly, so that ``tunewise replay`` can call
the strategy again exactly as then and ``tunewise why`` can explain the pick.

The trials seen are stored as numbers, not copies: finished trials are read-only, so their
stored values are what the strategy saw. Numbers go in as inclusive ranges, and the finished
ones not at all in the usual case where every trial below ``number`` was either finished or
pending (the tuner's and ``ask``'s history hold every trial): a record is then a few dozen
bytes whatever the study's size, so a 10,000-trial study stores O(n), not O(n^2).

A record (format 1)::

    {"format": 1, "tunewise": "0.1.0", "numerics": "numpy 2.1.3, scipy 1.14.1",
     "strategy": "bayesian", "options": {}, "seed": 7,
     "number": 12, "n": 4, "index": 1, "remaining": 88,
     "pending": [[10, 11]],            # inclusive ranges of the pending trials' numbers
     "finished": [[0, 9]],             # only when not "every other number below `number`"
     "parents": [[3, 41, 40]],         # identical warm start: [study id, numbers below, count]
     "define_by_run": true, "space_params": 3, "params": {...},  # define-by-run only
     "pending_asked": [11]}            # pending ones seen with the params they asked

``number`` is the trial number the generator was derived from (the batch's first); the trial
is the batch's ``index``-th suggestion of the ``n`` asked for. The space version it was made in
is the trial's own (``Trial.space_version``: the store refuses a trial whose version changed
after the suggestion).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunewise.space import Space
    from tunewise.strategies.base import Strategy
    from tunewise.trial import Trial

#: The layout of a record; ``tunewise replay`` reads the formats it knows.
RECORD_FORMAT = 1


def numerics() -> str:
    """The numerical libraries' versions (``numpy 2.1.3, scipy 1.14.1``; scipy once a strategy
    loaded it): the same tunewise on another numpy may round differently, so a mismatch can
    say so. Read from the loaded modules: no import, no metadata scan."""
    import numpy

    found = [f"numpy {numpy.__version__}"]
    scipy = sys.modules.get("scipy")
    if scipy is not None:
        found.append(f"scipy {scipy.__version__}")
    return ", ".join(found)


def to_ranges(numbers: Iterable[int]) -> list[list[int]]:
    """Sorted numbers as inclusive ``[first, last]`` ranges: ``0 1 2 5`` -> ``[[0, 2], [5, 5]]``."""
    out: list[list[int]] = []
    for number in numbers:
        if out and number == out[-1][1] + 1:
            out[-1][1] = number
        else:
            out.append([number, number])
    return out


def from_ranges(ranges: Iterable[Sequence[int]]) -> list[int]:
    """The numbers of :func:`to_ranges`' ranges, in order."""
    return [n for first, last in ranges for n in range(int(first), int(last) + 1)]


def strategy_identity(strategy: Strategy) -> tuple[str, Mapping[str, Any], bool]:
    """The registered name and options of the strategy that suggests, and whether it is a
    define-by-run study's (which wraps it: :class:`~tunewise.define_by_run.SeenSpaceStrategy`)."""
    inner = getattr(strategy, "inner", None)
    if inner is not None:
        return inner.name, dict(inner.options), True
    return strategy.name, dict(strategy.options), False


def suggestion_records(
    strategy: Strategy,
    suggestions: Sequence[Mapping[str, Any]],
    *,
    space: Space,
    number: int,
    n: int,
    finished: Sequence[Trial],
    pending: Sequence[Trial],
    remaining: int | None,
    prior: Sequence[Trial] = (),
) -> list[dict[str, Any]]:
    """One record per suggestion of one ``strategy.suggest`` call (see the module docstring).

    ``finished`` and ``pending``: the study's own trials the strategy was given, in number
    order (``prior``, the warm-start parents' trials, came before ``finished`` in its history);
    ``number``: what the generator was derived from; ``n``: how many were asked for.
    """
    from tunewise import __version__

    name, options, define_by_run = strategy_identity(strategy)
    common: dict[str, Any] = {
        "format": RECORD_FORMAT,
        "tunewise": __version__,
        "numerics": numerics(),
        "strategy": name,
        "options": options,
        "seed": int(strategy.seed),
        "number": int(number),
        "n": int(n),
        "remaining": remaining,
        "pending": to_ranges(t.number for t in pending),
    }
    if not _complement(finished, pending, number):
        common["finished"] = to_ranges(t.number for t in finished)
    if prior:
        common["parents"] = _parents(prior)
    if define_by_run:
        common["define_by_run"] = True
        common["space_params"] = len(space.params)
        asked = [t.number for t in pending if _asked_already(t)]
        if asked:  # seen with what they asked, not with what was suggested to them
            common["pending_asked"] = asked
    records = []
    for index, params in enumerate(suggestions):
        record = {**common, "index": index}
        if define_by_run:  # the trial's params become what it asked: keep what was suggested
            record["params"] = dict(params)
        records.append(record)
    return records


def _asked_already(trial: Trial) -> bool:
    """Whether a pending define-by-run trial's params are already what it asked (stored as
    it ends, a moment before it finishes) rather than what was suggested to it."""
    record = trial.suggestion
    return record is not None and "params" in record and dict(trial.params) != record["params"]


def _complement(finished: Sequence[Trial], pending: Sequence[Trial], number: int) -> bool:
    """Whether the finished trials are exactly the numbers below ``number`` not pending
    (both lists hold distinct numbers in order, so counting and the last ones decide it)."""
    if len(finished) + len(pending) != number:
        return False
    last = max(finished[-1].number if finished else -1, pending[-1].number if pending else -1)
    return last < number


def _parents(prior: Sequence[Trial]) -> list[list[int]]:
    """Per warm-start parent: ``[study id, one past its highest trial number seen, count]``.
    A parent that ran on afterwards gains trials above that number only (in the usual case);
    replay checks the count and says so when it no longer holds."""
    seen: dict[int, list[int]] = {}
    for trial in prior:
        entry = seen.setdefault(trial.study_id, [trial.study_id, 0, 0])
        entry[1] = max(entry[1], trial.number + 1)
        entry[2] += 1
    return list(seen.values())
