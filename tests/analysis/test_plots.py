"""Plot data stays small however many trials, and keeps what a reader looks for."""

from __future__ import annotations

import itertools
import json

import numpy as np

from tests.analysis.conftest import P, frame_of, random_trials, trial
from tunewise.analysis import KINDS, build_figure, plots
from tunewise.trial import Report


def test_history_is_down_sampled_but_keeps_the_best_and_the_extremes() -> None:
    frame = frame_of(random_trials(5_000, 7))
    data = plots.history(frame, max_points=200)
    assert data["n_completed"] == 5_000 and len(data["completed"]["number"]) <= 200
    best = int(frame.number[frame.best_index()])
    assert best in data["completed"]["number"]
    worst = int(frame.number[int(np.argmax(frame.value))])
    assert worst in data["completed"]["number"], "an outlier never disappears"
    assert data["best"]["value"][-1] == frame.value[frame.best_index()]
    steps = data["best"]["value"]
    assert all(a >= b for a, b in itertools.pairwise(steps)), "minimize: never rises"


def test_parallel_and_slice_keep_the_best_trials() -> None:
    frame = frame_of(random_trials(3_000, 8))
    order = np.argsort(frame.value)[:10]
    for data in (plots.parallel(frame, max_lines=300), plots.slices(frame, max_points=300)):
        assert data["n_shown"] <= 300
        assert set(frame.number[order].tolist()) <= set(data["number"])
    axes = plots.parallel(frame, 50)["axes"]
    act = next(a for a in axes if a["name"] == "act")
    assert act["kind"] == "categorical" and set(act["values"]) <= {0.0, 1.0}


def test_curves_pick_running_best_and_stopped_trials_and_mark_stops() -> None:
    trials = [*random_trials(60, 9)]
    trials.append(trial(60, P, 0.9, "stopped"))
    trials.append(trial(61, P, None, "running"))
    frame = frame_of(trials)
    rows = plots.curve_rows(frame, max_curves=12)
    numbers = {int(frame.number[i]) for i in rows}
    assert {60, 61} <= numbers and len(rows) <= 12
    reports = {n: [Report(s, {"loss": 1.0 / (s + 1)}) for s in range(300)] for n in numbers}
    data = plots.curves(frame, reports, max_points=50)
    stopped = next(c for c in data["curves"] if c["number"] == 60)
    assert stopped["state"] == "stopped" and len(stopped["step"]) <= 50
    assert stopped["step"][0] == 0 and stopped["step"][-1] == 299
    figure = build_figure("curves", frame, reports)
    assert any(t.get("marker", {}).get("symbol") == "x" for t in figure["data"])


def test_every_figure_is_plain_json_even_without_trials() -> None:
    for trials in ([], [*random_trials(30, 10), trial(30, P, float("nan"))]):
        frame = frame_of(trials)
        for kind in KINDS:
            figure = build_figure(kind, frame, {})
            json.dumps(figure, allow_nan=False)
            assert {"data", "layout"} <= set(figure)
