"""Trackers: every finished trial also logged where the team already looks (MLflow, W&B,
TensorBoard).

A tracker is told about a trial once, when the driver has finished it: by then every report is
in the store, so the same code logs Python and command trials, whether they ran in this process,
on Ray or in a worker's pool — nothing is logged from inside the trial's process. The tuner does
not know trackers exist: :class:`TrackingHook` is an ``on_trial_finished`` callback that
:meth:`tunewise.study.Study.run` builds from the spec's ``tracking`` key, and
:class:`TrackerCallback` is the same thing as an ``optimize(callbacks=[...])`` function.

The trackers themselves live in ``tunewise.integrations.<name>`` (one module per library,
imported only when a spec or a user asks for it); this module names them (:data:`TRACKERS`),
validates their options (no I/O) and feeds them :class:`FinishedTrial` events.
"""

from __future__ import annotations

import atexit
import importlib
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tunewise.errors import SpecError
from tunewise.logs import get_logger
from tunewise.trial import Objective, Report, Trial, TrialState
from tunewise.validation import check_keys, check_text

if TYPE_CHECKING:
    from tunewise.store.base import Store
    from tunewise.study import Study

#: Each tracker's module and the options its spec entry takes (all optional strings).
TRACKERS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "mlflow": ("tunewise.integrations.mlflow", ("tracking_uri", "experiment")),
    "wandb": ("tunewise.integrations.wandb", ("project", "entity", "mode", "dir")),
    "tensorboard": ("tunewise.integrations.tensorboard", ("log_dir",)),
}
_WANDB_MODES = ("online", "offline", "disabled")


@dataclass(frozen=True)
class FinishedTrial:
    """What a tracker logs about one finished trial (a snapshot read from the store)."""

    study: str
    study_uuid: str
    objective: Objective
    trial: Trial
    #: Every report of the trial's last attempt, in step order.
    reports: Sequence[Report] = ()
    #: The study's best completed trial now (this one or an earlier one), as far as this
    #: process has seen; ``None`` while none completed.
    best: Trial | None = None

    @property
    def is_best(self) -> bool:
        return self.best is not None and self.best.number == self.trial.number

    @property
    def failed(self) -> bool:
        return self.trial.state == TrialState.FAILED

    def tags(self) -> dict[str, str]:
        """The trial's outcome as text: state, failure reason, attempt, duration, value."""
        trial = self.trial
        tags = {
            "tunewise.study": self.study,
            "tunewise.study_uuid": self.study_uuid,
            "tunewise.trial": str(trial.number),
            "tunewise.state": str(trial.state),
            "tunewise.attempt": str(trial.attempt),
        }
        if trial.duration is not None:
            tags["tunewise.duration_s"] = f"{trial.duration:.3f}"
        if trial.value is not None:
            tags["tunewise.value"] = repr(trial.value)
        if trial.failure_kind is not None:
            tags["tunewise.failure_kind"] = str(trial.failure_kind)
        if trial.error:
            tags["tunewise.error"] = trial.error[-4000:]  # the end of a traceback says most
        return tags

    def final_metrics(self) -> dict[str, float]:
        """The trial's final metrics that no report carried (logged at its last step), the
        objective's value included: a command that printed only its result still has it."""
        reported = {name for report in self.reports for name in report.values}
        final = dict(self.trial.metrics)
        if self.trial.value is not None:
            final.setdefault(self.objective.metric, self.trial.value)
        return {k: float(v) for k, v in final.items() if k not in reported}

    def last_step(self) -> int:
        if self.reports:
            return self.reports[-1].step
        return self.trial.last_step or 0


class Tracker(Protocol):
    """Logs finished trials somewhere; built from a spec entry's options."""

    def log_trial(self, event: FinishedTrial) -> None:
        """Log one finished trial (called once per trial, in the driver process)."""

    def close(self) -> None:
        """The study's run in this process has ended (flush, mark the study's run done)."""


def check_tracking(data: Any, path: str = "tracking") -> dict[str, dict[str, str]]:
    """The spec's ``tracking`` mapping validated: known trackers, known option names, string
    values; a :class:`SpecError` naming the field otherwise."""
    if data is None:
        return {}
    data = check_keys(data, path, tuple(TRACKERS))
    out: dict[str, dict[str, str]] = {}
    for name, options in data.items():
        where = f"{path}.{name}"
        options = {} if options is None else check_keys(options, where, TRACKERS[name][1])
        for key, value in options.items():
            if not isinstance(value, str) or not value:
                raise SpecError(f"{where}.{key}", f"must be a non-empty string, got {value!r}")
            check_text(value, f"{where}.{key}")
        if name == "wandb" and options.get("mode", "online") not in _WANDB_MODES:
            raise SpecError(f"{where}.mode", f"must be one of {', '.join(_WANDB_MODES)}")
        if name == "tensorboard" and "log_dir" not in options:
            raise SpecError(f"{where}.log_dir", "is required: the folder TensorBoard reads")
        out[str(name)] = dict(options)
    return out


def build_tracker(name: str, options: Mapping[str, str]) -> Tracker:
    """The tracker ``name`` with its options; an ImportError that says which extra to install
    when its library is missing."""
    module_name, _ = TRACKERS[name]
    module = importlib.import_module(module_name)
    tracker: Tracker = module.from_options(**options)
    return tracker


class TrackerUnavailable(SpecError, ImportError):
    """A tracker's library is not installed: a spec error (``tunewise run`` says it in one
    line, exit 2) that is also an ImportError (what Python code expects of a missing package)."""


def missing_library(library: str, extra: str) -> TrackerUnavailable:
    """The one error a tracker raises when its library is not installed."""
    return TrackerUnavailable(
        f"tracking.{extra}", f"needs {library}: pip install 'tunewise[{extra}]'"
    )


#: Seconds ``close`` waits for the trials still being logged before it gives up on them.
CLOSE_TIMEOUT = 60.0


class Outbox:
    """Hands finished trials to the trackers from a thread of its own, in order, so the tuner's
    loop never waits on a tracker: with its server down, MLflow's client retries one request
    for about four minutes, which would stall every trial. A tracker that fails is a warning
    and the study goes on (a tracking outage must not end a day of training)."""

    def __init__(self, trackers: Sequence[Tracker]) -> None:
        self.trackers = list(trackers)
        self._queue: queue.Queue[FinishedTrial | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._sent = 0  # counted by the caller's thread
        self._done = 0  # counted by the outbox's thread

    def put(self, event: FinishedTrial) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._drain, args=(self._queue,), name="tunewise-trackers"
            )
            self._thread.daemon = True  # never keeps a finished program alive; see close()
            self._thread.start()
        self._sent += 1
        self._queue.put(event)

    def _drain(self, events: queue.Queue[FinishedTrial | None]) -> None:
        while (event := events.get()) is not None:
            for tracker in self.trackers:
                try:
                    tracker.log_trial(event)
                except Exception as exc:  # a tracker's outage must not end a study
                    get_logger().warning(
                        "tracker %s could not log trial %d: %s",
                        type(tracker).__name__,
                        event.trial.number,
                        exc,
                    )
            self._done += 1
        self._close_trackers()

    def _close_trackers(self) -> None:
        for tracker in self.trackers:
            try:
                tracker.close()
            except Exception as exc:  # see _drain
                get_logger().warning("tracker %s could not close: %s", type(tracker).__name__, exc)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> int:
        """Wait up to ``timeout`` seconds for the trials still queued, then close the trackers;
        returns how many trials were not logged by then (each is also a warning)."""
        thread, self._thread = self._thread, None
        if thread is None:
            self._close_trackers()
            return 0
        self._queue.put(None)
        thread.join(timeout)
        left = self._sent - self._done
        if thread.is_alive() and left:
            get_logger().warning(
                "trackers %s: %d trial(s) not logged after %g s; giving up on them",
                ", ".join(type(t).__name__ for t in self.trackers),
                left,
                timeout,
            )
        self._queue = queue.Queue()  # a stuck thread keeps the old one; a next put starts anew
        self._sent = self._done = 0
        return left


@dataclass
class TrackingHook:
    """Feeds each finished trial of one study to its trackers (through an :class:`Outbox`),
    with its reports and the study's best completed trial as this process has seen them."""

    store: Store
    study_id: int
    study: str
    study_uuid: str
    objective: Objective
    trackers: Sequence[Tracker]
    _best: Trial | None = field(default=None, init=False)
    _best_read: bool = field(default=False, init=False)
    _outbox: Outbox | None = field(default=None, init=False)

    def __call__(self, trial: Trial) -> None:
        if not trial.state.is_finished:
            return
        event = FinishedTrial(  # read here, in the driver's thread: the store is not shared
            self.study,
            self.study_uuid,
            self.objective,
            trial,
            self.store.get_reports(self.study_id, trial.number),
            self._update_best(trial),
        )
        if self._outbox is None:
            self._outbox = Outbox(self.trackers)
        self._outbox.put(event)

    def _update_best(self, trial: Trial) -> Trial | None:
        if not self._best_read:  # once per process: the best of the trials finished before
            from tunewise.warmstart import best

            done = self.store.get_trials(self.study_id, [TrialState.COMPLETED])
            self._best = best([t for t in done if t.number != trial.number], self.objective)
            self._best_read = True
        if (
            trial.state == TrialState.COMPLETED
            and trial.value is not None
            and self.objective.is_better(
                trial.value, None if self._best is None else self._best.value
            )
        ):
            self._best = trial
        return self._best

    def close(self, timeout: float = CLOSE_TIMEOUT) -> int:
        """Log what is queued (up to ``timeout`` seconds) and close the trackers; returns how
        many trials were not logged."""
        if self._outbox is None:
            self._outbox = Outbox(self.trackers)
        return self._outbox.close(timeout)


def study_tracking(
    store: Store,
    study_id: int,
    study: str,
    study_uuid: str,
    objective: Objective,
    tracking: Mapping[str, Mapping[str, str]],
) -> TrackingHook | None:
    """The hook for a spec's ``tracking`` entries (``None`` when there are none). Trackers are
    built here, before any trial runs, so a missing library is an error at the start."""
    if not tracking:
        return None
    trackers = [build_tracker(name, options) for name, options in tracking.items()]
    return TrackingHook(store, study_id, study, study_uuid, objective, trackers)


def chain(
    first: Callable[[Trial], None] | None, second: Callable[[Trial], None] | None
) -> Callable[[Trial], None] | None:
    """One ``on_trial_finished`` calling both (either may be ``None``)."""
    if first is None or second is None:
        return first or second

    def both(trial: Trial) -> None:
        first(trial)
        second(trial)

    return both


class TrackerCallback:
    """A tracker as an ``optimize(callbacks=[...])`` function ``fn(study, trial)``: what the
    spec's ``tracking`` key does, for studies made in Python. Call :meth:`close` when done
    (MLflow then marks the study's parent run finished); it is called at exit otherwise."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._hooks: dict[str, TrackingHook] = {}
        atexit.register(self.close)  # what is still queued is logged before the program ends

    def __call__(self, study: Study, trial: Trial) -> None:
        hook = self._hooks.get(study.uuid)
        if hook is None:
            record = study.store.get_study(study.name)
            hook = TrackingHook(
                study.store, record.id, study.name, study.uuid, study.objective, [self.tracker]
            )
            self._hooks[study.uuid] = hook
        hook(trial)

    def close(self, timeout: float = CLOSE_TIMEOUT) -> int:
        """Log the trials still queued (waiting up to ``timeout`` seconds) and close the
        tracker; returns how many trials were not logged."""
        if not self._hooks:
            self.tracker.close()
            return 0
        return sum(hook.close(timeout) for hook in self._hooks.values())
