"""plotly figures (``{"data": [...], "layout": {...}}`` dicts) from the plot data.

Built in Python, drawn by plotly.js: the dashboard fetches them from the API, the report and
``tunewise plot -o FILE.html`` inline them, and :mod:`tunewise.visualization` wraps them in a
``go.Figure`` for notebooks, so every face shows the very same figure. No plotly Python object
is needed here, only the JavaScript library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from tunewise.analysis import KINDS, plots
from tunewise.analysis.frame import TrialFrame
from tunewise.analysis.importance import Importance, ped_anova
from tunewise.trial import Report

_HEIGHT = 380
_MARGIN = {"l": 60, "r": 20, "t": 40, "b": 50}


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "font": {"size": 15}},
        "height": _HEIGHT,
        "margin": _MARGIN,
        "legend": {"orientation": "h", "y": -0.2},
        **extra,
    }


def empty_figure(title: str, message: str) -> dict[str, Any]:
    """A figure that says why there is nothing to draw yet."""
    layout = _layout(title)
    layout["xaxis"] = {"visible": False}
    layout["yaxis"] = {"visible": False}
    layout["annotations"] = [
        {"text": message, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}
    ]
    return {"data": [], "layout": layout}


def history_figure(data: dict[str, Any]) -> dict[str, Any]:
    title = "Optimization history"
    if not data["completed"]["number"] and not data["stopped"]["number"]:
        return empty_figure(title, "no trial has completed yet")
    traces = [
        {
            "type": "scatter",
            "mode": "markers",
            "name": "completed",
            "x": data["completed"]["number"],
            "y": data["completed"]["value"],
            "marker": {"size": 5, "color": "#4c78a8", "opacity": 0.6},
        },
        {
            "type": "scatter",
            "mode": "lines",
            "name": "best so far",
            "x": data["best"]["number"],
            "y": data["best"]["value"],
            "line": {"shape": "hv", "color": "#e45756", "width": 2},
        },
    ]
    if data.get("infeasible", {}).get("number"):  # a constraint violated: greyed
        traces.insert(
            1,
            {
                "type": "scatter",
                "mode": "markers",
                "name": "infeasible",
                "x": data["infeasible"]["number"],
                "y": data["infeasible"]["value"],
                "marker": {"size": 5, "color": "#bdbdbd", "opacity": 0.7},
            },
        )
    if data["stopped"]["number"]:
        traces.insert(
            1,
            {
                "type": "scatter",
                "mode": "markers",
                "name": "stopped early",
                "x": data["stopped"]["number"],
                "y": data["stopped"]["value"],
                "marker": {"size": 6, "color": "#9d9d9d", "symbol": "x"},
            },
        )
    note = _shown_note(data["n_shown"], data["n_completed"])
    layout = _layout(
        title + note,
        xaxis={"title": {"text": "trial"}},
        yaxis={"title": {"text": f"{data['metric']} ({data['direction']})"}},
    )
    return {"data": traces, "layout": layout}


def importance_figure(importance: Importance) -> dict[str, Any]:
    title = "Hyperparameter importance (PED-ANOVA)"
    if not importance.values:
        return empty_figure(title, importance.note or "not enough trials yet")
    items = sorted(importance.values.items(), key=lambda kv: kv[1])
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": [round(v, 4) for _, v in items],
        "y": [k for k, _ in items],
        "marker": {"color": "#4c78a8"},
        "text": [f"{v:.2f}" for _, v in items],
        "textposition": "auto",
    }
    layout = _layout(
        f"{title}, {importance.n_trials} trials",
        xaxis={"title": {"text": "share of importance"}, "range": [0, 1]},
        yaxis={"automargin": True},
    )
    return {"data": [trace], "layout": layout}


INACTIVE = "(inactive)"


def _dimension(axis: dict[str, Any], keep: list[int]) -> dict[str, Any]:
    """One parcoords axis. parcoords cannot draw a gap, so a trial where the parameter is
    absent (inactive in a tree, never asked by define-by-run) sits on an ``(inactive)`` tick
    below the axis's values."""
    values = [axis["values"][i] for i in keep]
    absent = any(v is None for v in values)
    if axis["kind"] == "categorical":
        labels = [*axis["labels"], INACTIVE] if absent else axis["labels"]
        return {
            "label": axis["name"],
            "values": [len(labels) - 1 if v is None else v for v in values],
            "tickvals": list(range(len(labels))),
            "ticktext": labels,
            "range": [0, max(len(labels) - 1, 1)],
        }
    label = axis["name"]
    if axis.get("scale") == "log" and all(v is None or v > 0 for v in values):
        label = f"log10({axis['name']})"
        values = [None if v is None else math.log10(v) for v in values]
    if not absent:
        return {"label": label, "values": values}
    known = [v for v in values if v is not None]
    low, high = (min(known), max(known)) if known else (0.0, 0.0)
    pad = (high - low) * 0.15 or 1.0
    ticks = [low - pad, *dict.fromkeys([low, (low + high) / 2, high])]
    return {
        "label": label,
        "values": [low - pad if v is None else v for v in values],
        "range": [low - pad, high],
        "tickvals": ticks,
        "ticktext": [INACTIVE, *(f"{t:.3g}" for t in ticks[1:])],
    }


def parallel_figure(data: dict[str, Any]) -> dict[str, Any]:
    title = "Parallel coordinates"
    axes = data["axes"]
    # an absent coordinate is drawn on its axis's "(inactive)" tick (see _dimension)
    keep = [i for i, v in enumerate(data["value"]) if v is not None]
    if not keep:
        return empty_figure(title, "no trial has completed yet")
    dimensions = [_dimension(axis, keep) for axis in axes]
    values = [data["value"][i] for i in keep]
    dimensions.append({"label": data["metric"], "values": values})
    trace = {
        "type": "parcoords",
        "dimensions": dimensions,
        "line": {
            "color": values,
            "colorscale": "Viridis",
            "reversescale": data["direction"] == "minimize",
            "showscale": True,
            "colorbar": {"title": {"text": data["metric"]}},
        },
    }
    layout = _layout(title + _shown_note(len(keep), data["n_completed"]))
    layout["margin"] = {"l": 80, "r": 80, "t": 80, "b": 30}
    return {"data": [trace], "layout": layout}


def slice_figure(data: dict[str, Any]) -> dict[str, Any]:
    title = "Slice: objective per hyperparameter"
    params = data["params"]
    if not data["value"] or not params:
        return empty_figure(title, "no trial has completed yet")
    n = len(params)
    gap = 0.04 if n > 1 else 0.0
    width = (1.0 - gap * (n - 1)) / n
    traces: list[dict[str, Any]] = []
    layout = _layout(title + _shown_note(len(data["value"]), data["n_completed"]))
    layout["showlegend"] = False
    layout["yaxis"] = {"title": {"text": data["metric"]}}
    for i, axis in enumerate(params):
        suffix = "" if i == 0 else str(i + 1)
        x = axis["values"]
        xaxis: dict[str, Any] = {
            "domain": [i * (width + gap), i * (width + gap) + width],
            "title": {"text": axis["name"]},
            "anchor": "y",
        }
        if axis["kind"] == "categorical":
            labels = axis["labels"]
            x = [None if v is None else labels[int(v)] for v in x]
            xaxis["type"] = "category"
            xaxis["categoryarray"] = labels
        elif axis.get("scale") == "log":
            xaxis["type"] = "log"
        layout[f"xaxis{suffix}"] = xaxis
        traces.append(
            {
                "type": "scatter",
                "mode": "markers",
                "name": axis["name"],
                "x": x,
                "y": data["value"],
                "xaxis": f"x{suffix}",
                "yaxis": "y",
                "text": [f"trial {n}" for n in data["number"]],
                "marker": {
                    "size": 5,
                    "opacity": 0.7,
                    "color": data["number"],
                    "colorscale": "Blues",
                    "showscale": i == n - 1,
                    "colorbar": {"title": {"text": "trial"}},
                },
            }
        )
    return {"data": traces, "layout": layout}


def curves_figure(data: dict[str, Any]) -> dict[str, Any]:
    title = "Learning curves"
    if not data["curves"]:
        return empty_figure(title, f"no intermediate {data['metric']} reported yet")
    traces: list[dict[str, Any]] = []
    for curve in data["curves"]:
        state = curve["state"]
        line = {"width": 1.5, "dash": "dot" if state == "running" else "solid"}
        traces.append(
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"#{curve['number']} {state}",
                "x": curve["step"],
                "y": curve["value"],
                "line": line,
                "legendgroup": state,
            }
        )
        if state == "stopped":
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": f"#{curve['number']} stopped here",
                    "x": curve["step"][-1:],
                    "y": curve["value"][-1:],
                    "marker": {"symbol": "x", "size": 10, "color": "#e45756"},
                    "showlegend": False,
                }
            )
    layout = _layout(
        title + " (x = stopped early)",
        xaxis={"title": {"text": "step"}},
        yaxis={"title": {"text": data["metric"]}},
        showlegend=len(data["curves"]) <= 12,
    )
    return {"data": traces, "layout": layout}


def build_figure(
    kind: str, frame: TrialFrame, reports: Mapping[int, Sequence[Report]] | None = None
) -> dict[str, Any]:
    """The figure of ``kind`` (one of :data:`KINDS`); ``curves`` needs the reports of the
    trials :func:`tunewise.analysis.plots.curve_rows` picked.

    Raises:
        ValueError: an unknown kind.
    """
    if kind == "history":
        return history_figure(plots.history(frame))
    if kind == "importance":
        return importance_figure(ped_anova(frame))
    if kind == "parallel":
        return parallel_figure(plots.parallel(frame))
    if kind == "slice":
        return slice_figure(plots.slices(frame))
    if kind == "curves":
        return curves_figure(plots.curves(frame, reports or {}))
    if kind in ("pareto_front", "hypervolume"):  # several objectives (issue 23)
        from tunewise.analysis import pareto_plots as pp

        if kind == "pareto_front":
            return pp.pareto_figure(pp.pareto_data(frame))
        return pp.hypervolume_figure(pp.hypervolume_data(frame), len(frame.objectives))
    raise ValueError(f"unknown plot {kind!r}; choose one of {', '.join(KINDS)}")


def _shown_note(shown: int, total: int) -> str:
    return f" ({shown:,} of {total:,} trials shown)" if shown < total else ""
