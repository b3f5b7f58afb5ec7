"""Weights & Biases: a group per study, a run per trial.

Each finished trial becomes one W&B run in the group named after the study (``job_type``
``trial``), logged from the driver once the trial has finished, so Python and command trials,
Ray and workers log alike:

- config: the trial's hyperparameters, plus ``tunewise/study``, ``tunewise/study_uuid`` and
  ``tunewise/trial``;
- history: every report at its step (the learning curve); the final metrics no report carried
  go to the summary;
- summary: ``tunewise/state``, ``tunewise/failure_kind``, ``tunewise/error``,
  ``tunewise/attempt``, ``tunewise/duration_s``, ``tunewise/value`` and ``tunewise/best``;
- tags: the trial's state, and ``best`` on a trial that was the study's best when it finished
  (a W&B run cannot be changed once finished offline, so an earlier best keeps its tag: the
  study's best is the last run tagged ``best``, as ``tunewise/best`` in the summary says);
- the run's exit code is 1 for a failed trial.

Enable it in a spec (``tracking: {wandb: {project: digits, mode: offline}}``; ``entity`` and
``dir`` optional, ``WANDB_MODE``/``WANDB_DIR`` work as usual) or in Python:
``study.optimize(f, callbacks=[WandbCallback(project="digits")])``. Needs
``pip install 'tunewise[wandb]'``.
"""

from __future__ import annotations

import math
from typing import Any

from tunewise.tracking import FinishedTrial, TrackerCallback, missing_library
from tunewise.trial import TrialState

__all__ = ["WandbCallback", "WandbTracker", "from_options"]


def _config_value(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def _number(value: float) -> float | str:
    """W&B's JSON has no NaN or infinity: those are kept as text."""
    return value if math.isfinite(value) else str(value)


class WandbTracker:
    """Logs each finished trial as a W&B run in the study's group.

    ``project``: the W&B project (default: the study's name); ``entity``: the team or user;
    ``mode``: ``online``, ``offline`` or ``disabled`` (default: W&B's, ``WANDB_MODE``);
    ``dir``: where W&B writes its files (default: W&B's, ``WANDB_DIR``).
    """

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        mode: str | None = None,
        dir: str | None = None,  # W&B's own name for it
    ) -> None:
        try:
            import wandb  # noqa: F401 - checked here, at the start, not at the first trial
        except ImportError:
            raise missing_library("wandb", "wandb") from None
        self.project = project
        self.entity = entity
        self.mode = mode
        self.dir = dir

    def log_trial(self, event: FinishedTrial) -> None:
        import wandb

        trial = event.trial
        config = {name: _config_value(value) for name, value in trial.params.items()}
        config.update(
            {
                "tunewise/study": event.study,
                "tunewise/study_uuid": event.study_uuid,
                "tunewise/trial": trial.number,
            }
        )
        tags = [str(trial.state)] + (["best"] if event.is_best else [])
        run = wandb.init(
            project=self.project or event.study,
            entity=self.entity,
            group=event.study,
            job_type="trial",
            name=f"{event.study}-{trial.number:05d}",
            config=config,
            tags=tags,
            mode=self.mode,  # type: ignore[arg-type]
            dir=self.dir,
            reinit="create_new",
            settings=wandb.Settings(
                silent=True, console="off", save_code=False, x_disable_stats=True
            ),
        )
        try:
            for report in event.reports:
                run.log({k: _number(v) for k, v in report.values.items()}, step=report.step)
            summary: dict[str, Any] = {k: _number(v) for k, v in event.final_metrics().items()}
            summary.update(
                {
                    f"tunewise/{key.removeprefix('tunewise.')}": value
                    for key, value in event.tags().items()
                    if key not in ("tunewise.study", "tunewise.study_uuid", "tunewise.trial")
                }
            )
            if trial.value is not None:
                summary["tunewise/value"] = _number(trial.value)
            if trial.duration is not None:
                summary["tunewise/duration_s"] = trial.duration
            summary["tunewise/attempt"] = trial.attempt
            summary["tunewise/best"] = event.is_best
            run.summary.update(summary)
        finally:
            run.finish(exit_code=1 if trial.state == TrialState.FAILED else 0)

    def close(self) -> None:
        """Nothing to end: each trial's run finished when it was logged."""


class WandbCallback(TrackerCallback):
    """``study.optimize(f, callbacks=[WandbCallback(project=...)])``: a run per trial in a
    group per study."""

    def __init__(
        self,
        project: str | None = None,
        entity: str | None = None,
        mode: str | None = None,
        dir: str | None = None,  # W&B's own name for it
    ) -> None:
        super().__init__(WandbTracker(project, entity, mode, dir))


def from_options(**options: str) -> WandbTracker:
    """The tracker a spec's ``tracking: {wandb: {...}}`` entry describes."""
    return WandbTracker(**options)
