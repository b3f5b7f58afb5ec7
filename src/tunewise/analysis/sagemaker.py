"""A study in the shapes of SageMaker's tuning API, for people and tools that speak it.

``describe`` follows ``DescribeHyperParameterTuningJob``'s response and ``training_jobs``
``ListTrainingJobsForHyperParameterTuningJob``'s (field names and enumerations as in the AWS
API reference; times as ISO 8601 strings, as the AWS CLI prints them). Fields that only make
sense in AWS (the training image, VPC settings) are left out rather than invented; the ARNs the
API requires are ARN-shaped identifiers in a ``local`` region of account ``000000000000``, built
from the study's stored uuid: stable for a study, and never shared by two studies, even two
of the same name in two stores.

Mappings: a trial is a training job named ``STUDY-NNNNN`` (its folder's name); QUEUED and
RUNNING are ``InProgress``; an early-stopped trial is ``Stopped``; a failure is retryable when
its kind is one that tunewise may retry (crashed, timeout, lost, infrastructure).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np

from tunewise.analysis.frame import TrialFrame
from tunewise.errors import SpecError
from tunewise.space import Categorical, Float
from tunewise.spec import StudySpec
from tunewise.trial import FailureKind, StudyRecord, Trial, TrialState

#: Study states by value (``failed`` was once named ``aborted``; an interrupted study waits to
#: be run again, which SageMaker has no word for: it is not running, so ``Stopped``).
STUDY_STATUS = {
    "running": "InProgress",
    "completed": "Completed",
    "failed": "Failed",
    "aborted": "Failed",
    "stopped": "Stopped",
    "interrupted": "Stopped",
}
JOB_STATUS = {
    TrialState.QUEUED: "InProgress",
    TrialState.RUNNING: "InProgress",
    TrialState.COMPLETED: "Completed",
    TrialState.STOPPED: "Stopped",
    TrialState.FAILED: "Failed",
}
STRATEGY = {"grid": "Grid", "random": "Random", "sobol": "Random", "hyperband": "Hyperband"}
SCALING = {"linear": "Linear", "log": "Logarithmic", "reverse_log": "ReverseLogarithmic"}
RETRYABLE = frozenset(
    {FailureKind.CRASHED, FailureKind.TIMEOUT, FailureKind.LOST, FailureKind.INFRASTRUCTURE}
)
#: ListTrainingJobsForHyperParameterTuningJob's SortBy values and the frame column each sorts.
SORT_BY = {
    "Name": "number",
    "CreationTime": "number",
    "Status": "state",
    "FinalObjectiveMetricValue": "value",
}
STATUS_EQUALS = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
#: The region and account of every ARN tunewise gives (no AWS resource has them).
ARN_PREFIX = "arn:aws:sagemaker:local:000000000000"


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def job_name(study: str, number: int) -> str:
    return f"{study}-{number:05d}"


def tuning_job_arn(record: StudyRecord) -> str:
    """The study's ``HyperParameterTuningJobArn``: ``.../hyper-parameter-tuning-job/NAME-UUID``."""
    return f"{ARN_PREFIX}:hyper-parameter-tuning-job/{_unique(record.name, record.uuid)}"


def training_job_arn(record: StudyRecord, number: int) -> str:
    """A trial's ``TrainingJobArn``: ``.../training-job/NAME-NNNNN-UUID``."""
    return f"{ARN_PREFIX}:training-job/{_unique(job_name(record.name, number), record.uuid)}"


def _unique(name: str, uuid: str) -> str:
    return f"{name}-{uuid}" if uuid else name  # (a record built in memory has no uuid)


def parameter_ranges(spec: StudySpec) -> dict[str, list[dict[str, Any]]]:
    continuous: list[dict[str, Any]] = []
    integer: list[dict[str, Any]] = []
    categorical: list[dict[str, Any]] = []
    for name, param in spec.space.params.items():
        if param.when:
            parent, values = next(iter(param.when.items()))
            raise SpecError(
                f"space.{name}.when",
                f"SageMaker Automatic Model Tuning has no conditional hyperparameters, and "
                f"{name} is searched only when {parent} is one of {list(values)!r}; this "
                "study cannot be described as a tuning job",
            )
        if isinstance(param, Categorical):
            categorical.append({"Name": name, "Values": [str(v) for v in param.values]})
            continue
        entry = {
            "Name": name,
            "MinValue": str(param.low),
            "MaxValue": str(param.high),
            "ScalingType": SCALING.get(str(param.scale), "Auto"),
        }
        (continuous if isinstance(param, Float) else integer).append(entry)
    return {
        "ContinuousParameterRanges": continuous,
        "IntegerParameterRanges": integer,
        "CategoricalParameterRanges": categorical,
    }


def _refuse_names_asked_sometimes(spec: StudySpec, frame: TrialFrame) -> None:
    """A define-by-run study whose trials asked a name only sometimes is a tree too (its space
    holds no ``when``): refused as a declared condition is, since a tuning job's training jobs
    each hold every hyperparameter."""
    if not spec.define_by_run:
        return
    for name in spec.space.names:
        asked = sum(1 for params in frame.params if name in params)
        if asked < len(frame.params):
            raise SpecError(
                f"space.{name}",
                "SageMaker Automatic Model Tuning has no conditional hyperparameters, and "
                f"{name} was asked by {asked} of this define-by-run study's "
                f"{len(frame.params)} trials; this study cannot be described as a tuning job",
            )


def objective_metric(spec: StudySpec, value: float | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "Type": "Maximize" if spec.objective.sign > 0 else "Minimize",
        "MetricName": spec.objective.metric,
        "Value": value,
    }


def job_summary(record: StudyRecord, spec: StudySpec, trial: Trial) -> dict[str, Any]:
    """A ``HyperParameterTrainingJobSummary`` of one trial."""
    has_value = trial.value is not None and trial.state is not TrialState.FAILED
    if trial.state in (TrialState.QUEUED, TrialState.RUNNING):
        objective_status = "Pending"
    else:
        objective_status = "Succeeded" if has_value else "Failed"
    return _drop_none(
        {
            "TrainingJobName": job_name(record.name, trial.number),
            "TrainingJobArn": training_job_arn(record, trial.number),
            "TuningJobName": record.name,
            "CreationTime": _time(trial.created_at),
            "TrainingStartTime": _time(trial.started_at),
            "TrainingEndTime": _time(trial.finished_at),
            "TrainingJobStatus": JOB_STATUS[trial.state],
            "TunedHyperParameters": {k: str(v) for k, v in trial.params.items()},
            "FailureReason": (trial.error or "")[-1024:] or None,
            "FinalHyperParameterTuningJobObjectiveMetric": objective_metric(
                spec, trial.value if has_value else None
            ),
            "ObjectiveStatus": objective_status,
        }
    )


def describe(
    record: StudyRecord, counts: Mapping[TrialState, int], frame: TrialFrame
) -> dict[str, Any]:
    """The ``DescribeHyperParameterTuningJob`` response for a study."""
    spec = StudySpec.from_dict(dict(record.definition))
    _refuse_names_asked_sometimes(spec, frame)
    failed = frame.failure_kinds(np.flatnonzero(frame.in_state(TrialState.FAILED)))
    retryable = sum(1 for kind in failed if kind in RETRYABLE)
    with_value = int(np.sum(frame.in_state(TrialState.COMPLETED, TrialState.STOPPED)
                            & ~np.isnan(frame.value)))  # fmt: skip
    pending = counts[TrialState.QUEUED] + counts[TrialState.RUNNING]
    limits = _drop_none(
        {
            "MaxNumberOfTrainingJobs": spec.limits.max_trials,
            "MaxParallelTrainingJobs": spec.limits.max_parallel,
            "MaxRuntimeInSeconds": (
                None if spec.limits.max_runtime is None else int(spec.limits.max_runtime)
            ),
        }
    )
    finished = frame.finished_at[np.isfinite(frame.finished_at)]
    last_finished = [datetime.fromtimestamp(float(finished.max()), UTC)] if finished.size else []
    moments = [*last_finished, *(m for m in (record.created_at, record.finished_at) if m)]
    last = max(moments, default=None)
    end = record.finished_at
    runtime = None
    if record.created_at is not None:
        runtime = int(((end or last or record.created_at) - record.created_at).total_seconds())
    status = STUDY_STATUS.get(str(record.state), "InProgress")
    best_row = frame.best_index()
    best = None if best_row is None else job_summary(record, spec, frame.trials[best_row])
    return _drop_none(
        {
            "HyperParameterTuningJobName": record.name,
            "HyperParameterTuningJobArn": tuning_job_arn(record),
            "HyperParameterTuningJobConfig": _drop_none(
                {
                    "Strategy": STRATEGY.get(spec.strategy, "Bayesian"),
                    "HyperParameterTuningJobObjective": {
                        "Type": "Maximize" if spec.objective.sign > 0 else "Minimize",
                        "MetricName": spec.objective.metric,
                    },
                    "ResourceLimits": limits,
                    "ParameterRanges": parameter_ranges(spec),
                    "RandomSeed": spec.seed,
                }
            ),
            "HyperParameterTuningJobStatus": status,
            "CreationTime": _time(record.created_at),
            "HyperParameterTuningEndTime": _time(end),
            "LastModifiedTime": _time(last),
            "TrainingJobStatusCounters": {
                "Completed": counts[TrialState.COMPLETED],
                "InProgress": pending,
                "RetryableError": retryable,
                "NonRetryableError": len(failed) - retryable,
                "Stopped": counts[TrialState.STOPPED],
            },
            "ObjectiveStatusCounters": {
                "Succeeded": with_value,
                "Pending": pending,
                "Failed": len(frame) - with_value - pending,
            },
            "BestTrainingJob": best,
            "FailureReason": record.reason
            if STUDY_STATUS.get(str(record.state)) == "Failed"
            else None,
            "ConsumedResources": None if runtime is None else {"RuntimeInSeconds": runtime},
        }
    )


def training_jobs(
    record: StudyRecord,
    frame: TrialFrame,
    *,
    sort_by: str = "Name",
    sort_order: str = "Ascending",
    status_equals: str | None = None,
    max_results: int = 10,
    next_token: int = 0,
) -> dict[str, Any]:
    """The ``ListTrainingJobsForHyperParameterTuningJob`` response (``NextToken``: an offset)."""
    spec = StudySpec.from_dict(dict(record.definition))
    states = [s for s, status in JOB_STATUS.items() if status == status_equals]
    if status_equals is not None and not states:  # "Stopping": tunewise never lingers there
        return {"TrainingJobSummaries": []}
    total, rows = frame.select(
        states=states,
        sort=SORT_BY[sort_by],
        descending=sort_order == "Descending",
        offset=next_token,
        limit=max_results,
    )
    out: dict[str, Any] = {
        "TrainingJobSummaries": [job_summary(record, spec, frame.trials[i]) for i in rows]
    }
    if next_token + max_results < total:
        out["NextToken"] = str(next_token + max_results)
    return out
