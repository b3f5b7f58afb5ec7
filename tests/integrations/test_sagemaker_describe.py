"""``describe_study``: a study in DescribeHyperParameterTuningJob's documented shape, with the
completion criteria and details, early stopping, Hyperband resources and warm start."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integrations.helpers import request
from tests.integrations.schema import errors
from tunewise.analysis.frame import TrialFrame
from tunewise.integrations.sagemaker import describe_study, import_request
from tunewise.integrations.sagemaker_api import not_improving_count
from tunewise.spec import StudySpec
from tunewise.trial import FailureKind, Objective, StudyRecord, StudyState, Trial, TrialState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PYTORCH = import_request(request("pytorch-mnist-hyperband.json"), ["python", "mnist.py"]).spec
XGBOOST = import_request(request("xgboost-churn-bayesian.json"), ["python", "xgb.py"]).spec


def trial(
    number: int,
    value: float | None,
    state: str = "completed",
    finished: int = 0,
    params: dict[str, Any] | None = None,
) -> Trial:
    started = T0 + timedelta(seconds=10 * number)
    running = state in ("queued", "running")
    return Trial(
        study_id=1,
        number=number,
        state=TrialState(state),
        params=params or {"lr": 0.01, "momentum": 0.9, "batch-size": 64, "optimizer": "adam"},
        value=value,
        metrics={} if value is None else {"validation:loss": value},
        failure_kind=FailureKind.CRASHED if state == "failed" else None,
        error="killed by signal 9" if state == "failed" else None,
        created_at=started,
        started_at=started,
        finished_at=None if running else started + timedelta(seconds=5 + finished),
    )


def describe(
    spec: dict[str, Any],
    trials: list[Trial],
    state: StudyState = StudyState.RUNNING,
    reason: str | None = None,
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    loaded = StudySpec.from_dict(spec)
    ended = None if state is StudyState.RUNNING else T0 + timedelta(minutes=5)
    record = StudyRecord(1, loaded.name, loaded.to_dict(), state, reason, evidence, T0, ended)
    frame = TrialFrame.from_trials(trials, loaded.space, loaded.objective)
    counts = {s: sum(1 for t in trials if t.state is s) for s in TrialState}
    return describe_study(record, counts, frame)


def test_a_hyperband_study_has_the_documented_shape_and_its_whole_config() -> None:
    trials = [
        trial(0, 0.30),
        trial(1, 0.25),
        trial(2, None, "failed"),
        trial(3, 0.26),
        trial(4, 0.40, "stopped"),
        trial(5, None, "running"),
    ]
    doc = describe(PYTORCH, trials)
    assert errors(doc) == []
    assert list(doc)[:3] == [
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobConfig",
        "HyperParameterTuningJobStatus",
    ]
    config = doc["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Hyperband"
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}
    }
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert config["TuningJobCompletionCriteria"] == {
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"}
    }
    assert config["ParameterRanges"]["ContinuousParameterRanges"][1]["ScalingType"] == (
        "ReverseLogarithmic"
    )
    assert doc["WarmStartConfig"] == {
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "pytorch-mnist-bayes-0601"}
        ],
        "WarmStartType": "TransferLearning",
    }
    assert doc["TrainingJobStatusCounters"] == {
        "Completed": 3,
        "InProgress": 1,
        "RetryableError": 1,
        "NonRetryableError": 0,
        "Stopped": 1,
    }
    assert doc["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 1, "Failed": 1}
    best = doc["BestTrainingJob"]
    assert best["TrainingJobName"] == "pytorch-mnist-hb-0612-00001"
    assert best["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize",
        "MetricName": "validation:loss",
        "Value": 0.25,
    }
    # 0.26 came after the best (0.25); like the not_improving criterion, only completed count
    assert doc["TuningJobCompletionDetails"] == {"NumberOfTrainingJobsObjectiveNotImproving": 1}
    assert doc["ConsumedResources"]["RuntimeInSeconds"] >= 0


def test_early_stopping_and_criteria_of_a_bayesian_study() -> None:
    params = {"eta": 0.1, "min_child_weight": 2.0, "alpha": 0.01, "subsample": 0.8, "max_depth": 5}
    doc = describe(XGBOOST, [trial(0, 0.91, params=params)])
    assert errors(doc) == []
    config = doc["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Bayesian" and config["RandomSeed"] == 42
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    assert "StrategyConfig" not in config and "WarmStartConfig" not in doc
    assert config["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.95,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 10},
    }
    assert config["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 50,
        "MaxParallelTrainingJobs": 5,
        "MaxRuntimeInSeconds": 86400,
    }


def test_a_failed_study_says_why_and_a_converged_one_says_when() -> None:
    failed = describe(PYTORCH, [trial(0, None, "failed")], StudyState.FAILED, "10 trials failed")
    assert errors(failed) == []
    assert failed["HyperParameterTuningJobStatus"] == "Failed"
    assert failed["FailureReason"] == "10 trials failed"
    assert "BestTrainingJob" not in failed
    assert failed["TuningJobCompletionDetails"] == {"NumberOfTrainingJobsObjectiveNotImproving": 0}
    converged = describe(
        PYTORCH,
        [trial(0, 0.3)],
        StudyState.COMPLETED,
        "converged",
        {"criterion": "convergence", "regret_bound": 0.001},
    )
    assert errors(converged) == []
    assert converged["HyperParameterTuningJobStatus"] == "Completed"
    details = converged["TuningJobCompletionDetails"]
    assert details["ConvergenceDetectedTime"] == (T0 + timedelta(minutes=5)).isoformat()
    assert converged["HyperParameterTuningEndTime"] == details["ConvergenceDetectedTime"]
    other = describe(
        PYTORCH, [trial(0, 0.3)], StudyState.COMPLETED, "max_trials", {"criterion": "max_trials"}
    )
    assert "ConvergenceDetectedTime" not in other["TuningJobCompletionDetails"]


@pytest.mark.parametrize(
    ("values", "direction", "expected"),
    [
        ([], "maximize", 0),
        ([0.5], "maximize", 0),
        ([0.5, 0.6, 0.603, 0.61], "maximize", 0),  # 0.603 is +0.5%: not; 0.61 is +1.2%: improves
        ([0.5, 0.6, 0.602, 0.605], "maximize", 2),  # +0.8% over the last two: not improving
        ([0.5, 0.6, 0.605, 0.61, 0.615], "maximize", 1),  # +0.8%, then +1.7% over two: improves
        ([0.5, 0.5, 0.5], "minimize", 2),
        ([0.5, 0.6, 0.4, 0.59, 0.6], "maximize", 3),
        ([1.0, 0.5, 0.499, 0.7], "minimize", 2),
        ([-2.0, -1.0, -0.995], "maximize", 1),  # relative to the best's size, whatever its sign
    ],
)
def test_trials_not_improving_count_as_sagemaker_counts_them(
    values: list[float], direction: str, expected: int
) -> None:
    trials = [trial(i, v) for i, v in enumerate(values)]
    assert not_improving_count(trials, Objective("loss", direction), 0.01) == expected


def test_trials_not_improving_are_counted_in_finishing_order() -> None:
    late_best = [trial(0, 0.9, finished=100), trial(1, 0.5), trial(2, 0.6)]
    assert not_improving_count(late_best, Objective("acc", "maximize"), 0.01) == 0
    ignored = [trial(0, 0.9), trial(1, None, "failed"), trial(2, 0.1, "stopped"), trial(3, 0.95)]
    assert not_improving_count(ignored, Objective("acc", "maximize"), 0.01) == 0


def test_the_schema_check_is_not_vacuous() -> None:
    doc = describe(PYTORCH, [trial(0, 0.3), trial(1, 0.2)])
    assert errors(doc) == []
    broken: list[tuple[str, Any]] = [
        ("HyperParameterTuningJobStatus", "Running"),
        ("CreationTime", "yesterday"),
        ("Surprise", 1),
        ("TrainingJobStatusCounters", {"Completed": 1}),
        ("HyperParameterTuningJobName", "a_b"),
    ]
    for key, value in broken:
        changed = copy.deepcopy(doc)
        changed[key] = value
        assert errors(changed), key
    changed = copy.deepcopy(doc)
    changed["BestTrainingJob"]["TunedHyperParameters"]["lr"] = 0.01  # values are strings
    assert errors(changed)
    changed = copy.deepcopy(doc)
    changed["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 0
    assert errors(changed)
    changed = copy.deepcopy(doc)
    del changed["HyperParameterTuningJobConfig"]["Strategy"]
    assert errors(changed)
