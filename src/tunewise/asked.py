"""The trial ``study.ask()`` hands out: a stored :class:`~tunewise.trial.Trial` that also
knows its study, so an Optuna user's ``trial.report(value, step)``,
``trial.set_user_attr(key, value)`` and ``study.tell(trial, value)`` work on it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tunewise.define_by_run import Suggester
from tunewise.trial import Trial

if TYPE_CHECKING:
    from tunewise.study import Study


@dataclass(frozen=True)
class AskedTrial(Trial, Suggester):
    """A trial from :meth:`Study.ask`, leased to the caller until :meth:`Study.tell`.

    Its fields are the snapshot ``ask`` read; :meth:`set_user_attr` updates ``user_attrs``
    here as well as in the store. ``suggest_float / suggest_int / suggest_categorical``
    (Optuna's) ask a define-by-run study's hyperparameters: ``tell`` stores what was asked as
    the trial's params, and the study's space grows by the names it had not seen.
    """

    study: Study | None = field(default=None, repr=False, compare=False)
    study_name: str = field(default="", repr=False, compare=False)

    def _study(self) -> Study:
        if self.study is None:
            raise ValueError(f"trial {self.number} is not attached to a study")
        return self.study

    def report(self, value: float | Mapping[str, float], step: int) -> None:
        """Store an intermediate value of the objective (or a dict of metrics) at ``step``."""
        self._study().report(self, value, step)

    def set_user_attr(self, key: str, value: Any) -> None:
        """Attach a JSON value to this trial (kept in the store, shown with the trial)."""
        self._study().set_trial_user_attr(self.number, key, value)
        object.__setattr__(self, "user_attrs", {**self.user_attrs, key: value})
