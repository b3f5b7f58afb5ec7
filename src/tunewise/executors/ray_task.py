"""What runs inside the Ray cluster for the Ray executor: one task per trial, one channel actor.

The task (:func:`run_trial`) is a remote :class:`~tunewise.executors.local.LocalExecutor` of
capacity one: it forks the trial's own process on the node Ray chose, so a trial on a Ray node
is run, stopped, timed out and killed (its whole process tree) exactly as on the driver's
machine. A forked trial arms the parent-death signal, so when Ray kills the task's worker (a
forced cancel, a dead raylet) the trial's tree goes with it.

The channel (:class:`TrialChannel`, an asyncio actor on the driver's node) carries what must
travel while a trial runs, in both directions, with no actor per trial:

- task → driver: ``("started", key, node_id, host, pid)`` once, then ``("report", key, step,
  values)``; the driver long-polls :meth:`TrialChannel.drain` for them.
- driver → task: ``("stop", reason, kind, keep_partial)`` and ``("go",)`` (the study's decision
  after a report); each task long-polls :meth:`TrialChannel.receive` for its own key.

The task returns ``(outcome, reports_sent)`` only after its last push was received, so the
driver can hold the trial's end until every report is recorded (a report never arrives after
its trial finished).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Sequence
from typing import Any

from tunewise.executors.base import DoneEvent, ReportEvent
from tunewise.runners.base import Outcome, Runner, TrialJob
from tunewise.trial import FailureKind

#: How long a task waits in the executor's poll before it looks at its inbox (the latency a
#: stop or a "go on" decision may add).
TASK_POLL_SECONDS = 0.05
#: How long one long-poll of a task's inbox waits at most before it is asked again.
INBOX_WAIT_SECONDS = 10.0

Item = tuple[Any, ...]


class _Inbox:
    """Messages for one running task, and the event its waiting receive sleeps on."""

    def __init__(self) -> None:
        self.messages: list[Item] = []
        self.wake = asyncio.Event()


class TrialChannel:
    """The Ray actor (asyncio) that carries events and messages between driver and tasks."""

    def __init__(self) -> None:
        self._events: list[Item] = []
        self._ready = asyncio.Event()
        self._inboxes: dict[str, _Inbox] = {}

    async def push(self, items: Sequence[Item]) -> None:
        """A task's events, in order (calls of one task run in the order it made them)."""
        self._events.extend(items)
        self._ready.set()

    async def drain(self, wait: float) -> list[Item]:
        """Every event pushed since the last drain, waiting up to ``wait`` s for the first."""
        if not self._events:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)
        events, self._events = self._events, []
        self._ready.clear()
        return events

    async def send(self, key: str, message: Item) -> None:
        """A message for the task ``key`` (a stop, a decision)."""
        inbox = self._inboxes.setdefault(key, _Inbox())
        inbox.messages.append(message)
        inbox.wake.set()

    async def receive(self, key: str, wait: float) -> list[Item]:
        """The messages for task ``key``, waiting up to ``wait`` s for the first."""
        inbox = self._inboxes.setdefault(key, _Inbox())
        if not inbox.messages:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(inbox.wake.wait(), wait)
        messages, inbox.messages = inbox.messages, []
        inbox.wake.clear()
        if self._inboxes.get(key) is inbox:
            del self._inboxes[key]  # the next send or receive makes a new one: nothing piles up
        return messages

    async def forget(self, key: str) -> None:
        """The task ``key`` ended: wake its pending receive and drop what was left for it."""
        inbox = self._inboxes.pop(key, None)
        if inbox is not None:
            inbox.wake.set()


def run_trial(
    job: TrialJob, runner: Runner, channel: Any, key: str, grace: float
) -> tuple[Outcome, int]:
    """The Ray task of one trial: run it in a forked process on this node, stream its reports
    through ``channel``, obey the driver's messages; returns the outcome and the number of
    reports pushed."""
    import ray

    from tunewise.executors.local import LocalExecutor

    node_id = ray.get_runtime_context().get_node_id()
    last_push = channel.push.remote([("started", key, node_id, socket.gethostname(), os.getpid())])
    executor = LocalExecutor(capacity=1, grace_seconds=grace, reuse_processes=False)
    sent = 0
    executor.submit(job, runner)
    inbox = channel.receive.remote(key, INBOX_WAIT_SECONDS)
    try:
        while True:
            events = executor.poll(TASK_POLL_SECONDS)
            reports = [
                ("report", key, e.step, dict(e.values))
                for e in events
                if isinstance(e, ReportEvent)
            ]
            if reports:
                last_push = channel.push.remote(reports)
                sent += len(reports)
            done = [e for e in events if isinstance(e, DoneEvent)]
            if done:
                ray.get(last_push)  # every report is with the channel before the outcome
                return done[0].outcome, sent
            ready, _ = ray.wait([inbox], timeout=0)
            if ready:
                for message in ray.get(inbox):
                    _obey(executor, job.number, message)
                inbox = channel.receive.remote(key, INBOX_WAIT_SECONDS)
    finally:
        # Cancelled (KeyboardInterrupt from ray.cancel) or failing: leave no process behind.
        if executor.running:
            executor.shutdown("the Ray task was cancelled", FailureKind.INTERRUPTED)


def _obey(executor: Any, number: int, message: Item) -> None:
    if message[0] == "stop":
        _, reason, kind, keep_partial = message
        executor.cancel(number, reason, FailureKind(kind), keep_partial)
    elif message[0] == "go":
        executor.acknowledge(number)
