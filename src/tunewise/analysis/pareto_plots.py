"""The Pareto front and hypervolume history of a study with several objectives: plot data
from a :class:`TrialFrame`, the plotly.js figures (dashboard, ``tunewise plot``, notebooks)
and their matplotlib PNGs, all from the same data.

Only completed trials that report every objective are drawn; feasible ones in colour,
infeasible ones (a constraint violated) in grey, the feasible Pareto front in red, joined by
a staircase with two objectives. The hypervolume history normalises each objective by the
range seen among the feasible trials (best 0, worst 1, reference point 1.1), as the completion
criteria do (:mod:`tunewise.stopping.completion_multi`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from tunewise.analysis.frame import STATES, TrialFrame
from tunewise.trial import TrialState, is_feasible

_COMPLETED = STATES.index(TrialState.COMPLETED)
FEASIBLE, INFEASIBLE, FRONT = "#4c78a8", "#bdbdbd", "#e45756"


def pareto_data(frame: TrialFrame) -> dict[str, Any]:
    """``{"metrics", "directions", "number", "values" (one list per objective), "feasible",
    "on_front"}`` over the completed trials with every objective."""
    from tunewise.pareto import pareto_front

    objectives = frame.objectives or (frame.objective,)
    rows, numbers, feasible = [], [], []
    for i in np.flatnonzero(frame.state == _COMPLETED):
        metrics = frame.metrics[int(i)]
        values = [metrics.get(o.metric) for o in objectives]
        if any(v is None or not math.isfinite(v) for v in values):
            continue
        rows.append([float(v) for v in values if v is not None])
        numbers.append(int(frame.number[i]))
        feasible.append(is_feasible(metrics, frame.constraints))
    on_front = [False] * len(rows)
    kept = [i for i, ok in enumerate(feasible) if ok]
    if kept:
        points = np.array([[-o.sign * rows[i][k] for k, o in enumerate(objectives)] for i in kept])
        for j in pareto_front(points):
            on_front[kept[int(j)]] = True
    return {
        "metrics": [o.metric for o in objectives],
        "directions": [str(o.direction) for o in objectives],
        "number": numbers,
        "values": [[row[k] for row in rows] for k in range(len(objectives))],
        "feasible": feasible,
        "on_front": on_front,
    }


def front_numbers(frame: TrialFrame) -> frozenset[int]:
    """The numbers of the trials on the feasible Pareto front (one objective: the best)."""
    if len(frame.objectives) < 2:
        best = frame.best_index()
        return frozenset() if best is None else frozenset({int(frame.number[best])})
    data = pareto_data(frame)
    return frozenset(n for n, on in zip(data["number"], data["on_front"], strict=True) if on)


def hypervolume_data(frame: TrialFrame) -> dict[str, Any]:
    """``{"number": [...], "hypervolume": [...]}``: the normalised hypervolume of the feasible
    front after each completed trial (in number order)."""
    from tunewise.pareto import hypervolume_history

    data = pareto_data(frame)
    objectives = frame.objectives or (frame.objective,)
    feasible = [i for i, ok in enumerate(data["feasible"]) if ok]
    if not feasible:
        return {"number": data["number"], "hypervolume": [0.0] * len(data["number"])}
    points = np.array(
        [[-o.sign * data["values"][k][i] for k, o in enumerate(objectives)] for i in feasible]
    )
    low, high = points.min(axis=0), points.max(axis=0)
    scaled = (points - low) / np.where(high > low, high - low, 1.0)
    history = hypervolume_history(scaled, np.full(len(objectives), 1.1))
    by_row = dict(zip(feasible, history, strict=True))
    values, last = [], 0.0
    for i in range(len(data["number"])):
        last = by_row.get(i, last)
        values.append(last)
    return {"number": data["number"], "hypervolume": values}


def _marker_trace(data: dict[str, Any], rows: list[int], name: str, color: str) -> dict[str, Any]:
    dims = min(3, len(data["metrics"]))
    trace: dict[str, Any] = {
        "type": "scatter3d" if dims == 3 else "scatter",
        "mode": "markers",
        "name": name,
        "text": [f"#{data['number'][i]}" for i in rows],
        "marker": {"size": 4 if dims == 3 else 7, "color": color},
    }
    for axis, k in zip("xyz", range(dims), strict=False):
        trace[axis] = [data["values"][k][i] for i in rows]
    return trace


def pareto_figure(data: dict[str, Any]) -> dict[str, Any]:
    """2 objectives: a scatter with the front as a staircase; 3: a 3-D scatter; more: the
    first three (named in the title)."""
    from tunewise.analysis.figures import _layout, empty_figure

    title = "Pareto front"
    if len(data["metrics"]) < 2:
        return empty_figure(title, "the Pareto front needs a study with several objectives")
    if not data["number"]:
        return empty_figure(title, "no trial has completed with every objective yet")
    n = len(data["number"])
    front = [i for i in range(n) if data["on_front"][i]]
    others = [i for i in range(n) if data["feasible"][i] and not data["on_front"][i]]
    infeasible = [i for i in range(n) if not data["feasible"][i]]
    traces = [_marker_trace(data, others, "feasible", FEASIBLE)]
    if infeasible:
        traces.append(_marker_trace(data, infeasible, "infeasible", INFEASIBLE))
    traces.append(_marker_trace(data, front, "Pareto front", FRONT))
    names = [f"{m} ({d[:3]})" for m, d in zip(data["metrics"], data["directions"], strict=True)]
    if len(data["metrics"]) == 2 and front:
        xs, ys = _staircase(data, front)
        line = {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "showlegend": False}
        traces.append({**line, "line": {"shape": "hv", "color": FRONT, "width": 1.5}})
        layout = _layout(
            title, xaxis={"title": {"text": names[0]}}, yaxis={"title": {"text": names[1]}}
        )
    else:
        shown = "" if len(names) == 3 else f" (first 3 of {len(names)} objectives)"
        scene = {f"{a}axis": {"title": {"text": t}} for a, t in zip("xyz", names, strict=False)}
        layout = _layout(title + shown, scene=scene)
    return {"data": traces, "layout": layout}


def _staircase(data: dict[str, Any], front: list[int]) -> tuple[list[float], list[float]]:
    """The front's points in order of the first objective: drawn with shape ``hv``, the line
    bounds the region the front dominates."""
    signs = [1.0 if d == "maximize" else -1.0 for d in data["directions"]]
    order = sorted(front, key=lambda i: -signs[0] * data["values"][0][i])
    return [data["values"][0][i] for i in order], [data["values"][1][i] for i in order]


def hypervolume_figure(data: dict[str, Any], objectives: int) -> dict[str, Any]:
    from tunewise.analysis.figures import _layout, empty_figure

    title = "Hypervolume history"
    if objectives < 2:
        return empty_figure(title, "the hypervolume needs a study with several objectives")
    if not data["number"]:
        return empty_figure(title, "no trial has completed with every objective yet")
    trace = {
        "type": "scatter",
        "mode": "lines+markers",
        "name": "hypervolume",
        "x": data["number"],
        "y": data["hypervolume"],
        "line": {"shape": "hv", "color": FRONT, "width": 2},
        "marker": {"size": 4},
    }
    layout = _layout(
        title + " (objectives normalised to the ranges seen)",
        xaxis={"title": {"text": "trial"}},
        yaxis={"title": {"text": "hypervolume"}},
    )
    return {"data": [trace], "layout": layout}


def write_pareto_png(kind: str, frame: TrialFrame, path: Path) -> None:
    """The ``pareto`` or ``hypervolume`` figure as a PNG (matplotlib, no browser)."""
    from tunewise.analysis.png import _message, _pyplot

    plt = _pyplot()
    data = pareto_data(frame)
    dims = len(data["metrics"])
    three = kind == "pareto_front" and dims >= 3
    fig = plt.figure(figsize=(6.4, 4.8), dpi=100)
    ax = fig.add_subplot(projection="3d") if three else fig.add_subplot()
    if dims < 2:
        _message(ax, f"the {kind} plot needs a study with several objectives")
    elif not data["number"]:
        _message(ax, "no trial has completed with every objective yet")
    elif kind == "hypervolume":
        hv = hypervolume_data(frame)
        ax.step(hv["number"], hv["hypervolume"], where="post", color=FRONT)
        ax.set_xlabel("trial")
        ax.set_ylabel("hypervolume (normalised)")
        ax.set_title("Hypervolume history")
    else:
        n = len(data["number"])
        groups = (
            ("feasible", FEASIBLE, [i for i in range(n) if data["feasible"][i]]),
            ("infeasible", INFEASIBLE, [i for i in range(n) if not data["feasible"][i]]),
            ("Pareto front", FRONT, [i for i in range(n) if data["on_front"][i]]),
        )
        for name, color, rows in groups:
            if rows:
                coords = [[data["values"][k][i] for i in rows] for k in range(3 if three else 2)]
                ax.scatter(*coords, s=22, color=color, label=name)
        front = groups[2][2]
        if not three and front:
            xs, ys = _staircase(data, front)
            ax.step(xs, ys, where="post", color=FRONT, linewidth=1.2)
        labels = [f"{m} ({d})" for m, d in zip(data["metrics"], data["directions"], strict=True)]
        for k, set_scale in enumerate((ax.set_xscale, ax.set_yscale) if not three else ()):
            values = data["values"][k]
            if min(values) > 0 and max(values) / min(values) > 100:  # sizes, times: decades
                set_scale("log")
        ax.set_xlabel(labels[0])
        ax.set_ylabel(labels[1])
        if three:
            ax.set_zlabel(labels[2])
        ax.set_title("Pareto front")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
