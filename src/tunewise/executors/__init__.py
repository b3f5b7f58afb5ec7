"""Executors: where trials run (local processes now; Ray and workers later)."""

from tunewise.executors.base import DoneEvent, Event, Executor, ReportEvent

__all__ = ["DoneEvent", "Event", "Executor", "ReportEvent"]
