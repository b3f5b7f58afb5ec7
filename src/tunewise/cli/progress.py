"""A one-line progress display for ``tunewise run``: trials done / total, running, failed, best
so far, elapsed and ETA. Redrawn in place on a terminal; one line per finished trial otherwise
(logs and CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tunewise.tuner import Progress

BAR_WIDTH = 24


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_progress(p: Progress) -> str:
    if p.total:
        filled = min(BAR_WIDTH, int(BAR_WIDTH * p.done / p.total))
        bar = "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "]"
        count = f"{p.done}/{p.total}"
    else:
        bar, count = "", f"{p.done}"
    best = "--" if p.best is None else f"{p.best:.6g} (#{p.best_number})"
    return (
        f"trials {count} {bar} running {p.running} | failed {p.failed} | best {best} | "
        f"{format_seconds(p.elapsed)} elapsed | ETA {format_seconds(p.eta)}"
    ).replace("  ", " ")


class ProgressBar:
    """Callable given to the tuner as ``on_progress``."""

    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._last_done = -1
        self._width = 0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if self.interactive:
            if now - self._last_draw < self.min_interval and progress.done == self._last_done:
                return
            line = format_progress(progress)
            padding = " " * max(0, self._width - len(line))
            self.stream.write("\r" + line + padding)
            self._width = len(line)
        else:
            if progress.done == self._last_done:
                return
            self.stream.write(format_progress(progress) + "\n")
        self.stream.flush()
        self._last_draw = now
        self._last_done = progress.done

    def close(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()
