"""The study spec as a JSON Schema (draft 2020-12): one machine-readable description of every
key a spec file may hold.

Three things are made from it, so they cannot drift apart: the published schema file
(``tunewise schema`` prints it; editors such as VS Code validate and complete spec files with
``# yaml-language-server: $schema=...``), the documentation's spec reference (every key with its
type, default, example and the error a wrong value gets) and the tests that check it against
:meth:`tunewise.spec.StudySpec.from_dict`.

:mod:`tunewise.spec` stays the judge: the schema says what it can (types, ranges, enumerations,
required keys, which key goes with which), and a few rules between fields that JSON Schema cannot
state (``high`` above ``low``, a ``when:`` naming a categorical parent, a command placeholder
naming a hyperparameter) are only checked when the spec loads. Beside the standard keywords each
key carries annotations the reference reads: ``x-type`` (the type in words) and ``x-invalid``
(a wrong value, whose real error message the reference shows).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["SCHEMA_ID", "schema", "schema_text"]

SCHEMA_ID = "https://tunewise.dev/schema/spec.schema.json"
_NAME = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"
_STUDY = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
#: A number written as text (YAML 1.1 tools write ``1e-4`` as a string); no nan or inf.
_NUMBER_TEXT = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
#: ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1.5d"``, ``"250ms"``: positive (a digit 1-9).
_DURATION = (
    r"^(?=.*[1-9])\s*([0-9]+(\.[0-9]+)?\s*([mM][sS]|[sSmMhHdD])\s*)+$"
    r"|^(?=.*[1-9])\s*[0-9]+(\.[0-9]+)?\s*$"
)
_DIRECTION = r"^([Mm][Ii][Nn][Ii][Mm][Ii][Zz][Ee]|[Mm][Aa][Xx][Ii][Mm][Ii][Zz][Ee])$"
STRATEGIES = ("bayesian", "tpe", "grid", "random", "sobol", "hyperband")
FAILURE_KINDS = (
    "crashed",
    "timeout",
    "lost",
    "user_error",
    "metric_missing",
    "metric_invalid",
    "infrastructure",
)


def _key(
    schema: dict[str, Any],
    description: str,
    *,
    kind: str,
    default: Any = None,
    example: Any = None,
    invalid: Any = None,
) -> dict[str, Any]:
    """A key's schema with its words: what it is, its type, default, example, a wrong value."""
    out = {**schema, "description": description, "x-type": kind}
    if default is not None:
        out["default"] = default
    if example is not None:
        out["examples"] = [example]
    if invalid is not None:
        out["x-invalid"] = invalid
    return out


def _section(
    properties: dict[str, Any], description: str, *, required: tuple[str, ...] = (), **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "description": description,
        "x-type": "mapping",
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }
    if required:
        out["required"] = list(required)
    return out


_POSITIVE_INT: dict[str, Any] = {"type": "integer", "minimum": 1}
_NUMBERISH: dict[str, Any] = {
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": _NUMBER_TEXT}]
}
_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": _DURATION},
    ]
}
_SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}


def _objective(where: str) -> dict[str, Any]:
    return _section(
        {
            "metric": _key(
                {"type": "string", "minLength": 1},
                "The metric's name: a key of the dict the training function returns, or a "
                "metric a command reports.",
                kind="string",
                example="log_loss",
                invalid="",
            ),
            "direction": _key(
                {
                    "anyOf": [
                        {"enum": ["minimize", "maximize"]},
                        {"type": "string", "pattern": _DIRECTION},
                    ]
                },
                "Whether a lower or a higher value is better. Required: tunewise never guesses, "
                "so a loss is never maximized by mistake.",
                kind="minimize | maximize",
                example="minimize",
                invalid="upwards",
            ),
        },
        f"{where}: the metric and its direction.",
        required=("metric", "direction"),
    )


def _when() -> dict[str, Any]:
    return _key(
        {
            "type": "object",
            "propertyNames": {"pattern": _NAME},
            "minProperties": 1,
            "additionalProperties": {
                "anyOf": [_SCALAR, {"type": "array", "items": _SCALAR, "minItems": 1}]
            },
        },
        "A condition: the hyperparameter is searched (active) only when each named categorical "
        "parent takes one of the listed values; in other trials it is absent. Parents come "
        "before children; the conditions may not form a cycle.",
        kind="mapping parent -> values",
        example={"solver": ["sgd"]},
        invalid=["sgd"],
    )


_RANGE_WORDS = {
    "low": "The smallest value (included).",
    "high": "The largest value (included); must be greater than low.",
    "scale": "How values spread: linear, log (needs low > 0), reverse_log (floats in [0, 1) "
    "crowding near 1, such as momentum) or auto (log when low > 0 and high / low >= 100).",
    "step": "Snap values to low + k * step (linear scale only).",
    "num": "Grid search: this many points spread evenly on the scale.",
    "values": "Grid search: explicit points (low and high then default to their extremes).",
}


def _float_param() -> dict[str, Any]:
    number = {**_NUMBERISH}
    return _section(
        {
            "type": {"const": "float"},
            "low": _key(number, _RANGE_WORDS["low"], kind="number", example=1.0e-4, invalid="a"),
            "high": _key(number, _RANGE_WORDS["high"], kind="number", example=0.3, invalid=[1]),
            "scale": _key(
                {"enum": ["linear", "log", "reverse_log", "auto"]},
                _RANGE_WORDS["scale"],
                kind="linear | log | reverse_log | auto",
                default="auto",
                example="log",
                invalid="logarithmic",
            ),
            "step": _key(
                {"type": "number", "exclusiveMinimum": 0},
                _RANGE_WORDS["step"],
                kind="number > 0",
                example=0.05,
                invalid=-1,
            ),
            "num": _key(
                {"type": "integer", "minimum": 2},
                _RANGE_WORDS["num"],
                kind="integer >= 2",
                example=5,
                invalid=1,
            ),
            "values": _key(
                {"type": "array", "items": number, "minItems": 1},
                _RANGE_WORDS["values"],
                kind="list of numbers",
                example=[0.001, 0.01, 0.1],
                invalid=[],
            ),
            "when": _when(),
        },
        "A real-valued hyperparameter in [low, high].",
        anyOf=[{"required": ["low", "high"]}, {"required": ["values"]}],
    )


def _int_param() -> dict[str, Any]:
    integer: dict[str, Any] = {"type": "integer"}
    return _section(
        {
            "type": {"const": "int"},
            "low": _key(integer, _RANGE_WORDS["low"], kind="integer", example=1, invalid=1.5),
            "high": _key(integer, _RANGE_WORDS["high"], kind="integer", example=4, invalid="x"),
            "scale": _key(
                {"enum": ["linear", "log", "auto"]},
                "How values spread: linear, log (needs low > 0) or auto (log when low > 0 and "
                "high / low >= 100).",
                kind="linear | log | auto",
                default="auto",
                example="log",
                invalid="reverse_log",
            ),
            "step": _key(
                {"type": "integer", "minimum": 1},
                _RANGE_WORDS["step"],
                kind="integer >= 1",
                example=2,
                invalid=0,
            ),
            "num": _key(
                {"type": "integer", "minimum": 2},
                _RANGE_WORDS["num"],
                kind="integer >= 2",
                example=3,
                invalid=1,
            ),
            "values": _key(
                {"type": "array", "items": integer, "minItems": 1},
                _RANGE_WORDS["values"],
                kind="list of integers",
                example=[1, 2, 4],
                invalid=[],
            ),
            "when": _when(),
        },
        "An integer hyperparameter in [low, high], both included.",
        required=("low", "high"),
    )


def _categorical_param() -> dict[str, Any]:
    return _section(
        {
            "type": {"const": "categorical"},
            "values": _key(
                {"type": "array", "items": _SCALAR, "minItems": 1, "uniqueItems": True},
                "The choices: strings, numbers, booleans (unordered, each once).",
                kind="list of scalars",
                example=["adam", "sgd"],
                invalid=[],
            ),
            "when": _when(),
        },
        "One of a list of values.",
        required=("values",),
    )


def _param() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A hyperparameter: its type decides the other keys.",
        "x-type": "mapping",
        "required": ["type"],
        "properties": {
            "type": _key(
                {"enum": ["float", "int", "categorical"]},
                "The hyperparameter's kind.",
                kind="float | int | categorical",
                example="float",
                invalid="double",
            )
        },
        "allOf": [
            {"if": {"properties": {"type": {"const": kind}}}, "then": {"$ref": f"#/$defs/{kind}"}}
            for kind in ("float", "int", "categorical")
        ],
    }


def _trial() -> dict[str, Any]:
    metric = _section(
        {
            "name": _key(
                {"type": "string", "minLength": 1},
                "The metric's name.",
                kind="string",
                example="loss",
                invalid="",
            ),
            "regex": _key(
                {"type": "string", "format": "regex", "pattern": r"\((?!\?)|\(\?P<"},
                "A regular expression with one capture group around the number (or a group "
                "named value; a group named step gives the step).",
                kind="regular expression",
                example="loss=([0-9.]+)",
                invalid="loss=[0-9.]+",
            ),
        },
        "A metric read from the command's output (SageMaker's MetricDefinitions).",
        required=("name", "regex"),
    )
    return _section(
        {
            "python": _key(
                {"type": "string", "pattern": r"^[\w.]+:[\w.]+$"},
                "A Python training function, package.module:function, importable from the "
                "folder tunewise runs in.",
                kind="module:function",
                example="examples.mlp_digits:train",
                invalid="mytrain",
            ),
            "command": _key(
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": ["string", "number"]},
                },
                "A training command as a list of arguments (never one string: no shell). "
                "{name} is replaced by a hyperparameter or static value, {{ and }} are literal "
                "braces.",
                kind="list of arguments",
                example=["python", "train.py", "--lr", "{lr}"],
                invalid="python train.py --lr {lr}",
            ),
            "metrics": _key(
                {"type": "array", "items": {"$ref": "#/$defs/metric"}},
                "Metrics read from a command's output by regular expression; a command may "
                "print tunewise.report's tagged JSON lines instead.",
                kind="list of {name, regex}",
                example=[{"name": "loss", "regex": "loss=([0-9.]+)"}],
                invalid={"name": "loss"},
            ),
            "timeout": _key(
                _DURATION_SCHEMA,
                "How long one trial may run before it is killed (failure kind timeout).",
                kind="duration",
                example="1m",
                invalid="5 minutes",
            ),
            "env": _key(
                {"type": "object", "additionalProperties": {"type": ["string", "number"]}},
                "Environment variables for the trial's process.",
                kind="mapping name -> string",
                example={"OMP_NUM_THREADS": "1"},
                invalid=["A=1"],
            ),
        },
        "How one trial runs: exactly one of python or command.",
        oneOf=[{"required": ["python"]}, {"required": ["command"]}],
    ) | {"$defs_metric": metric}


def _executor() -> dict[str, Any]:
    resources = _section(
        {
            "cpu": _key(
                {"type": "number", "minimum": 0},
                "CPUs each Ray trial asks for (type: ray only).",
                kind="number >= 0",
                default=1,
                example=2,
                invalid=-1,
            ),
            "gpu": _key(
                {"type": "number", "minimum": 0},
                "GPUs each trial asks for: 0.5 shares a device, 2 gives two. Local trials see "
                "their own devices through CUDA_VISIBLE_DEVICES.",
                kind="number >= 0",
                default=0,
                example=1,
                invalid="one",
            ),
        },
        "What each trial asks for.",
    )
    is_ray = {"properties": {"type": {"const": "ray"}}, "required": ["type"]}
    detailed = _section(
        {
            "type": _key(
                {"enum": ["local", "ray"]},
                "local processes on this machine, or tasks on a Ray cluster.",
                kind="local | ray",
                default="local",
                example="ray",
                invalid="kubernetes",
            ),
            "address": _key(
                {"type": "string", "minLength": 1},
                "Ray only: auto (the cluster `ray start` made here, or RAY_ADDRESS), local (a "
                "private Ray on loopback), HOST:PORT or ray://HOST:PORT.",
                kind="string",
                default="auto",
                example="10.0.0.5:6379",
                invalid=5,
            ),
            "resources_per_trial": resources,
            "reuse_processes": _key(
                {"type": "boolean"},
                "Local only: a trial process that ended its trial cleanly runs the next one; "
                "false gives every trial a fresh process.",
                kind="boolean",
                default=True,
                example=False,
                invalid="no",
            ),
            "gpus": _key(
                {
                    "type": "array",
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "integer", "minimum": 0},
                },
                "Local only: the GPU indices to share out (default: those NVML or nvidia-smi "
                "find).",
                kind="list of integers",
                example=[0, 2],
                invalid=[-1],
            ),
        },
        "Where trials run.",
        allOf=[
            {"if": is_ray, "else": {"not": {"required": ["address"]}}},
            {
                "if": is_ray,
                "then": {
                    "not": {"anyOf": [{"required": ["reuse_processes"]}, {"required": ["gpus"]}]}
                },
            },
        ],
    )
    return {
        "anyOf": [{"enum": ["local", "ray"]}, {"$ref": "#/$defs/executor"}],
        "description": "Where trials run: local (the default) or ray, or a mapping.",
        "x-type": "local | ray | mapping",
        "default": "local",
        "examples": [{"type": "ray", "address": "auto", "resources_per_trial": {"cpu": 2}}],
        "x-invalid": "kubernetes",
        "x-section": detailed,
    }


def _tracking() -> dict[str, Any]:
    text: dict[str, Any] = {"type": "string", "minLength": 1}

    def tracker(options: dict[str, str], what: str, **extra: Any) -> dict[str, Any]:
        props = {
            name: _key(text, words, kind="string", invalid=5) for name, words in options.items()
        }
        return {"anyOf": [{"type": "null"}, _section(props, what, **extra)]}

    wandb = tracker(
        {
            "project": "The W&B project.",
            "entity": "The W&B entity (team).",
            "mode": "online, offline or disabled.",
            "dir": "Where W&B writes its files.",
        },
        "Weights & Biases: a group per study, a run per trial.",
    )
    mode = wandb["anyOf"][1]["properties"]["mode"]
    mode.update(
        {"enum": ["online", "offline", "disabled"], "x-invalid": "loud", "default": "online"}
    )
    out = _section(
        {
            "mlflow": tracker(
                {"tracking_uri": "The MLflow server.", "experiment": "The experiment's name."},
                "MLflow: the study a parent run, each trial a nested run.",
            ),
            "wandb": wandb,
            "tensorboard": tracker(
                {"log_dir": "The folder TensorBoard reads (required)."},
                "TensorBoard: an HParams session per trial.",
                required=("log_dir",),
            ),
        },
        "Trackers each finished trial is logged to, from the driver.",
        examples=[{"mlflow": {"tracking_uri": "http://127.0.0.1:5000"}}],
    )
    out["x-invalid"] = {"neptune": {}}
    return out


def _properties() -> dict[str, Any]:
    section = _section
    return {
        "study": _key(
            {"anyOf": [{"type": "string", "pattern": _STUDY}, {"type": "integer", "minimum": 0}]},
            "The study's name: letters, digits, - _ . (at most 128). Running the same spec "
            "again continues the study of that name.",
            kind="string",
            example="mlp-digits",
            invalid="bad name!",
        ),
        "objective": _objective("The metric to optimise"),
        "objectives": _key(
            {"type": "array", "minItems": 1, "items": _objective("One objective")},
            "Several objectives (instead of objective): the result is a Pareto front.",
            kind="list of {metric, direction}",
            example=[
                {"metric": "accuracy", "direction": "maximize"},
                {"metric": "latency_ms", "direction": "minimize"},
            ],
            invalid={"metric": "loss", "direction": "minimize"},
        ),
        "constraints": _key(
            {
                "type": "array",
                "items": section(
                    {
                        "metric": _key(
                            {"type": "string", "minLength": 1},
                            "The metric bounded (reported by the trials).",
                            kind="string",
                            example="memory_mb",
                            invalid="",
                        ),
                        "min": _key(
                            {"type": "number"},
                            "Lowest feasible value.",
                            kind="number",
                            example=0.9,
                            invalid="low",
                        ),
                        "max": _key(
                            {"type": "number"},
                            "Highest feasible value.",
                            kind="number",
                            example=512,
                            invalid="high",
                        ),
                    },
                    "A bound on a metric.",
                    required=("metric",),
                    anyOf=[{"required": ["min"]}, {"required": ["max"]}],
                ),
            },
            "Bounds a trial's metrics must respect for it to be feasible; infeasible trials "
            "are never the best trial nor on the Pareto front.",
            kind="list of {metric, min, max}",
            example=[{"metric": "memory_mb", "max": 512}],
            invalid=[{"metric": "memory_mb"}],
        ),
        "strategy": _key(
            {"enum": list(STRATEGIES)},
            "How the next hyperparameters are chosen (see the strategies page).",
            kind=" | ".join(STRATEGIES),
            default="bayesian",
            example="tpe",
            invalid="hyperband-ish",
        ),
        "space": _key(
            {
                "type": "object",
                "propertyNames": {"pattern": _NAME},
                "additionalProperties": {"$ref": "#/$defs/param"},
            },
            "The hyperparameters searched, by name (a letter or _ first; letters, digits, "
            "_ . - after). Required unless define_by_run: true.",
            kind="mapping name -> hyperparameter",
            example={"lr": {"type": "float", "low": 1.0e-4, "high": 0.1, "scale": "log"}},
            invalid=[],
        ),
        "static": _key(
            {
                "type": "object",
                "propertyNames": {"pattern": _NAME},
                "additionalProperties": {
                    "type": ["string", "number", "boolean", "null", "array", "object"]
                },
            },
            "Fixed values passed to every trial beside the searched ones (any JSON value).",
            kind="mapping name -> value",
            example={"epochs": 20, "dataset": "digits"},
            invalid=[1],
        ),
        "trial": _trial(),
        "limits": section(
            {
                "max_trials": _key(
                    _POSITIVE_INT,
                    "The study's total budget of trials (required for random, sobol, bayesian "
                    "and tpe; grid defaults to its number of points).",
                    kind="integer >= 1",
                    example=40,
                    invalid=0,
                ),
                "max_parallel": _key(
                    _POSITIVE_INT,
                    "How many trials run at once.",
                    kind="integer >= 1",
                    default=1,
                    example=2,
                    invalid=0,
                ),
                "max_runtime": _key(
                    _DURATION_SCHEMA,
                    "The study's wall clock limit: running trials are stopped when it is reached.",
                    kind="duration",
                    example="2h",
                    invalid="soon",
                ),
                "max_consecutive_failures": _key(
                    _POSITIVE_INT,
                    "The study aborts after this many failed trials in a row.",
                    kind="integer >= 1",
                    default=10,
                    example=5,
                    invalid=0,
                ),
            },
            "When the study ends and how much runs at once.",
        ),
        "seed": _key(
            {"type": "integer"},
            "Makes the suggestions reproducible.",
            kind="integer",
            example=7,
            invalid="seven",
        ),
        "storage": _key(
            {"type": "string"},
            "Where the study is kept (flag --storage and TUNEWISE_STORAGE win over it).",
            kind="URL",
            default="sqlite:///tunewise.db",
            example="postgresql://me@db/tuning",
            invalid=5,
        ),
        "runs_dir": _key(
            {"type": "string"},
            "The folder of the trials' folders (logs, params file).",
            kind="path",
            default="tunewise-runs",
            example="runs",
            invalid=["a"],
        ),
        "retries": section(
            {
                "max_attempts": _key(
                    _POSITIVE_INT,
                    "Attempts per trial, the first included (1: never retry).",
                    kind="integer >= 1",
                    default=2,
                    example=3,
                    invalid=0,
                ),
                "on": _key(
                    {"type": "array", "items": {"enum": list(FAILURE_KINDS)}},
                    "The failure kinds that are retried.",
                    kind="list of failure kinds",
                    default=["crashed", "lost"],
                    example=["crashed", "lost", "timeout"],
                    invalid=["oops"],
                ),
            },
            "Which failures run the trial again, as a new attempt of the same trial.",
        ),
        "lease": section(
            {
                "heartbeat": _key(
                    _DURATION_SCHEMA,
                    "How often a running trial's owner proves it is alive.",
                    kind="duration",
                    default=10,
                    example="5s",
                    invalid="often",
                ),
                "grace": _key(
                    _DURATION_SCHEMA,
                    "How long after the last heartbeat the trial is lost (longer than the "
                    "heartbeat).",
                    kind="duration",
                    default=30,
                    example="1m",
                    invalid=0,
                ),
            },
            "How a running trial's owner keeps its claim on it.",
        ),
        "early_stopping": _key(
            {
                "anyOf": [
                    {"type": "null"},
                    {"enum": [False, "off", "median"]},
                    section(
                        {
                            "rule": _key(
                                {"enum": ["median"]},
                                "The rule (median is the one there is).",
                                kind="median",
                                default="median",
                                example="median",
                                invalid="mean",
                            ),
                            "min_trials": _key(
                                _POSITIVE_INT,
                                "Completed trials that must have reached a step before any "
                                "trial is stopped there.",
                                kind="integer >= 1",
                                default=5,
                                example=3,
                                invalid=0,
                            ),
                            "min_steps": _key(
                                _POSITIVE_INT,
                                "The first step at which a trial may be stopped.",
                                kind="integer >= 1",
                                default=1,
                                example=2,
                                invalid=0,
                            ),
                        },
                        "The median rule's settings.",
                    ),
                ]
            },
            "Stop a trial whose reported value is worse than the median of the completed "
            "trials' running averages at the same step (SageMaker's Auto). Acts once min_trials "
            "completed trials reached that step, from step min_steps on.",
            kind="median | off | {rule, min_trials, min_steps}",
            example="median",
            invalid="mean",
        ),
        "hyperband": section(
            {
                "min_resource": _key(
                    _POSITIVE_INT,
                    "The first rung's resource (below max_resource).",
                    kind="integer >= 1",
                    default=1,
                    example=1,
                    invalid=0,
                ),
                "max_resource": _key(
                    _POSITIVE_INT,
                    "The resource a trial that is never stopped gets (default: the static "
                    "epochs / num_epochs / n_epochs / max_iter).",
                    kind="integer >= 1",
                    example=27,
                    invalid=0,
                ),
                "reduction_factor": _key(
                    {"type": "integer", "minimum": 2},
                    "At each rung only the top 1/reduction_factor go on.",
                    kind="integer >= 2",
                    default=3,
                    example=3,
                    invalid=1,
                ),
                "resource": _key(
                    {"type": "string", "minLength": 1},
                    "The static hyperparameter that gets the resource.",
                    kind="string",
                    default="epochs",
                    example="epochs",
                    invalid="",
                ),
                "sampler": _key(
                    {"enum": ["random", "bayesian"]},
                    "How new configurations are drawn.",
                    kind="random | bayesian",
                    default="random",
                    example="bayesian",
                    invalid="tpe",
                ),
            },
            "Settings of strategy: hyperband (asynchronous successive halving over brackets).",
        ),
        "completion": section(
            {
                "target": _key(
                    {"type": "number"},
                    "End the study once a trial reaches this value.",
                    kind="number",
                    example=0.98,
                    invalid="high",
                ),
                "not_improving": section(
                    {
                        "trials": _key(
                            {"type": "integer", "minimum": 3},
                            "Over this many trials.",
                            kind="integer >= 3",
                            example=10,
                            invalid=2,
                        ),
                        "min_delta": _key(
                            {
                                "anyOf": [
                                    {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
                                    {"type": "string", "pattern": r"^\s*[0-9.]+\s*%\s*$"},
                                ]
                            },
                            "The relative improvement that counts (0.01 or 1%).",
                            kind="fraction",
                            default=0,
                            example="1%",
                            invalid=2,
                        ),
                    },
                    "End when the best has not improved by min_delta over trials trials.",
                    required=("trials",),
                ),
                "convergence": _key(
                    {"type": "boolean"},
                    "End when the search has converged (new suggestions land near tried ones).",
                    kind="boolean",
                    default=False,
                    example=True,
                    invalid="yes",
                ),
            },
            "When the whole study ends early (SageMaker's TuningJobCompletionCriteria).",
        ),
        "warm_start": section(
            {
                "parents": _key(
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": 5,
                        "items": {"type": "string", "minLength": 1},
                    },
                    "The earlier studies (1 to 5).",
                    kind="list of study names",
                    example=["mlp-digits-v1"],
                    invalid="mlp-digits-v1",
                ),
                "type": _key(
                    {"enum": ["identical", "transfer"]},
                    "identical reuses the parents' trials as history; transfer only takes their "
                    "best configurations as starting points.",
                    kind="identical | transfer",
                    default="identical",
                    example="transfer",
                    invalid="copy",
                ),
                "storage": _key(
                    {"type": "string"},
                    "Where the parents are (default: the study's store).",
                    kind="URL",
                    example="sqlite:///old.db",
                    invalid=5,
                ),
            },
            "Start from earlier studies (SageMaker's WarmStartConfig).",
            required=("parents",),
        ),
        "enqueue": _key(
            {"type": "array", "items": {"type": "object"}},
            "Configurations to run first, before any suggestion.",
            kind="list of mappings",
            example=[{"lr": 0.01, "layers": 2, "solver": "adam"}],
            invalid={"lr": 0.01},
        ),
        "executor": _executor(),
        "define_by_run": _key(
            {"type": "boolean"},
            "The space is what the trials ask with trial.suggest_* (a Python trial); space may "
            "then be left out.",
            kind="boolean",
            default=False,
            example=True,
            invalid="yes",
        ),
        "tracking": _tracking(),
    }


def schema() -> dict[str, Any]:
    """The spec's JSON Schema (a new dict each call)."""
    properties = _properties()
    trial = properties["trial"]
    metric = trial.pop("$defs_metric")
    executor = properties["executor"]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "tunewise study spec",
        "description": "A study for `tunewise run`: what to search, how to judge it, how trials "
        "run. Some rules between fields (high above low, when: naming a categorical parent, "
        "command placeholders naming a hyperparameter) are checked when the spec loads.",
        "type": "object",
        "required": ["study"],
        "properties": properties,
        "additionalProperties": False,
        "allOf": [
            {"not": {"required": ["objective", "objectives"]}},
            {"anyOf": [{"required": ["objective"]}, {"required": ["objectives"]}]},
            {
                "if": {
                    "properties": {"define_by_run": {"const": True}},
                    "required": ["define_by_run"],
                },
                "else": {"required": ["space"], "properties": {"space": {"minProperties": 1}}},
            },
            {
                "if": {"required": ["hyperband"]},
                "then": {
                    "required": ["strategy"],
                    "properties": {"strategy": {"const": "hyperband"}},
                },
            },
        ],
        "$defs": {
            "param": _param(),
            "float": _float_param(),
            "int": _int_param(),
            "categorical": _categorical_param(),
            "metric": metric,
            "executor": executor.pop("x-section"),
        },
    }


def schema_text() -> str:
    """The schema as the published file holds it (sorted keys, two-space indent)."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
