"""The local executor: trials in forked processes on this machine, up to ``capacity`` at once.

Forking (not spawning) lets a training function defined anywhere — a script's ``__main__``, a
closure — run without pickling, and shares the modules the driver already imported. The driver
stays single-threaded, which keeps forking safe. Each trial process becomes a session leader, so
stopping a trial kills its whole process tree; a command trial's own process group (named in its
folder's ``pgid`` file by the command runner) is killed too.

A trial process that ended its trial cleanly takes the next trial of the same runner
(``reuse_processes``, on by default, as Ray Tune reuses actors of function trainables): a fork
and an interpreter's exit cost more than a trivial trial itself. A process whose trial was
stopped, timed out, crashed or exited is never reused; with ``reuse_processes=False`` every
trial gets a fresh process.

With a :class:`~tunewise.devices.DevicePool` (``resources_per_trial: {gpu: ...}``) a trial
starts only when its devices are free: it holds them until its process is done with it
(finished, stopped, crashed, timed out or killed), and its process sees only them through
``CUDA_VISIBLE_DEVICES``, set before the runner runs (before the training code imports
PyTorch). Trial processes are then never reused: an idle process would keep its CUDA context
(memory) on a device another trial was given.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import multiprocessing.util
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from tunewise.devices import GPU_ENV, DevicePool
from tunewise.executors.base import PROMPT_GRACE, DoneEvent, Event, Executor, ReportEvent
from tunewise.runners import process, trialdir
from tunewise.runners.base import ERROR_TAIL_LINES, Outcome, Runner, TrialJob
from tunewise.runners.process import (
    TIMEOUT_GRACE,
    log_tail,
    read_pgid_file,
    signal_description,
    signal_group,
)
from tunewise.trial import FailureKind, TrialState

PR_SET_PDEATHSIG = 1
#: How long a report waits for the study's decision before the trial goes on regardless.
DECISION_WAIT_SECONDS = 30.0


def _end_trial_tree(trial_dir: Path) -> None:
    """Kill every descendant of this trial process (it is their subreaper, so those that left
    their group are found too), a command trial's own process group, then this trial's group
    (itself included)."""
    with contextlib.suppress(Exception):  # a signal handler: end the process whatever happens
        process.kill_descendants(os.getpid())
    pgid = read_pgid_file(trial_dir)
    if pgid is not None:
        signal_group(pgid, signal.SIGKILL)
    signal_group(os.getpid(), signal.SIGKILL)
    os._exit(1)  # pragma: no cover - only if the signal could not be sent


def _kill_tree(pid: int) -> None:
    """SIGKILL every descendant of the trial process ``pid``, frozen meanwhile (SIGSTOP), so
    that none it starts and no orphan of those killed escapes to PID 1; ``pid`` itself is
    left to the caller."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    process.kill_descendants(pid)


@functools.cache
def _prctl() -> Any:
    """libc's ``prctl``, or None: looked up once in the driver, so that each forked trial
    process finds it ready instead of loading libc again (about a millisecond per trial)."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with_parent(trial_dir: Callable[[], Path]) -> None:
    """The trial's process tree ends when the driver dies (Linux: the parent-death signal is
    SIGTERM, whose handler kills the running command's group too — grandchildren included)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: _end_trial_tree(trial_dir()))
    prctl = _prctl()
    if prctl is not None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the driver died before the signal was armed
        _end_trial_tree(trial_dir())


def _trial_process_main(runner: Runner, job: TrialJob, conn: Connection, reuse: bool) -> None:
    """Entry point of a trial process: run ``job``, then (``reuse``) each job the driver sends
    next, until the driver says ``exit`` or goes away."""
    os.setsid()
    # Orphans of the trial (a double fork, a child in a session of its own) come back to this
    # process rather than to PID 1, so that they end with the trial.
    process.become_subreaper()
    current = [job]
    _die_with_parent(lambda: current[0].trial_dir)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # not the driver's handler
    while True:
        outcome = _run_job(runner, job, conn)
        if process.has_children():  # what the trial started ends with it
            process.kill_descendants(os.getpid())
        conn.send(("done", outcome))
        if not reuse:
            break
        next_job = _next_job(conn)
        if next_job is None:
            break
        job = current[0] = next_job
    conn.close()


def _next_job(conn: Connection) -> TrialJob | None:
    """The next job the driver sends; None when it says ``exit`` or is gone. Messages about
    the trial that just ended (a late ``go``) are skipped."""
    try:
        while True:
            message = conn.recv()
            if message[0] == "job":
                job: TrialJob = message[1]
                return job
            if message[0] == "exit":
                return None
    except (EOFError, OSError):
        return None


def _run_job(runner: Runner, job: TrialJob, conn: Connection) -> Outcome:
    """Run one trial in this process, streaming its reports through ``conn`` and obeying the
    driver's ``stop`` and ``go`` for it (messages name the trial: a late one about an earlier
    trial of this process is ignored)."""
    stop_requested = False

    class StopCheck:
        """``should_stop()``; its ``fileno()`` (the driver's pipe) becomes readable when a
        stop may have come, so a runner waits on it instead of polling."""

        def __call__(self) -> bool:
            return should_stop()

        def fileno(self) -> int:
            return conn.fileno()

    def take(message: tuple[Any, ...]) -> bool:
        """Apply one message; whether it was a decision (``stop`` or ``go``) for this trial."""
        nonlocal stop_requested
        if message[0] in ("stop", "go") and message[1] == job.number:
            stop_requested = stop_requested or message[0] == "stop"
            return True
        return False

    def should_stop() -> bool:
        nonlocal stop_requested
        try:
            while not stop_requested and conn.poll():
                take(conn.recv())
        except (EOFError, OSError):
            stop_requested = True  # the driver is gone: nobody will record the result
        return stop_requested

    def report(step: int | None, values: Any) -> None:
        nonlocal stop_requested
        conn.send(("report", step, dict(values)))
        if not job.wait_for_decision or stop_requested:
            return
        deadline = time.monotonic() + DECISION_WAIT_SECONDS
        try:
            while (remaining := deadline - time.monotonic()) > 0 and conn.poll(remaining):
                if take(conn.recv()):
                    return
        except (EOFError, OSError):
            stop_requested = True

    if job.devices:  # before the training code runs (and imports CUDA)
        os.environ[GPU_ENV] = ",".join(job.devices)
    try:
        return runner.run(job, report, StopCheck())
    except Exception as exc:  # a bug in a runner must still end the trial with a record
        return Outcome.failed(FailureKind.INFRASTRUCTURE, f"runner error: {exc!r}")


@dataclass
class _Process:
    """A trial process and the driver's end of its pipe; it serves trials of one runner."""

    runner: Runner
    process: multiprocessing.process.BaseProcess
    conn: Connection

    def usable(self) -> bool:
        """Alive and waiting for a job (not exiting, no unread message)."""
        return self.process.is_alive() and not wait([self.process.sentinel, self.conn], 0)

    def retire(self) -> None:
        """Ask an idle process to exit (it is joined later, in :meth:`reap`)."""
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(("exit",))
        self.conn.close()

    def reap(self, timeout: float) -> None:
        """Wait for a retired process; killed if it has not exited within ``timeout``."""
        self.process.join(timeout)
        if self.process.is_alive() and self.process.pid is not None:
            _kill_tree(self.process.pid)
            signal_group(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
            self.process.join(5)

    def end(self, timeout: float) -> None:
        """Retire and reap: an idle process that will serve no more trials."""
        self.retire()
        self.reap(timeout)


def _retire(idle: list[_Process], timeout: float) -> None:
    """End every idle process of ``idle`` and empty it (in place: the finalizer holds it)."""
    workers = list(idle)
    idle.clear()
    for worker in workers:
        worker.retire()
    for worker in workers:
        worker.reap(timeout)


def _end_all(idle: list[_Process], started: list[_Process], timeout: float) -> None:
    """The executor's end (collected, or the interpreter exiting): the idle processes, then
    any other trial process it started that is still alive.

    The second part is for a process that the bookkeeping lost: a Ctrl-C that lands between
    taking a process out of ``_slots`` or ``_idle`` and putting it in the other (or between
    emptying ``_idle`` and telling its processes to exit) leaves a live process waiting for a
    job nobody will send, and multiprocessing joins its children at exit: the program would
    hang there for good. Asked to exit, such a process does; a busy one is killed after
    ``timeout``.
    """
    _retire(idle, timeout)
    _retire([worker for worker in started if worker.process.is_alive()], timeout)
    started.clear()


@dataclass
class _Slot:
    job: TrialJob
    worker: _Process
    deadline: float | None
    last_step: int = 0
    last_values: dict[str, float] = field(default_factory=dict)
    outcome: Outcome | None = None
    stop_requested_at: float | None = None
    terminated_at: float | None = None
    end_kind: FailureKind | None = None
    end_reason: str = ""
    keep_partial: bool = False  # a stopped trial is STOPPED at its last report
    stop_grace: float | None = None  # seconds from a stop to SIGTERM, when not the executor's
    #: When a trial that said how it ended is killed if its process has not exited yet (a
    #: thread it left running keeps the interpreter alive).
    exit_deadline: float | None = None


class LocalExecutor(Executor):
    """Trials in forked processes on this machine; ``reuse_processes``: a process that ended
    its trial cleanly runs the next one of the same runner."""

    def __init__(
        self,
        capacity: int,
        grace_seconds: float = 5.0,
        reuse_processes: bool = True,
        devices: DevicePool | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.devices_pool = devices
        self.grace_seconds = grace_seconds
        # With devices, a process ends with its trial: its CUDA context goes with it.
        self.reuse_processes = reuse_processes and devices is None
        self._context = multiprocessing.get_context("fork")
        self._slots: dict[int, _Slot] = {}
        self._idle: list[_Process] = []  # processes waiting for their next trial
        self._started: list[_Process] = []  # every process started, pruned of ended ones
        # Idle processes end with the executor, or at the interpreter's exit before
        # multiprocessing joins its children (an idle one would wait for a job forever).
        multiprocessing.util.Finalize(
            self, _end_all, args=(self._idle, self._started, grace_seconds), exitpriority=10
        )

    @property
    def running(self) -> list[int]:
        return list(self._slots)

    @property
    def free(self) -> int:
        """Free capacity, limited by the devices free too when trials ask for GPUs."""
        free = super().free
        return free if self.devices_pool is None else min(free, self.devices_pool.fits())

    def devices(self, number: int) -> tuple[str, ...]:
        return () if self.devices_pool is None else self.devices_pool.held(number)

    def submit(self, job: TrialJob, runner: Runner) -> None:
        self._check_submit(job.number)
        if self.devices_pool is not None:
            given = self.devices_pool.acquire(job.number)
            if given is None:  # free said there was room: a caller that did not ask
                raise RuntimeError("no free device")
            job = replace(job, devices=given)
        try:
            self._start(job, runner)
        except BaseException:
            self._release(job.number)
            raise

    def _start(self, job: TrialJob, runner: Runner) -> None:
        trialdir.prepare(job.trial_dir)
        worker = self._idle_process(runner)
        if worker is not None:
            try:
                worker.conn.send(("job", job))
            except OSError:  # it died after the check: the trial gets a new process
                worker.end(self.grace_seconds)
                worker = None
        if worker is None:
            worker = self._start_process(runner, job)
        deadline = None
        if job.timeout is not None:
            # A runner that enforces the timeout itself gets the grace period to do it cleanly.
            slack = self.grace_seconds + 2.0 if getattr(runner, "handles_timeout", False) else 0.0
            deadline = time.monotonic() + job.timeout + slack
        self._slots[job.number] = _Slot(job, worker, deadline)

    def _idle_process(self, runner: Runner) -> _Process | None:
        """An idle process of ``runner`` ready for a job; idle ones of another runner, or
        that died meanwhile, are retired."""
        while self._idle:
            worker = self._idle.pop()
            if worker.runner is runner and worker.usable():
                return worker
            worker.end(self.grace_seconds)
        return None

    def _start_process(self, runner: Runner, job: TrialJob) -> _Process:
        _prctl()  # before the fork: the trial process inherits it
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=_trial_process_main,
            args=(runner, job, child_conn, self.reuse_processes),
            daemon=False,
        )
        process.start()
        child_conn.close()
        started = _Process(runner, process, parent_conn)
        # In place: the finalizer holds this list.
        self._started[:] = [w for w in self._started if w.process.is_alive()] + [started]
        return started

    def cancel(
        self,
        number: int,
        reason: str,
        kind: FailureKind = FailureKind.TIMEOUT,
        keep_partial: bool = True,
    ) -> None:
        slot = self._slots.get(number)
        if slot is None or slot.stop_requested_at is not None:
            return
        slot.stop_requested_at = time.monotonic()
        slot.end_kind, slot.end_reason, slot.keep_partial = kind, reason, keep_partial
        with contextlib.suppress(OSError, BrokenPipeError):
            slot.worker.conn.send(("stop", number))

    def stop_promptly(
        self,
        number: int,
        reason: str,
        kind: FailureKind = FailureKind.TIMEOUT,
        keep_partial: bool = True,
    ) -> None:
        self.cancel(number, reason, kind, keep_partial)
        slot = self._slots.get(number)
        if slot is not None:
            slot.stop_grace = min(slot.stop_grace or self.grace_seconds, PROMPT_GRACE)

    def acknowledge(self, number: int) -> None:
        slot = self._slots.get(number)
        if slot is not None and slot.job.wait_for_decision and slot.stop_requested_at is None:
            with contextlib.suppress(OSError, BrokenPipeError):
                slot.worker.conn.send(("go", number))

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        now = time.monotonic()
        wake = [now + timeout]
        for slot in self._slots.values():
            wake.extend(t for t in self._next_checks(slot) if t is not None)
        waitables: list[Any] = []
        for slot in self._slots.values():
            # Once a trial said how it ended, only its exit is awaited (its pipe reads EOF).
            sentinel = slot.worker.process.sentinel
            waitables += [sentinel] if slot.outcome is not None else [slot.worker.conn, sentinel]
        if waitables:
            wait(waitables, timeout=max(0.0, min(wake) - now))
        elif timeout > 0:
            time.sleep(timeout)
        for number in list(self._slots):
            self._advance(self._slots[number], events)
        return events

    def shutdown(self, reason: str, kind: FailureKind = FailureKind.INFRASTRUCTURE) -> list[Event]:
        events: list[Event] = []
        for slot in self._slots.values():
            if slot.end_kind is None:
                slot.end_kind, slot.end_reason = kind, reason
            self._kill(slot, signal.SIGKILL)
        for number in list(self._slots):
            slot = self._slots[number]
            slot.worker.process.join(timeout=5)
            self._advance(slot, events)
        _retire(self._idle, self.grace_seconds)
        return events

    def close(self) -> None:
        """End the idle trial processes (the study's run is over)."""
        _retire(self._idle, self.grace_seconds)

    # Internals ------------------------------------------------------------------------
    def _next_checks(self, slot: _Slot) -> list[float | None]:
        grace_end = None
        if slot.stop_requested_at is not None and slot.terminated_at is None:
            grace_end = slot.stop_requested_at + self._stop_grace(slot)
        kill_at = (
            None if slot.terminated_at is None else slot.terminated_at + self._kill_grace(slot)
        )
        return [slot.deadline, grace_end, kill_at, slot.exit_deadline]

    def _receive(self, slot: _Slot, events: list[Event]) -> None:
        try:
            while slot.outcome is None and slot.worker.conn.poll():
                message = slot.worker.conn.recv()
                if message[0] == "report":
                    _, step, values = message
                    step = slot.last_step + 1 if step is None else int(step)
                    slot.last_step = max(slot.last_step, step)
                    slot.last_values.update(values)
                    events.append(ReportEvent(slot.job.number, step, values))
                elif message[0] == "done":
                    slot.outcome = message[1]
        except (EOFError, OSError):
            pass

    def _advance(self, slot: _Slot, events: list[Event]) -> None:
        """Read the slot's messages, enforce its deadlines, and finish it when it ended."""
        self._receive(slot, events)
        now = time.monotonic()
        if slot.outcome is not None and self._reusable(slot):
            self._kill_command_group(slot)  # what a command trial left behind
            self._forget(slot)
            self._idle.append(slot.worker)
            events.append(DoneEvent(slot.job.number, slot.outcome))
            return
        process = slot.worker.process
        if slot.outcome is None and process.is_alive():
            if slot.deadline is not None and now >= slot.deadline and slot.end_kind is None:
                slot.end_kind = FailureKind.TIMEOUT
                slot.end_reason = f"ran past the {slot.job.timeout:g}s timeout; killed"
                self._kill(slot, signal.SIGTERM)
            elif (
                slot.stop_requested_at is not None
                and slot.terminated_at is None
                and now >= slot.stop_requested_at + self._stop_grace(slot)
            ):
                self._kill(slot, signal.SIGTERM)
            elif slot.terminated_at is not None and now >= slot.terminated_at + self._kill_grace(
                slot
            ):
                self._kill(slot, signal.SIGKILL)
            return
        if process.is_alive() and not wait([process.sentinel], 0):
            # It said how it ended and its interpreter is exiting: await that in poll() rather
            # than block here, so other trials' events are handled meanwhile (a ready sentinel
            # means it closed its files: the join below then takes a moment, not a spin).
            if slot.exit_deadline is None:
                if self.reuse_processes:  # it waits for a next job that will not come
                    with contextlib.suppress(OSError, BrokenPipeError):
                        slot.worker.conn.send(("exit",))
                slot.exit_deadline = now + self.grace_seconds
                return
            if now < slot.exit_deadline:
                return
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
        process.join(timeout=5)
        self._receive(slot, events)
        self._kill_command_group(slot)
        slot.worker.conn.close()
        self._forget(slot)
        events.append(DoneEvent(slot.job.number, slot.outcome or self._death_outcome(slot)))

    def _forget(self, slot: _Slot) -> None:
        """The trial is done here: its slot and its devices are free."""
        del self._slots[slot.job.number]
        self._release(slot.job.number)

    def _release(self, number: int) -> None:
        if self.devices_pool is not None:
            self.devices_pool.release(number)

    def _reusable(self, slot: _Slot) -> bool:
        """Whether the trial's process may take another trial: it said how the trial ended
        and nobody ended it (a cancel, a timeout or a shutdown sets ``end_kind`` before any
        signal: a stopped or killed trial's process is never reused)."""
        return self.reuse_processes and slot.end_kind is None and slot.worker.process.is_alive()

    def _stop_grace(self, slot: _Slot) -> float:
        return self.grace_seconds if slot.stop_grace is None else slot.stop_grace

    def _kill_grace(self, slot: _Slot) -> float:
        """Seconds from SIGTERM to SIGKILL: a trial past its timeout gets at most TIMEOUT_GRACE."""
        if slot.stop_grace is not None:  # a person's stop: a few more tenths of a second
            return min(self.grace_seconds, slot.stop_grace)
        if slot.end_kind == FailureKind.TIMEOUT:
            return min(self.grace_seconds, TIMEOUT_GRACE)
        return self.grace_seconds

    def _kill(self, slot: _Slot, sig: int) -> None:
        if slot.terminated_at is None:
            slot.terminated_at = time.monotonic()
        pid = slot.worker.process.pid
        if pid is not None:
            if sig == signal.SIGKILL:  # first what left its group: the trial process is their
                _kill_tree(pid)  # subreaper only while it lives
            signal_group(pid, sig)
            # Also the process itself: it may not have made its own group yet (just forked).
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        self._kill_command_group(slot, sig)

    def _kill_command_group(self, slot: _Slot, sig: int = signal.SIGKILL) -> None:
        pgid = read_pgid_file(slot.job.trial_dir)
        if pgid is not None:
            signal_group(pgid, sig)

    def _death_outcome(self, slot: _Slot) -> Outcome:
        """The outcome of a trial whose process ended without saying how it ended."""
        objective = slot.job.objective
        if slot.end_kind is not None:
            if slot.keep_partial and objective in slot.last_values:
                return Outcome(TrialState.STOPPED, slot.last_values[objective], slot.last_values)
            return Outcome.failed(slot.end_kind, slot.end_reason, slot.last_values)
        code = slot.worker.process.exitcode
        tail = "\n".join(log_tail(slot.job.trial_dir / "stderr.log", ERROR_TAIL_LINES))
        if code is not None and code < 0:
            message = f"the trial's process was killed by {signal_description(-code)}"
        else:  # os._exit, sys.exit or a dying interpreter: the trial never said how it ended
            message = f"the trial's process exited with code {code} before finishing"
        return Outcome.failed(FailureKind.CRASHED, f"{message}\n{tail}".strip(), slot.last_values)
