"""Runners: how one trial runs (a Python callable, or any command)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tunewise.runners.base import Outcome, ReportCallback, Runner, StopCheck, TrialJob

if TYPE_CHECKING:
    from tunewise.spec import TrialSpec

__all__ = ["Outcome", "ReportCallback", "Runner", "StopCheck", "TrialJob", "build_runner"]


def build_runner(trial: TrialSpec) -> Runner:
    """The runner a spec's ``trial:`` section describes, checked before any trial runs: the
    command must be on PATH, the Python target must import (SpecError naming the field)."""
    if trial.python is not None:
        from tunewise.runners.python import PythonRunner, resolve_target

        return PythonRunner(func=resolve_target(trial.python))
    from tunewise.runners.command import CommandRunner, check_command

    assert trial.command is not None  # TrialSpec guarantees one of the two
    check_command(trial.command)
    return CommandRunner(trial.command, trial.metrics, env=trial.env)
