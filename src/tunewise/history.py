"""A study's trials as one process knows them, refreshed cheaply.

Finished trials are read-only, so they are read once and kept, in number order, in the list
strategies get as their history: it grows by insertion, never by a re-read or a rebuild. A
refresh reads only what may have changed: the trials created since the last one and those not
finished when last seen. The cost of asking for, starting and finishing a trial then stays flat
as the study grows (measured by ``benchmarks/scale.py``), where decoding or filtering every
stored trial on every ask grows with the study.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from tunewise.store.base import Store
from tunewise.trial import Trial, TrialState

#: Up to this many numbers behind the newest, unfinished trials are re-read with the new ones
#: in one range query; further behind (a trial that runs for hours while thousands of others
#: finish), they are read by state instead, so an old running trial never pins the read.
_RANGE_LAG = 256
_UNFINISHED = (TrialState.QUEUED, TrialState.RUNNING)


class TrialHistory:
    def __init__(self, store: Store, study_id: int) -> None:
        self._store = store
        self._study_id = study_id
        self._trials: dict[int, Trial] = {}
        self._finished: list[Trial] = []  # number order; finished trials never change
        self._done: set[int] = set()  # the numbers in ``_finished``
        self._ended: list[Trial] = []  # the finished trials in the order this object saw them
        self._pending: dict[int, Trial] = {}  # queued and running, by number
        self._next = 0  # one past the highest number read
        #: Numbers below ``_next`` never read: a trial whose creator committed after a later
        #: one's (the stores serialise trial creation, so this is a safeguard, not a path).
        self._missing: set[int] = set()

    def refresh(self) -> dict[int, Trial]:
        """All trials by number, re-reading only those that may have changed. The dict is
        this object's own, kept current by :meth:`update`: a trial put in it directly must be
        given to :meth:`update` too."""
        lowest = min(self._pending, default=self._next)
        if self._missing or self._next - lowest <= _RANGE_LAG:
            lowest = min(lowest, *self._missing) if self._missing else lowest
            fresh = self._store.get_trials(self._study_id, min_number=lowest)
            self._missing.clear()  # the read covered them: what it did not return is not there
        else:
            # One state per read: each is an equality on the (study, state, number) index.
            unfinished = [
                t for state in _UNFINISHED for t in self._store.get_trials(self._study_id, [state])
            ]
            seen = {t.number for t in unfinished}
            # Known as unfinished, no longer unfinished: finished since (a trial never goes away).
            ended = [
                self._store.get_trial(self._study_id, n)
                for n in self._pending
                if n not in seen and n < self._next
            ]
            fresh = [*unfinished, *ended]
            fresh += self._store.get_trials(self._study_id, min_number=self._next)
        for trial in fresh:
            self.update(trial)
        return self._trials

    def update(self, trial: Trial) -> None:
        """Record a trial this process just read or changed (so no re-read is needed for it)."""
        number = trial.number
        if number in self._done:
            return  # read-only: nothing can have changed
        self._trials[number] = trial
        if number > self._next:
            self._missing.update(range(self._next, number))
        self._missing.discard(number)
        self._next = max(self._next, number + 1)
        if trial.state.is_finished:
            self._done.add(number)
            self._ended.append(trial)
            self._pending.pop(number, None)
            if not self._finished or self._finished[-1].number < number:
                self._finished.append(trial)
            else:
                bisect.insort(self._finished, trial, key=_number)
        else:
            self._pending[number] = trial

    @property
    def finished(self) -> Sequence[Trial]:
        """The finished trials in number order: a strategy's history (do not change it)."""
        return self._finished

    @property
    def pending(self) -> list[Trial]:
        """The queued and running trials in number order."""
        return [self._pending[n] for n in sorted(self._pending)]

    @property
    def unfinished(self) -> int:
        """How many trials are queued or running."""
        return len(self._pending)

    def ended_since(self, seen: int) -> Sequence[Trial]:
        """The finished trials after the first ``seen`` this object recorded, in the order it
        recorded them: a reader that keeps a tally (a progress line) reads each trial once."""
        return self._ended[seen:]

    def __len__(self) -> int:
        return len(self._trials)


def _number(trial: Trial) -> int:
    return trial.number
