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

from tunewise.schema_parts import (
    AT_LEAST_TWO,
    COUNT,
    FAILURE_KINDS,
    FLAG,
    NAME,
    POSITIVE,
    STRATEGIES,
    STUDY,
    TEXT,
    TIME,
    URL,
    categorical_param,
    cost,
    executor,
    float_param,
    int_param,
    key,
    objective,
    param,
    section,
    tracking,
    trial,
)

__all__ = ["SCHEMA_ID", "STRATEGIES", "schema", "schema_text"]

SCHEMA_ID = "urn:tunewise:spec-schema"


def _properties() -> dict[str, Any]:
    return {
        "study": key(
            {"anyOf": [{"type": "string", "pattern": STUDY}, {"type": "integer", "minimum": 0}]},
            "The study's name: letters, digits, - _ . (at most 128). Running the same spec "
            "again continues the study of that name.",
            kind="string",
            example="mlp-digits",
            invalid="bad name!",
        ),
        "objective": objective("The metric to optimise"),
        "objectives": key(
            {"type": "array", "minItems": 1, "items": objective("One objective")},
            "Several objectives (instead of objective): the result is a Pareto front.",
            kind="list of {metric, direction}",
            example=[
                {"metric": "accuracy", "direction": "maximize"},
                {"metric": "latency_ms", "direction": "minimize"},
            ],
            invalid={"metric": "loss", "direction": "minimize"},
        ),
        "constraints": key(
            {
                "type": "array",
                "items": section(
                    {
                        "metric": TEXT(
                            "The metric bounded (reported by the trials).", example="memory_mb"
                        ),
                        "min": key(
                            {"type": "number"},
                            "Lowest feasible value.",
                            kind="number",
                            example=0.9,
                            invalid="low",
                        ),
                        "max": key(
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
        "strategy": key(
            {"enum": list(STRATEGIES)},
            "How the next hyperparameters are chosen (see the strategies page).",
            kind=" | ".join(STRATEGIES),
            default="bayesian",
            example="tpe",
            invalid="hyperband-ish",
        ),
        "space": key(
            {
                "type": "object",
                "propertyNames": {"pattern": NAME},
                "additionalProperties": {"$ref": "#/$defs/param"},
            },
            "The hyperparameters searched, by name (a letter or _ first; letters, digits, "
            "_ . - after). Required unless define_by_run: true.",
            kind="mapping name -> hyperparameter",
            example={"lr": {"type": "float", "low": 1.0e-4, "high": 0.1, "scale": "log"}},
            invalid=[],
        ),
        "static": key(
            {
                "type": "object",
                "propertyNames": {"pattern": NAME},
                "additionalProperties": {
                    "type": ["string", "number", "boolean", "null", "array", "object"]
                },
            },
            "Fixed values passed to every trial beside the searched ones (any JSON value).",
            kind="mapping name -> value",
            example={"epochs": 20, "dataset": "digits"},
            invalid=[1],
        ),
        "trial": trial(),
        "limits": section(
            {
                "max_trials": COUNT(
                    "The study's total budget of trials (required for random, sobol, bayesian "
                    "and tpe; grid defaults to its number of points).",
                    example=40,
                ),
                "max_parallel": COUNT("How many trials run at once.", default=1, example=2),
                "max_runtime": TIME(
                    "The study's wall clock limit: running trials are stopped when it is reached.",
                    example="2h",
                ),
                "max_consecutive_failures": COUNT(
                    "The study aborts after this many failed trials in a row.",
                    default=10,
                    example=5,
                ),
                "max_cost": POSITIVE(
                    "The study's budget in the units of cost (money, GPU-hours): it ends there "
                    "and starts no trial expected to overrun it. Needs cost.",
                    example=50,
                ),
            },
            "When the study ends and how much runs at once.",
        ),
        "seed": key(
            {"type": "integer"},
            "Makes the suggestions reproducible.",
            kind="integer",
            example=7,
            invalid="seven",
        ),
        "storage": URL(
            "Where the study is kept (flag --storage and TUNEWISE_STORAGE win over it).",
            default="sqlite:///tunewise.db",
            example="postgresql://me@db/tuning",
        ),
        "runs_dir": key(
            {"type": "string"},
            "The folder of the trials' folders (logs, params file).",
            kind="path",
            default="tunewise-runs",
            example="runs",
            invalid=["a"],
        ),
        "retries": section(
            {
                "max_attempts": COUNT(
                    "Attempts per trial, the first included (1: never retry).",
                    default=2,
                    example=3,
                ),
                "on": key(
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
                "heartbeat": TIME(
                    "How often a running trial's owner proves it is alive.",
                    default=10,
                    example="5s",
                    invalid="often",
                ),
                "grace": TIME(
                    "How long after the last heartbeat the trial is lost (longer than the "
                    "heartbeat).",
                    default=30,
                    example="1m",
                    invalid=0,
                ),
            },
            "How a running trial's owner keeps its claim on it.",
        ),
        "early_stopping": key(
            {
                "anyOf": [
                    {"type": "null"},
                    {"enum": [False, "off", "median"]},
                    section(
                        {
                            "rule": key(
                                {"enum": ["median"]},
                                "The rule (median is the one there is).",
                                kind="median",
                                default="median",
                                example="median",
                                invalid="mean",
                            ),
                            "min_trials": COUNT(
                                "Completed trials that must have reached a step before any "
                                "trial is stopped there.",
                                default=5,
                                example=3,
                            ),
                            "min_steps": COUNT(
                                "The first step at which a trial may be stopped.",
                                default=1,
                                example=2,
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
                "min_resource": COUNT(
                    "The first rung's resource (below max_resource).", default=1, example=1
                ),
                "max_resource": COUNT(
                    "The resource a trial that is never stopped gets (default: the static "
                    "epochs / num_epochs / n_epochs / max_iter).",
                    example=27,
                ),
                "reduction_factor": AT_LEAST_TWO(
                    "At each rung only the top 1/reduction_factor go on.", default=3, example=3
                ),
                "resource": TEXT(
                    "The static hyperparameter that gets the resource.",
                    default="epochs",
                    example="epochs",
                ),
                "sampler": key(
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
                "target": key(
                    {
                        "anyOf": [
                            {"type": "number"},
                            {
                                "type": "object",
                                "minProperties": 1,
                                "additionalProperties": {"type": "number"},
                            },
                        ]
                    },
                    "End the study once a trial reaches this value of the objective; with "
                    "several objectives, a value per objective ({accuracy: 0.98, latency_ms: "
                    "20}), all reached by one trial.",
                    kind="number, or metric -> number",
                    example=0.98,
                    invalid="high",
                ),
                "not_improving": section(
                    {
                        "trials": key(
                            {"type": "integer", "minimum": 3},
                            "Over this many trials.",
                            kind="integer >= 3",
                            example=10,
                            invalid=2,
                        ),
                        "min_delta": key(
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
                "convergence": FLAG(
                    "End when the search has converged (new suggestions land near tried ones).",
                    default=False,
                    example=True,
                ),
            },
            "When the whole study ends early (SageMaker's TuningJobCompletionCriteria).",
        ),
        "warm_start": section(
            {
                "parents": key(
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
                "type": key(
                    {"enum": ["identical", "transfer"]},
                    "identical reuses the parents' trials as history; transfer only takes their "
                    "best configurations as starting points.",
                    kind="identical | transfer",
                    default="identical",
                    example="transfer",
                    invalid="copy",
                ),
                "storage": URL(
                    "Where the parents are (default: the study's store).",
                    example="sqlite:///old.db",
                ),
            },
            "Start from earlier studies (SageMaker's WarmStartConfig).",
            required=("parents",),
        ),
        "enqueue": key(
            {"type": "array", "items": {"type": "object"}},
            "Configurations to run first, before any suggestion.",
            kind="list of mappings",
            example=[{"lr": 0.01, "layers": 2, "solver": "adam"}],
            invalid={"lr": 0.01},
        ),
        "executor": executor(),
        "define_by_run": FLAG(
            "The space is what the trials ask with trial.suggest_* (a Python trial); space may "
            "then be left out.",
            default=False,
            example=True,
        ),
        "tracking": tracking(),
        "cost": cost(),
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
                "if": {
                    "properties": {"limits": {"required": ["max_cost"]}},
                    "required": ["limits"],
                },
                "then": {"required": ["cost"]},
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
            "param": param(),
            "float": float_param(),
            "int": int_param(),
            "categorical": categorical_param(),
            "metric": metric,
            "executor": executor.pop("x-section"),
        },
    }


def schema_text() -> str:
    """The schema as the published file holds it (sorted keys, two-space indent)."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
