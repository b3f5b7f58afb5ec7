"""Analysis of a study's trials: importance, plot data with down-sampling, figures, tables.

Shared by the dashboard (:mod:`tunewise.server`), ``tunewise report``, ``tunewise plot`` and the
notebook ``plot_*`` functions (:mod:`tunewise.visualization`), so that all show the same numbers.
Everything here is pure computation over a :class:`TrialFrame` (numpy only); matplotlib loads
only when a PNG is written. Importing this package loads nothing heavy (``tunewise --help``
lists the plot kinds); the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tunewise.analysis.figures import build_figure
    from tunewise.analysis.frame import TrialFrame
    from tunewise.analysis.importance import Importance, ped_anova

#: The plots every face offers, in the order the dashboard shows them.
KINDS = ("history", "importance", "parallel", "slice", "curves", "pareto_front", "hypervolume")
#: The plots only a study with several objectives has (issue 23).
MULTI_OBJECTIVE_KINDS = ("pareto_front", "hypervolume")


def kinds_for(objectives: int) -> tuple[str, ...]:
    """The plots a study with ``objectives`` objectives shows: the Pareto ones first."""
    if objectives > 1:
        return (*MULTI_OBJECTIVE_KINDS, *(k for k in KINDS if k not in MULTI_OBJECTIVE_KINDS))
    return tuple(k for k in KINDS if k not in MULTI_OBJECTIVE_KINDS)


_LAZY = {
    "build_figure": "tunewise.analysis.figures",
    "TrialFrame": "tunewise.analysis.frame",
    "Importance": "tunewise.analysis.importance",
    "ped_anova": "tunewise.analysis.importance",
}

__all__ = [
    "KINDS",
    "MULTI_OBJECTIVE_KINDS",
    "Importance",
    "TrialFrame",
    "build_figure",
    "kinds_for",
    "ped_anova",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
