"""The Python runner: call ``train(params)`` (or ``train(params, trial)``) in the trial's process.

The function returns the objective as a number, or a dict of metrics that holds the objective;
or nothing, when it reported the objective with ``tunewise.report`` / ``trial.report``. Its
prints go to ``stdout.log`` / ``stderr.log`` in the trial's folder, as a command's do (made
without following links; an earlier attempt's kept as ``stdout.N.log``).
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import tunewise.reporting as report_module
from tunewise.define_by_run import Suggester
from tunewise.errors import SpecError, TrialStopped
from tunewise.runners import trialdir
from tunewise.runners.base import (
    ERROR_TAIL_LINES,
    Outcome,
    ReportCallback,
    StopCheck,
    TrialJob,
)
from tunewise.trial import FailureKind, TrialState

TrainFunction = Callable[..., Any]


def resolve_target(target: str, field: str = "trial.python") -> TrainFunction:
    """Import ``package.module:function`` with the current folder importable, as ``python -m``
    would; a SpecError naming the field when it cannot be imported."""
    module_name, _, attr_path = target.partition(":")
    if not module_name or not attr_path:
        raise SpecError(field, f"must look like package.module:function, got {target!r}")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as exc:  # any import-time error is the user's to fix
        raise SpecError(
            field,
            f"cannot import {module_name!r} ({type(exc).__name__}: {exc}); run tunewise from "
            "the folder that contains it or install the package",
        ) from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise SpecError(field, f"{module_name!r} has no attribute {attr_path!r}") from None
    if not callable(obj):
        raise SpecError(field, f"{target!r} is not callable")
    return obj


def _wants_trial(func: TrainFunction) -> bool:
    """Whether ``func`` takes a second positional argument (the trial context)."""
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in parameters)


class TrialContext(Suggester):
    """What a training function may use of its trial: number, params, folder, report, stop,
    and Optuna's ``suggest_float / suggest_int / suggest_categorical`` (define-by-run)."""

    def __init__(self, job: TrialJob, should_stop: StopCheck) -> None:
        self.number = job.number
        self.params = dict(job.params)
        self.dir = job.trial_dir
        self._objective = job.objective
        self._should_stop = should_stop
        self._start_suggesting(
            job.space, job.params, job.seed, job.number, grows=job.space is not None
        )
        if job.space is not None:  # define-by-run: Optuna's trial.params, what was asked so far
            self.params = self._suggested

    def report(self, value: float | None = None, step: int | None = None, **metrics: float) -> None:
        """Report intermediate values at ``step``: ``value`` is the objective's, ``metrics``
        any others. Optuna's order, ``trial.report(value, step)``; keywords work either way.
        Same as ``tunewise.report(step=..., **metrics)``."""
        values = dict(metrics)
        if value is not None:
            values[self._objective] = value
        report_module.report(step, **values)

    def should_stop(self) -> bool:
        """True once the study wants this trial to end; return (or raise TrialStopped) then."""
        return self._should_stop()

    def should_prune(self) -> bool:
        """Optuna's name for :meth:`should_stop`."""
        return self._should_stop()

    def set_user_attr(self, key: str, value: object) -> None:
        """Optuna's ``trial.set_user_attr``: a JSON value kept with the trial. The trial's
        process has no line to the store, so the attributes travel back with its result and
        are stored when it ends (a trial killed by a stop or a timeout keeps none)."""
        from tunewise.study_admin import user_attr

        key, value = user_attr(key, value)
        self.user_attrs[key] = value

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The attributes set so far in this trial."""
        if not hasattr(self, "_user_attrs"):
            self._user_attrs: dict[str, Any] = {}
        return self._user_attrs


@contextlib.contextmanager
def _captured_output(trial_dir: Path, attempt: int = 1) -> Iterator[None]:
    """Send fds 1 and 2, and ``sys.stdout``/``sys.stderr``, to the trial's log files (the trial
    runs in its own process, so this touches nothing of the driver's). The files are made
    fresh, never through a link; an earlier attempt's are kept (see ``runners/trialdir.py``)."""
    dir_fd = trialdir.open_dir(trial_dir)
    try:
        trialdir.keep_earlier_logs(dir_fd, attempt)
        out_fd = trialdir.create(dir_fd, "stdout.log")
        err_fd = trialdir.create(dir_fd, "stderr.log")
    finally:
        os.close(dir_fd)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_fds = (os.dup(1), os.dup(2))
    saved_streams = (sys.stdout, sys.stderr)
    with open(out_fd, "ab") as out, open(err_fd, "ab") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
        try:
            yield
        finally:
            sys.stdout.close()
            sys.stderr.close()
            sys.stdout, sys.stderr = saved_streams
            os.dup2(saved_fds[0], 1)
            os.dup2(saved_fds[1], 2)
            os.close(saved_fds[0])
            os.close(saved_fds[1])


class PythonRunner:
    """Runs a Python callable, given directly or as a ``module:function`` target."""

    #: The executor enforces the timeout: Python code cannot be interrupted from inside.
    handles_timeout = False

    def __init__(self, func: TrainFunction | None = None, target: str | None = None) -> None:
        if (func is None) == (target is None):
            raise ValueError("give exactly one of func and target")
        self._func = func
        #: Whether ``func`` takes the trial too, found before trials fork (inspect is slow).
        self._wants_trial: bool | None = None if func is None else _wants_trial(func)
        self._target = target

    @property
    def func(self) -> TrainFunction:
        if self._func is None:
            assert self._target is not None
            self._func = resolve_target(self._target)
        return self._func

    def run(self, job: TrialJob, report: ReportCallback, should_stop: StopCheck) -> Outcome:
        context = TrialContext(job, should_stop)
        outcome = self._run(job, report, should_stop, context)
        if context.user_attrs:
            outcome = replace(outcome, user_attrs=dict(context.user_attrs))
        if job.space is None:
            return outcome
        # define-by-run: what the trial asked goes back to be stored (tunewise.define_by_run)
        return replace(outcome, params=context.suggested, distributions=context.distributions)

    def _run(
        self, job: TrialJob, report: ReportCallback, should_stop: StopCheck, context: TrialContext
    ) -> Outcome:
        last: dict[str, float] = {}

        def sink(step: int | None, values: Mapping[str, float]) -> None:
            last.update(values)
            report(step, values)

        previous_sink, previous_check = report_module._sink, report_module._stop_check
        report_module._sink, report_module._stop_check = sink, should_stop
        try:
            with _captured_output(job.trial_dir, job.attempt):
                func = self.func
                wants = self._wants_trial
                if wants is None:
                    wants = _wants_trial(func)
                if wants:
                    result = func(dict(job.params), context)
                elif job.space is not None:  # define-by-run: Optuna's objective(trial)
                    result = func(context)
                else:
                    result = func(dict(job.params))
        except TrialStopped:
            return Outcome(TrialState.STOPPED, last.get(job.objective), dict(last))
        except Exception as exc:
            lines = traceback.format_exception(exc)
            tail = "".join(lines).rstrip().splitlines()[-ERROR_TAIL_LINES:]
            return Outcome.failed(FailureKind.USER_ERROR, "\n".join(tail), last)
        finally:
            report_module._sink, report_module._stop_check = previous_sink, previous_check
        return interpret_result(result, job.objective, last, stopped=should_stop())


def interpret_result(
    result: Any, objective: str, reported: Mapping[str, float], stopped: bool = False
) -> Outcome:
    """Turn what a training function returned into an outcome (shared with ``study.tell``)."""
    metrics = dict(reported)
    if isinstance(result, Mapping):
        for name, value in result.items():
            try:
                metrics[str(name)] = _number(value)
            except TypeError:
                return Outcome.failed(
                    FailureKind.USER_ERROR,
                    f"metric {name!r} returned by the training function is not a number: {value!r}",
                    metrics,
                )
        if objective not in result and objective not in reported:
            return Outcome.failed(
                FailureKind.METRIC_MISSING,
                f"the training function returned {sorted(map(str, result))} without the "
                f"objective {objective!r}",
                metrics,
            )
    elif result is not None:
        try:
            metrics[objective] = _number(result)
        except TypeError:
            return Outcome.failed(
                FailureKind.USER_ERROR,
                f"the training function must return a number or a dict of metrics, "
                f"got {type(result).__name__}",
                metrics,
            )
    if objective not in metrics:
        return Outcome.failed(
            FailureKind.METRIC_MISSING,
            f"the training function returned nothing and never reported {objective!r}",
            metrics,
        )
    value = metrics[objective]
    if not math.isfinite(value):
        return Outcome.failed(
            FailureKind.METRIC_INVALID,
            f"the objective {objective!r} is {value}, not a finite number",
            metrics,
        )
    return Outcome(TrialState.STOPPED if stopped else TrialState.COMPLETED, value, metrics)


def _number(value: Any) -> float:
    """A metric value as float: ints, floats and numpy scalars (anything with __float__)."""
    if isinstance(value, bool) or not hasattr(value, "__float__"):
        raise TypeError(value)
    return float(value)
