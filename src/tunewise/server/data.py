"""What the dashboard and the API read: short store transactions and a cache of trial frames.

Each study's trials are read as a :class:`~tunewise.store.table.TrialTable` (a column at a
time, never a ``Trial`` per row: 100,000 trials in well under a second) into a
:class:`~tunewise.analysis.TrialFrame`, and kept, keyed by what a change of the study changes:
its state, reason, definition and trial counts per state (finished trials are read-only, so
equal counts mean equal finished trials). Views then aggregate and page from memory, and build
a ``Trial`` only for the rows they show. A study with RUNNING trials is reloaded after
:data:`RUNNING_MAX_AGE` all the same (their last step moves on).

A reload reads only the trials from the first one that was not finished at the last load
(``get_trial_table(min_number=...)``) and keeps the rest of the frame, so a live study of
100,000 trials costs a few rows per refresh, not a full read.

A reload expected to be quick (the last load's time per trial read, times the trials this one
reads) is done in the request that notices the change. One expected to take longer than
:data:`SYNC_LOAD_SECONDS` is served from the stale frame while one background thread reloads
it, so no page waits on a big reload; that thread also warms every study at start-up.

Every store call is one short transaction (the store's rule), so a running study never waits on
the dashboard; store objects are used by one thread at a time (the Store contract), taken from
a small :class:`StorePool`.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tunewise.analysis import TrialFrame, build_figure, ped_anova
from tunewise.analysis.plots import curve_rows
from tunewise.documents import json_number, trial_document
from tunewise.spec import StudySpec
from tunewise.store import open_store
from tunewise.store.base import Store
from tunewise.study import Study
from tunewise.trial import Report, StudyRecord, TrialState

SYNC_LOAD_SECONDS = 0.5
RUNNING_MAX_AGE = 5.0
CURVES_MAX_AGE = 2.0
RELOAD_SPACING = 3.0  # a background reload waits 3x the last load's duration after it
POOL_SIZE = 4


class StorePool:
    """Store objects lent to one thread at a time; opened on first need, at most ``size``."""

    def __init__(self, url: str, size: int = POOL_SIZE) -> None:
        self.url = url
        self._idle: queue.LifoQueue[Store] = queue.LifoQueue()
        self._slots = threading.Semaphore(size)
        self._all: list[Store] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Store]:
        with self._slots:
            try:
                store = self._idle.get_nowait()
            except queue.Empty:
                store = open_store(self.url)
                with self._lock:
                    self._all.append(store)
            try:
                yield store
            finally:
                self._idle.put(store)

    def close(self) -> None:
        with self._lock:
            for store in self._all:
                store.close()
            self._all.clear()


@dataclass
class Snapshot:
    """A study's trials as loaded at one moment, with what was computed from them."""

    record: StudyRecord
    spec: StudySpec
    counts: dict[TrialState, int]
    frame: TrialFrame
    key: tuple[Any, ...]
    loaded_at: float
    load_seconds: float
    trials_read: int  # by the load that made it (from its first unfinished trial on)
    memo: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def computed(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per snapshot (figures, importance)."""
        with self.lock:
            if name not in self.memo:
                self.memo[name] = compute()
            return self.memo[name]


def _cost(definition: Any, trials: Any) -> dict[str, Any] | None:
    """Spent and left of a study that declares a cost (as of the snapshot), else None."""
    from tunewise.cost import summarize

    summary = summarize(definition, trials)
    return None if summary is None else {**summary.to_dict(), "text": summary.describe()}


def _current(snap: Snapshot, key: tuple[Any, ...], counts: dict[TrialState, int]) -> bool:
    """Whether ``snap`` still shows the study whose live key and counts are given."""
    if snap.key != key:
        return False
    running = counts[TrialState.RUNNING] > 0
    return not running or time.monotonic() - snap.loaded_at < RUNNING_MAX_AGE


def _reusable(cached: Snapshot | None, record: StudyRecord) -> int:
    """How many of ``cached``'s trials a reload of ``record`` keeps: those numbered below its
    first unfinished trial (finished trials are read-only), when it is the same study with the
    same definition; 0 otherwise."""
    if cached is None or cached.record.id != record.id:
        return 0
    if cached.record.definition != record.definition:
        return 0  # a new space or objective: every encoding changes
    frame = cached.frame
    unfinished = np.flatnonzero(frame.in_state(TrialState.QUEUED, TrialState.RUNNING))
    if unfinished.size:
        return int(frame.number[unfinished[0]])
    return int(frame.number[-1]) + 1 if len(frame) else 0


def _reload_seconds(cached: Snapshot, record: StudyRecord, counts: dict[TrialState, int]) -> float:
    """About how long reloading ``cached`` for the study now at ``record`` and ``counts`` takes:
    its load's time per trial read times the trials a reload reads, or its load's time when
    less (a load that read a few trials is mostly fixed costs)."""
    to_read = max(sum(counts.values()) - _reusable(cached, record), 1)
    per_trial = cached.load_seconds / max(cached.trials_read, 1)
    return min(cached.load_seconds, per_trial * to_read)


def snapshot_key(record: StudyRecord, counts: dict[TrialState, int]) -> tuple[Any, ...]:
    definition = json.dumps(record.definition, sort_keys=True, default=str)
    return (str(record.state), record.reason, definition, tuple(counts[s] for s in TrialState))


class StudyData:
    """Reads for the server: live summaries, cached frames, figures, trial details."""

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.pool = StorePool(url, pool_size)
        self._cache: dict[str, Snapshot] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._queued: set[str] = set()
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        self._curves: dict[str, tuple[float, int, dict[str, Any]]] = {}

    # Lifecycle -------------------------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """Start the background loader; ``warm``: load every study once, oldest first."""
        self._worker = threading.Thread(target=self._work, name="tunewise-loader", daemon=True)
        self._worker.start()
        if warm:
            with self.pool.borrow() as store:
                for record in store.list_studies():
                    self._schedule(record.name)

    def close(self) -> None:
        if self._worker is not None:
            self._stopping.set()
            self._queue.put(None)
            self._worker.join(timeout=10)
            self._worker = None
        self.pool.close()

    def _schedule(self, name: str) -> None:
        with self._lock:
            if name in self._queued:
                return
            self._queued.add(name)
        self._queue.put(name)

    def _work(self) -> None:
        while (name := self._queue.get()) is not None:
            with self._lock:
                self._queued.discard(name)
            with contextlib.suppress(Exception):  # a study deleted meanwhile, a store hiccup
                cached = self._cache.get(name)
                if cached is not None:
                    # A big reload holds a CPU (and the GIL) for seconds: space them out.
                    pause = RELOAD_SPACING * cached.load_seconds
                    wait = cached.loaded_at + pause - time.monotonic()
                    if wait > 0 and self._stopping.wait(wait):
                        return
                self.snapshot(name, wait=True)

    # Snapshots -------------------------------------------------------------------------
    def live(self, name: str) -> tuple[StudyRecord, dict[TrialState, int]]:
        """The study's record and trial counts, read now (two short transactions)."""
        with self.pool.borrow() as store:
            record = store.get_study(name)
            return record, store.count_trials(record.id)

    def snapshot(self, name: str, *, wait: bool = False) -> Snapshot:
        """The study's frame: cached when still current, else reloaded (see module doc);
        ``wait``: reload now even when the last load was slow.

        Raises:
            StudyNotFound: no such study.
        """
        return self.snapshot_and_live(name, wait=wait)[0]

    def snapshot_and_live(
        self, name: str, *, wait: bool = False
    ) -> tuple[Snapshot, StudyRecord, dict[TrialState, int]]:
        record, counts = self.live(name)
        key = snapshot_key(record, counts)
        cached = self._cache.get(name)
        if cached is not None and _current(cached, key, counts):
            return cached, record, counts
        if (
            cached is not None
            and not wait
            and _reload_seconds(cached, record, counts) > SYNC_LOAD_SECONDS
        ):
            self._schedule(name)
            return cached, record, counts
        return self._load(name, key, counts), record, counts

    def _load(self, name: str, key: tuple[Any, ...], counts: dict[TrialState, int]) -> Snapshot:
        with self._lock:
            lock = self._loading.setdefault(name, threading.Lock())
        with lock:
            cached = self._cache.get(name)
            if cached is not None and _current(cached, key, counts):
                return cached  # another thread loaded it while this one waited
            started = time.monotonic()
            with self.pool.borrow() as store:
                record = store.get_study(name)
                counts = store.count_trials(record.id)  # before the trials: a change reloads
                start = _reusable(cached, record)
                table = store.get_trial_table(record.id, min_number=start)
            if cached is not None and start > 0:
                spec, frame = cached.spec, cached.frame.updated(start, table)
            else:
                spec = StudySpec.from_dict(dict(record.definition))
                frame = TrialFrame.from_trials(
                    table, spec.space, spec.objective, spec.objectives, spec.constraints
                )
            snap = Snapshot(
                record=record,
                spec=spec,
                counts=counts,
                frame=frame,
                key=snapshot_key(record, counts),
                loaded_at=time.monotonic(),
                load_seconds=time.monotonic() - started,
                trials_read=len(table),
            )
            self._cache[name] = snap
            return snap

    # Views -----------------------------------------------------------------------------
    def summaries(self) -> list[dict[str, Any]]:
        with self.pool.borrow() as store:
            names = [r.name for r in store.list_studies()]
        out = []
        for name in names:
            with contextlib.suppress(KeyError):  # deleted since it was listed
                out.append(self.summary(name))
        return out

    def summary(self, name: str) -> dict[str, Any]:
        """A study at a glance: live state and counts, best value from the (cached) frame."""
        snap, record, counts = self.snapshot_and_live(name)
        spec = snap.spec
        best_row = None if spec.multi_objective else snap.frame.best_index()
        best = None
        if best_row is not None:
            trial = snap.frame.trials[best_row]
            best = {"trial": trial.number, "value": json_number(trial.value)}
        front = None  # several objectives: no single best, the size of the feasible front
        if spec.multi_objective:
            from tunewise.analysis.pareto_plots import front_numbers

            front = len(snap.computed("front", lambda: front_numbers(snap.frame)))
        return {
            "name": record.name,
            "state": str(record.state),
            "reason": record.reason,
            "strategy": spec.strategy,
            "objective": spec.objective.to_dict(),
            "params": spec.space.names,
            "counts": {str(s): n for s, n in counts.items()},
            "total": sum(counts.values()),
            "max_trials": spec.limits.max_trials,
            "best": best,
            "front": front,
            "objectives": [o.to_dict() for o in spec.objectives],
            "cost": _cost(record.definition, snap.frame.trials),
            "created_at": record.created_at.isoformat() if record.created_at else None,
            "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        }

    def space_versions(self, name: str) -> dict[str, Any] | None:
        """The versions of an edited study's space (``tunewise edit``): when each began, what
        it changed, the finished trials set aside now; ``None`` for a study never edited."""
        from tunewise.space_versions import versions_document

        snap = self.snapshot(name)
        with self.pool.borrow() as store:
            versions = store.get_space_versions(snap.record.id)
        if len(versions) < 2:
            return None
        return versions_document(versions, snap.spec.space, snap.frame.trials)

    def trials_page(self, name: str, **select: Any) -> dict[str, Any]:
        """One page of the trials table (see :meth:`TrialFrame.select` for ``select``).

        Raises:
            KeyError: ``sort`` names no column of the study.
        """
        snap = self.snapshot(name)
        frame = snap.frame
        total, rows = frame.select(**select)
        trials = [trial_document(frame.trials[i]) for i in rows]
        # Several objectives or constraints: the other objectives' and the constrained
        # metrics' columns, and whether each trial is feasible and on the front (issue 23).
        flags = len(frame.objectives) > 1 or bool(frame.constraints)
        metrics = [o.metric for o in frame.objectives[1:]]
        metrics += [c.metric for c in frame.constraints if c.metric not in metrics]
        if flags:
            from tunewise.analysis.pareto_plots import front_numbers

            front = snap.computed("front", lambda: front_numbers(frame))
            feasible = frame.feasible
            for document, row in zip(trials, rows, strict=True):
                judged = document["state"] in ("completed", "stopped", "failed")
                document["feasible"] = (
                    bool(feasible[row]) if judged and document["metrics"] else None
                )
                document["on_front"] = document["trial"] in front
        return {
            "total": total,
            "offset": select.get("offset", 0),
            "limit": select.get("limit", 50),
            "params": frame.space.names,
            "metrics": metrics,
            "flags": flags,
            "sort_keys": frame.sort_keys(),
            "trials": trials,
        }

    def importance(self, name: str) -> dict[str, Any]:
        snap = self.snapshot(name)
        result: dict[str, Any] = snap.computed("importance", lambda: ped_anova(snap.frame))
        return result.to_dict()  # type: ignore[attr-defined]

    def ranges(self, name: str) -> dict[str, Any] | None:
        """The range proposals of a finished study with one objective (as ``tunewise
        suggest-ranges``), or None: a running study's trials are still coming, and a study
        with nothing to read (no scored trial) or several objectives has none."""
        from tunewise.analysis.ranges import propose_from_frame
        from tunewise.errors import SpecError
        from tunewise.trial import StudyState

        snap, record, _ = self.snapshot_and_live(name)
        if record.state == StudyState.RUNNING or snap.spec.multi_objective:
            return None

        def compute() -> dict[str, Any] | None:
            try:
                return propose_from_frame(snap.frame, study=name).to_dict()
            except SpecError:
                return None

        result: dict[str, Any] | None = snap.computed("ranges", compute)
        return result

    def figure(self, name: str, kind: str) -> dict[str, Any]:
        """A plotly figure; ``curves`` read the picked trials' reports (cached briefly)."""
        snap = self.snapshot(name)
        if kind != "curves":
            figure: dict[str, Any] = snap.computed(
                f"figure:{kind}", lambda: build_figure(kind, snap.frame)
            )
            return figure
        stamp, count, cached = self._curves.get(name, (0.0, -1, {}))
        if time.monotonic() - stamp < CURVES_MAX_AGE and count == len(snap.frame):
            return cached
        figure = build_figure("curves", snap.frame, self.curve_reports(snap))
        self._curves[name] = (time.monotonic(), len(snap.frame), figure)
        return figure

    def curve_reports(self, snap: Snapshot) -> dict[int, list[Report]]:
        """The reports of the trials whose learning curves are drawn (one short read each)."""
        reports: dict[int, list[Report]] = {}
        with self.pool.borrow() as store:
            for row in curve_rows(snap.frame):
                number = int(snap.frame.number[row])
                reports[number] = store.get_reports(snap.record.id, number)
        return reports

    def trial(self, name: str, number: int) -> dict[str, Any]:
        """Everything about one trial, read now: the trial, its reports and earlier attempts.

        Raises:
            StoreError: no such trial.
        """
        with self.pool.borrow() as store:
            record = store.get_study(name)
            trial = store.get_trial(record.id, number)
            reports = store.get_reports(record.id, number)
            attempts = store.get_attempts(record.id, number)
        data = trial_document(trial)
        data["last_step"] = trial.last_step
        data["reports"] = [
            {"step": r.step, "values": {k: json_number(v) for k, v in r.values.items()}}
            for r in reports
        ]
        data["attempts"] = [
            {
                "attempt": a.attempt,
                "failure_kind": str(a.failure_kind),
                "error": a.error,
                "started_at": a.started_at.isoformat() if a.started_at else None,
                "finished_at": a.finished_at.isoformat() if a.finished_at else None,
            }
            for a in attempts
        ]
        return data

    def why(self, name: str, number: int) -> dict[str, Any]:
        """Why the strategy suggested the trial (:mod:`tunewise.explain`, as ``tunewise why``),
        with ``lines``, the text the CLI prints; a trial it cannot explain says why.

        Raises:
            KeyError: no such trial.
        """
        from tunewise.explain import describe, explain_trial

        with self.pool.borrow() as store:
            try:
                doc = explain_trial(Study(store, name), number)
            except KeyError:
                raise
            except Exception as exc:  # a page must show, whatever the explanation met
                doc = {"trial": number, "explained": False, "reason": f"not explained: {exc}"}
        doc["lines"] = describe({**doc, "study": name})
        return doc

    def trial_dir(self, name: str, number: int) -> Path:
        """The trial's folder, as the study's runs would have made it (relative runs dirs are
        taken from the server's working directory, as ``tunewise run`` takes them)."""
        with self.pool.borrow() as store:
            return Study(store, name).runs_dir / f"{number:05d}"
