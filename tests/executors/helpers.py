"""What the executor tests share: a trial job in ``tmp_path`` and driving an executor until its
trials have ended (the events it gave on the way)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tunewise.executors.base import Event
from tunewise.executors.local import LocalExecutor
from tunewise.runners.base import TrialJob


def job(tmp_path: Path, number: int = 0, timeout: float | None = None, **params: Any) -> TrialJob:
    return TrialJob("s", number, params, tmp_path / f"{number:05d}", "score", timeout=timeout)


def run_until_done(executor: LocalExecutor, limit: float = 20.0) -> list[Event]:
    """Poll until no trial runs; fails the test when some still run after ``limit`` seconds."""
    events: list[Event] = []
    deadline = time.monotonic() + limit
    while executor.running and time.monotonic() < deadline:
        events += executor.poll(0.1)
    assert not executor.running, "trials did not end in time"
    return events
