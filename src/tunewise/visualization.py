"""A study's plots in a notebook, as plotly figures: the very figures the dashboard draws.

    from tunewise.visualization import plot_history, plot_importance
    plot_history(study)          # a plotly go.Figure: shown in Jupyter, .write_html(), .show()

The figures are not defined here: :func:`tunewise.analysis.build_figure` builds each one as a
plotly.js spec (the dashboard, ``tunewise report`` and ``tunewise plot`` draw the same specs),
over the trials read the way the dashboard reads them, with the same down-sampling, so a study
looks the same in a notebook and in the browser. This module only wraps a spec in a
``go.Figure``. plotly comes with the ``dashboard`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

try:
    import plotly.graph_objects as go
except ImportError as error:  # the one sentence a user needs
    raise ImportError(
        "tunewise.visualization needs plotly: pip install 'tunewise[dashboard]'"
    ) from error

if TYPE_CHECKING:
    from tunewise.study import Study

__all__ = [
    "plot_curves",
    "plot_history",
    "plot_hypervolume",
    "plot_importance",
    "plot_parallel",
    "plot_pareto_front",
    "plot_slice",
]


def plot_history(study: Study) -> go.Figure:
    """Objective per trial and the best so far (stopped trials marked)."""
    return _figure("history", study)


def plot_importance(study: Study) -> go.Figure:
    """Each hyperparameter's share of importance (PED-ANOVA over the completed trials)."""
    return _figure("importance", study)


def plot_parallel(study: Study) -> go.Figure:
    """Parallel coordinates of the completed trials' hyperparameters, coloured by objective."""
    return _figure("parallel", study)


def plot_slice(study: Study) -> go.Figure:
    """The objective against each hyperparameter, one panel per hyperparameter."""
    return _figure("slice", study)


def plot_curves(study: Study) -> go.Figure:
    """Learning curves (the objective's reports per step) of the running, best and stopped
    trials, with early stops marked."""
    return _figure("curves", study)


def plot_pareto_front(study: Study) -> go.Figure:
    """The completed trials in objective space (2 objectives: a scatter with the front drawn
    as a staircase; 3: a 3-D scatter), infeasible trials in grey, the feasible front in red."""
    return _figure("pareto_front", study)


def plot_hypervolume(study: Study) -> go.Figure:
    """The hypervolume of the feasible front after each trial (objectives normalised to the
    ranges seen)."""
    return _figure("hypervolume", study)


def _figure(kind: str, study: Study) -> go.Figure:
    """The dashboard's figure of ``kind`` for ``study``, read now."""
    return go.Figure(figure_spec(kind, study))


def figure_spec(kind: str, study: Study) -> dict[str, Any]:
    """The plotly.js spec of ``kind`` for ``study``, read from its store now (what the
    dashboard's ``StudyData.figure`` serves for a study of that name).

    Raises:
        ValueError: an unknown kind.
    """
    from tunewise.analysis import TrialFrame, build_figure
    from tunewise.analysis.plots import curve_rows

    store = study.store
    study_id = store.get_study(study.name).id
    spec = study.spec
    frame = TrialFrame.from_trials(
        store.get_trial_table(study_id), study.space, spec.objective, spec.objectives,
        spec.constraints,
    )  # fmt: skip
    reports = None
    if kind == "curves":
        numbers = [int(frame.number[row]) for row in curve_rows(frame)]
        reports = {number: store.get_reports(study_id, number) for number in numbers}
    return build_figure(kind, frame, reports)
