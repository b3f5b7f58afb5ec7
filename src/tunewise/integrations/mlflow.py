"""MLflow: the study is a parent run, each trial a nested child run.

Optuna's ``MLflowCallback`` logs every trial as a flat run (optuna#5148): here a study is one
parent run (found again by its ``tunewise.study_uuid`` tag, so a resumed study, a second
``optimize`` call or another worker adds to the same parent) and each finished trial is a child
run with ``mlflow.parentRunId`` set, holding:

- params: the trial's hyperparameters;
- metrics: every report with its step (the learning curve), and the final metrics no report
  carried at the last step;
- tags: ``tunewise.state``, ``tunewise.failure_kind``, ``tunewise.error``, ``tunewise.attempt``,
  ``tunewise.duration_s``, ``tunewise.value``, ``tunewise.trial``; the run's status is FAILED for
  a failed trial, FINISHED otherwise;
- ``tunewise.best = true`` on the study's best child (moved when a better trial completes), and
  ``tunewise.best_trial`` / ``tunewise.best_value`` on the parent.

Everything is logged through ``MlflowClient`` from the driver once a trial has finished, so Python
and command trials, Ray and workers log alike. Enable it in a spec::

    tracking:
      mlflow: {tracking_uri: http://127.0.0.1:5000, experiment: digits}

or in Python: ``study.optimize(f, n_trials=20, callbacks=[MLflowCallback(tracking_uri=...)])``.
Needs ``pip install 'tunewise[mlflow]'``.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime
from typing import Any

from tunewise.tracking import FinishedTrial, TrackerCallback, missing_library
from tunewise.trial import TrialState

__all__ = ["MLflowCallback", "MLflowTracker", "from_options"]

_STUDY_TAG = "tunewise.study_uuid"
_BEST_TAG = "tunewise.best"
_KIND_TAG = "tunewise.run"  # "study" on the parent, "trial" on each child
_BATCH = 1000  # MLflow's limit of metrics in one log_batch
_PARAMS_BATCH = 100  # and of params
_PARAM_LENGTH = 6000  # MLflow's limit of a param value's length


def _ms(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1000)


def _text(value: Any, limit: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:limit]


class MLflowTracker:
    """Logs each finished trial as a child run of its study's parent run.

    ``tracking_uri``: the server or store (default: MLflow's own, ``MLFLOW_TRACKING_URI``);
    ``experiment``: the experiment's name (default: the study's name), created when missing.
    """

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError:
            raise missing_library("mlflow", "mlflow") from None
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.client = MlflowClient(tracking_uri)
        self._experiments: dict[str, str] = {}  # experiment name -> id
        self._parents: dict[str, str] = {}  # study uuid -> parent run id, opened by this process

    # The study's parent run ---------------------------------------------------------------
    def _experiment_id(self, name: str) -> str:
        if name not in self._experiments:
            found = self.client.get_experiment_by_name(name)
            if found is None:
                try:
                    self._experiments[name] = self.client.create_experiment(name)
                except Exception:  # another process created it a moment ago
                    found = self.client.get_experiment_by_name(name)
                    if found is None:
                        raise
            if found is not None:
                self._experiments[name] = found.experiment_id
        return self._experiments[name]

    def parent_run_id(self, event: FinishedTrial) -> str:
        """The study's parent run: found by its uuid tag, else created; marked RUNNING again
        when a finished study is continued."""
        if event.study_uuid in self._parents:
            return self._parents[event.study_uuid]
        experiment_id = self._experiment_id(self.experiment or event.study)
        runs = self.client.search_runs(
            [experiment_id],
            filter_string=(
                f"tags.`{_STUDY_TAG}` = '{event.study_uuid}' and tags.`{_KIND_TAG}` = 'study'"
            ),
            order_by=["attributes.start_time ASC"],
            max_results=1,
        )
        if runs:
            run_id = runs[0].info.run_id
            if runs[0].info.status != "RUNNING":
                self.client.update_run(run_id, status="RUNNING")
        else:
            run = self.client.create_run(
                experiment_id,
                run_name=event.study,
                tags={
                    _STUDY_TAG: event.study_uuid,
                    _KIND_TAG: "study",
                    "tunewise.study": event.study,
                    "tunewise.objective": event.objective.metric,
                    "tunewise.direction": str(event.objective.direction),
                },
            )
            run_id = run.info.run_id
        self._parents[event.study_uuid] = run_id
        return run_id

    # One trial -----------------------------------------------------------------------------
    def log_trial(self, event: FinishedTrial) -> None:
        from mlflow.entities import Metric, Param
        from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

        trial = event.trial
        parent = self.parent_run_id(event)
        experiment_id = self._experiment_id(self.experiment or event.study)
        tags = {
            **event.tags(),
            MLFLOW_PARENT_RUN_ID: parent,
            _KIND_TAG: "trial",
            _BEST_TAG: str(event.is_best).lower(),
        }
        run = self.client.create_run(
            experiment_id,
            start_time=_ms(trial.started_at or trial.finished_at),
            tags=tags,
            run_name=f"trial {trial.number}",
        )
        run_id = run.info.run_id
        end = _ms(trial.finished_at) or 0
        metrics = [
            Metric(name, float(value), _ms(report.time) or end, report.step)
            for report in event.reports
            for name, value in report.values.items()
        ]
        step = event.last_step()
        metrics += [Metric(k, v, end, step) for k, v in event.final_metrics().items()]
        params = [Param(k, _text(v, _PARAM_LENGTH)) for k, v in trial.params.items()]
        for i in range(0, len(params), _PARAMS_BATCH):
            self.client.log_batch(run_id, params=params[i : i + _PARAMS_BATCH])
        for i in range(0, len(metrics), _BATCH):
            self.client.log_batch(run_id, metrics=metrics[i : i + _BATCH])
        status = "FAILED" if trial.state == TrialState.FAILED else "FINISHED"
        self._terminate(run_id, status, _ms(trial.finished_at))
        if event.is_best:
            self._mark_best(experiment_id, parent, run_id, event)

    def _mark_best(
        self, experiment_id: str, parent: str, run_id: str, event: FinishedTrial
    ) -> None:
        """Move the best tag to ``run_id``: every other child of the parent tagged best (by
        this process or another) is untagged."""
        from mlflow.entities import RunTag

        earlier = self.client.search_runs(
            [experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{parent}' and tags.`{_BEST_TAG}` = 'true'",
        )
        for run in earlier:
            if run.info.run_id != run_id:
                self.client.set_tag(run.info.run_id, _BEST_TAG, "false")
        self.client.log_batch(
            parent,
            tags=[
                RunTag("tunewise.best_trial", str(event.trial.number)),
                RunTag("tunewise.best_value", repr(event.trial.value)),
                RunTag("tunewise.best_run_id", run_id),
            ],
        )

    def _terminate(self, run_id: str, status: str, end_time: int | None) -> None:
        """End a run; MLflow's client prints two "View run" lines on stdout when it does, which
        would mix into ``tunewise run``'s output (and a pipe reading it): they are dropped."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.client.set_terminated(run_id, status=status, end_time=end_time)

    def close(self) -> None:
        """Mark the parent runs this process logged to FINISHED (continuing reopens them)."""
        for run_id in self._parents.values():
            self._terminate(run_id, "FINISHED", None)
        self._parents.clear()


class MLflowCallback(TrackerCallback):
    """``study.optimize(f, callbacks=[MLflowCallback(tracking_uri=..., experiment=...)])``:
    each trial a child run of the study's parent run; :meth:`close` marks the parent finished."""

    def __init__(self, tracking_uri: str | None = None, experiment: str | None = None) -> None:
        super().__init__(MLflowTracker(tracking_uri, experiment))


def from_options(tracking_uri: str | None = None, experiment: str | None = None) -> MLflowTracker:
    """The tracker a spec's ``tracking: {mlflow: {...}}`` entry describes."""
    return MLflowTracker(tracking_uri, experiment)
