"""A study's trials as one process knows them, refreshed cheaply.

Finished trials are read-only, so they are read once and kept; each refresh reads only the
trials from the lowest unfinished number on (the store's ``(study_id, number)`` index). The cost
of asking for the next trial then stays flat as the study grows, instead of decoding every
stored trial on every ask.
"""

from __future__ import annotations

from tunewise.store.base import Store
from tunewise.trial import Trial


class TrialHistory:
    def __init__(self, store: Store, study_id: int) -> None:
        self._store = store
        self._study_id = study_id
        self._trials: dict[int, Trial] = {}
        self._frontier = 0  # every trial below this number is finished and known

    def refresh(self) -> dict[int, Trial]:
        """All trials by number, re-reading only those that may have changed."""
        fresh = self._store.get_trials(self._study_id, min_number=self._frontier)
        for trial in fresh:
            self._trials[trial.number] = trial
        self._frontier = _frontier(self._trials, self._frontier)
        return self._trials

    def update(self, trial: Trial) -> None:
        """Record a trial this process just changed (so no re-read is needed for it)."""
        self._trials[trial.number] = trial
        self._frontier = _frontier(self._trials, self._frontier)


def _frontier(trials: dict[int, Trial], start: int) -> int:
    """The lowest number from ``start`` on that is unknown or not finished."""
    number = start
    while number in trials and trials[number].state.is_finished:
        number += 1
    return number
