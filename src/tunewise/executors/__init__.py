"""Executors: where trials run — local processes, or tasks on a Ray cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunewise.executors.base import DoneEvent, Event, Executor, ReportEvent

if TYPE_CHECKING:
    from tunewise.policies import ExecutorSpec

__all__ = ["DoneEvent", "Event", "Executor", "ReportEvent", "build_executor"]


def build_executor(spec: ExecutorSpec, capacity: int) -> Executor:
    """The executor a spec's ``executor:`` section describes, running up to ``capacity``
    trials at once (Ray is imported, and connected to, only for ``type: ray``)."""
    if spec.type == "ray":
        from tunewise.executors.ray import RayExecutor

        return RayExecutor(capacity, spec.address, spec.cpu, spec.gpu)
    from tunewise.executors.local import LocalExecutor

    pool = None
    if spec.local_gpu > 0:  # the devices are found (or refused) before anything runs
        from tunewise.devices import gpu_pool

        pool = gpu_pool(spec.local_gpu, spec.gpus)
    return LocalExecutor(capacity, reuse_processes=spec.reuse_processes, devices=pool)
