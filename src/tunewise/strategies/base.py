"""The strategy contract: decide which hyperparameters to try next.

A strategy keeps no state between calls: everything it needs comes from the history the store
gives it, the trials still pending, its seed and the random generator the tuner derives from
(seed, trial number). Resume after a crash, many workers sharing a study and replaying a study
are therefore the same code path, and the same seed with the same history gives the same
suggestions.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.trial import Constraint, Objective, Trial


def strategy_rng(seed: int, number: int) -> np.random.Generator:
    """The generator for the suggestion that will become trial ``number`` of a study."""
    import numpy as np

    return np.random.default_rng([seed & 0xFFFFFFFF, number])


def check_multi_objective(cls: type[Strategy], count: int) -> None:
    """Refuse a strategy that cannot search ``count`` objectives (a SpecError on ``strategy``)."""
    if count > 1 and not cls.multi_objective:
        from tunewise.errors import SpecError

        raise SpecError(
            "strategy",
            f"{cls.name} does not search several objectives yet; use random, sobol or grid "
            "for this study (or keep one objective and add the others as constraints)",
        )


class Strategy(ABC):
    """Suggests hyperparameters; one subclass per file, registered by name."""

    #: The name a spec uses (``strategy: random``); set by every concrete strategy.
    name: ClassVar[str]
    #: Whether the strategy can search a study with several objectives; one that cannot is
    #: refused (a SpecError naming ``strategy``) before anything runs.
    multi_objective: ClassVar[bool] = True

    def __init__(
        self,
        objective: Objective,
        seed: int,
        options: Mapping[str, Any] | None = None,
        *,
        objectives: Sequence[Objective] = (),
        constraints: Sequence[Constraint] = (),
    ) -> None:
        self.objective = objective
        self.seed = seed
        #: Strategy-specific settings from the spec (e.g. Hyperband's ``sampler``).
        self.options: Mapping[str, Any] = dict(options or {})
        #: Every objective, ``objective`` first; a trial's value for each is
        #: ``trial.metrics[o.metric]`` (``trial.value`` is the first one's).
        self.objectives: tuple[Objective, ...] = tuple(objectives) or (objective,)
        #: Bounds a trial must respect to be feasible (``Constraint.violation``).
        self.constraints: tuple[Constraint, ...] = tuple(constraints)
        check_multi_objective(type(self), len(self.objectives))

    @abstractmethod
    def suggest(
        self,
        space: Space,
        history: Sequence[Trial],
        pending: Sequence[Trial],
        n: int,
        rng: np.random.Generator,
        *,
        remaining: int | None = None,
    ) -> list[dict[str, Any]]:
        """Up to ``n`` new assignments of the searched parameters (fewer when the strategy has
        nothing left, e.g. an exhausted grid).

        ``history``: finished trials (any state); ``pending``: queued and running ones.
        ``remaining``: the trials the study's budget still allows, these ``n`` included (None:
        no trial budget); a strategy may spend the last ones differently (``bayesian`` refines).
        Returned values must be valid for ``space`` (decoded from the unit encoding).
        """

    def default_max_trials(self, space: Space) -> int | None:
        """The number of trials the strategy itself implies (a grid's size), if any."""
        return None
