"""The data behind each plot, down-sampled so that 100,000 trials still draw at once.

Every function returns plain JSON-ready data (lists of numbers, ``None`` for a gap), which the
plotly figures (:mod:`tunewise.analysis.figures`), the PNG renderer
(:mod:`tunewise.analysis.png`) and the REST API all share. The down-sampling keeps what a
reader looks for: every point where the best-so-far changes, the best trials, and the envelope
(minimum and maximum) of the rest, so an outlier never disappears from the picture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tunewise.analysis.frame import STATES, TrialFrame
from tunewise.space import Categorical, Float, Int
from tunewise.trial import Report, TrialState

MAX_POINTS = 1000  # points per scatter (history, each slice)
MAX_LINES = 500  # lines of the parallel-coordinates plot
MAX_CURVES = 40  # learning curves drawn
MAX_CURVE_POINTS = 200  # points per learning curve


def json_floats(values: Any) -> list[float | None]:
    """A float array as a JSON list: NaN and infinities become ``None`` (a gap in plotly)."""
    return [float(v) if math.isfinite(v) else None for v in np.asarray(values, dtype=float)]


def envelope_sample(rows: np.ndarray, y: np.ndarray, max_points: int) -> np.ndarray:
    """At most ``max_points`` of ``rows`` (in order) keeping the min and max of each bucket."""
    if rows.size <= max_points:
        return rows
    buckets = np.array_split(np.arange(rows.size), max(1, max_points // 2))
    keep: list[int] = []
    for bucket in buckets:
        values = y[bucket]
        keep.extend({int(bucket[int(np.argmin(values))]), int(bucket[int(np.argmax(values))])})
    return rows[np.unique(np.array(keep, dtype=np.int64))]


def best_and_spread(frame: TrialFrame, rows: np.ndarray, n: int, n_best: int) -> np.ndarray:
    """``n`` of ``rows``: the ``n_best`` best, then evenly spaced ranks of the rest (so the
    colour distribution of the sample is the study's), in row order."""
    if rows.size <= n:
        return rows
    ranked = rows[np.argsort(-frame.goodness()[rows], kind="stable")]
    rest = ranked[n_best:]
    spread = rest[np.linspace(0, rest.size - 1, n - n_best).round().astype(np.int64)]
    return np.unique(np.concatenate([ranked[:n_best], spread]))


def history(frame: TrialFrame, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Objective value per trial number and the best-so-far line (optimization history)."""
    completed = np.flatnonzero(frame.scored)
    stopped = np.flatnonzero(frame.in_state(TrialState.STOPPED) & np.isfinite(frame.value))
    shown = envelope_sample(completed, frame.value[completed], max_points)
    shown_stopped = envelope_sample(stopped, frame.value[stopped], max_points // 4)
    # With constraints: the completed trials that violate one, drawn apart (greyed).
    infeasible = np.flatnonzero(
        frame.in_state(TrialState.COMPLETED) & np.isfinite(frame.value) & ~frame.feasible
    )
    shown_infeasible = envelope_sample(infeasible, frame.value[infeasible], max_points // 4)
    numbers, best = frame.best_so_far()
    # The best-so-far is a step function: its change points (and the last trial) draw it whole.
    if numbers.size:
        change = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])
        change = np.unique(np.r_[change, numbers.size - 1])
        if change.size > max_points:  # a study that improved on most trials
            pick = np.linspace(0, change.size - 1, max_points).round().astype(np.int64)
            change = change[np.unique(pick)]
        numbers, best = numbers[change], best[change]
    return {
        "metric": frame.objective.metric,
        "direction": str(frame.objective.direction),
        "completed": {
            "number": frame.number[shown].tolist(),
            "value": json_floats(frame.value[shown]),
        },
        "infeasible": {
            "number": frame.number[shown_infeasible].tolist(),
            "value": json_floats(frame.value[shown_infeasible]),
        },
        "stopped": {
            "number": frame.number[shown_stopped].tolist(),
            "value": json_floats(frame.value[shown_stopped]),
        },
        "best": {"number": numbers.tolist(), "value": json_floats(best)},
        "n_completed": int(completed.size),
        "n_shown": int(shown.size + shown_stopped.size),
    }


def _axis(frame: TrialFrame, name: str, rows: np.ndarray) -> dict[str, Any]:
    """One hyperparameter's values for ``rows``, with how to draw its axis."""
    param = frame.space.params[name]
    if isinstance(param, Categorical):
        labels = [str(v) for v in param.values]
        index = np.floor(frame.unit[name][rows] * len(labels))
        return {
            "name": name,
            "kind": "categorical",
            "labels": labels,
            "values": json_floats(np.clip(index, 0, len(labels) - 1)),
        }
    raw = np.array([_number(frame.params[i].get(name)) for i in rows], dtype=np.float64).reshape(-1)
    scale = param.scale if isinstance(param, Float | Int) else "linear"
    return {"name": name, "kind": "number", "scale": scale, "values": json_floats(raw)}


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def parallel(frame: TrialFrame, max_lines: int = MAX_LINES) -> dict[str, Any]:
    """Hyperparameters of COMPLETED trials as parallel axes, coloured by objective."""
    scored = np.flatnonzero(frame.scored)
    rows = best_and_spread(frame, scored, max_lines, max_lines // 10)
    return {
        "metric": frame.objective.metric,
        "direction": str(frame.objective.direction),
        "axes": [_axis(frame, name, rows) for name in frame.space.names],
        "value": json_floats(frame.value[rows]),
        "number": frame.number[rows].tolist(),
        "n_completed": int(scored.size),
        "n_shown": int(rows.size),
    }


def slices(frame: TrialFrame, max_points: int = MAX_POINTS) -> dict[str, Any]:
    """Objective against each hyperparameter (one shared sample of COMPLETED trials)."""
    scored = np.flatnonzero(frame.scored)
    rows = best_and_spread(frame, scored, max_points, max_points // 10)
    return {
        "metric": frame.objective.metric,
        "direction": str(frame.objective.direction),
        "params": [_axis(frame, name, rows) for name in frame.space.names],
        "value": json_floats(frame.value[rows]),
        "number": frame.number[rows].tolist(),
        "n_completed": int(scored.size),
        "n_shown": int(rows.size),
    }


def curve_rows(frame: TrialFrame, max_curves: int = MAX_CURVES) -> list[int]:
    """Which trials' learning curves to draw: the running ones, the best completed, and the
    stopped ones (the early-stopping decisions a reader wants to check), most recent first."""
    quota = max(1, max_curves // 3)
    running = np.flatnonzero(frame.in_state(TrialState.RUNNING))[::-1][:quota]
    scored = np.flatnonzero(frame.scored)
    best = scored[np.argsort(-frame.goodness()[scored], kind="stable")][:quota]
    stopped = np.flatnonzero(frame.in_state(TrialState.STOPPED))[::-1]
    room = max_curves - running.size - best.size
    chosen = np.unique(np.concatenate([running, best, stopped[: max(room, 0)]]))
    return [int(i) for i in chosen]


def curves(
    frame: TrialFrame,
    reports: Mapping[int, Sequence[Report]],
    metric: str | None = None,
    max_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """Intermediate values of ``metric`` (default: the objective) per step, for the trials in
    ``reports`` (trial number -> its reports); stopped trials are flagged for a marker."""
    metric = metric or frame.objective.metric
    by_number = {int(n): i for i, n in enumerate(frame.number)}
    lines = []
    for number in sorted(reports):
        points = [(r.step, r.values[metric]) for r in reports[number] if metric in r.values]
        if not points:
            continue
        if len(points) > max_points:
            pick = np.linspace(0, len(points) - 1, max_points).round().astype(int)
            points = [points[i] for i in np.unique(pick)]
        row = by_number.get(number)
        state = str(STATES[frame.state[row]]) if row is not None else "unknown"
        lines.append(
            {
                "number": number,
                "state": state,
                "step": [int(s) for s, _ in points],
                "value": json_floats([v for _, v in points]),
            }
        )
    return {"metric": metric, "direction": str(frame.objective.direction), "curves": lines}
