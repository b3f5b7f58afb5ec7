"""The progress display of a running study: trials done / total, running, failed, best so far,
elapsed and ETA.

One display for every face: ``tunewise run`` draws it on the terminal, ``study.optimize`` picks
one with :meth:`ProgressDisplay.auto` (redrawn in place on a terminal, a live cell output in
Jupyter, nothing in logs and CI). It lives below the faces so that the command line and Python
show the same line. Importing it is cheap: IPython and ipywidgets are only touched when a
Jupyter kernel is already running them.
"""

from __future__ import annotations

import html
import logging
import math
import sys
import time
from typing import TYPE_CHECKING, Any, Protocol, TextIO

if TYPE_CHECKING:
    from tunewise.cost import CostSummary
    from tunewise.tuner import Progress

#: The library's logger (:mod:`tunewise.logs`), whose console lines a live terminal display
#: writes above its progress line.
LOGGER_NAME = "tunewise"

__all__ = ["ProgressDisplay", "format_progress", "format_seconds", "in_jupyter"]

BAR_WIDTH = 24


def format_seconds(seconds: float | None) -> str:
    """``mm:ss``, or ``h:mm:ss`` from an hour; ``--:--`` when unknown."""
    if seconds is None:
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_progress(p: Progress, bar: bool = True) -> str:
    """The one-line summary; ``bar`` adds a text bar when the total is known (a notebook draws
    its own)."""
    if p.total:
        filled = min(BAR_WIDTH, int(BAR_WIDTH * p.done / p.total))
        drawn = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] " if bar else ""
        count = f"{p.done}/{p.total} {drawn}"
    else:
        count = f"{p.done} "
    best = "--" if p.best is None else f"{p.best:.6g} (#{p.best_number})"
    cost = "" if p.cost is None else f"cost {format_cost(p.cost)} | "
    return (
        f"trials {count}running {p.running} | failed {p.failed} | best {best} | {cost}"
        f"{format_seconds(p.elapsed)} elapsed | ETA {format_seconds(p.eta)}"
    )


def format_cost(cost: CostSummary) -> str:
    """``12.3/50 (37.7 left)``, or the amount spent when the study has no cost budget."""
    if cost.limit is None:
        return f"{cost.spent:.4g}"
    return f"{cost.spent:.4g}/{cost.limit:g} ({cost.left:.4g} left)"


def in_jupyter() -> bool:
    """Whether this process is a Jupyter kernel (notebook, lab, VS Code, Colab).

    Never imports IPython: a kernel has always loaded it already, so a process where
    ``sys.modules`` has no ``IPython`` is not one. A terminal IPython is not a kernel."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if not callable(get_ipython):
        return False
    try:
        shell = get_ipython()
    except Exception:  # a half-imported or foreign module: not a kernel we can draw in
        return False
    if shell is None:
        return False
    kernel_shell = any(c.__name__ == "ZMQInteractiveShell" for c in type(shell).__mro__)
    return kernel_shell or getattr(shell, "kernel", None) is not None


class _View(Protocol):
    """Where a display draws: ``wants`` says whether a snapshot is worth drawing now (a
    throttle), ``draw`` shows it, ``note`` prints a line beside it, ``end`` ends the output."""

    def draw(self, progress: Progress) -> None: ...

    def note(self, line: str, last: Progress | None) -> None: ...

    def end(self) -> None: ...

    def wants(self, progress: Progress, last: Progress | None, since: float) -> bool: ...


class _LinesAbove(logging.Filter):
    """Set on a console handler of the ``tunewise`` logger while a terminal display is live:
    the handler's line (a failed trial's) is written through the display, above the progress
    line, instead of glued to its end; the handler itself then writes nothing."""

    def __init__(self, handler: logging.Handler, view: _Terminal) -> None:
        super().__init__()
        self.handler, self.view = handler, view

    def filter(self, record: logging.LogRecord) -> bool:
        self.view.note(self.handler.format(record), self.view.last)
        return False


class _Terminal:
    """Redrawn in place (``\\r``) on a terminal; one line per finished trial otherwise."""

    def __init__(self, stream: TextIO, min_interval: float) -> None:
        self.stream = stream
        self.interactive = _isatty(stream)
        self.min_interval = min_interval
        self.last: Progress | None = None
        self._width = 0
        self._filters: list[tuple[logging.Handler, _LinesAbove]] = []

    def _capture_log_lines(self) -> None:
        """Route the ``tunewise`` logger's console lines through :meth:`note`."""
        for handler in logging.getLogger(LOGGER_NAME).handlers:
            if not isinstance(handler, logging.StreamHandler) or isinstance(
                handler, logging.FileHandler
            ):
                continue
            target = getattr(handler, "stream", None)
            if target is self.stream or _isatty(target):
                lines = _LinesAbove(handler, self)
                handler.addFilter(lines)
                self._filters.append((handler, lines))

    def wants(self, progress: Progress, last: Progress | None, since: float) -> bool:
        changed = last is None or progress.done != last.done
        return changed or (self.interactive and since >= self.min_interval)

    def draw(self, progress: Progress) -> None:
        line = format_progress(progress)
        self.last = progress
        if self.interactive:
            if not self._width and not self._filters:
                self._capture_log_lines()
            padding = " " * max(0, self._width - len(line))
            self.stream.write("\r" + line + padding)
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def note(self, line: str, last: Progress | None) -> None:
        if self.interactive and self._width:
            self.stream.write("\r" + line.ljust(self._width) + "\n")
            self._width = 0
            if last is not None:
                self.draw(last)  # the progress line again, below the note
                return
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def end(self) -> None:
        for handler, lines in self._filters:
            handler.removeFilter(lines)
        self._filters.clear()
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()
        self._width = 0


class _Jupyter:
    """A cell output updated in place: an ipywidgets bar when installed, else an HTML
    ``<progress>`` element replaced through IPython's ``display_id``."""

    def __init__(self, min_interval: float) -> None:
        self.min_interval = min_interval
        self._handle: Any = None  # the display_id handle, or the widgets (bar, label)
        self._widgets: tuple[Any, Any] | None = None

    def wants(self, progress: Progress, last: Progress | None, since: float) -> bool:
        if last is None or since >= self.min_interval:
            return True
        return progress.done != last.done and since >= 0.1  # a burst of trials: one redraw

    def draw(self, progress: Progress) -> None:
        if self._handle is None:
            self._start(progress)
            if self._widgets is None:
                return  # the HTML shown holds this snapshot
        line = format_progress(progress, bar=False)
        if self._widgets is not None:
            bar, label = self._widgets
            bar.max = max(progress.total or 0, 1)
            bar.value = min(progress.done, bar.max) if progress.total else 0
            label.value = f"<code>{html.escape(line)}</code>"
        else:
            from IPython.display import HTML

            self._handle.update(HTML(_html(progress, line)))

    def _start(self, progress: Progress) -> None:
        from IPython.display import display

        try:
            import ipywidgets as widgets
        except ImportError:
            from IPython.display import HTML

            line = format_progress(progress, bar=False)
            self._handle = display(HTML(_html(progress, line)), display_id=True)
            return
        bar = widgets.IntProgress(value=0, min=0, max=max(progress.total or 0, 1))
        label = widgets.HTML(value="")
        children = [bar, label] if progress.total else [label]
        self._handle = widgets.HBox(children)
        self._widgets = (bar, label)
        display(self._handle)

    def note(self, line: str, last: Progress | None) -> None:
        print(line, file=sys.stderr, flush=True)  # a stream output below the live one

    def end(self) -> None:
        pass  # the last drawn state stays in the cell's output


def _html(progress: Progress, line: str) -> str:
    meter = ""
    if progress.total:
        meter = f'<progress value="{progress.done}" max="{progress.total}"></progress> '
    return f"<div>{meter}<code>{html.escape(line)}</code></div>"


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if callable(isatty) else False
    except ValueError:  # a closed stream
        return False


class ProgressDisplay:
    """Callable with a :class:`tunewise.tuner.Progress` (the tuner's ``on_progress``); call
    :meth:`close` when the run ends, which draws the last state if it was not drawn yet.

    ``ProgressDisplay()`` draws on ``stream`` (default stderr): in place on a terminal, one
    line per finished trial on a file or pipe (what ``tunewise run`` writes to logs);
    ``ProgressDisplay(jupyter=True)`` in the running Jupyter cell's output.
    :meth:`auto` picks what suits where Python runs, or no display at all.
    """

    def __init__(
        self, stream: TextIO | None = None, *, min_interval: float = 0.5, jupyter: bool = False
    ) -> None:
        self._view: _View = (
            _Jupyter(min_interval) if jupyter else _Terminal(stream or sys.stderr, min_interval)
        )
        self._last: Progress | None = None  # the last snapshot drawn
        self._pending: Progress | None = None  # a snapshot skipped since
        self._last_draw = 0.0

    @classmethod
    def auto(cls, stream: TextIO | None = None) -> ProgressDisplay | None:
        """A Jupyter display in a notebook kernel, a terminal display when ``stream`` (default
        stderr) is a terminal, else ``None``: logs and CI get no progress lines."""
        if stream is None and in_jupyter():
            return cls(jupyter=True)
        stream = stream or sys.stderr
        return cls(stream) if _isatty(stream) else None

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        last = self._last
        finished = progress.total is not None and progress.done >= progress.total
        first_finished = finished and (last is None or last.done != progress.done)
        if not first_finished and not self._view.wants(progress, last, now - self._last_draw):
            self._pending = progress
            return
        self._view.draw(progress)
        self._last, self._pending, self._last_draw = progress, None, now

    def write(self, line: str) -> None:
        """Print ``line`` (a failed trial's reason, say) without breaking the display: above
        the progress line on a terminal, as its own line in a log, below the live output in
        Jupyter."""
        self._view.note(line, self._last)

    def close(self) -> None:
        """Draw the last snapshot if it was skipped, and end the output (a newline on a
        terminal). Safe to call twice."""
        pending = self._pending
        if pending is not None and self._view.wants(pending, self._last, math.inf):
            self._view.draw(pending)
            self._last = pending
        self._pending = None
        self._view.end()
