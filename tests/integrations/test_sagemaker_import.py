"""Importing SageMaker tuning job requests: every request maps to a spec that loads, each field
lands where it belongs, and what AWS refuses is refused with the JSON path to fix."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from tests.integrations.helpers import REQUESTS, request
from tunewise.cli.sagemaker import render
from tunewise.errors import SpecError
from tunewise.integrations.sagemaker import _value as hyperparameter_value
from tunewise.integrations.sagemaker import import_request
from tunewise.spec import StudySpec, parse_spec_text

XGBOOST = "xgboost-churn-bayesian.json"
PYTORCH = "pytorch-mnist-hyperband.json"
TENSORFLOW = "tensorflow-cifar10-random.json"
SKLEARN = "sklearn-svm-grid.json"
LIGHTGBM = "lightgbm-fraud-warmstart.json"
COMMAND = ["python", "train.py"]
CONFIG = "HyperParameterTuningJobConfig"
RANGES = f"{CONFIG}.ParameterRanges"
DELETE = object()


def test_the_requests_cover_every_strategy_scaling_type_and_completion_criterion() -> None:
    strategies: set[str] = set()
    scalings: set[str] = set()
    criteria: set[str] = set()
    warm_starts: set[str | None] = set()
    early_stopping: set[str] = set()
    for name in REQUESTS:
        data = request(name)
        config = data["HyperParameterTuningJobConfig"]
        strategies.add(config["Strategy"])
        definitions = data.get("TrainingJobDefinitions") or [data["TrainingJobDefinition"]]
        ranges = config.get("ParameterRanges") or definitions[0]["HyperParameterRanges"]
        for kind in ("ContinuousParameterRanges", "IntegerParameterRanges"):
            scalings.update(r.get("ScalingType", "Auto") for r in ranges.get(kind, []))
        completion = config.get("TuningJobCompletionCriteria", {})
        criteria.update(completion)
        if completion.get("ConvergenceDetected", {}).get("CompleteOnConvergence") == "Enabled":
            criteria.add("ConvergenceDetected:Enabled")
        warm_starts.add(data.get("WarmStartConfig", {}).get("WarmStartType"))
        early_stopping.add(config.get("TrainingJobEarlyStoppingType", "Off"))
    assert len(REQUESTS) >= 5
    assert strategies == {"Bayesian", "Random", "Hyperband", "Grid"}
    assert scalings == {"Auto", "Linear", "Logarithmic", "ReverseLogarithmic"}
    assert criteria >= {
        "TargetObjectiveMetricValue",
        "BestObjectiveNotImproving",
        "ConvergenceDetected",
        "ConvergenceDetected:Enabled",
    }
    assert warm_starts >= {"IdenticalDataAndAlgorithm", "TransferLearning"}
    assert early_stopping == {"Off", "Auto"}


@pytest.mark.parametrize("name", REQUESTS)
def test_each_request_becomes_a_spec_that_loads_and_round_trips(name: str) -> None:
    imported = import_request(request(name), COMMAND)
    spec = StudySpec.from_dict(imported.spec)
    text = render(imported.spec, imported.notes, name, as_json=False)
    assert yaml.safe_load(text) == imported.spec
    assert parse_spec_text(text, "spec.yaml") == spec
    assert parse_spec_text(render(imported.spec, (), name, as_json=True), "s.json") == spec
    argv = list(imported.spec["trial"]["command"])
    assert argv[:2] == COMMAND
    names = [*imported.spec.get("static", {}), *imported.spec["space"]]
    assert argv[2:] == [part for n in names for part in (f"--{n}", "{" + n + "}")]
    for note in imported.notes:
        assert "\n" not in note
        assert re.match(r"(not carried over: [\w.\[\]-]+ \(.+\)|note: .+)$", note)


def test_bayesian_xgboost_with_early_stopping_and_two_criteria() -> None:
    imported = import_request(request(XGBOOST), COMMAND)
    spec = imported.spec
    assert spec["study"] == "xgb-churn-2024-05-14"
    assert spec["strategy"] == "bayesian"
    assert spec["objective"] == {"metric": "validation:auc", "direction": "maximize"}
    assert spec["space"]["eta"] == {"type": "float", "low": 0.01, "high": 0.5, "scale": "auto"}
    assert spec["space"]["min_child_weight"]["scale"] == "linear"
    assert spec["space"]["alpha"] == {"type": "float", "low": 0.0001, "high": 10.0, "scale": "log"}
    assert spec["space"]["max_depth"] == {"type": "int", "low": 3, "high": 10, "scale": "linear"}
    assert spec["static"] == {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "num_round": 200,
    }
    assert spec["limits"] == {"max_parallel": 5, "max_trials": 50, "max_runtime": 86400}
    assert spec["seed"] == 42
    assert spec["early_stopping"] == "median"
    assert spec["completion"] == {
        "target": 0.95,
        "not_improving": {"trials": 10, "min_delta": "1%"},
    }
    loaded = StudySpec.from_dict(spec)
    assert loaded.completion.not_improving is not None
    assert loaded.completion.not_improving.min_delta == pytest.approx(0.01)
    assert spec["trial"]["timeout"] == 3600 and "metrics" not in spec["trial"]
    assert [n for n in imported.notes if n.startswith("not carried over")] == [
        "not carried over: Tags (AWS resource tags)",
        "not carried over: TrainingJobDefinition.RoleArn (an IAM role; trials run with your own "
        "permissions)",
        "not carried over: TrainingJobDefinition.InputDataConfig (S3 data channels; point the "
        "command at local data)",
        "not carried over: TrainingJobDefinition.OutputDataConfig (S3 output; each trial writes "
        "in its own folder under runs_dir)",
        "not carried over: TrainingJobDefinition.ResourceConfig (training instances; trials run "
        "where tunewise runs, limits.max_parallel at once)",
        "not carried over: TrainingJobDefinition.AlgorithmSpecification.TrainingImage (the "
        "command comes from --command)",
        "not carried over: TrainingJobDefinition.AlgorithmSpecification.TrainingInputMode (how a "
        "container reads S3 data)",
        "not carried over: TrainingJobDefinition.StaticHyperParameters._tuning_objective_metric "
        "(it tells built-in algorithms the objective)",
    ]
    assert any("no MetricDefinitions" in n for n in imported.notes)


def test_hyperband_pytorch_reads_max_resource_from_epochs_and_unquotes_sdk_values() -> None:
    spec = import_request(request(PYTORCH), COMMAND).spec
    assert spec["strategy"] == "hyperband"
    assert spec["hyperband"] == {"min_resource": 1, "max_resource": 27, "resource": "epochs"}
    assert spec["space"]["momentum"]["scale"] == "reverse_log"
    assert spec["space"]["batch-size"] == {"type": "int", "low": 32, "high": 256, "scale": "log"}
    assert spec["space"]["optimizer"] == {"type": "categorical", "values": ["sgd", "adam"]}
    assert spec["static"] == {"epochs": 27, "backend": "gloo"}  # sagemaker_* stay behind
    assert spec["completion"] == {"convergence": True}
    assert spec["warm_start"] == {"parents": ["pytorch-mnist-bayes-0601"], "type": "transfer"}
    assert [m["name"] for m in spec["trial"]["metrics"]] == [
        "validation:loss",
        "validation:accuracy",
    ]
    assert "early_stopping" not in spec


def test_hyperband_max_resource_given_becomes_a_static_epochs() -> None:
    data = request(PYTORCH)
    del data["TrainingJobDefinition"]["StaticHyperParameters"]["epochs"]
    data[CONFIG]["StrategyConfig"]["HyperbandStrategyConfig"] = {
        "MinResource": 3,
        "MaxResource": 81,
    }
    imported = import_request(data, COMMAND)
    assert imported.spec["hyperband"] == {
        "min_resource": 3,
        "max_resource": 81,
        "resource": "epochs",
    }
    assert "--epochs" not in imported.spec["trial"]["command"]
    assert StudySpec.from_dict(imported.spec).space.static["epochs"] == 81
    assert any("epochs = MaxResource (81)" in note for note in imported.notes)


def test_random_tensorflow_carries_timeout_environment_and_retries() -> None:
    spec = import_request(request(TENSORFLOW), COMMAND).spec
    assert spec["strategy"] == "random" and spec["seed"] == 7
    assert spec["space"]["dropout"] == {"type": "float", "low": 0.0, "high": 0.5, "scale": "linear"}
    assert spec["space"]["activation"]["values"] == ["relu", "elu", "swish"]
    assert spec["static"]["model_dir"] == "s3://example-ml-bucket/tf-cifar10/model"
    assert spec["completion"] == {"not_improving": {"trials": 5, "min_delta": "1%"}}
    assert spec["trial"]["timeout"] == 1800
    assert spec["trial"]["env"] == {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    assert spec["retries"] == {"max_attempts": 3, "on": ["crashed", "infrastructure", "lost"]}
    assert spec["limits"] == {"max_parallel": 2, "max_trials": 20, "max_runtime": 43200}


def test_grid_sklearn_keeps_categorical_numbers_as_numbers() -> None:
    spec = import_request(request(SKLEARN), COMMAND).spec
    assert spec["strategy"] == "grid"
    assert spec["space"] == {
        "kernel": {"type": "categorical", "values": ["linear", "rbf"]},
        "C": {"type": "categorical", "values": [1, 10]},
    }
    assert spec["limits"]["max_trials"] == 4
    data = request(SKLEARN)
    del data[CONFIG]["ResourceLimits"]["MaxNumberOfTrainingJobs"]  # the grid sets the count
    assert "max_trials" not in import_request(data, COMMAND).spec["limits"]


def test_warm_started_lightgbm_takes_objective_and_ranges_from_its_one_definition() -> None:
    imported = import_request(request(LIGHTGBM), COMMAND)
    spec = imported.spec
    assert spec["objective"] == {"metric": "valid:binary_logloss", "direction": "minimize"}
    assert spec["warm_start"] == {
        "parents": ["lgbm-fraud-0901", "lgbm-fraud-0908"],
        "type": "identical",
    }
    assert spec["space"]["num_leaves"] == {"type": "int", "low": 16, "high": 256, "scale": "auto"}
    assert spec["space"]["bagging_fraction"]["scale"] == "reverse_log"
    assert spec["completion"] == {"target": 0.05}
    assert spec["static"]["feature_fraction"] == 0.8
    assert any("DefinitionName" in note for note in imported.notes)
    assert any("lgbm-fraud-0901, lgbm-fraud-0908" in note for note in imported.notes)


def test_without_a_command_the_sdk_entry_point_runs_with_python() -> None:
    imported = import_request(request(PYTORCH))
    assert imported.spec["trial"]["command"][:4] == ["python", "mnist.py", "--epochs", "{epochs}"]
    assert any(n.startswith("note: trial.command runs `python mnist.py") for n in imported.notes)
    program = "TrainingJobDefinition.StaticHyperParameters.sagemaker_program"
    assert f"not carried over: {program} (the command runs it)" in imported.notes


def test_without_a_command_or_an_entry_point_the_command_is_required() -> None:
    with pytest.raises(SpecError) as caught:
        import_request(request(XGBOOST))
    assert caught.value.field == "--command"
    assert "python train.py" in caught.value.message


def test_an_objective_without_a_metric_definition_is_noted() -> None:
    data = request(TENSORFLOW)
    del data["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"][0]
    notes = import_request(data, COMMAND).notes
    assert any("the objective val_accuracy has no MetricDefinition" in n for n in notes)


def test_no_max_number_of_training_jobs_is_noted() -> None:
    data = request(TENSORFLOW)
    data[CONFIG]["ResourceLimits"] = {"MaxParallelTrainingJobs": 2}
    notes = import_request(data, COMMAND).notes
    assert any("limits.max_trials" in n for n in notes)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.001", 0.001),
        ("200", 200),
        ("1e-3", "1e-3"),  # kept as written: the command gets the same text SageMaker passes
        ("01", "01"),
        ("true", "true"),
        ('"adam"', "adam"),  # the SDK JSON-quotes framework estimators' strings
        ('"3"', "3"),
        ("binary:logistic", "binary:logistic"),
        ("nan", "nan"),
    ],
)
def test_hyperparameter_texts_become_what_the_training_code_sees(text: str, value: Any) -> None:
    assert hyperparameter_value(text) == value
    assert type(hyperparameter_value(text)) is type(value)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts: list[Any] = [
        int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)
    ]
    node: Any = data
    for part in parts[:-1]:
        node = node[part]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value


STATIC = "TrainingJobDefinition.StaticHyperParameters"
HYPERBAND = f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig"
METRICS = "TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions"
REFUSED = [
    # (request, field set (or deleted), value, the field the error names)
    (XGBOOST, f"{RANGES}.ContinuousParameterRanges[0].ScalingType", "Exponential", None),
    (
        XGBOOST,
        f"{RANGES}.ContinuousParameterRanges[2].MinValue",
        "0",
        f"{RANGES}.ContinuousParameterRanges[2].ScalingType",
    ),  # Logarithmic needs MinValue > 0
    (
        PYTORCH,
        f"{RANGES}.ContinuousParameterRanges[1].MaxValue",
        "1",
        f"{RANGES}.ContinuousParameterRanges[1].ScalingType",
    ),  # ReverseLogarithmic needs < 1
    (TENSORFLOW, f"{RANGES}.IntegerParameterRanges[1].ScalingType", "ReverseLogarithmic", None),
    (XGBOOST, f"{RANGES}.ContinuousParameterRanges[0].MinValue", 0.01, None),  # not a string
    (XGBOOST, f"{RANGES}.IntegerParameterRanges[0].MaxValue", "7.5", None),
    (XGBOOST, f"{RANGES}.ContinuousParameterRanges[0].MaxValue", "0.01", None),  # == MinValue
    (XGBOOST, f"{RANGES}.AutoParameters", [{"Name": "eta", "ValueHint": "0.1"}], None),
    (XGBOOST, f"{CONFIG}.ResourceLimits.MaxParallelTrainingJobs", 0, None),
    (XGBOOST, f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs", 0, None),
    (XGBOOST, f"{CONFIG}.ResourceLimits.MaxRuntimeInSeconds", 60, None),
    (XGBOOST, f"{CONFIG}.ResourceLimits", DELETE, None),
    (
        XGBOOST,
        f"{CONFIG}.TuningJobCompletionCriteria.BestObjectiveNotImproving."
        "MaxNumberOfTrainingJobsNotImproving",
        2,
        None,
    ),
    (XGBOOST, f"{CONFIG}.TuningJobCompletionCriteria.TargetObjectiveMetricValue", "0.95", None),
    (
        PYTORCH,
        f"{CONFIG}.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence",
        "Yes",
        None,
    ),
    (PYTORCH, f"{CONFIG}.TrainingJobEarlyStoppingType", "Auto", None),  # Hyperband stops itself
    (XGBOOST, f"{CONFIG}.TrainingJobEarlyStoppingType", "AUTO", None),
    (PYTORCH, f"{STATIC}.epochs", DELETE, f"{HYPERBAND}.MaxResource"),  # nothing to infer from
    (PYTORCH, f"{HYPERBAND}.MaxResource", 20_001, None),
    (PYTORCH, f"{HYPERBAND}.MinResource", 27, None),  # not below MaxResource (epochs: 27)
    (PYTORCH, f"{STATIC}.epochs", "many", f"{STATIC}.epochs"),
    (TENSORFLOW, f"{CONFIG}.StrategyConfig", {"HyperbandStrategyConfig": {"MaxResource": 9}}, None),
    (
        SKLEARN,
        f"{RANGES}.IntegerParameterRanges",
        [{"Name": "degree", "MinValue": "2", "MaxValue": "5"}],
        f"{RANGES}.IntegerParameterRanges[0]",
    ),
    (SKLEARN, f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs", 6, None),  # the grid has 4
    (SKLEARN, f"{RANGES}.CategoricalParameterRanges[1].Values", [], None),
    (SKLEARN, f"{RANGES}.CategoricalParameterRanges[1].Values", ["1", "1"], None),
    (XGBOOST, "HyperParameterTuningJobName", "xgb_churn", None),
    (XGBOOST, "HyperParameterTuningJobName", "x" * 33, None),
    (XGBOOST, f"{CONFIG}.Strategy", "TPE", None),
    (XGBOOST, f"{CONFIG}.Stratgy", "Random", None),  # a typo is not silently ignored
    (XGBOOST, f"{CONFIG}.HyperParameterTuningJobObjective", DELETE, None),
    (XGBOOST, f"{CONFIG}.HyperParameterTuningJobObjective.Type", "maximize", None),
    (XGBOOST, f"{CONFIG}.RandomSeed", -1, None),
    (XGBOOST, f"{STATIC}.num_round", 200, None),  # hyperparameter values are strings
    (XGBOOST, f"{STATIC}.max_depth", "5", f"{RANGES}.IntegerParameterRanges[0].Name"),
    (XGBOOST, f"{STATIC}.max depth", "5", None),  # not a name tunewise can pass on
    (PYTORCH, "WarmStartConfig.WarmStartType", "IDENTICAL_DATA_AND_ALGORITHM", None),
    (
        LIGHTGBM,
        "WarmStartConfig.ParentHyperParameterTuningJobs",
        [{"HyperParameterTuningJobName": f"parent-{i}"} for i in range(6)],
        None,
    ),
    (
        LIGHTGBM,
        f"{CONFIG}.HyperParameterTuningJobObjective",
        {"Type": "Minimize", "MetricName": "loss"},
        "TrainingJobDefinitions[0].TuningObjective",
    ),
    (TENSORFLOW, f"{METRICS}[0].Regex", "val_accuracy: [0-9.]+", None),  # no capture group
    (TENSORFLOW, f"{METRICS}[1].Name", "val_accuracy", None),  # defined twice
    (TENSORFLOW, "TrainingJobDefinition.RetryStrategy.MaximumRetryAttempts", 31, None),
    (
        TENSORFLOW,
        "TrainingJobDefinition.Environment",
        {"TF-LOG": "1"},
        "TrainingJobDefinition.Environment.TF-LOG",
    ),
    (XGBOOST, "TrainingJobDefinition", DELETE, None),
]


@pytest.mark.parametrize(("name", "path", "value", "field"), REFUSED)
def test_what_aws_refuses_is_refused_naming_the_json_field(
    name: str, path: str, value: Any, field: str | None
) -> None:
    data = request(name)
    _set(data, path, value)
    with pytest.raises(SpecError) as caught:
        import_request(data, COMMAND)
    assert caught.value.field == (field or path), str(caught.value)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(caught.value.field)


def test_several_training_job_definitions_are_refused() -> None:
    data = request(LIGHTGBM)
    data["TrainingJobDefinitions"].append(data["TrainingJobDefinitions"][0])
    with pytest.raises(SpecError, match="holds 2 definitions") as caught:
        import_request(data, COMMAND)
    assert caught.value.field == "TrainingJobDefinitions"
    data = request(XGBOOST)
    data["TrainingJobDefinitions"] = [data["TrainingJobDefinition"]]
    with pytest.raises(SpecError) as caught:
        import_request(data, COMMAND)
    assert caught.value.field == "TrainingJobDefinitions"


def test_the_request_must_be_a_json_object() -> None:
    with pytest.raises(SpecError, match="must be a JSON object"):
        import_request(["HyperParameterTuningJobName"], COMMAND)
