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
KINDS = ("history", "importance", "parallel", "slice", "curves")

_LAZY = {
    "build_figure": "tunewise.analysis.figures",
    "TrialFrame": "tunewise.analysis.frame",
    "Importance": "tunewise.analysis.importance",
    "ped_anova": "tunewise.analysis.importance",
}

__all__ = ["KINDS", "Importance", "TrialFrame", "build_figure", "ped_anova"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
