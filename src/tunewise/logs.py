"""The ``tunewise`` logger: one line per failed trial while a study runs, shown by default.

Like Optuna's, the library's root logger gets its own handler (to stderr, level INFO) the
first time it is asked for, and does not propagate, so a user sees failures without calling
``logging.basicConfig`` (which a library must never call) and sees them once even when they
configured the root logger. Silence it with ``logging.getLogger("tunewise").setLevel(
logging.WARNING)`` or replace its handlers.
"""

from __future__ import annotations

import logging
import sys

LOGGER_NAME = "tunewise"
#: How much of a failure's reason one line shows.
REASON_CHARS = 300


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a notebook or a test may replace it
    after the handler was made)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("[tunewise] %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def get_logger() -> logging.Logger:
    """The ``tunewise`` logger, with its default handler added once."""
    logger = logging.getLogger(LOGGER_NAME)
    if not getattr(logger, "_tunewise_configured", False):
        logger._tunewise_configured = True  # type: ignore[attr-defined]
        if not logger.handlers:
            logger.addHandler(_StderrHandler())
            logger.setLevel(logging.INFO)
            logger.propagate = False
    return logger


def one_line(error: str | None) -> str:
    """The line of a failure's text that says why: the last non-empty one (a traceback's
    ``ValueError: ...``), cut to :data:`REASON_CHARS`."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    reason = lines[-1] if lines else "no reason recorded"
    return reason if len(reason) <= REASON_CHARS else reason[: REASON_CHARS - 3] + "..."
