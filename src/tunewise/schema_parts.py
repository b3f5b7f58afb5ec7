"""The building blocks of the spec's JSON Schema (:mod:`tunewise.schema` assembles them): the
patterns, the annotated key and section helpers, and the schemas of the nested sections
(hyperparameters, trial, executor, tracking). Data, not logic: each key says what it is, its
type in words (``x-type``), its default, an example and a wrong value (``x-invalid``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tunewise.policies import RETRYABLE_KINDS

NAME = r"^[A-Za-z_][A-Za-z0-9_.\-]*$"
STUDY = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
#: A number written as text (YAML 1.1 tools write ``1e-4`` as a string); no nan or inf.
NUMBER_TEXT = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"
#: ``90``, ``"90s"``, ``"5m"``, ``"1h30m"``, ``"1.5d"``, ``"250ms"``: positive (a digit 1-9).
DURATION = (
    r"^(?=.*[1-9])\s*([0-9]+(\.[0-9]+)?\s*([mM][sS]|[sSmMhHdD])\s*)+$"
    r"|^(?=.*[1-9])\s*[0-9]+(\.[0-9]+)?\s*$"
)
DIRECTION = r"^([Mm][Ii][Nn][Ii][Mm][Ii][Zz][Ee]|[Mm][Aa][Xx][Ii][Mm][Ii][Zz][Ee])$"
STRATEGIES = ("bayesian", "tpe", "grid", "random", "sobol", "hyperband")
#: The failure kinds ``retries.on`` may name: the retry policy's own list.
FAILURE_KINDS = RETRYABLE_KINDS


def key(
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


def section(
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


POSITIVE_INT: dict[str, Any] = {"type": "integer", "minimum": 1}
#: A finite number: YAML can write .inf, which no bound of a range may be (NaN, which compares
#: with nothing, is beyond JSON Schema: the spec refuses it).
FINITE: dict[str, Any] = {
    "type": "number",
    "minimum": -1.7976931348623157e308,
    "maximum": 1.7976931348623157e308,
}
NUMBERISH: dict[str, Any] = {"anyOf": [FINITE, {"type": "string", "pattern": NUMBER_TEXT}]}
DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": DURATION},
    ]
}
SCALAR: dict[str, Any] = {"type": ["string", "number", "boolean", "null"]}


@dataclass(frozen=True)
class Kind:
    """A kind of value many keys share: its schema, its type in words and a wrong value.

    Calling it makes one key of that kind, so a key states only what is its own (its words,
    default and example) and keys of one kind cannot drift apart in schema or in words.
    """

    schema: Mapping[str, Any]
    words: str
    invalid: Any

    def __call__(
        self, description: str, *, example: Any = None, default: Any = None, invalid: Any = None
    ) -> dict[str, Any]:
        """The key's schema; ``invalid`` replaces the kind's wrong value where given."""
        return key(
            dict(self.schema),
            description,
            kind=self.words,
            default=default,
            example=example,
            invalid=self.invalid if invalid is None else invalid,
        )


COUNT = Kind(POSITIVE_INT, "integer >= 1", 0)
AT_LEAST_TWO = Kind({"type": "integer", "minimum": 2}, "integer >= 2", 1)
POSITIVE = Kind({"type": "number", "exclusiveMinimum": 0}, "number > 0", 0)
NON_NEGATIVE = Kind({"type": "number", "minimum": 0}, "number >= 0", -1)
TEXT = Kind({"type": "string", "minLength": 1}, "string", "")
URL = Kind({"type": "string"}, "URL", 5)
FLAG = Kind({"type": "boolean"}, "boolean", "yes")
TIME = Kind(DURATION_SCHEMA, "duration", "soon")


def objective(where: str) -> dict[str, Any]:
    return section(
        {
            "metric": TEXT(
                "The metric's name: a key of the dict the training function returns, or a "
                "metric a command reports.",
                example="log_loss",
            ),
            "direction": key(
                {
                    "anyOf": [
                        {"enum": ["minimize", "maximize"]},
                        {"type": "string", "pattern": DIRECTION},
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


def when() -> dict[str, Any]:
    return key(
        {
            "type": "object",
            "propertyNames": {"pattern": NAME},
            "minProperties": 1,
            "additionalProperties": {
                "anyOf": [SCALAR, {"type": "array", "items": SCALAR, "minItems": 1}]
            },
        },
        "A condition: the hyperparameter is searched (active) only when each named categorical "
        "parent takes one of the listed values; in other trials it is absent. Parents come "
        "before children; the conditions may not form a cycle.",
        kind="mapping parent -> values",
        example={"solver": ["sgd"]},
        invalid=["sgd"],
    )


RANGE_WORDS = {
    "low": "The smallest value (included).",
    "high": "The largest value (included); must be greater than low.",
    "scale": "How values spread: linear, log (needs low > 0), reverse_log (floats in [0, 1) "
    "crowding near 1, such as momentum) or auto (log when low > 0 and high / low >= 100).",
    "step": "Snap values to low + k * step (linear scale only).",
    "num": "Grid search: this many points spread evenly on the scale.",
    "values": "Grid search: explicit points (low and high then default to their extremes).",
}


def _grid_and_when(item: dict[str, Any], items: str, num: int, values: list[Any]) -> dict[str, Any]:
    """The keys a float and an int range both end with: the grid's points and the condition."""
    return {
        "num": AT_LEAST_TWO(RANGE_WORDS["num"], example=num),
        "values": key(
            {"type": "array", "items": item, "minItems": 1},
            RANGE_WORDS["values"],
            kind=f"list of {items}",
            example=values,
            invalid=[],
        ),
        "when": when(),
    }


def float_param() -> dict[str, Any]:
    number = {**NUMBERISH}
    return section(
        {
            "type": {"const": "float"},
            "low": key(number, RANGE_WORDS["low"], kind="number", example=1.0e-4, invalid="a"),
            "high": key(number, RANGE_WORDS["high"], kind="number", example=0.3, invalid=[1]),
            "scale": key(
                {"enum": ["linear", "log", "reverse_log", "auto"]},
                RANGE_WORDS["scale"],
                kind="linear | log | reverse_log | auto",
                default="auto",
                example="log",
                invalid="logarithmic",
            ),
            "step": POSITIVE(RANGE_WORDS["step"], example=0.05, invalid=-1),
            **_grid_and_when(number, "numbers", 5, [0.001, 0.01, 0.1]),
        },
        "A real-valued hyperparameter in [low, high].",
        anyOf=[{"required": ["low", "high"]}, {"required": ["values"]}],
    )


def int_param() -> dict[str, Any]:
    integer: dict[str, Any] = {"type": "integer"}
    return section(
        {
            "type": {"const": "int"},
            "low": key(integer, RANGE_WORDS["low"], kind="integer", example=1, invalid=1.5),
            "high": key(integer, RANGE_WORDS["high"], kind="integer", example=4, invalid="x"),
            "scale": key(
                {"enum": ["linear", "log", "auto"]},
                "How values spread: linear, log (needs low > 0) or auto (log when low > 0 and "
                "high / low >= 100).",
                kind="linear | log | auto",
                default="auto",
                example="log",
                invalid="reverse_log",
            ),
            "step": COUNT(RANGE_WORDS["step"], example=2),
            **_grid_and_when(integer, "integers", 3, [1, 2, 4]),
        },
        "An integer hyperparameter in [low, high], both included.",
        required=("low", "high"),
    )


def categorical_param() -> dict[str, Any]:
    return section(
        {
            "type": {"const": "categorical"},
            "values": key(
                {"type": "array", "items": SCALAR, "minItems": 1, "uniqueItems": True},
                "The choices: strings, numbers, booleans (unordered, each once).",
                kind="list of scalars",
                example=["adam", "sgd"],
                invalid=[],
            ),
            "when": when(),
        },
        "One of a list of values.",
        required=("values",),
    )


def param() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A hyperparameter: its type decides the other keys.",
        "x-type": "mapping",
        "required": ["type"],
        "properties": {
            "type": key(
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


def trial() -> dict[str, Any]:
    metric = section(
        {
            "name": TEXT("The metric's name.", example="loss"),
            "regex": key(
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
    return section(
        {
            "python": key(
                {"type": "string", "pattern": r"^[\w.]+:[\w.]+$"},
                "A Python training function, package.module:function, importable from the "
                "folder tunewise runs in.",
                kind="module:function",
                example="examples.mlp_digits:train",
                invalid="mytrain",
            ),
            "command": key(
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
            "metrics": key(
                {"type": "array", "items": {"$ref": "#/$defs/metric"}},
                "Metrics read from a command's output by regular expression; a command may "
                "print tunewise.report's tagged JSON lines instead.",
                kind="list of {name, regex}",
                example=[{"name": "loss", "regex": "loss=([0-9.]+)"}],
                invalid={"name": "loss"},
            ),
            "timeout": TIME(
                "How long one trial may run before it is killed (failure kind timeout).",
                example="1m",
                invalid="5 minutes",
            ),
            "env": key(
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


def executor() -> dict[str, Any]:
    resources = section(
        {
            "cpu": NON_NEGATIVE(
                "CPUs each Ray trial asks for (type: ray only).", default=1, example=2
            ),
            "gpu": NON_NEGATIVE(
                "GPUs each trial asks for: 0.5 shares a device, 2 gives two. Local trials see "
                "their own devices through CUDA_VISIBLE_DEVICES.",
                default=0,
                example=1,
                invalid="one",
            ),
        },
        "What each trial asks for.",
    )
    is_ray = {"properties": {"type": {"const": "ray"}}, "required": ["type"]}
    detailed = section(
        {
            "type": key(
                {"enum": ["local", "ray"]},
                "local processes on this machine, or tasks on a Ray cluster.",
                kind="local | ray",
                default="local",
                example="ray",
                invalid="kubernetes",
            ),
            "address": TEXT(
                "Ray only: auto (the cluster `ray start` made here, or RAY_ADDRESS), local (a "
                "private Ray on loopback), HOST:PORT or ray://HOST:PORT.",
                default="auto",
                example="10.0.0.5:6379",
                invalid=5,
            ),
            "resources_per_trial": resources,
            "reuse_processes": FLAG(
                "Local only: a trial process that ended its trial cleanly runs the next one; "
                "false gives every trial a fresh process.",
                default=True,
                example=False,
                invalid="no",
            ),
            "gpus": key(
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


def tracking() -> dict[str, Any]:

    def tracker(options: dict[str, str], what: str, **extra: Any) -> dict[str, Any]:
        props = {name: TEXT(words, invalid=5) for name, words in options.items()}
        return {"anyOf": [{"type": "null"}, section(props, what, **extra)]}

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
    out = section(
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


def cost() -> dict[str, Any]:
    """``cost``: what a trial costs, for ``limits.max_cost`` (tunewise.cost)."""
    out = section(
        {
            "per_hour": POSITIVE(
                "A price per trial-hour, times the GPUs each trial holds (1 without GPUs); "
                "per_hour: 1 makes the budget GPU-hours.",
                example=3.06,
            ),
            "metric": TEXT(
                "A metric each trial reports; its last value is the trial's cost.",
                example="dollars",
            ),
            "aware": FLAG(
                "bayesian weighs expected improvement per unit of expected cost.",
                default=False,
                example=True,
            ),
        },
        "What a trial costs: give per_hour or metric (one of them).",
        examples=[{"per_hour": 3.06}],
    )
    out["oneOf"] = [{"required": ["per_hour"]}, {"required": ["metric"]}]
    return out
