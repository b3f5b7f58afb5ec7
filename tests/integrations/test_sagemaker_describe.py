"""``describe_study``: a study in DescribeHyperParameterTuningJob's shape as botocore's service
model gives it (what AWS's SDKs parse), with the completion criteria and details, early
stopping, Hyperband resources and warm start; the training-jobs listing in
ListTrainingJobsForHyperParameterTuningJob's; and the request rules import-sagemaker checks
compared with CreateHyperParameterTuningJob's input shape."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integrations.helpers import REQUESTS, request
from tests.integrations.shapes import errors, input_shape, output_shape
from tunewise.analysis import sagemaker as sagemaker_view
from tunewise.analysis.frame import TrialFrame
from tunewise.integrations.sagemaker import describe_study, import_request
from tunewise.integrations.sagemaker_api import (
    REQUEST,
    Array,
    Dict,
    Integer,
    Number,
    Obj,
    OneOf,
    Rule,
    Text,
    not_improving_count,
)
from tunewise.spec import StudySpec
from tunewise.trial import FailureKind, Objective, StudyRecord, StudyState, Trial, TrialState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
UUID = "0123456789abcdef0123456789abcdef"
DESCRIBE = output_shape("DescribeHyperParameterTuningJob")
LIST_JOBS = output_shape("ListTrainingJobsForHyperParameterTuningJob")
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
    record = StudyRecord(
        1, loaded.name, loaded.to_dict(), state, reason, evidence, T0, ended, uuid=UUID
    )
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
    assert errors(doc, DESCRIBE) == []
    assert list(doc)[:4] == [
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobArn",
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
    assert errors(doc, DESCRIBE) == []
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
    assert errors(failed, DESCRIBE) == []
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
    assert errors(converged, DESCRIBE) == []
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


# Against botocore's model --------------------------------------------------------------------
ARN = "arn:aws:sagemaker:local:000000000000"


def test_describe_gives_the_arns_botocore_requires() -> None:
    doc = describe(PYTORCH, [trial(0, 0.30), trial(1, 0.25)])
    assert doc["HyperParameterTuningJobArn"] == (
        f"{ARN}:hyper-parameter-tuning-job/pytorch-mnist-hb-0612-{UUID}"
    )
    assert doc["BestTrainingJob"]["TrainingJobArn"] == (
        f"{ARN}:training-job/pytorch-mnist-hb-0612-00001-{UUID}"
    )
    assert list(doc)[:2] == ["HyperParameterTuningJobName", "HyperParameterTuningJobArn"]
    for drop in ("HyperParameterTuningJobArn", "BestTrainingJob.TrainingJobArn"):
        changed = copy.deepcopy(doc)
        *parents, last = drop.split(".")
        node = changed
        for key in parents:
            node = node[key]
        del node[last]
        assert any(last in e for e in errors(changed, DESCRIBE)), drop


def test_arns_are_stable_for_a_study_and_differ_between_studies_of_one_name() -> None:
    loaded = StudySpec.from_dict(PYTORCH)
    frame = TrialFrame.from_trials([trial(0, 0.3)], loaded.space, loaded.objective)
    counts = {s: int(frame.in_state(s).sum()) for s in TrialState}

    def arns(uuid: str) -> tuple[str, str]:
        record = StudyRecord(
            1, loaded.name, loaded.to_dict(), StudyState.RUNNING, created_at=T0, uuid=uuid
        )
        doc = describe_study(record, counts, frame)
        listing = sagemaker_view.training_jobs(record, frame)
        assert (
            listing["TrainingJobSummaries"][0]["TrainingJobArn"]
            == (doc["BestTrainingJob"]["TrainingJobArn"])
        )
        return doc["HyperParameterTuningJobArn"], doc["BestTrainingJob"]["TrainingJobArn"]

    assert arns(UUID) == arns(UUID)
    other = arns("f" * 32)
    assert other[0] != arns(UUID)[0] and other[1] != arns(UUID)[1]


def test_the_training_jobs_listing_has_botocores_shape() -> None:
    """What ``GET /api/studies/NAME/sagemaker/training-jobs`` answers (the server returns
    this document as it is)."""
    trials = [
        trial(0, 0.30),
        trial(1, 0.25),
        trial(2, None, "failed"),
        trial(3, 0.40, "stopped"),
        trial(4, None, "running"),
    ]
    loaded = StudySpec.from_dict(PYTORCH)
    record = StudyRecord(1, loaded.name, loaded.to_dict(), StudyState.RUNNING, uuid=UUID)
    frame = TrialFrame.from_trials(trials, loaded.space, loaded.objective)
    first = sagemaker_view.training_jobs(record, frame, max_results=3)
    rest = sagemaker_view.training_jobs(record, frame, max_results=3, next_token=3)
    for page in (first, rest):
        assert errors(page, LIST_JOBS) == []
    summaries = first["TrainingJobSummaries"] + rest["TrainingJobSummaries"]
    assert len({s["TrainingJobArn"] for s in summaries}) == 5
    broken = copy.deepcopy(first)
    del broken["TrainingJobSummaries"][0]["TrainingJobArn"]
    assert errors(broken, LIST_JOBS)


def test_the_shape_check_is_not_vacuous() -> None:
    doc = describe(PYTORCH, [trial(0, 0.3), trial(1, 0.2)])
    assert errors(doc, DESCRIBE) == []
    broken: list[tuple[str, Any]] = [
        ("HyperParameterTuningJobStatus", "Running"),
        ("CreationTime", "yesterday"),
        ("Surprise", 1),
        ("TrainingJobStatusCounters", {"Completed": "1"}),
        ("HyperParameterTuningJobName", "a_b"),
        ("HyperParameterTuningJobArn", "arn:aws:sagemaker:local:0:training-job/x"),
    ]
    for key, value in broken:
        changed = copy.deepcopy(doc)
        changed[key] = value
        assert errors(changed, DESCRIBE), key
    changed = copy.deepcopy(doc)
    changed["BestTrainingJob"]["TunedHyperParameters"]["lr"] = 0.01  # values are strings
    assert errors(changed, DESCRIBE)
    changed = copy.deepcopy(doc)
    changed["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxParallelTrainingJobs"] = 0
    assert errors(changed, DESCRIBE)
    changed = copy.deepcopy(doc)
    del changed["HyperParameterTuningJobConfig"]["Strategy"]
    assert errors(changed, DESCRIBE)


# import-sagemaker's request rules against CreateHyperParameterTuningJob's input shape ---------
#: Where tunewise's rules knowingly differ from botocore's model, and why.
KNOWN = {
    # AWS-only fields a request may leave out here (nothing is carried over from them)
    "$.TrainingJobDefinition: botocore requires AlgorithmSpecification, OutputDataConfig, "
    "RoleArn, StoppingCondition",
    "$.TrainingJobDefinitions[]: botocore requires AlgorithmSpecification, OutputDataConfig, "
    "RoleArn, StoppingCondition",
    "$.TrainingJobDefinition.AlgorithmSpecification: botocore requires TrainingInputMode",
    "$.TrainingJobDefinitions[].AlgorithmSpecification: botocore requires TrainingInputMode",
    # what tunewise needs to map the field (the API reference calls each required)
    "$.HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving: "
    "tunewise requires MaxNumberOfTrainingJobsNotImproving",
    "$.WarmStartConfig.ParentHyperParameterTuningJobs[]: tunewise requires "
    "HyperParameterTuningJobName",
    # the API reference's documented maximum (the model gives none)
    "$.HyperParameterTuningJobConfig.StrategyConfig.HyperbandStrategyConfig.MaxResource: "
    "range 1..20000, botocore 1..None",
}
TRIVIAL = {None, ".*", ".+", r"[\S\s]*"}  # patterns a length range already says


def compare(rule: Rule, shape: Any, path: str, found: list[str]) -> None:
    """Each difference between a request rule and botocore's shape, one line each."""
    kind, meta = shape.type_name, shape.metadata
    if isinstance(rule, Obj):
        assert kind == "structure", path
        for key, sub in rule.fields.items():
            if key not in shape.members:
                found.append(f"{path}.{key}: not a member in botocore")
            else:
                compare(sub, shape.members[key], f"{path}.{key}", found)
        if set(shape.members) - set(rule.fields):
            found.append(f"{path}: refuses {sorted(set(shape.members) - set(rule.fields))}")
        ours, theirs = set(rule.required), set(shape.required_members)
        if theirs - ours:
            found.append(f"{path}: botocore requires {', '.join(sorted(theirs - ours))}")
        if ours - theirs:
            found.append(f"{path}: tunewise requires {', '.join(sorted(ours - theirs))}")
    elif isinstance(rule, Array):
        assert kind == "list", path
        if (rule.least, rule.most) != (meta.get("min", 0), meta.get("max")):
            found.append(f"{path}: {rule.least}..{rule.most} items, botocore {meta}")
        compare(rule.item, shape.member, f"{path}[]", found)
    elif isinstance(rule, Dict):
        assert kind == "map", path
        if rule.most != meta.get("max"):
            found.append(f"{path}: {rule.most} names, botocore {meta.get('max')}")
        key_meta = shape.key.metadata
        for name in ("a" * key_meta["max"], "a" * (key_meta["max"] + 1), "a-b", "9a", ""):
            expected = _matches(name, shape.key)
            if bool(rule.key.fullmatch(name)) != expected:
                found.append(f"{path}: name {name[:10]!r} accepted={not expected}")
        compare(rule.value, shape.value, f"{path}{{}}", found)
    elif isinstance(rule, Text):
        assert kind == "string", path
        if (rule.least, rule.most) != (meta.get("min", 0), meta.get("max")):
            found.append(f"{path}: {rule.least}..{rule.most} characters, botocore {meta}")
        pattern = None if rule.pattern is None else rule.pattern.pattern
        if pattern != meta.get("pattern") and not {pattern, meta.get("pattern")} <= TRIVIAL:
            found.append(f"{path}: pattern {pattern}, botocore {meta.get('pattern')}")
    elif isinstance(rule, Integer):
        assert kind in ("integer", "long"), path
        if (rule.least, rule.most) != (meta.get("min"), meta.get("max")):
            found.append(f"{path}: range {rule.least}..{rule.most}, botocore "
                         f"{meta.get('min')}..{meta.get('max')}")  # fmt: skip
    elif isinstance(rule, OneOf):
        if set(rule.choices) != set(shape.enum):
            found.append(f"{path}: {rule.choices}, botocore {shape.enum}")
    elif isinstance(rule, Number):
        assert kind in ("float", "double"), path


def _matches(name: str, shape: Any) -> bool:
    meta = shape.metadata
    pattern = re.fullmatch(meta.get("pattern", ".*"), name, re.S)
    return meta.get("min", 0) <= len(name) <= meta.get("max", len(name)) and bool(pattern)


def test_import_sagemakers_request_rules_agree_with_botocores_model() -> None:
    found: list[str] = []
    compare(REQUEST, input_shape("CreateHyperParameterTuningJob"), "$", found)
    assert set(found) == KNOWN


@pytest.mark.parametrize("name", REQUESTS)
def test_every_sample_request_is_valid_for_botocore(name: str) -> None:
    assert errors(request(name), input_shape("CreateHyperParameterTuningJob")) == []
