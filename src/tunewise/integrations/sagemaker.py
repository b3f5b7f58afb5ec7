"""SageMaker Automatic Model Tuning's job format: import a tuning job, describe a study.

People who tuned on SageMaker keep their jobs as ``CreateHyperParameterTuningJob`` request
documents (what ``aws sagemaker create-hyper-parameter-tuning-job --cli-input-json`` reads and
the SageMaker Python SDK sends). :func:`import_request` turns one into the spec form
(:meth:`tunewise.spec.StudySpec.from_dict`). It checks what the AWS API reference checks:
field names, types, enumerations and ranges (``sagemaker_api.REQUEST``, the reference as data),
then the rules between fields, so a document AWS would refuse is refused here too, in one
sentence that names the JSON path to fix. What only means something
inside AWS (container image, IAM role, S3 channels, instances) cannot be carried over; each such
field present becomes one note, so nothing is dropped silently.

:func:`~tunewise.integrations.sagemaker_api.describe_study` is the other way: a study as
``DescribeHyperParameterTuningJob`` answers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunewise.errors import SpecError
from tunewise.integrations.sagemaker_api import (
    CONFIG,
    EPOCH_KEYS,
    INTERNAL,
    MAX_HYPERPARAMETERS,
    NOT_CARRIED,
    NOT_IMPROVING_DELTA,
    RANGE_KINDS,
    REQUEST,
    SCALES,
    STRATEGIES,
    TOP_NOT_CARRIED,
    WAITS,
    WARM_START,
    Integer,
    describe_study,
)
from tunewise.space import NAME_PATTERN, Categorical
from tunewise.spec import MetricDefinition, StudySpec

__all__ = ["Imported", "describe_study", "import_request"]
RETRY_ON = ["crashed", "infrastructure", "lost"]  # RetryStrategy retries InternalServerError
NAMES = "tunewise names start with a letter or _ and use letters, digits, _ . - only"


@dataclass(frozen=True)
class Imported:
    """A request turned into the spec form (validated), and one line per thing to tell."""

    spec: dict[str, Any]
    notes: tuple[str, ...]


def import_request(request: Any, command: Sequence[str] | None = None) -> Imported:
    """The spec form of a ``CreateHyperParameterTuningJob`` request.

    ``command`` is the training command; the hyperparameters are appended as ``--NAME VALUE``,
    as SageMaker's script mode passes them. Without it the request's ``sagemaker_program`` is
    run with ``python``. Raises SpecError naming the JSON path (or ``--command``) of what AWS
    would refuse or tunewise cannot run.
    """
    REQUEST.check(request, "")
    config = request[CONFIG]
    definition, dpath = _definition(request)
    strategy = config["Strategy"]
    static, internal = _static(definition.get("StaticHyperParameters", {}), dpath)
    space = _space(config, definition, dpath, strategy, static)
    notes: list[str] = []
    spec: dict[str, Any] = {
        "study": request["HyperParameterTuningJobName"],
        "objective": _objective(config, definition, dpath),
        "strategy": STRATEGIES[strategy],
        "space": space,
    }
    if static:
        spec["static"] = static
    spec["trial"] = _trial(definition, dpath, command, [*static, *space], internal, notes)
    metric = spec["objective"]["metric"]
    if spec["trial"].get("metrics") and all(m["name"] != metric for m in spec["trial"]["metrics"]):
        notes.append(
            f"note: the objective {metric} has no MetricDefinition; trials must "
            "report it as tagged JSON lines (tunewise.report)"
        )
    spec["limits"] = _limits(config, strategy, space, notes)
    if "RandomSeed" in config:
        spec["seed"] = config["RandomSeed"]
    if config.get("TrainingJobEarlyStoppingType") == "Auto":
        if strategy == "Hyperband":
            raise SpecError(
                f"{CONFIG}.TrainingJobEarlyStoppingType",
                "must be Off with the Hyperband strategy, which stops trials itself",
            )
        spec["early_stopping"] = "median"
    if strategy == "Hyperband":
        spec["hyperband"] = _hyperband(config, static, space, dpath, notes)
    elif "StrategyConfig" in config:
        raise SpecError(f"{CONFIG}.StrategyConfig", "applies only to the Hyperband strategy")
    completion = _completion(config.get("TuningJobCompletionCriteria", {}))
    if completion:
        spec["completion"] = completion
    if "WarmStartConfig" in request:
        warm = request["WarmStartConfig"]
        parents = [p["HyperParameterTuningJobName"] for p in warm["ParentHyperParameterTuningJobs"]]
        spec["warm_start"] = {"parents": parents, "type": WARM_START[warm["WarmStartType"]]}
        notes.append(
            f"note: warm start reads the studies {', '.join(parents)} from the "
            "storage this study runs in"
        )
    if "RetryStrategy" in definition:
        attempts = definition["RetryStrategy"]["MaximumRetryAttempts"] + 1
        spec["retries"] = {"max_attempts": attempts, "on": list(RETRY_ON)}
    notes[:0] = _not_carried(request, definition, dpath, internal, command is not None)
    try:
        StudySpec.from_dict(spec)
    except SpecError as exc:  # a rule of tunewise's own that the request breaks
        raise SpecError(exc.field, f"{exc.message} (in the spec made from the request)") from None
    return Imported(spec, tuple(notes))


def _definition(request: Mapping[str, Any]) -> tuple[Mapping[str, Any], str]:
    if "TrainingJobDefinition" in request and "TrainingJobDefinitions" in request:
        raise SpecError("TrainingJobDefinitions", "cannot go with TrainingJobDefinition; keep one")
    if "TrainingJobDefinitions" in request:
        several = request["TrainingJobDefinitions"]
        if len(several) > 1:
            message = f"holds {len(several)} definitions; a study runs one command: keep one"
            raise SpecError("TrainingJobDefinitions", message)
        return several[0], "TrainingJobDefinitions[0]"
    if "TrainingJobDefinition" not in request:
        raise SpecError("TrainingJobDefinition", "is required (static hyperparameters, metrics)")
    return request["TrainingJobDefinition"], "TrainingJobDefinition"


def _objective(
    config: Mapping[str, Any], definition: Mapping[str, Any], dpath: str
) -> dict[str, str]:
    where = [f"{CONFIG}.HyperParameterTuningJobObjective", f"{dpath}.TuningObjective"]
    given = [config.get("HyperParameterTuningJobObjective"), definition.get("TuningObjective")]
    if given[0] is not None and given[1] is not None:
        raise SpecError(where[1], f"repeats {where[0]}; give the objective in one place")
    objective = given[0] or given[1]
    if objective is None:
        raise SpecError(where[0], "is required: the metric, and whether to Maximize or Minimize")
    return {"metric": objective["MetricName"], "direction": objective["Type"].lower()}


def _space(
    config: Mapping[str, Any],
    definition: Mapping[str, Any],
    dpath: str,
    strategy: str,
    static: Mapping[str, Any],
) -> dict[str, Any]:
    path, ranges = f"{CONFIG}.ParameterRanges", config.get("ParameterRanges", {})
    if "HyperParameterRanges" in definition:
        if "ParameterRanges" in config:
            raise SpecError(f"{dpath}.HyperParameterRanges", f"repeats {path}; keep one")
        path, ranges = f"{dpath}.HyperParameterRanges", definition["HyperParameterRanges"]
    if ranges.get("AutoParameters"):
        raise SpecError(f"{path}.AutoParameters", "needs Autotune; give the ranges to search")
    space: dict[str, Any] = {}
    for kind in RANGE_KINDS:
        for i, item in enumerate(ranges.get(kind, [])):
            where, name = f"{path}.{kind}[{i}]", item["Name"]
            if strategy == "Grid" and kind != "CategoricalParameterRanges":
                raise SpecError(where, "cannot be searched by Grid, which takes categorical ranges")
            if not NAME_PATTERN.fullmatch(name):
                raise SpecError(f"{where}.Name", f"{name!r}: {NAMES}")
            if name in space or name in static:
                other = "two ranges" if name in space else "a range and a static value"
                raise SpecError(f"{where}.Name", f"{name!r} has {other}; keep one")
            if kind == "CategoricalParameterRanges":
                space[name] = _categorical(item["Values"], f"{where}.Values")
            else:
                space[name] = _numeric(item, where, kind == "IntegerParameterRanges")
    if not space:
        raise SpecError(path, "must give at least one hyperparameter range to tune")
    if len(space) > MAX_HYPERPARAMETERS:
        raise SpecError(path, f"holds {len(space)} ranges, over the {MAX_HYPERPARAMETERS} limit")
    return space


def _numeric(item: Mapping[str, Any], where: str, integer: bool) -> dict[str, Any]:
    low = _number_text(item["MinValue"], f"{where}.MinValue", integer)
    high = _number_text(item["MaxValue"], f"{where}.MaxValue", integer)
    if low >= high:
        raise SpecError(f"{where}.MaxValue", f"must be greater than MinValue ({high} <= {low})")
    scaling, path = item.get("ScalingType", "Auto"), f"{where}.ScalingType"
    if scaling == "Logarithmic" and low <= 0:
        raise SpecError(path, f"Logarithmic needs MinValue > 0, got {low}")
    if scaling == "ReverseLogarithmic" and integer:
        raise SpecError(
            path,
            "ReverseLogarithmic needs values in [0, 1), which an integer "
            "range cannot hold; use Linear or Logarithmic",
        )
    if scaling == "ReverseLogarithmic" and not 0 <= low < high < 1:
        raise SpecError(
            path, f"ReverseLogarithmic needs 0 <= MinValue < MaxValue < 1, got [{low}, {high}]"
        )
    kind = "int" if integer else "float"
    return {"type": kind, "low": low, "high": high, "scale": SCALES[scaling]}


def _number_text(value: str, path: str, integer: bool) -> float:
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise SpecError(path, f"must be {kind} written as a string, got {value!r}") from None
    if not math.isfinite(number):
        raise SpecError(path, f"must be finite, got {value!r}")
    return number


def _categorical(texts: list[str], path: str) -> dict[str, Any]:
    if len(set(texts)) != len(texts):
        raise SpecError(path, "lists the same value twice")
    values = [_value(t) for t in texts]
    try:  # "1" and "1.0" would both be the number 1: keep the texts then
        Categorical(values)
    except SpecError:
        values = list(texts)
    return {"type": "categorical", "values": values}


def _static(data: Mapping[str, str], dpath: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request's static hyperparameters, and SageMaker's own (``sagemaker_*``) apart."""
    static: dict[str, Any] = {}
    internal: dict[str, Any] = {}
    for key, text in data.items():
        if key in INTERNAL or key.startswith("sagemaker_"):
            internal[key] = _value(text)
        elif not NAME_PATTERN.fullmatch(key):
            raise SpecError(f"{dpath}.StaticHyperParameters.{key}", f"{NAMES}; rename it")
        else:
            static[key] = _value(text)
    return static, internal


def _value(text: str) -> Any:
    """A hyperparameter's text as the training code sees it.

    The SDK JSON-quotes framework estimators' strings (``"\\"adam\\""``): they are unquoted.
    Numbers become numbers only when they print back as the same text, so the command gets
    exactly what SageMaker would have passed (``"0.001"`` becomes 0.001, ``"1e-3"`` stays).
    """
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        return decoded if isinstance(decoded, str) else text
    for cast, show in ((int, str), (float, repr)):
        try:
            number = cast(text)
        except ValueError:
            continue
        if show(number) == text and math.isfinite(number):
            return number
    return text


def _trial(
    definition: Mapping[str, Any],
    dpath: str,
    command: Sequence[str] | None,
    names: Sequence[str],
    internal: Mapping[str, Any],
    notes: list[str],
) -> dict[str, Any]:
    if command is None:
        program = internal.get("sagemaker_program")
        if not isinstance(program, str) or not program:
            raise SpecError(
                "--command",
                "is required: the request trains in a container that "
                "tunewise cannot run; give the training command, e.g. --command "
                "'python train.py' (hyperparameters follow as --NAME VALUE)",
            )
        # literal text: a brace in the script's name is no {placeholder}
        command = ["python", program.replace("{", "{{").replace("}", "}}")]
        notes.append(
            f"note: trial.command runs `python {program} --NAME VALUE ...` "
            "(sagemaker_program) in the folder tunewise runs in"
        )
    elif not command:
        raise SpecError("--command", "is empty; give the training command, e.g. python train.py")
    argv = list(command)
    for name in names:
        argv += [f"--{name}", "{" + name + "}"]
    trial: dict[str, Any] = {"command": argv}
    path = f"{dpath}.AlgorithmSpecification.MetricDefinitions"
    metrics = definition.get("AlgorithmSpecification", {}).get("MetricDefinitions", [])
    for i, item in enumerate(metrics):
        if any(m["Name"] == item["Name"] for m in metrics[:i]):
            raise SpecError(f"{path}[{i}].Name", f"metric {item['Name']!r} is defined twice")
        try:
            MetricDefinition(item["Name"], item["Regex"])
        except SpecError as exc:
            raise SpecError(f"{path}[{i}].Regex", exc.message) from None
    if metrics:
        trial["metrics"] = [{"name": m["Name"], "regex": m["Regex"]} for m in metrics]
    else:
        notes.append(
            "note: no MetricDefinitions (a built-in algorithm has its own): trials "
            "must print tagged JSON lines (tunewise.report), or add trial.metrics"
        )
    timeout = definition.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    if timeout is not None:
        trial["timeout"] = timeout
    if definition.get("Environment"):
        trial["env"] = dict(definition["Environment"])
    return trial


def _limits(
    config: Mapping[str, Any], strategy: str, space: Mapping[str, Any], notes: list[str]
) -> dict[str, Any]:
    given = config["ResourceLimits"]
    limits: dict[str, Any] = {"max_parallel": given["MaxParallelTrainingJobs"]}
    if "MaxNumberOfTrainingJobs" in given:
        limits["max_trials"] = given["MaxNumberOfTrainingJobs"]
    if "MaxRuntimeInSeconds" in given:
        limits["max_runtime"] = given["MaxRuntimeInSeconds"]
    if strategy == "Grid":
        size = math.prod(len(p["values"]) for p in space.values())
        if limits.get("max_trials", size) != size:
            raise SpecError(
                f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs",
                f"must equal the grid's {size} combinations with the Grid strategy, or be left out",
            )
    elif "max_trials" not in limits and "max_runtime" not in limits:
        notes.append(
            "note: ResourceLimits has no MaxNumberOfTrainingJobs: set limits.max_trials "
            "(or tunewise run --max-trials N) before running"
        )
    return limits


def _hyperband(
    config: Mapping[str, Any],
    static: Mapping[str, Any],
    space: Mapping[str, Any],
    dpath: str,
    notes: list[str],
) -> dict[str, Any]:
    where = f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig"
    given = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig", {})
    low = given.get("MinResource", 1)
    key = next((k for k in EPOCH_KEYS if k in static), None)
    if "MaxResource" in given:
        high = given["MaxResource"]
    elif key is not None:
        high = static[key]
        Integer(1, 20_000).check(high, f"{dpath}.StaticHyperParameters.{key}")
    else:
        raise SpecError(
            f"{where}.MaxResource",
            f"is required, or a static hyperparameter to read it from ({', '.join(EPOCH_KEYS)})",
        )
    if low >= high:
        raise SpecError(f"{where}.MinResource", f"must be below MaxResource ({low} >= {high})")
    resource = key or "epochs"
    if resource in space:
        raise SpecError(where, f"gives trials {resource!r}, which is a tuned range; make it static")
    if key is None:
        notes.append(
            f"note: Hyperband gives each trial epochs = MaxResource ({high}) as a "
            "static value, not on the command line"
        )
    return {"min_resource": low, "max_resource": high, "resource": resource}


def _completion(given: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "TargetObjectiveMetricValue" in given:
        out["target"] = float(given["TargetObjectiveMetricValue"])
    if "BestObjectiveNotImproving" in given:
        trials = given["BestObjectiveNotImproving"]["MaxNumberOfTrainingJobsNotImproving"]
        out["not_improving"] = {"trials": trials, "min_delta": f"{NOT_IMPROVING_DELTA:.0%}"}
    if given.get("ConvergenceDetected", {}).get("CompleteOnConvergence") == "Enabled":
        out["convergence"] = True
    return out


def _not_carried(
    request: Mapping[str, Any],
    definition: Mapping[str, Any],
    dpath: str,
    internal: Mapping[str, Any],
    has_command: bool,
) -> list[str]:
    """One ``not carried over: FIELD (why)`` line per AWS-only field present."""
    image = "the command comes from --command" if has_command else "the command runs its script"
    found = [(k, why) for k, why in TOP_NOT_CARRIED.items() if k in request]
    found += [(f"{dpath}.{k}", why) for k, why in NOT_CARRIED.items() if k in definition]
    algorithm = definition.get("AlgorithmSpecification", {})
    for key in ("TrainingImage", "AlgorithmName", "TrainingInputMode"):
        if key in algorithm:
            why = image if key != "TrainingInputMode" else "how a container reads S3 data"
            found.append((f"{dpath}.AlgorithmSpecification.{key}", why))
    stopping = definition.get("StoppingCondition", {})
    for key, what in WAITS.items():
        if key in stopping:
            found.append((f"{dpath}.StoppingCondition.{key}", f"a wait for {what}"))
    for key in internal:
        why = INTERNAL.get(key, "a setting of SageMaker's containers")
        if key == "sagemaker_program":
            why = image if has_command else "the command runs it"
        found.append((f"{dpath}.StaticHyperParameters.{key}", why))
    return [f"not carried over: {path} ({why})" for path, why in found]
