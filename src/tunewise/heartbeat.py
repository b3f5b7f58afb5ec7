"""Keeps the leases of asked trials alive from a background thread.

``study.ask()`` leases a trial to the calling process; while the caller trains, this thread
renews the lease every ``heartbeat`` seconds through its own store connection (a store object is
used by one thread at a time). If the process dies, the renewals stop and the trial is lost
``grace`` seconds later, whoever looks first — another process's ``ask()``, a driver, a worker.
"""

from __future__ import annotations

import contextlib
import threading

from tunewise.errors import LeaseLost, StoreError
from tunewise.store import open_store


class Heartbeat:
    """Renews the leases of a set of trials of one study until they are removed."""

    def __init__(
        self, storage: str, study_id: int, owner: str, interval: float, grace: float
    ) -> None:
        self._storage = storage
        self._study_id = study_id
        self._owner = owner
        self._interval = interval
        self._grace = grace
        self._numbers: set[int] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, number: int) -> None:
        with self._lock:
            self._numbers.add(number)
            if self._thread is None or not self._thread.is_alive():
                self._wake.clear()
                self._thread = threading.Thread(
                    target=self._run, name=f"tunewise-heartbeat-{self._study_id}", daemon=True
                )
                self._thread.start()

    def discard(self, number: int) -> None:
        with self._lock:
            self._numbers.discard(number)

    def stop(self) -> None:
        with self._lock:
            self._numbers.clear()
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join(timeout=5)

    def _run(self) -> None:
        store = open_store(self._storage)
        try:
            while True:
                with self._lock:
                    numbers = sorted(self._numbers)
                    if not numbers:  # decided under the lock: the next add() starts a thread
                        if self._thread is threading.current_thread():
                            self._thread = None
                        return
                for number in numbers:
                    try:
                        store.heartbeat(self._study_id, number, self._owner, self._grace)
                    except LeaseLost:
                        self.discard(number)  # taken over: tell() will say so
                    except StoreError:
                        pass  # a busy or briefly unreachable store: try again next beat
                if self._wake.wait(self._interval):
                    return
        finally:
            with contextlib.suppress(StoreError):
                store.close()
