"""The Ray executor: each trial is a Ray task, placed by Ray on a node with the resources asked.

``executor: {type: ray, address: ..., resources_per_trial: {cpu: 1, gpu: 0}}`` in a spec. Up
to ``capacity`` (``max_parallel``) trials are submitted at once; Ray queues those the cluster
has no room for yet. On the node, the task forks the trial's process as the local executor
does (:mod:`tunewise.executors.ray_task`), so timeouts, stops and process-tree kills behave the
same everywhere; reports stream back through one channel actor while the trial runs, so
stopping rules and stored learning curves work as with local processes.

Ray retries nothing (``max_retries=0``): a trial whose node or worker died is reported FAILED
with kind ``lost``, and the study's retry policy decides whether it runs again, as a new
attempt recorded in the store. Besides the task's own error, the executor asks Ray which nodes
are alive every :data:`NODE_CHECK_SECONDS` while trials run, so a trial on a node Ray declared
dead is lost within that time even if its task's error is slow to come.

Trial folders are made on the node that runs the trial, at the driver's absolute path: on one
machine, or with ``runs_dir`` on a shared file system, the driver sees the logs; elsewhere they
stay on the node (the error of a failed trial carries its stderr tail either way). A Python
trial's function travels by cloudpickle: a function of an importable module must be importable
on the nodes too (the driver's working folder is on the workers' path on its own machine, but
not through Ray Client, ``ray://``, whose driver-side server runs on the head).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tunewise.errors import SpecError
from tunewise.executors.base import DoneEvent, Event, Executor, ReportEvent
from tunewise.executors.ray_connect import connect, disconnect
from tunewise.runners.base import Outcome, Runner, TrialJob
from tunewise.trial import FailureKind, TrialState

#: How often Ray is asked which nodes are alive while trials run on them.
NODE_CHECK_SECONDS = 1.0
#: How long one long-poll of the channel's events waits at most.
DRAIN_WAIT_SECONDS = 1.0
#: After a stop's grace period, how long a task may take to end before Ray kills its worker.
KILL_AFTER_SECONDS = 10.0
#: How long a cancelled task may take to answer before it is recorded without its answer.
ANSWER_WAIT_SECONDS = 5.0
#: How long the end of a finished task waits for reports still on their way.
REPORT_WAIT_SECONDS = 10.0


@dataclass
class _Slot:
    job: TrialJob
    key: str  # unique per submission: a late message of an earlier attempt is not this one's
    ref: Any  # the task's ObjectRef
    node_id: str | None = None  # set once the task said it started
    host: str = ""
    last_values: dict[str, float] = field(default_factory=dict)
    received: int = 0  # reports that reached the driver
    end: tuple[FailureKind, str, bool] | None = None  # kind, reason, keep_partial of a cancel
    stop_at: float | None = None
    forced_at: float | None = None
    result: tuple[Outcome, int] | None = None  # the outcome and the reports the task sent


class RayExecutor(Executor):
    """Trials as tasks on a Ray cluster (see the module docstring)."""

    def __init__(
        self,
        capacity: int,
        address: str = "auto",
        cpu: float = 1.0,
        gpu: float = 0.0,
        grace_seconds: float = 5.0,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.address = address
        self.grace_seconds = grace_seconds
        self._slots: dict[int, _Slot] = {}
        self._by_ref: dict[Any, _Slot] = {}
        self._by_key: dict[str, _Slot] = {}
        self._runners: dict[int, tuple[Runner, Any]] = {}  # id -> (runner, its ObjectRef)
        self._drain: Any = None
        self._next_node_check = 0.0
        self._channel: Any = None
        self._closed = False
        self._owns_connection = connect(address)
        try:
            import ray
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            from tunewise.executors.ray_task import TrialChannel, run_trial

            self._check_fits(cpu, gpu)
            here = ray.get_runtime_context().get_node_id()
            self._channel = (
                ray.remote(TrialChannel)
                .options(
                    num_cpus=0,
                    max_concurrency=max(1000, 4 * capacity),
                    max_restarts=0,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False),
                )
                .remote()
            )
            self._task = ray.remote(run_trial)
            self._task_options: dict[str, Any] = {
                "num_cpus": cpu,
                "num_gpus": gpu,
                "max_retries": 0,  # retries are the study's: a new attempt, in the store
                "retry_exceptions": False,
            }
        except BaseException:
            self.close()
            raise

    @property
    def running(self) -> list[int]:
        return list(self._slots)

    # The contract ---------------------------------------------------------------------
    def submit(self, job: TrialJob, runner: Runner) -> None:
        self._check_submit(job.number)
        job = replace(job, trial_dir=Path(job.trial_dir).absolute())
        key = f"{job.study}#{job.number}.{job.attempt}.{uuid.uuid4().hex[:8]}"
        name = f"tunewise {job.study} trial {job.number}"
        task = self._task.options(name=name, **self._task_options)
        ref = task.remote(job, self._runner_ref(runner), self._channel, key, self.grace_seconds)
        slot = _Slot(job, key, ref)
        self._slots[job.number] = self._by_ref[ref] = self._by_key[key] = slot

    def cancel(
        self,
        number: int,
        reason: str,
        kind: FailureKind = FailureKind.TIMEOUT,
        keep_partial: bool = True,
    ) -> None:
        slot = self._slots.get(number)
        if slot is None or slot.end is not None or slot.result is not None:
            return
        slot.end, slot.stop_at = (kind, reason, keep_partial), time.monotonic()
        if slot.node_id is not None:  # running: stop it gracefully, as the local executor does
            self._channel.send.remote(slot.key, ("stop", reason, str(kind), keep_partial))
        else:  # still queued in Ray: drop it (a task that just started gets KeyboardInterrupt)
            self._ray_cancel(slot, force=False)

    def acknowledge(self, number: int) -> None:
        slot = self._slots.get(number)
        if slot is not None and slot.job.wait_for_decision and slot.end is None:
            self._channel.send.remote(slot.key, ("go",))

    def poll(self, timeout: float) -> list[Event]:
        import ray

        events: list[Event] = []
        waiting = [s.ref for s in self._slots.values() if s.result is None]
        if self._slots and self._drain is None:
            self._drain = self._channel.drain.remote(DRAIN_WAIT_SECONDS)
        now = time.monotonic()
        wait = max(0.0, min(now + timeout, self._next_check()) - now)
        watched = [self._drain, *waiting] if self._drain is not None else waiting
        if watched:
            ray.wait(watched, num_returns=1, timeout=wait)
        elif wait > 0:
            time.sleep(wait)
        self._collect(events)
        return events

    def shutdown(self, reason: str, kind: FailureKind = FailureKind.INFRASTRUCTURE) -> list[Event]:
        events: list[Event] = []
        for slot in self._slots.values():
            if slot.result is None:
                if slot.end is None:
                    slot.end, slot.stop_at = (kind, reason, False), time.monotonic()
                # Running: KeyboardInterrupt in the task, which kills the trial's process tree.
                self._ray_cancel(slot, force=False)
        deadline = time.monotonic() + ANSWER_WAIT_SECONDS
        while self._slots and time.monotonic() < deadline:
            try:
                events += self.poll(0.1)
            except Exception:  # Ray itself failing (the channel gone): record them anyway
                break
        for slot in list(self._slots.values()):  # no answer: kill the workers, record anyway
            self._ray_cancel(slot, force=True)
            self._finish(slot, self._ended(slot), events)
        return events

    def close(self) -> None:
        if self._closed:
            return
        if self._slots:
            self.shutdown("the executor was closed")
        self._closed = True
        if self._channel is not None:
            import ray

            with contextlib.suppress(Exception):
                ray.kill(self._channel)
        if self._owns_connection:
            disconnect()

    # Internals ------------------------------------------------------------------------
    def _runner_ref(self, runner: Runner) -> Any:
        """The runner, put in Ray's object store once (not pickled again for every trial)."""
        import ray

        known = self._runners.get(id(runner))
        if known is None or known[0] is not runner:
            try:
                known = (runner, ray.put(runner))
            except Exception as exc:
                raise RuntimeError(
                    f"the trial cannot be sent to Ray ({type(exc).__name__}: {exc}); a Python "
                    "training function must be picklable (by cloudpickle)"
                ) from None
            self._runners[id(runner)] = known
        return known[1]

    def _check_fits(self, cpu: float, gpu: float) -> None:
        """Fail at once when no node could ever run a trial (Ray would queue it forever)."""
        import ray

        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
        if any(r.get("CPU", 0) >= cpu and r.get("GPU", 0) >= gpu for r in nodes):
            return
        most_cpu = max((r.get("CPU", 0) for r in nodes), default=0)
        most_gpu = max((r.get("GPU", 0) for r in nodes), default=0)
        raise SpecError(
            "executor.resources_per_trial",
            f"asks for {cpu:g} CPU and {gpu:g} GPU per trial, but no node of the Ray cluster "
            f"has that much (at most {most_cpu:g} CPU, {most_gpu:g} GPU); ask for less or "
            "add a node",
        )

    def _next_check(self) -> float:
        """When the next deadline (a kill, a node check) falls."""
        times = [float("inf")]
        for slot in self._slots.values():
            if slot.result is None and slot.stop_at is not None:
                times.append(slot.stop_at + self.grace_seconds + KILL_AFTER_SECONDS)
            if slot.forced_at is not None:
                times.append(slot.forced_at + ANSWER_WAIT_SECONDS)
            if slot.node_id is not None and slot.result is None:
                times.append(self._next_node_check)
        return min(times)

    def _collect(self, events: list[Event]) -> None:
        """Take the channel's events and the ended tasks; finish trials whose reports are in."""
        import ray

        if self._drain is not None and ray.wait([self._drain], timeout=0)[0]:
            self._take(ray.get(self._drain), events)
            self._drain = None
        waiting = [s.ref for s in self._slots.values() if s.result is None]
        if waiting:
            ended, _ = ray.wait(waiting, num_returns=len(waiting), timeout=0)
            for ref in ended:
                slot = self._by_ref[ref]
                slot.result = self._result(slot)
        self._await_reports(events)
        self._check_nodes()
        self._enforce()
        for slot in list(self._slots.values()):
            if slot.result is not None:
                self._finish(slot, slot.result[0], events)

    def _await_reports(self, events: list[Event]) -> None:
        """A task returns only after its reports reached the channel: fetch those the driver
        has not seen yet, so that no report comes after its trial's end."""
        import ray
        from ray.exceptions import GetTimeoutError

        deadline = time.monotonic() + REPORT_WAIT_SECONDS
        while any(s.result is not None and s.received < s.result[1] for s in self._slots.values()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._drain is None:
                self._drain = self._channel.drain.remote(DRAIN_WAIT_SECONDS)
            try:
                items = ray.get(self._drain, timeout=left)
            except GetTimeoutError:
                return
            self._drain = None
            self._take(items, events)

    def _take(self, items: list[tuple[Any, ...]], events: list[Event]) -> None:
        for item in items:
            slot = self._by_key.get(item[1])
            if slot is None:  # an earlier attempt's, or a trial already recorded
                continue
            if item[0] == "started":
                _, _, slot.node_id, slot.host, _ = item
            elif item[0] == "report":
                _, _, step, values = item
                slot.received += 1
                slot.last_values.update(values)
                events.append(ReportEvent(slot.job.number, step, values))

    def _result(self, slot: _Slot) -> tuple[Outcome, int]:
        import ray
        from ray.exceptions import RayError

        try:
            outcome, sent = ray.get(slot.ref)
        except RayError as exc:
            return self._failure(slot, exc), slot.received
        return outcome, sent

    def _check_nodes(self) -> None:
        """Trials on nodes Ray no longer lists as alive are lost (their tasks are killed)."""
        import ray

        placed = [s for s in self._slots.values() if s.node_id is not None and s.result is None]
        if not placed or time.monotonic() < self._next_node_check:
            return
        self._next_node_check = time.monotonic() + NODE_CHECK_SECONDS
        alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
        for slot in placed:
            if slot.node_id not in alive:
                self._ray_cancel(slot, force=True)
                lost = self._ended(slot) if slot.end is not None else self._lost(slot, "node")
                slot.result = (lost, slot.received)

    def _enforce(self) -> None:
        """Kill the worker of a task that outlived its stop's grace; record it when even that
        got no answer (a node that no longer responds)."""
        now = time.monotonic()
        for slot in self._slots.values():
            if slot.result is not None or slot.stop_at is None:
                continue
            if slot.forced_at is None and now >= (
                slot.stop_at + self.grace_seconds + KILL_AFTER_SECONDS
            ):
                slot.forced_at = now
                self._ray_cancel(slot, force=True)
            elif slot.forced_at is not None and now >= slot.forced_at + ANSWER_WAIT_SECONDS:
                slot.result = (self._ended(slot), slot.received)

    def _finish(self, slot: _Slot, outcome: Outcome, events: list[Event]) -> None:
        del self._slots[slot.job.number]
        self._by_ref.pop(slot.ref, None)
        self._by_key.pop(slot.key, None)
        with contextlib.suppress(Exception):
            self._channel.forget.remote(slot.key)
        events.append(DoneEvent(slot.job.number, outcome))

    def _ray_cancel(self, slot: _Slot, force: bool) -> None:
        import ray

        with contextlib.suppress(Exception):  # already finished, or its node is gone
            ray.cancel(slot.ref, force=force)

    # Outcomes without the task's answer ------------------------------------------------
    def _ended(self, slot: _Slot) -> Outcome:
        """A trial tunewise ended itself: STOPPED at its last report, or FAILED as asked."""
        assert slot.end is not None
        kind, reason, keep_partial = slot.end
        objective = slot.job.objective
        if keep_partial and objective in slot.last_values:
            return Outcome(TrialState.STOPPED, slot.last_values[objective], dict(slot.last_values))
        return Outcome.failed(kind, reason, slot.last_values)

    def _where(self, slot: _Slot) -> str:
        if slot.node_id is None:
            return ""
        return f" on Ray node {slot.node_id[:8]} ({slot.host})"

    def _lost(self, slot: _Slot, what: str) -> Outcome:
        died = "the Ray node running it" if what == "node" else "the Ray worker process running it"
        message = f"{died}{self._where(slot)} died; the trial's processes are gone with it"
        return Outcome.failed(FailureKind.LOST, message, slot.last_values)

    def _failure(self, slot: _Slot, exc: Exception) -> Outcome:
        """How a task that raised ended, in the study's failure kinds."""
        from ray import exceptions as ray_errors

        if slot.end is not None:
            return self._ended(slot)
        if isinstance(exc, ray_errors.NodeDiedError):
            return self._lost(slot, "node")
        if isinstance(exc, ray_errors.OutOfMemoryError):
            message = f"Ray killed its worker{self._where(slot)} because the node ran out of memory"
            return Outcome.failed(FailureKind.CRASHED, message, slot.last_values)
        if isinstance(exc, ray_errors.WorkerCrashedError | ray_errors.LocalRayletDiedError):
            return self._lost(slot, "worker")
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        detail = "\n".join(lines[-10:]) or type(exc).__name__
        message = f"Ray could not run the trial{self._where(slot)}: {detail}"
        return Outcome.failed(FailureKind.INFRASTRUCTURE, message, slot.last_values)
