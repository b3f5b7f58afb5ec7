"""Report a framework's metric and learn whether the study wants training to end.

The framework callbacks (Lightning, Keras, XGBoost, LightGBM) share this: each epoch or
iteration they call :meth:`TrialLink.report` with the monitored value and stop training when
it returns True. The link works wherever the training code runs:

- **in a Python trial** (``study.optimize(train)`` or ``trial: {python: ...}``): values go to
  the study through :func:`tunewise.report`; the study's decision comes from the trial given
  to the callback, or else from the running trial the Python runner publishes;
- **in a command trial** (``trial: {command: ...}``): values are printed as ``@tunewise`` lines
  that the command runner reads live; the runner stops a trial by sending SIGTERM to its
  process group (SIGKILL follows after its grace period, 5 s by default), so while training
  runs the link turns SIGTERM into a flag that the callback checks, and training ends cleanly
  (the script goes on after ``fit``, can save its model, and exits);
- **outside any trial** (a plain ``python train.py``): values are printed the same way and the
  study never asks to stop, so the callback is a harmless reporter.

Imports only the standard library and tunewise's reporting module: the callback modules import
their framework, not this one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol

import tunewise.reporting as report_module

#: Set by the command runner in every trial's environment.
TRIAL_ENV = "TUNEWISE_TRIAL_NUMBER"


class TrialLike(Protocol):
    """What a callback needs of a trial: the Python runner's ``TrialContext`` has both."""

    def report(self, value: float | None = None, step: int | None = None, **metrics: float) -> Any:
        """Send values at ``step``."""

    def should_stop(self) -> bool:
        """True once the study wants the trial to end."""


_Handler = Callable[[int, FrameType | None], Any] | int | None


class TrialLink:
    """One training run's line to its trial: report values, ask whether to stop.

    ``metric`` is the name values are reported under (the study's objective, to make the last
    value the trial's result); ``trial`` the trial passed to a training function, when there
    is one (not needed: a Python trial's decisions are found without it).
    """

    def __init__(self, metric: str, trial: TrialLike | None = None) -> None:
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"the reported metric needs a name, got {metric!r}")
        self.metric = metric
        self.trial = trial
        #: The last value reported (None before the first): the trial's result at its end.
        self.last_value: float | None = None
        #: How many values were reported.
        self.reports = 0
        #: Why training was ended by this link: None, "study" (the study decided) or
        #: "sigterm" (the command runner stopped the trial).
        self.stopped_by: str | None = None
        self._sigterm = threading.Event()
        self._previous_handler: _Handler = None
        self._installed = False

    # -- the training run's life --------------------------------------------------------------

    def begin(self) -> None:
        """Training starts: in a command trial, catch the runner's SIGTERM until :meth:`end`.

        Only from the main thread (Python delivers signals there) and only in a command trial,
        so a plain script or a Python trial keeps its own SIGTERM behaviour.
        """
        if self._installed or not self.in_command_trial():
            return
        if threading.current_thread() is not threading.main_thread():
            return
        self._previous_handler = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, self._on_sigterm)
        self._installed = True

    def end(self) -> None:
        """Training ended: give SIGTERM back to whoever had it (the default ends the process),
        so a stop that arrives after training, during evaluation or saving, is not swallowed."""
        if not self._installed:
            return
        self._installed = False
        previous = self._previous_handler
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if self._sigterm.is_set():  # a second SIGTERM: the user means it, end now
            raise SystemExit(128 + signum)
        self._sigterm.set()

    # -- each epoch or iteration --------------------------------------------------------------

    def report(self, value: Any, step: int) -> bool:
        """Report ``value`` at ``step``; True when training should end now.

        A value that is not a number is refused with the metric's name. The runner's SIGTERM
        already received ends training without a report: the runner no longer reads one.
        """
        if self.signalled():
            return True
        number = _as_number(self.metric, value)
        self.last_value = number
        self.reports += 1
        if self.trial is not None:
            self.trial.report(**{self.metric: number}, step=step)
        else:
            report_module.report(step, **{self.metric: number})
        return self.should_stop()

    def signalled(self) -> bool:
        """Whether the command runner sent SIGTERM (cheap: callbacks ask it every batch)."""
        if self._sigterm.is_set():
            self.stopped_by = "sigterm"
            return True
        return False

    def should_stop(self) -> bool:
        """Whether the study wants training to end (checked after every report)."""
        if self.signalled():
            return True
        if self.trial is not None:
            asked = bool(self.trial.should_stop())
        else:
            check = report_module._stop_check
            asked = bool(check()) if check is not None else False
        if asked:
            self.stopped_by = "study"
        return asked

    @staticmethod
    def in_command_trial() -> bool:
        """Whether this process is a command trial's (the runner's environment, no Python
        runner's sink)."""
        return report_module._sink is None and os.environ.get(TRIAL_ENV) is not None


class LinkedCallback:
    """What every framework's callback holds and shows of its :class:`TrialLink`: ``monitor``,
    the framework's metric it reports; ``last_value``, the last value reported; ``stopped_by``,
    why it stopped training (``None``, ``"study"``, ``"sigterm"``). Mixed in first, before each
    framework's own callback class, whose ``__init__`` it calls without arguments; a framework's
    callback only names its default ``monitor``."""

    def __init__(
        self, monitor: str, *, metric: str | None = None, trial: TrialLike | None = None
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self._link = TrialLink(metric or monitor, trial)

    @property
    def last_value(self) -> float | None:
        return self._link.last_value

    @property
    def stopped_by(self) -> str | None:
        return self._link.stopped_by


def _as_number(name: str, value: Any) -> float:
    """A framework's metric (a float, a numpy or torch scalar) as float, or a TypeError."""
    item = getattr(value, "item", None)
    if callable(item):  # numpy and torch scalars, 0-d arrays and tensors
        with contextlib.suppress(TypeError, ValueError, RuntimeError):
            value = item()
    if isinstance(value, bool):
        raise TypeError(f"the monitored metric {name!r} is not a number: {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"the monitored metric {name!r} is not a number: {value!r}") from None


def missing_metric(monitor: str, available: list[str], where: str) -> KeyError:
    """The error for a monitored metric the framework did not log: names what it did log."""
    shown = ", ".join(sorted(available)) if available else "none"
    return KeyError(
        f"{where} logged no metric {monitor!r} (logged: {shown}); set monitor= to one of them"
    )
