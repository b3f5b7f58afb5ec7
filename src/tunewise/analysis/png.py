"""PNG pictures of the same plot data, drawn with matplotlib (``tunewise plot -o FILE.png``).

Why matplotlib and not plotly's image export: plotly needs Kaleido, which drives a browser of
its own; matplotlib draws offline with its Agg backend and no browser at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunewise.analysis import plots
from tunewise.analysis.frame import TrialFrame
from tunewise.analysis.importance import ped_anova
from tunewise.trial import Report


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display; set before pyplot is imported
    import matplotlib.pyplot as plt

    return plt


def _message(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def _gaps(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else v for v in values]


def write_png(
    kind: str,
    frame: TrialFrame,
    path: Path,
    reports: Mapping[int, Sequence[Report]] | None = None,
) -> None:
    """Draw the ``kind`` plot of ``frame`` into the PNG file ``path``.

    Raises:
        ValueError: an unknown kind.
    """
    if kind in ("pareto_front", "hypervolume"):  # several objectives (issue 23)
        from tunewise.analysis.pareto_plots import write_pareto_png

        write_pareto_png(kind, frame, path)
        return
    plt = _pyplot()
    draw = {
        "history": _history,
        "importance": _importance,
        "parallel": _parallel,
        "slice": _slice,
        "curves": _curves,
    }.get(kind)
    if draw is None:
        raise ValueError(f"unknown plot {kind!r}")
    n_axes = len(frame.space.names) if kind == "slice" else 1
    fig, axes = plt.subplots(1, n_axes, figsize=(max(7.0, 3.2 * n_axes), 4.2), squeeze=False)
    try:
        draw(frame, list(axes[0]), reports or {})
        fig.tight_layout()
        fig.savefig(path, dpi=100)
    finally:
        plt.close(fig)


def _history(frame: TrialFrame, axes: list[Any], _: Any) -> None:
    ax = axes[0]
    data = plots.history(frame)
    if not data["completed"]["number"]:
        _message(ax, "no trial has completed yet")
        return
    ax.scatter(
        data["completed"]["number"], _gaps(data["completed"]["value"]), s=8, alpha=0.6,
        label="completed",
    )  # fmt: skip
    if data["infeasible"]["number"]:  # a constraint violated: greyed
        ax.scatter(
            data["infeasible"]["number"], _gaps(data["infeasible"]["value"]), s=8,
            color="#bdbdbd", label="infeasible",
        )  # fmt: skip
    if data["stopped"]["number"]:
        ax.scatter(
            data["stopped"]["number"], _gaps(data["stopped"]["value"]), s=12, marker="x",
            color="grey", label="stopped early",
        )  # fmt: skip
    ax.step(
        data["best"]["number"], _gaps(data["best"]["value"]), where="post", color="tab:red",
        label="best so far",
    )  # fmt: skip
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{data['metric']} ({data['direction']})")
    ax.set_title("Optimization history")
    ax.legend()


def _importance(frame: TrialFrame, axes: list[Any], _: Any) -> None:
    ax = axes[0]
    result = ped_anova(frame)
    if not result.values:
        _message(ax, result.note or "not enough trials yet")
        return
    items = sorted(result.values.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of importance")
    ax.set_title(f"Hyperparameter importance (PED-ANOVA), {result.n_trials} trials")


def _parallel(frame: TrialFrame, axes: list[Any], _: Any) -> None:
    ax = axes[0]
    data = plots.parallel(frame)
    if not data["value"]:
        _message(ax, "no trial has completed yet")
        return
    plt = _pyplot()
    names = [a["name"] for a in data["axes"]] + [data["metric"]]
    columns = [_normalised(a) for a in data["axes"]]
    values = _gaps(data["value"])
    finite = [v for v in values if not math.isnan(v)]
    low, high = min(finite), max(finite)
    columns.append([(v - low) / (high - low) if high > low else 0.5 for v in values])
    cmap = plt.get_cmap("viridis_r" if data["direction"] == "minimize" else "viridis")
    for i, value in enumerate(values):
        colour = cmap((value - low) / (high - low) if high > low else 0.5)
        ax.plot(range(len(names)), [c[i] for c in columns], color=colour, alpha=0.35, lw=0.8)
    ax.set_xticks(range(len(names)), names, rotation=20)
    ax.set_yticks([])
    ax.set_title("Parallel coordinates (axes scaled to their range)")


def _normalised(axis: dict[str, Any]) -> list[float]:
    values = _gaps(axis["values"])
    if axis["kind"] == "categorical":
        top = max(len(axis["labels"]) - 1, 1)
        return [v / top for v in values]
    if axis.get("scale") == "log":
        values = [math.log10(v) if v > 0 else math.nan for v in values]
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return values
    low, high = min(finite), max(finite)
    return [(v - low) / (high - low) if high > low else 0.5 for v in values]


def _slice(frame: TrialFrame, axes: list[Any], _: Any) -> None:
    data = plots.slices(frame)
    if not data["value"]:
        _message(axes[0], "no trial has completed yet")
        return
    values = _gaps(data["value"])
    for ax, axis in zip(axes, data["params"], strict=True):
        x = _gaps(axis["values"])
        ax.scatter(x, values, s=8, c=data["number"], cmap="Blues", alpha=0.8)
        if axis["kind"] == "categorical":
            ax.set_xticks(range(len(axis["labels"])), axis["labels"])
        elif axis.get("scale") == "log":
            ax.set_xscale("log")
        ax.set_xlabel(axis["name"])
    axes[0].set_ylabel(data["metric"])
    axes[0].set_title("Slice")


def _curves(frame: TrialFrame, axes: list[Any], reports: Mapping[int, Sequence[Report]]) -> None:
    ax = axes[0]
    data = plots.curves(frame, reports)
    if not data["curves"]:
        _message(ax, f"no intermediate {data['metric']} reported yet")
        return
    for curve in data["curves"]:
        style = ":" if curve["state"] == "running" else "-"
        ax.plot(curve["step"], _gaps(curve["value"]), style, lw=1.2)
        if curve["state"] == "stopped":
            ax.plot(curve["step"][-1:], _gaps(curve["value"][-1:]), "x", color="tab:red")
    ax.set_xlabel("step")
    ax.set_ylabel(data["metric"])
    ax.set_title("Learning curves (x = stopped early)")
