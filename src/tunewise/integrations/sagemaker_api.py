"""SageMaker's tuning API shapes: a request's checks, and a study's description.

:data:`REQUEST` is a ``CreateHyperParameterTuningJob`` request: every field tunewise reads, with
its type, enumeration, length and range limits as the AWS API reference gives them, and the
fields that only mean something in AWS accepted as they are. Keeping the reference as data,
apart from the mapping in :mod:`tunewise.integrations.sagemaker`, makes each limit one line to
compare with the documentation, and every refusal one sentence naming the JSON path.

:func:`describe_study` is ``DescribeHyperParameterTuningJob``'s response: the shape
:func:`tunewise.analysis.sagemaker.describe` builds, completed with what it leaves out, so that
the CLI (and any other face) answers with the whole documented shape.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tunewise.errors import SpecError
from tunewise.spec import StudySpec
from tunewise.trial import Objective, Trial, TrialState

if TYPE_CHECKING:
    from tunewise.analysis.frame import TrialFrame
    from tunewise.trial import StudyRecord

CONFIG = "HyperParameterTuningJobConfig"
JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}")
STRATEGIES = {"Bayesian": "bayesian", "Random": "random", "Hyperband": "hyperband", "Grid": "grid"}
SCALES = {
    "Auto": "auto",
    "Linear": "linear",
    "Logarithmic": "log",
    "ReverseLogarithmic": "reverse_log",
}
WARM_START = {"IdenticalDataAndAlgorithm": "identical", "TransferLearning": "transfer"}
RANGE_KINDS = ("ContinuousParameterRanges", "IntegerParameterRanges", "CategoricalParameterRanges")
MAX_HYPERPARAMETERS = 30  # per kind of range, and per job (ParameterRanges)
#: Static hyperparameters Hyperband reads MaxResource from when it is not given.
EPOCH_KEYS = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
#: BestObjectiveNotImproving counts jobs that "failed to improve ... by 1% or greater".
NOT_IMPROVING_DELTA = 0.01
INSTANCES = "training instances; trials run where tunewise runs, limits.max_parallel at once"
#: Fields of a training job definition that only mean something in AWS, and why.
NOT_CARRIED = {
    "DefinitionName": "it tells several definitions apart; a study has one",
    "RoleArn": "an IAM role; trials run with your own permissions",
    "InputDataConfig": "S3 data channels; point the command at local data",
    "VpcConfig": "AWS networking",
    "OutputDataConfig": "S3 output; each trial writes in its own folder under runs_dir",
    "ResourceConfig": INSTANCES,
    "HyperParameterTuningResourceConfig": INSTANCES,
    "EnableNetworkIsolation": "a container setting",
    "EnableInterContainerTrafficEncryption": "a setting between training instances",
    "EnableManagedSpotTraining": "spot instances",
    "CheckpointConfig": "S3 checkpoints",
}
WAITS = {"MaxWaitTimeInSeconds": "spot capacity", "MaxPendingTimeInSeconds": "instances"}
TOP_NOT_CARRIED = {"Tags": "AWS resource tags", "Autotune": "the spec keeps the settings given"}
#: Static hyperparameters SageMaker's SDK adds for its own containers (besides sagemaker_*).
INTERNAL = {"_tuning_objective_metric": "it tells built-in algorithms the objective"}


class Rule:
    """One shape of the API reference; ``check`` raises SpecError naming the JSON path."""

    def check(self, value: Any, path: str) -> None:
        """Accept anything: the field only means something in AWS."""


@dataclass(frozen=True)
class Obj(Rule):
    fields: Mapping[str, Rule]
    required: tuple[str, ...] = ()

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise SpecError(path or "the request", "must be a JSON object")
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in self.fields:
                expected = ", ".join(self.fields)
                raise SpecError(where, f"is not a field of the API here; expected {expected}")
            self.fields[key].check(item, where)
        for key in self.required:
            if key not in value:
                raise SpecError(f"{path}.{key}" if path else key, "is required")


@dataclass(frozen=True)
class Array(Rule):
    item: Rule
    most: int
    least: int = 0

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise SpecError(path, "must be a JSON array")
        if not self.least <= len(value) <= self.most:
            raise SpecError(path, f"must hold {self.least} to {self.most} items, got {len(value)}")
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")


@dataclass(frozen=True)
class Dict(Rule):
    """A JSON object of names to strings (StaticHyperParameters, Environment)."""

    most: int
    key: re.Pattern[str]
    value: Rule

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, Mapping) or len(value) > self.most:
            raise SpecError(path, f"must be a JSON object of at most {self.most} names")
        for key, item in value.items():
            if not isinstance(key, str) or not self.key.fullmatch(key):
                raise SpecError(f"{path}.{key}", f"is not a name matching {self.key.pattern}")
            self.value.check(item, f"{path}.{key}")


@dataclass(frozen=True)
class Text(Rule):
    most: int = 256
    least: int = 0
    pattern: re.Pattern[str] | None = None

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise SpecError(path, f"must be a string, got {value!r}")
        if not self.least <= len(value) <= self.most:
            raise SpecError(path, f"must be {self.least} to {self.most} characters long")
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise SpecError(path, f"{value!r} does not match {self.pattern.pattern}")


@dataclass(frozen=True)
class Integer(Rule):
    least: int = 1
    most: int | None = None

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(path, f"must be an integer, got {value!r}")
        if value < self.least or (self.most is not None and value > self.most):
            bounds = (
                f"at least {self.least}" if self.most is None else f"{self.least} to {self.most}"
            )
            raise SpecError(path, f"must be {bounds}, got {value}")


class Number(Rule):
    def check(self, value: Any, path: str) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise SpecError(path, f"must be a number, got {value!r}")


@dataclass(frozen=True)
class OneOf(Rule):
    choices: tuple[str, ...]

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or value not in self.choices:
            raise SpecError(path, f"must be one of {' | '.join(self.choices)}, got {value!r}")


def obj(required: str = "", /, **fields: Rule) -> Obj:
    """An object rule: ``required`` lists the required field names, space-separated."""
    return Obj(fields, tuple(required.split()))


# The request as the API reference documents it (AWS-only fields are accepted as they are).
ANY, TEXT, POSITIVE = Rule(), Text(), Integer()
OBJECTIVE = obj("Type MetricName", Type=OneOf(("Maximize", "Minimize")), MetricName=Text(255, 1))
NUMERIC = obj(
    "Name MinValue MaxValue",
    Name=TEXT,
    MinValue=TEXT,
    MaxValue=TEXT,
    ScalingType=OneOf(tuple(SCALES)),
)
RANGES = obj(
    ContinuousParameterRanges=Array(NUMERIC, 30),
    IntegerParameterRanges=Array(NUMERIC, 30),
    CategoricalParameterRanges=Array(obj("Name Values", Name=TEXT, Values=Array(TEXT, 30, 1)), 30),
    AutoParameters=Array(ANY, 100),
)
DEFINITION = obj(
    TuningObjective=OBJECTIVE,
    HyperParameterRanges=RANGES,
    StaticHyperParameters=Dict(100, re.compile(".{0,256}", re.S), Text(2500)),
    AlgorithmSpecification=obj(
        TrainingImage=ANY,
        TrainingInputMode=ANY,
        AlgorithmName=ANY,
        MetricDefinitions=Array(obj("Name Regex", Name=Text(255, 1), Regex=Text(500, 1)), 40),
    ),
    StoppingCondition=obj(
        MaxRuntimeInSeconds=POSITIVE,
        MaxWaitTimeInSeconds=POSITIVE,
        MaxPendingTimeInSeconds=Integer(1800, 2_419_200),
    ),
    RetryStrategy=obj("MaximumRetryAttempts", MaximumRetryAttempts=Integer(1, 30)),
    Environment=Dict(48, re.compile("[a-zA-Z_][a-zA-Z0-9_]{0,511}"), Text(512)),
    **dict.fromkeys(NOT_CARRIED, ANY),
)
TUNING_CONFIG = obj(
    "Strategy ResourceLimits",
    Strategy=OneOf(tuple(STRATEGIES)),
    StrategyConfig=obj(
        HyperbandStrategyConfig=obj(MinResource=POSITIVE, MaxResource=Integer(1, 20_000))
    ),
    HyperParameterTuningJobObjective=OBJECTIVE,
    ResourceLimits=obj(
        "MaxParallelTrainingJobs",
        MaxNumberOfTrainingJobs=POSITIVE,
        MaxParallelTrainingJobs=POSITIVE,
        MaxRuntimeInSeconds=Integer(120, 15_768_000),
    ),
    ParameterRanges=RANGES,
    TrainingJobEarlyStoppingType=OneOf(("Off", "Auto")),
    TuningJobCompletionCriteria=obj(
        TargetObjectiveMetricValue=Number(),
        BestObjectiveNotImproving=obj(
            "MaxNumberOfTrainingJobsNotImproving", MaxNumberOfTrainingJobsNotImproving=Integer(3)
        ),
        ConvergenceDetected=obj(CompleteOnConvergence=OneOf(("Disabled", "Enabled"))),
    ),
    RandomSeed=Integer(0),
)
PARENT = obj("HyperParameterTuningJobName", HyperParameterTuningJobName=Text(32, 1, JOB_NAME))
REQUEST = obj(
    f"HyperParameterTuningJobName {CONFIG}",
    HyperParameterTuningJobName=Text(32, 1, JOB_NAME),
    HyperParameterTuningJobConfig=TUNING_CONFIG,
    TrainingJobDefinition=DEFINITION,
    TrainingJobDefinitions=Array(DEFINITION, 10, 1),
    WarmStartConfig=obj(
        "ParentHyperParameterTuningJobs WarmStartType",
        ParentHyperParameterTuningJobs=Array(PARENT, 5, 1),
        WarmStartType=OneOf(tuple(WARM_START)),
    ),
    Tags=ANY,
    Autotune=ANY,
)


# DescribeHyperParameterTuningJob ----------------------------------------------------------
#: The response's fields in the API reference's order (the order ``describe_study`` keeps).
RESPONSE_ORDER = (
    "HyperParameterTuningJobName",
    "HyperParameterTuningJobArn",
    CONFIG,
    "TrainingJobDefinition",
    "TrainingJobDefinitions",
    "HyperParameterTuningJobStatus",
    "CreationTime",
    "HyperParameterTuningEndTime",
    "LastModifiedTime",
    "TrainingJobStatusCounters",
    "ObjectiveStatusCounters",
    "BestTrainingJob",
    "OverallBestTrainingJob",
    "WarmStartConfig",
    "Autotune",
    "FailureReason",
    "TuningJobCompletionDetails",
    "ConsumedResources",
)
CONFIG_ORDER = tuple(TUNING_CONFIG.fields)


def describe_study(
    record: StudyRecord, counts: Mapping[TrialState, int], frame: TrialFrame
) -> dict[str, Any]:
    """``DescribeHyperParameterTuningJob``'s response for a study.

    :func:`tunewise.analysis.sagemaker.describe` builds the shape; what it leaves out is added
    here (never overwritten, so its own answer wins once it gives one): the tuning config's
    TrainingJobEarlyStoppingType, StrategyConfig and TuningJobCompletionCriteria, WarmStartConfig,
    TuningJobCompletionDetails and ConsumedResources.
    """
    from tunewise.analysis.sagemaker import describe

    spec = StudySpec.from_dict(dict(record.definition))
    if spec.multi_objective:  # AMT's HyperParameterTuningJobObjective is one metric
        from tunewise.errors import SpecError

        raise SpecError(
            "objectives",
            f"study {record.name!r} has {len(spec.objectives)} objectives and a SageMaker tuning "
            "job has one, so it cannot be described in SageMaker's format; use tunewise best "
            "(its Pareto front) or tunewise export --format json",
        )
    doc = describe(record, counts, frame)
    config = doc[CONFIG]
    config.setdefault(
        "TrainingJobEarlyStoppingType", "Off" if spec.early_stopping is None else "Auto"
    )
    if spec.hyperband is not None:
        resources = {
            "MinResource": spec.hyperband.min_resource,
            "MaxResource": spec.hyperband.max_resource,
        }
        config.setdefault("StrategyConfig", {"HyperbandStrategyConfig": resources})
    criteria = completion_criteria(spec)
    if criteria:
        config.setdefault("TuningJobCompletionCriteria", criteria)
    if spec.warm_start is not None:
        parents = [{"HyperParameterTuningJobName": name} for name in spec.warm_start.parents]
        kind = next(k for k, v in WARM_START.items() if v == spec.warm_start.type)
        doc.setdefault(
            "WarmStartConfig", {"ParentHyperParameterTuningJobs": parents, "WarmStartType": kind}
        )
    doc.setdefault("TuningJobCompletionDetails", completion_details(record, spec, frame))
    if record.created_at is not None and "ConsumedResources" not in doc:
        end = record.finished_at or datetime.now(UTC)
        doc["ConsumedResources"] = {
            "RuntimeInSeconds": int((end - record.created_at).total_seconds())
        }
    doc[CONFIG] = _ordered(config, CONFIG_ORDER)
    return _ordered(doc, RESPONSE_ORDER)


def completion_criteria(spec: StudySpec) -> dict[str, Any]:
    """The spec's completion criteria as TuningJobCompletionCriteria."""
    criteria: dict[str, Any] = {}
    if spec.completion.target is not None:
        criteria["TargetObjectiveMetricValue"] = spec.completion.target
    if spec.completion.not_improving is not None:
        trials = spec.completion.not_improving.trials
        criteria["BestObjectiveNotImproving"] = {"MaxNumberOfTrainingJobsNotImproving": trials}
    if spec.completion.convergence:
        criteria["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    return criteria


def completion_details(record: StudyRecord, spec: StudySpec, frame: TrialFrame) -> dict[str, Any]:
    """TuningJobCompletionDetails: the trials not improving (by the spec's
    not_improving.min_delta, else SageMaker's 1%), and when convergence ended the study (its
    recorded evidence names the criterion ``convergence``, as the tuner records it)."""
    not_improving = spec.completion.not_improving
    delta = NOT_IMPROVING_DELTA if not_improving is None else not_improving.min_delta
    count = _not_improving(_completed_values(frame, spec.objective), delta)
    details: dict[str, Any] = {"NumberOfTrainingJobsObjectiveNotImproving": count}
    evidence = record.evidence or {}
    if record.finished_at is not None and evidence.get("criterion") == "convergence":
        details["ConvergenceDetectedTime"] = record.finished_at.isoformat()
    return details


def not_improving_count(trials: Sequence[Trial], objective: Objective, delta: float) -> int:
    """The most recent completed trials, in finishing order, over which the best did not
    improve by more than ``delta`` (relative to the best before them): the largest ``k`` for
    which :func:`tunewise.stopping.completion.check_not_improving` would find the best not
    improving over ``k`` trials. So the study stops by BestObjectiveNotImproving exactly when
    this count reaches MaxNumberOfTrainingJobsNotImproving, and describe shows the same number
    the criterion compared."""
    completed = [
        t
        for t in trials
        if t.state is TrialState.COMPLETED and t.value is not None and math.isfinite(t.value)
    ]
    completed.sort(key=lambda t: (t.finished_at is None, t.finished_at, t.number))
    return _not_improving([objective.sign * float(t.value or 0.0) for t in completed], delta)


def _completed_values(frame: TrialFrame, objective: Objective) -> list[float]:
    """:func:`not_improving_count`'s values, from a frame's columns (no ``Trial`` is built)."""
    import numpy as np

    rows = np.flatnonzero(frame.scored)
    finished = frame.finished_at[rows]
    unknown = np.isnan(finished)
    order = np.lexsort((frame.number[rows], np.where(unknown, 0.0, finished), unknown))
    return (objective.sign * frame.value[rows[order]]).tolist()


def _not_improving(values: list[float], delta: float) -> int:
    """The count of :func:`not_improving_count` over values made larger-is-better, in
    finishing order."""
    best_before = list(itertools.accumulate(values, max))  # best_before[i]: best of values[:i+1]
    best = best_before[-1] if values else 0.0
    count = 0
    for k in range(1, len(values)):
        before = best_before[-k - 1]
        improvement = best - before
        if not (improvement > delta * abs(before) or (delta == 0 and improvement > 0)):
            count = k
    return count


def _ordered(data: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    first = {key: data[key] for key in order if key in data}
    return {**first, **{k: v for k, v in data.items() if k not in first}}
