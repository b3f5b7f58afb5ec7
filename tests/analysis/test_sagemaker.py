"""The SageMaker-shaped views: field names, enumerations and counters as AWS documents them."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.analysis.conftest import P, frame_of, random_trials, trial
from tunewise.analysis import sagemaker
from tunewise.spec import StudySpec
from tunewise.trial import FailureKind, StudyRecord, StudyState, TrialState

DEFINITION = StudySpec.from_dict(
    {
        "study": "sm",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random",
        "space": {
            "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "scale": "log"},
            "layers": {"type": "int", "low": 1, "high": 4},
            "act": {"type": "categorical", "values": ["relu", "tanh"]},
        },
        "limits": {"max_trials": 50, "max_parallel": 2, "max_runtime": "1h"},
        "seed": 3,
    }
).to_dict()


def record(state: StudyState = StudyState.RUNNING, reason: str | None = None) -> StudyRecord:
    return StudyRecord(1, "sm", DEFINITION, state, reason, datetime(2026, 1, 1, tzinfo=UTC))


def test_describe_has_the_documented_shape_and_counters() -> None:
    trials = random_trials(10, 1)
    trials.append(trial(10, P, None, "failed"))
    crashed = trial(11, P, None, "failed")
    trials.append(crashed.__class__(**{**crashed.__dict__, "failure_kind": FailureKind.CRASHED}))
    trials.append(trial(12, P, 0.7, "stopped"))
    trials.append(trial(13, P, None, "running"))
    frame = frame_of(trials)
    counts = {s: int(frame.in_state(s).sum()) for s in TrialState}
    doc = sagemaker.describe(record(), counts, frame)
    assert doc["HyperParameterTuningJobName"] == "sm"
    assert doc["HyperParameterTuningJobStatus"] == "InProgress"
    config = doc["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random" and config["RandomSeed"] == 3
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Minimize", "MetricName": "loss"}
    assert config["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 50,
        "MaxParallelTrainingJobs": 2,
        "MaxRuntimeInSeconds": 3600,
    }
    ranges = config["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"][0]["ScalingType"] == "Logarithmic"
    assert ranges["IntegerParameterRanges"][0]["Name"] == "layers"
    assert ranges["CategoricalParameterRanges"] == [{"Name": "act", "Values": ["relu", "tanh"]}]
    assert doc["TrainingJobStatusCounters"] == {
        "Completed": 10,
        "InProgress": 1,
        "RetryableError": 1,
        "NonRetryableError": 1,
        "Stopped": 1,
    }
    assert doc["ObjectiveStatusCounters"] == {"Succeeded": 11, "Pending": 1, "Failed": 2}
    best = doc["BestTrainingJob"]
    number = int(frame.number[frame.best_index()])
    assert best["TrainingJobName"] == f"sm-{number:05d}"
    assert best["TrainingJobStatus"] == "Completed" and best["ObjectiveStatus"] == "Succeeded"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["MetricName"] == "loss"
    assert all(isinstance(v, str) for v in best["TunedHyperParameters"].values())
    failed = sagemaker.describe(record(StudyState.FAILED, "10 failures in a row"), counts, frame)
    assert failed["HyperParameterTuningJobStatus"] == "Failed"
    assert failed["FailureReason"] == "10 failures in a row"


def test_list_training_jobs_sorts_filters_and_pages() -> None:
    trials = [*random_trials(25, 2), trial(25, P, None, "failed")]
    frame = frame_of(trials)
    first = sagemaker.training_jobs(record(), frame, max_results=10)
    assert len(first["TrainingJobSummaries"]) == 10 and first["NextToken"] == "10"
    last = sagemaker.training_jobs(record(), frame, max_results=10, next_token=20)
    assert len(last["TrainingJobSummaries"]) == 6 and "NextToken" not in last
    best = sagemaker.training_jobs(
        record(), frame, sort_by="FinalObjectiveMetricValue", max_results=1
    )["TrainingJobSummaries"][0]
    assert best["TrainingJobName"] == f"sm-{int(frame.number[frame.best_index()]):05d}"
    failed = sagemaker.training_jobs(record(), frame, status_equals="Failed")
    assert [j["TrainingJobStatus"] for j in failed["TrainingJobSummaries"]] == ["Failed"]
    assert failed["TrainingJobSummaries"][0]["ObjectiveStatus"] == "Failed"
    assert sagemaker.training_jobs(record(), frame, status_equals="Stopping") == {
        "TrainingJobSummaries": []
    }
