"""The progress display (:mod:`tunewise.progress`): its line, where :meth:`ProgressDisplay.auto`
draws (terminal, Jupyter, nowhere), and an ETA from the trial rate, never from ``max_runtime``."""

from __future__ import annotations

import io
import logging
import sys
import types
from typing import Any

import pytest

import tunewise as tw
from tunewise.progress import ProgressDisplay, format_progress, format_seconds, in_jupyter
from tunewise.runners.python import PythonRunner
from tunewise.spec import Limits
from tunewise.tuner import Progress, rate_eta


def snapshot(**changes: Any) -> Progress:
    values: dict[str, Any] = {
        "total": 10,
        "done": 3,
        "running": 2,
        "failed": 1,
        "best": 0.912345678,
        "best_number": 2,
        "elapsed": 75.0,
        "eta": 3725.0,
    }
    values.update(changes)
    return Progress(**values)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# The line ---------------------------------------------------------------------------------
def test_the_line_shows_done_running_failed_best_elapsed_and_eta() -> None:
    assert format_progress(snapshot()) == (
        "trials 3/10 [#######.................] running 2 | failed 1 | "
        "best 0.912346 (#2) | 01:15 elapsed | ETA 1:02:05"
    )


def test_the_line_without_a_total_a_best_or_an_eta() -> None:
    line = format_progress(snapshot(total=None, best=None, best_number=None, eta=None))
    assert line == "trials 3 running 2 | failed 1 | best -- | 01:15 elapsed | ETA --:--"
    assert "[" not in format_progress(snapshot(), bar=False)


def test_format_seconds() -> None:
    assert [format_seconds(s) for s in (None, 0, 59.6, 3600, 86399)] == [
        "--:--",
        "00:00",
        "01:00",
        "1:00:00",
        "23:59:59",
    ]


# The terminal display ---------------------------------------------------------------------
def test_a_terminal_display_redraws_in_place_and_ends_with_a_newline() -> None:
    stream = Terminal()
    display = ProgressDisplay(stream, min_interval=0)
    display(snapshot(done=1, best=0.5, best_number=0))
    display(snapshot(done=2))
    display.close()
    out = stream.getvalue()
    assert out.count("\r") == 2 and out.endswith("\n") and "\n" not in out[:-1]
    first, second = out[1:-1].split("\r")
    assert first.startswith("trials 1/10") and second.startswith("trials 2/10")
    assert len(second) >= len(first)  # a shorter line is padded over the longer one


def test_a_skipped_snapshot_is_drawn_when_the_display_closes() -> None:
    stream = Terminal()
    display = ProgressDisplay(stream, min_interval=3600)
    display(snapshot(done=1, running=2))
    display(snapshot(done=1, running=0))  # within min_interval, the same count: skipped
    assert "running 0" not in stream.getvalue()
    display.close()
    assert stream.getvalue().rstrip("\n").endswith(format_progress(snapshot(done=1, running=0)))


def test_a_line_written_on_a_terminal_goes_above_the_progress_line() -> None:
    stream = Terminal()
    display = ProgressDisplay(stream, min_interval=0)
    display(snapshot(done=1))
    display.write("trial #1 failed: ValueError: boom")
    display.close()
    progress = format_progress(snapshot(done=1))
    lines = stream.getvalue().split("\n")
    assert lines[0] == "\r" + progress + "\r" + "trial #1 failed: ValueError: boom".ljust(
        len(progress)
    )
    assert lines[1:] == ["\r" + progress, ""]
    log = io.StringIO()
    display = ProgressDisplay(log)
    display(snapshot(done=1))
    display.write("trial #1 failed")
    assert log.getvalue().splitlines() == [progress, "trial #1 failed"]


def test_the_tunewise_loggers_lines_go_above_a_live_terminal_line() -> None:
    stream = Terminal()
    logger = logging.getLogger("tunewise")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        display = ProgressDisplay(stream, min_interval=0)
        display(snapshot(done=1))
        logger.warning("trial #1 failed: boom")
        display.close()
        logger.warning("after")  # the display is gone: straight to the handler again
    finally:
        logger.removeHandler(handler)
    progress = format_progress(snapshot(done=1))
    assert stream.getvalue().split("\n") == [
        "\r" + progress + "\r" + "trial #1 failed: boom".ljust(len(progress)),
        "\r" + progress,
        "after",
        "",
    ]
    assert not handler.filters


def test_a_log_gets_one_line_per_finished_trial() -> None:
    stream = io.StringIO()
    display = ProgressDisplay(stream, min_interval=0)
    for done, running in [(0, 1), (0, 2), (1, 2), (1, 1), (2, 0)]:
        display(snapshot(done=done, running=running))
    display.close()
    lines = stream.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["0/10", "1/10", "2/10"]
    assert "\r" not in stream.getvalue()


# Where auto() draws -----------------------------------------------------------------------
class ZMQInteractiveShell:  # the name ipykernel's shell has
    kernel = object()


class TerminalInteractiveShell:  # a terminal IPython: not a kernel
    pass


def fake_ipython(monkeypatch: pytest.MonkeyPatch, shell: object | None) -> list[Any]:
    """An ``IPython`` in ``sys.modules`` whose ``get_ipython()`` is ``shell``, with a
    ``display`` that records what it shows; returns the record."""
    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any) -> None:
            shown.append(("update", obj))

    class HTML:
        def __init__(self, data: str) -> None:
            self.data = data

    def display(obj: Any, display_id: bool = False) -> Handle | None:
        shown.append(("display", obj))
        return Handle() if display_id else None

    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell  # type: ignore[attr-defined]
    ipython_display = types.ModuleType("IPython.display")
    ipython_display.display = display  # type: ignore[attr-defined]
    ipython_display.HTML = HTML  # type: ignore[attr-defined]
    ipython.display = ipython_display  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython_display)
    return shown


def test_auto_draws_on_a_terminal_and_not_in_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert isinstance(ProgressDisplay.auto(Terminal()), ProgressDisplay)
    assert ProgressDisplay.auto(io.StringIO()) is None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert ProgressDisplay.auto() is None
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert ProgressDisplay.auto() is not None


def test_no_jupyter_without_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not in_jupyter()
    fake_ipython(monkeypatch, None)  # IPython imported, no shell running
    assert not in_jupyter()
    fake_ipython(monkeypatch, TerminalInteractiveShell())
    assert not in_jupyter() and ProgressDisplay.auto() is None


def test_auto_in_a_kernel_shows_a_live_cell_output(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = io.StringIO()  # a kernel's stderr is no terminal
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    shown = fake_ipython(monkeypatch, ZMQInteractiveShell())
    assert in_jupyter()
    display = ProgressDisplay.auto()
    assert display is not None
    display(snapshot(done=1))
    display.write("trial #0 failed")  # a stream output of the cell, below the live one
    assert stderr.getvalue() == "trial #0 failed\n"
    display(snapshot(done=4, failed=2))  # drawn now, or when the display closes
    display.close()
    assert [kind for kind, _ in shown] == ["display", "update"]
    last = shown[-1][1].data
    assert '<progress value="4" max="10">' in last
    assert "trials 4/10 running 2 | failed 2" in last and "[#" not in last


def test_a_kernel_shows_the_last_trial_before_the_display_closes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    shown = fake_ipython(monkeypatch, ZMQInteractiveShell())
    display = ProgressDisplay(jupyter=True, min_interval=3600)
    display(snapshot(done=9))
    display(snapshot(done=10, running=0))  # the last trial: drawn at once, not throttled
    assert "trials 10/10 running 0" in shown[-1][1].data


def test_a_kernel_with_ipywidgets_draws_a_widget_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = fake_ipython(monkeypatch, ZMQInteractiveShell())

    class Widget:
        def __init__(self, *children: Any, **values: Any) -> None:
            self.children = children
            self.__dict__.update(values)

    widgets = types.ModuleType("ipywidgets")
    widgets.IntProgress = Widget  # type: ignore[attr-defined]
    widgets.HTML = Widget  # type: ignore[attr-defined]
    widgets.HBox = Widget  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ipywidgets", widgets)
    display = ProgressDisplay(jupyter=True, min_interval=0)
    display(snapshot(done=7, total=12))
    display.close()
    ((kind, box),) = shown
    bar, label = box.children[0]
    assert kind == "display" and (bar.value, bar.max) == (7, 12)
    assert "trials 7/12 running 2" in label.value


# The ETA ----------------------------------------------------------------------------------
def test_rate_eta() -> None:
    assert rate_eta(elapsed=10.0, finished=2, left=3) == pytest.approx(15.0)
    assert rate_eta(elapsed=10.0, finished=0, left=3) is None  # no rate yet
    assert rate_eta(elapsed=10.0, finished=2, left=None) is None  # no count of trials left
    assert rate_eta(elapsed=10.0, finished=2, left=0) == 0.0


def _run(limits: dict[str, Any], completion: dict[str, Any] | None = None) -> list[Progress]:
    def train(params: dict[str, Any], trial: Any) -> float:
        return 1.0 if trial.number >= 2 else 0.0

    study = tw.create_study(
        "eta",
        objective=tw.Objective("score", "maximize"),
        space={"x": tw.Float(0.0, 1.0)},
        strategy="random",
        seed=0,
        completion=completion,
    )
    seen: list[Progress] = []
    study.run(PythonRunner(func=train), Limits.from_dict(limits), on_progress=seen.append)
    study.close()
    return seen


def test_the_eta_comes_from_the_trial_rate_not_from_max_runtime() -> None:
    seen = _run({"max_trials": 4, "max_runtime": 3600})
    assert seen and seen[-1].done == 4
    for p in seen:
        if p.done == 0:
            assert p.eta is None
        else:
            assert p.eta == pytest.approx(p.elapsed / p.done * (4 - p.done), rel=0.05, abs=0.05)
    # Only a time limit and a target end this study: no count of trials left, no ETA (the
    # hour that max_runtime leaves is not when the trials will be done).
    seen = _run({"max_runtime": 3600}, completion={"target": 1.0})
    assert seen[-1].done == 3 and seen[-1].total is None
    assert all(p.eta is None for p in seen)
