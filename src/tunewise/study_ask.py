"""The suggestion behind ``Study.ask``: one new trial, suggested from the study as stored now.

The tuner suggests for ``optimize`` and ``tunewise run``; a caller that drives its own loop
(``study.ask``, ``tunewise ask``, REST ask) gets its trial here, by the same rules, so that the
two ways of running a study search alike and replay alike: the warm start's parent trials come
first in the history, an edited space sees only the trials inside it, every process suggesting
for the study takes its turn under the store's suggestion lock, and the trial is added under
the number and space version it was suggested for (else it is suggested again).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tunewise.errors import NumberTaken
from tunewise.history import TrialHistory
from tunewise.space_versions import UsableCache

if TYPE_CHECKING:
    from tunewise.space import Space
    from tunewise.store.base import Store
    from tunewise.strategies.base import Strategy
    from tunewise.study import Study
    from tunewise.trial import Trial


class AskSuggester:
    """Suggests the asked trials of one study; keeps the trials read so far (each later read
    costs only what changed) and the edited-space filter between asks."""

    def __init__(self, store: Store, study_id: int) -> None:
        self._store = store
        self._id = study_id
        self._history = TrialHistory(store, study_id)
        self._usable: UsableCache | None = None  # the trials inside an edited space
        self._edited = False

    def add(self, study: Study, owner: str, lease: float, remaining: int | None) -> Trial:
        """Suggest a trial for ``study`` and add it RUNNING, leased to ``owner``.

        Raises:
            ValueError: the strategy has no configuration left to try (an exhausted grid).
        """
        from tunewise.strategies import strategy_for, strategy_rng
        from tunewise.suggestion_record import suggestion_records
        from tunewise.tuner import SUGGESTION_LOCK_SECONDS

        strategy = _strategy(study, strategy_for(study.spec, study.seed))
        budget = study.spec.limits.max_trials
        # A warm start's parent trials come first in the history, as in the tuner (without
        # them a warm-started study driven by ask repeated its parent's first suggestions).
        prior = study._prior_history()
        # In turn with the other processes suggesting for this study, and under the number the
        # history gave: processes asking at once read the same history and drew from the same
        # generator, so they were handed the same parameters (4 processes x 3 asks: 8 distinct
        # of 12 with random).
        while True:
            with self._store.suggestion_lock(self._id, SUGGESTION_LOCK_SECONDS):
                self._history.refresh()  # reads only what changed: the cost stays flat
                number = len(self._history)  # it holds every trial: numbers are contiguous
                left = remaining
                if left is None and budget is not None:
                    left = max(1, budget - number)
                # The version before the space: an edit between the two reads, or after them,
                # makes the store refuse the trial (SpaceEdited) and it is suggested again.
                version = None
                if not study.spec.define_by_run:
                    version = self._store.get_space_versions(self._id)[-1].version
                space = study.space  # read once: a define-by-run study's grows meanwhile
                finished, pending = self._inside(space, prior, study.spec.define_by_run)
                rng = strategy_rng(study.seed, number)
                suggestions = strategy.suggest(space, finished, pending, 1, rng, remaining=left)
                if not suggestions:
                    raise ValueError(
                        f"the {strategy.name} strategy has no configuration left to try"
                    )
                (record,) = suggestion_records(  # what `tunewise replay` needs
                    strategy,
                    suggestions,
                    space=space,
                    number=number,
                    n=1,
                    finished=self._history.finished,
                    pending=self._history.pending,
                    remaining=left,
                    prior=prior,
                )
                try:
                    return self._store.add_trial(
                        self._id,
                        suggestions[0],
                        owner=owner,
                        lease_seconds=lease,
                        number=number,
                        suggestion=record,
                        space_version=version,
                    )
                except NumberTaken:  # added by another process past the lock's timeout, or
                    continue  # the space edited meanwhile (SpaceEdited)

    def _inside(
        self, space: Space, prior: Sequence[Trial], define_by_run: bool
    ) -> tuple[Sequence[Trial], list[Trial]]:
        """The finished and pending trials the strategy sees (the warm-start parents' trials,
        ``prior``, first): once the space was edited, those inside ``space``, projected onto
        it (:mod:`tunewise.space_versions`)."""
        finished, pending = self._history.finished, self._history.pending
        if prior:
            finished = [*prior, *finished]
        if define_by_run:
            return finished, pending
        if self._usable is None or self._usable.space is not space:
            self._usable = UsableCache(space)
            self._edited = len(self._store.get_space_versions(self._id)) > 1
        if not self._edited:
            return finished, pending
        return self._usable.kept(finished), self._usable.kept(pending, finished=False)


def _strategy(study: Study, strategy: Strategy) -> Strategy:
    """A define-by-run study's strategy searches the space its trials asked so far."""
    if not study.spec.define_by_run:
        return strategy
    from tunewise.define_by_run import SeenSpaceStrategy

    return SeenSpaceStrategy(strategy)
