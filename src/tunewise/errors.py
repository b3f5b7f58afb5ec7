"""The errors a user can act on.

Three families, kept apart because they call for different reactions (KerasTuner's split
between errors that fail one trial and errors that abort the search):

- :class:`SpecError`: the user's input is wrong (a spec file, a space, an argument); nothing
  has run yet. It names the field path so the user knows what to edit.
- :class:`TrialFailed`: one trial failed; the study goes on.
- :class:`StudyAborted`: the whole search stops (too many consecutive failures, ...).

Plus :class:`StoreError` for the persistence layer and :class:`IllegalTransition` when a trial
state change is refused by the store's state machine.
"""

from __future__ import annotations


class TunewiseError(Exception):
    """Base class of every error tunewise raises on purpose."""


class SpecError(TunewiseError, ValueError):
    """Invalid user input, with the path of the offending field (``space.momentum.high``).

    ``str(error)`` is one sentence meant to be shown as is: it starts with the field path.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


class TrialFailed(TunewiseError):
    """One trial failed; carries the failure kind stored with the trial."""

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")


class TrialStopped(TunewiseError):
    """Raised inside a trial to end it early; the trial is recorded STOPPED, not FAILED."""


#: Optuna's name (``raise optuna.TrialPruned()`` after ``trial.should_prune()``).
TrialPruned = TrialStopped


class StudyAborted(TunewiseError):
    """The study cannot go on (for instance after too many consecutive failed trials)."""


class StoreError(TunewiseError):
    """The store could not complete an operation (driver error, missing study, ...)."""


class StudyNotFound(StoreError, KeyError):
    """No study of that name exists in the store; ``storage`` names the store searched."""

    def __init__(self, name: str, storage: str | None = None) -> None:
        self.name = name
        self.storage = storage
        super().__init__(name)

    def __str__(self) -> str:
        where = self.storage or "this storage"
        return f"no study named {self.name!r} in {where}; `tunewise status` lists the studies"


class StudyExists(StoreError):
    """A study of that name already exists."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"a study named {name!r} already exists in this storage")


class IllegalTransition(StoreError):
    """A trial state change the state machine forbids (e.g. finishing a finished trial)."""


class LeaseLost(StoreError):
    """The caller no longer holds the lease of the trial it tries to change."""


class NumberTaken(StoreError):
    """Another process added a trial first: the number the caller meant to add is taken (read
    the study's trials again and suggest anew, so no configuration is run twice)."""


class SpaceEdited(NumberTaken):
    """The study's space was edited after the suggestion was made (``tunewise edit``, from any
    process): nothing was added; read the study again and suggest in the new space."""


class NoTrialCompleted(StudyAborted):
    """A study ended with failed trials and not one completed: ``study.optimize`` raises it
    (``tunewise run`` exits 1 with the same text) instead of returning as if all went well.

    ``counts`` maps each failure kind to how many trials failed with it; ``last_error`` is the
    reason of the last failed trial.
    """

    def __init__(self, message: str, counts: dict[str, int], last_error: str | None) -> None:
        self.counts = counts
        self.last_error = last_error
        super().__init__(message)
