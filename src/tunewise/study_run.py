"""``Study.optimize``: Optuna's meanings on tunewise's loop.

- ``n_trials``: that many more trials in this call (a study that ended is continued);
  ``max_trials`` stays the study's total budget, counting every trial it ever ran;
- ``timeout``: this call's wall clock — after it no trial starts, and the running ones finish
  (``max_runtime`` is the hard limit: it stops the running trials too); the per-trial limit is
  ``trial_timeout``;
- ``callbacks``: ``fn(study, trial)`` after each trial this call finishes;
- ``progress``: a display by default on a terminal and in Jupyter.

Arguments are checked here, at the boundary, each with a one-sentence error naming it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tunewise.failures import no_result_error
from tunewise.spec import ExecutorSpec, Limits
from tunewise.trial import Trial, TrialState
from tunewise.validation import parse_duration

if TYPE_CHECKING:
    from tunewise.stopping.completion import Completion
    from tunewise.study import Study
    from tunewise.tuner import ProgressCallback

Callback = Callable[["Study", Trial], Any]


def positive_int(value: Any, name: str) -> int:
    """``value`` as a count of 1 or more; a TypeError/ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer of 1 or more, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be 1 or more, got {value}")
    return value


def _seconds(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{name} must be seconds or a duration such as '10m', got {value!r}")
    return parse_duration(value, name)  # a SpecError (a ValueError) naming it


def _callbacks(value: Any) -> list[Callback]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or callable(value):
        raise TypeError(
            f"callbacks must be a list of functions fn(study, trial), got {type(value).__name__}"
        )
    for i, callback in enumerate(value):
        if not callable(callback):
            raise TypeError(f"callbacks[{i}] must be a function fn(study, trial), got {callback!r}")
    return list(value)


def optimize(
    study: Study,
    func: Callable[..., Any],
    n_trials: int | None = None,
    timeout: float | str | None = None,
    *,
    trial_timeout: float | str | None = None,
    callbacks: Sequence[Callback] | None = None,
    progress: bool | None = None,
    max_trials: int | None = None,
    max_parallel: int = 1,
    max_runtime: float | str | None = None,
    max_consecutive_failures: int | None = None,
    on_progress: ProgressCallback | None = None,
    executor: str | Mapping[str, Any] | ExecutorSpec | None = None,
    max_cost: float | None = None,
) -> Completion:
    """See :meth:`tunewise.study.Study.optimize`."""
    from tunewise.runners.python import PythonRunner
    from tunewise.stopping.completion import Completion

    if not callable(func):
        raise TypeError(
            f"func must be a callable such as train(params) -> float, got {func!r}; "
            "the number of trials goes in n_trials="
        )
    more = None if n_trials is None else positive_int(n_trials, "n_trials")
    total = None if max_trials is None else positive_int(max_trials, "max_trials")
    call_seconds = _seconds(timeout, "timeout")
    per_trial = _seconds(trial_timeout, "trial_timeout")
    hooks = _callbacks(callbacks)
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"progress must be True, False or None (automatic), got {progress!r}")
    if executor is not None and not isinstance(executor, ExecutorSpec):
        executor = ExecutorSpec.from_dict(executor, path="optimize.executor")
    if more is not None:
        counts = study.counts()
        started = sum(counts.values()) - counts[TrialState.QUEUED]  # queued ones are among n
        total = started + more if total is None else min(total, started + more)
    max_cost = _max_cost(study, max_cost)
    if (
        total is None
        and call_seconds is None
        and max_runtime is None
        and max_cost is None
        and not _has_default(study)
    ):
        raise ValueError(
            "optimize needs an end: give n_trials (trials to run now), timeout (seconds for "
            "this call) or max_trials (the study's total)"
        )
    limits = Limits.from_dict(
        {
            "max_trials": total,
            "max_parallel": max_parallel,
            "max_runtime": max_runtime,
            "max_cost": max_cost,
            **(
                {"max_consecutive_failures": max_consecutive_failures}
                if max_consecutive_failures is not None
                else {}
            ),
        },
        path="optimize",
    )
    deadline = None if call_seconds is None else time.monotonic() + call_seconds
    study._stop_requested = False

    def call_limit() -> Completion | None:
        if study._stop_requested:
            return Completion("stop_called", "study.stop() was called", {})
        if deadline is not None and time.monotonic() >= deadline:
            return Completion(
                "timeout",
                f"this optimize call's timeout ({call_seconds:g} s) passed",
                {"timeout": call_seconds},
            )
        return None

    def finished(trial: Trial) -> None:
        for hook in hooks:
            hook(study, trial)

    display = _display(progress)
    shown = _both(display, on_progress)
    try:
        completion = study.run(
            PythonRunner(func=func),
            limits,
            timeout=per_trial,
            on_progress=shown,
            executor=executor,
            call_limit=call_limit,
            on_trial_finished=finished if hooks else None,
        )
    finally:
        if display is not None:
            display.close()
    counts = study.counts()  # one cheap read; the trials only when none completed
    if counts[TrialState.COMPLETED] == 0 and counts[TrialState.FAILED] > 0:
        error = no_result_error(study.name, study.trials)
        if error is not None:
            raise error
    return completion


def _max_cost(study: Study, given: Any) -> float | None:
    """The study's cost budget: ``max_cost`` given here (stored with the study, so ``status``
    and the dashboard show what is left), else the one stored before; it needs the study's
    ``cost``."""
    from tunewise.cost import check_max_cost

    spec = study.spec
    if given is None:
        return spec.limits.max_cost if spec.cost is not None else None
    amount = check_max_cost(given, "max_cost")
    if spec.cost is None:
        raise ValueError(
            "max_cost needs to know what a trial costs: create the study with cost={'per_hour': "
            "3.06} or cost={'metric': 'dollars'}"
        )
    if amount != spec.limits.max_cost:
        updated = spec.with_overrides(max_cost=amount)
        study._store.update_study_definition(study._id, updated.to_dict())
        study.spec = updated
    return amount


def _has_default(study: Study) -> bool:
    """Whether the strategy bounds the study by itself (a grid: its size)."""
    from tunewise.strategies import strategy_for

    strategy = strategy_for(study.spec, study.seed)
    return strategy.default_max_trials(study.space) is not None


def _display(progress: bool | None) -> Any:
    from tunewise.progress import ProgressDisplay, in_jupyter

    if progress is False:
        return None
    if progress is True:
        return ProgressDisplay(jupyter=in_jupyter())
    return ProgressDisplay.auto()


def _both(display: Any, on_progress: ProgressCallback | None) -> ProgressCallback | None:
    if display is None or on_progress is None:
        return display or on_progress

    def show(progress: Any) -> None:
        display(progress)
        on_progress(progress)

    return show
