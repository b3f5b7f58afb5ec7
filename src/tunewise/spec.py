"""The study spec: what a YAML/JSON file (or a Python call) says a study is, validated.

Validation happens here, where user input enters, and every error is a :class:`SpecError`
whose message starts with the path of the field to fix (``space.momentum.high``). Checks that
need the machine (is the command on PATH, does the Python target import) belong to the runners
(:func:`tunewise.runners.build_runner`), so this module stays free of I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tunewise.cost import CostSpec, check_cost_spec
from tunewise.errors import SpecError
from tunewise.policies import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    RETRYABLE_KINDS,
    CompletionCriteria,
    EarlyStopping,
    ExecutorSpec,
    Hyperband,
    LeasePolicy,
    Limits,
    RetryPolicy,
    WarmStart,
)
from tunewise.space import Space
from tunewise.tracking import check_tracking
from tunewise.trial import Constraint, Objective
from tunewise.validation import check_json_value, check_keys, check_text, parse_duration

__all__ = [
    "DEFAULT_MAX_CONSECUTIVE_FAILURES",
    "DEFAULT_STRATEGY",
    "RETRYABLE_KINDS",
    "CompletionCriteria",
    "EarlyStopping",
    "ExecutorSpec",
    "Hyperband",
    "LeasePolicy",
    "Limits",
    "MetricDefinition",
    "RetryPolicy",
    "StudySpec",
    "TrialSpec",
    "WarmStart",
    "parse_duration",
    "parse_spec_text",
]

STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")
PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
DEFAULT_STRATEGY = "bayesian"


@dataclass(frozen=True)
class MetricDefinition:
    """A metric read from a command's output by a regular expression (SageMaker style).

    The number is the named group ``value`` or else the first group; an optional named group
    ``step`` gives the step (else each match is the next step).
    """

    name: str
    regex: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError("name", "must be a non-empty metric name")
        if not isinstance(self.regex, str) or not self.regex:
            raise SpecError("regex", "must be a non-empty regular expression")
        try:
            compiled = re.compile(self.regex)
        except re.error as exc:
            raise SpecError("regex", f"does not compile ({exc}); fix the pattern") from None
        if compiled.groups == 0:
            raise SpecError("regex", "needs a capture group around the number, e.g. loss=([0-9.]+)")
        if compiled.groups > 1 and "value" not in compiled.groupindex:
            unnamed = compiled.groups - len(compiled.groupindex)
            if unnamed != 1:
                raise SpecError("regex", "has several groups: name the number (?P<value>...)")

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.regex)

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "regex": self.regex}


@dataclass(frozen=True)
class TrialSpec:
    """How one trial runs: a Python target ``module:function`` or a command template."""

    python: str | None = None
    command: tuple[str, ...] | None = None
    metrics: tuple[MetricDefinition, ...] = ()
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.python is not None:
            out["python"] = self.python
        if self.command is not None:
            out["command"] = list(self.command)
        if self.metrics:
            out["metrics"] = [m.to_dict() for m in self.metrics]
        if self.timeout is not None:
            out["timeout"] = self.timeout
        if self.env:
            out["env"] = dict(self.env)
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "trial") -> TrialSpec:
        data = check_keys(data, path, ("python", "command", "metrics", "timeout", "env"))
        python, command = data.get("python"), data.get("command")
        if (python is None) == (command is None):
            raise SpecError(
                path, "give exactly one of `python: module:function` or `command: [...]`"
            )
        if python is not None and (
            not isinstance(python, str) or not re.fullmatch(r"[\w.]+:[\w.]+", python)
        ):
            raise SpecError(
                f"{path}.python", f"must look like package.module:function, got {python!r}"
            )
        argv: tuple[str, ...] | None = None
        if command is not None:
            if isinstance(command, str):
                raise SpecError(
                    f"{path}.command",
                    "must be a list of arguments such as [python, train.py, --lr, '{lr}'], "
                    "never one string (it is not passed through a shell)",
                )
            if not isinstance(command, Sequence) or not command:
                raise SpecError(f"{path}.command", "must be a non-empty list of arguments")
            for i, arg in enumerate(command):
                if isinstance(arg, bool) or not isinstance(arg, str | int | float):
                    raise SpecError(f"{path}.command[{i}]", f"must be a string, got {arg!r}")
                check_text(str(arg), f"{path}.command[{i}]")
            argv = tuple(str(a) for a in command)
        metrics_data = data.get("metrics", [])
        if not isinstance(metrics_data, Sequence) or isinstance(metrics_data, str):
            raise SpecError(f"{path}.metrics", "must be a list of {name, regex}")
        metrics: list[MetricDefinition] = []
        for i, item in enumerate(metrics_data):
            where = f"{path}.metrics[{i}]"
            item = check_keys(item, where, ("name", "regex"))
            try:
                metrics.append(MetricDefinition(item.get("name", ""), item.get("regex", "")))
            except SpecError as exc:
                raise SpecError(f"{where}.{exc.field}", exc.message) from None
        names = [m.name for m in metrics]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise SpecError(f"{path}.metrics[{i}].name", f"metric {name!r} is defined twice")
        timeout = None
        if data.get("timeout") is not None:
            timeout = parse_duration(data["timeout"], f"{path}.timeout")
        env = data.get("env") or {}
        if not isinstance(env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str | int | float) for k, v in env.items()
        ):
            raise SpecError(f"{path}.env", "must map variable names to string values")
        for key, value in env.items():
            check_text(key, f"{path}.env")
            check_text(str(value), f"{path}.env.{key}")
        return cls(python, argv, tuple(metrics), timeout, {k: str(v) for k, v in env.items()})


@dataclass(frozen=True)
class StudySpec:
    """A validated study definition; ``to_dict`` is what the store keeps."""

    name: str
    objective: Objective
    space: Space
    strategy: str = DEFAULT_STRATEGY
    trial: TrialSpec | None = None
    limits: Limits = field(default_factory=Limits)
    seed: int | None = None
    storage: str | None = None
    runs_dir: str | None = None
    retries: RetryPolicy = field(default_factory=RetryPolicy)
    lease: LeasePolicy = field(default_factory=LeasePolicy)
    early_stopping: EarlyStopping | None = None
    hyperband: Hyperband | None = None
    completion: CompletionCriteria = field(default_factory=CompletionCriteria)
    warm_start: WarmStart | None = None
    enqueue: tuple[Mapping[str, Any], ...] = ()
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    #: Define-by-run: the space is what the trials ask with ``trial.suggest_*`` (it starts
    #: empty and grows; ``space`` holds what the study has seen).
    define_by_run: bool = False
    #: Trackers each finished trial is logged to: ``{mlflow: {tracking_uri, experiment}}``.
    tracking: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    #: Every objective, the first being ``objective`` (always at least one; several make a
    #: multi-objective study whose result is a Pareto front).
    objectives: tuple[Objective, ...] = ()
    #: Bounds a trial's metrics must respect for it to be feasible.
    constraints: tuple[Constraint, ...] = ()
    #: What a trial costs (``per_hour`` or a reported ``metric``): see :mod:`tunewise.cost`.
    cost: CostSpec | None = None

    KEYS = (
        "study",
        "objective",
        "objectives",
        "constraints",
        "strategy",
        "space",
        "static",
        "trial",
        "limits",
        "seed",
        "storage",
        "runs_dir",
        "retries",
        "lease",
        "early_stopping",
        "hyperband",
        "completion",
        "warm_start",
        "enqueue",
        "executor",
        "define_by_run",
        "tracking",
        "cost",
    )

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not STUDY_NAME.fullmatch(self.name):
            raise SpecError(
                "study", f"{self.name!r} is not a valid name: use letters, digits, - _ ."
            )
        if not isinstance(self.strategy, str) or not self.strategy:
            raise SpecError("strategy", "must be a strategy name such as random or grid")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise SpecError("seed", f"must be an integer, got {self.seed!r}")
        self._resolve_objectives()
        self._resolve_hyperband()
        check_cost_spec(self)
        if self.define_by_run and self.strategy == "grid":
            raise SpecError("strategy", "grid needs a declared space; define-by-run has none")
        if self.define_by_run and self.trial is not None and self.trial.command is not None:
            raise SpecError(
                "define_by_run",
                "needs a Python trial (trial.python) whose function calls trial.suggest_*",
            )
        object.__setattr__(self, "tracking", check_tracking(self.tracking))
        enqueued = []
        for i, params in enumerate(self.enqueue):
            if not isinstance(params, Mapping):
                raise SpecError(f"enqueue[{i}]", "must map hyperparameter names to values")
            enqueued.append(self.space.validate(params, path=f"enqueue[{i}]"))
        object.__setattr__(self, "enqueue", tuple(enqueued))
        if self.trial is not None and self.trial.command is not None:
            known = set(self.space.params) | set(self.space.static)
            for i, arg in enumerate(self.trial.command):
                for name in PLACEHOLDER.findall(arg.replace("{{", "").replace("}}", "")):
                    if name not in known:
                        raise SpecError(
                            f"trial.command[{i}]",
                            f"{{{name}}} names no hyperparameter; "
                            f"known: {', '.join(sorted(known))}",
                        )
                    if name in self.space.params and self.space.params[name].when:
                        raise SpecError(
                            f"trial.command[{i}]",
                            f"{{{name}}} is conditional (absent from trials where it is "
                            "inactive); read it from TUNEWISE_PARAMS_FILE or TUNEWISE_PARAMS",
                        )

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    def _resolve_objectives(self) -> None:
        """``objectives`` always holds at least ``objective``; metrics appear once."""
        objectives = tuple(self.objectives) or (self.objective,)
        for i, objective in enumerate(objectives):
            if not isinstance(objective, Objective):
                raise SpecError(f"objectives[{i}]", "must be an Objective(metric, direction)")
            if objective.metric in [o.metric for o in objectives[:i]]:
                raise SpecError(
                    f"objectives[{i}].metric", f"{objective.metric!r} is an objective twice"
                )
        if objectives[0] != self.objective:
            raise SpecError("objectives", "the first objective must be `objective`")
        object.__setattr__(self, "objectives", objectives)
        constraints = tuple(self.constraints)
        for i, constraint in enumerate(constraints):
            if not isinstance(constraint, Constraint):
                raise SpecError(f"constraints[{i}]", "must be a Constraint(metric, min, max)")
        object.__setattr__(self, "constraints", constraints)
        target = self.completion.target
        metrics = [o.metric for o in objectives]
        if isinstance(target, Mapping):
            for key in target:
                if key not in metrics:
                    raise SpecError(
                        f"completion.target.{key}",
                        f"names no objective; the objectives are {', '.join(metrics)}",
                    )
        elif target is not None and len(objectives) > 1:
            example = ", ".join(f"{m}: ..." for m in metrics)
            raise SpecError("completion.target", f"give a value per objective, e.g. {{{example}}}")
        if len(objectives) > 1:
            supported = (
                "several objectives are supported with the strategies random, sobol, grid, "
                "bayesian and tpe, without early stopping"
            )
            if self.strategy == "hyperband":
                raise SpecError("strategy", f"hyperband needs one objective; {supported}")
            if self.early_stopping is not None:
                raise SpecError(
                    "early_stopping", f"judges one objective, this study has several; {supported}"
                )

    def _resolve_hyperband(self) -> None:
        """Hyperband needs its resource; the trial gets it as a static value (max_resource)."""
        if self.strategy != "hyperband":
            if self.hyperband is not None:
                raise SpecError("hyperband", "applies only to strategy: hyperband")
            return
        if self.early_stopping is not None:
            raise SpecError(
                "early_stopping", "hyperband already stops trials early; drop one of the two"
            )
        hyperband = self.hyperband or Hyperband.from_dict({}, self.space.static)
        assert hyperband.resource is not None and hyperband.max_resource is not None
        if hyperband.resource in self.space.params:
            raise SpecError(
                f"space.{hyperband.resource}",
                "is the Hyperband resource; hyperband sets it, so it cannot be searched",
            )
        if hyperband.resource not in self.space.static:
            static = {**self.space.static, hyperband.resource: hyperband.max_resource}
            object.__setattr__(self, "space", Space(self.space.params, static))
        object.__setattr__(self, "hyperband", hyperband)

    def with_overrides(self, **changes: Any) -> StudySpec:
        """A copy with some fields changed (CLI flags); validation runs again."""
        limits = {k: changes.pop(k) for k in list(changes) if k in Limits.__dataclass_fields__}
        spec = replace(self, **changes)
        if limits:
            spec = replace(spec, limits=Limits.from_dict({**spec.limits.to_dict(), **limits}))
        return spec

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "study": self.name,
            "objective": self.objective.to_dict(),
            "strategy": self.strategy,
            "space": {n: p.to_dict() for n, p in self.space.params.items()},
            "static": dict(self.space.static),
            "limits": self.limits.to_dict(),
            "seed": self.seed,
            "retries": self.retries.to_dict(),
            "lease": self.lease.to_dict(),
        }
        if self.multi_objective:
            del out["objective"]
            out = {"study": self.name, "objectives": [o.to_dict() for o in self.objectives], **out}
        if self.constraints:
            out["constraints"] = [c.to_dict() for c in self.constraints]
        if self.early_stopping is not None:
            out["early_stopping"] = self.early_stopping.to_dict()
        if self.hyperband is not None:
            out["hyperband"] = self.hyperband.to_dict()
        if self.completion != CompletionCriteria():
            out["completion"] = self.completion.to_dict()
        if self.warm_start is not None:
            out["warm_start"] = self.warm_start.to_dict()
        if self.enqueue:
            out["enqueue"] = [dict(p) for p in self.enqueue]
        if self.executor != ExecutorSpec():
            out["executor"] = self.executor.to_dict()
        if self.define_by_run:
            out["define_by_run"] = True
        if self.tracking:
            out["tracking"] = {k: dict(v) for k, v in self.tracking.items()}
        if self.cost is not None:
            out["cost"] = self.cost.to_dict()
        if self.trial is not None:
            out["trial"] = self.trial.to_dict()
        if self.storage is not None:
            out["storage"] = self.storage
        if self.runs_dir is not None:
            out["runs_dir"] = self.runs_dir
        return out

    def search_definition(self) -> dict[str, Any]:
        """The parts that make two runs the same study (resuming needs them equal)."""
        data = self.to_dict()
        keys = ("objective", "objectives", "constraints", "strategy", "space", "static")
        out = {k: data[k] for k in keys if k in data}
        if self.define_by_run:  # its space grows as its trials ask: not part of its identity
            out["space"] = "define-by-run"
        return out

    @classmethod
    def from_dict(cls, data: Any) -> StudySpec:
        """Validate the spec form (see the README) and build a spec; raises SpecError."""
        data = check_keys(data, "", cls.KEYS)
        define_by_run = data.get("define_by_run", False)
        if not isinstance(define_by_run, bool):
            raise SpecError("define_by_run", f"must be true or false, got {define_by_run!r}")
        required_keys = ("study",) if define_by_run else ("study", "space")
        for required in required_keys:
            if required not in data:
                raise SpecError(required, "is required")
        objectives = _objectives(data)
        constraints = _constraints(data.get("constraints"))
        static = data.get("static") or {}
        if not isinstance(static, Mapping):
            raise SpecError("static", "must map names to fixed values")
        check_json_value(static, "static")  # (Space checks it too, for the Python API)
        space_data = data.get("space", {}) if define_by_run else data["space"]
        space = Space.from_dict(space_data, static, allow_empty=define_by_run)
        trial = TrialSpec.from_dict(data["trial"]) if data.get("trial") is not None else None
        storage = data.get("storage")
        if storage is not None and not isinstance(storage, str):
            raise SpecError("storage", "must be a URL such as sqlite:///tunewise.db")
        runs_dir = data.get("runs_dir")
        if runs_dir is not None and not isinstance(runs_dir, str):
            raise SpecError("runs_dir", "must be a folder path")
        for key in ("storage", "runs_dir"):
            if data.get(key) is not None:
                check_text(data[key], key)
        name = data["study"]
        if isinstance(name, bool) or not isinstance(name, str | int):
            raise SpecError("study", f"must be a name such as mlp-digits, got {name!r}")
        strategy = data.get("strategy", DEFAULT_STRATEGY)
        hyperband = None
        if data.get("hyperband") is not None:
            if strategy != "hyperband":
                raise SpecError("hyperband", "applies only to strategy: hyperband")
            hyperband = Hyperband.from_dict(data["hyperband"], space.static)
        return cls(
            name=str(name),
            objective=objectives[0],
            objectives=objectives,
            constraints=constraints,
            space=space,
            strategy=strategy,
            trial=trial,
            limits=Limits.from_dict(data.get("limits")),
            seed=data.get("seed"),
            storage=storage,
            runs_dir=runs_dir,
            retries=RetryPolicy.from_dict(data.get("retries")),
            lease=LeasePolicy.from_dict(data.get("lease")),
            early_stopping=EarlyStopping.from_dict(data.get("early_stopping")),
            hyperband=hyperband,
            completion=CompletionCriteria.from_dict(data.get("completion")),
            warm_start=WarmStart.from_dict(data.get("warm_start")),
            enqueue=_enqueue_list(data.get("enqueue")),
            executor=ExecutorSpec.from_dict(data.get("executor")),
            define_by_run=define_by_run,
            tracking=check_tracking(data.get("tracking")),
            cost=CostSpec.from_dict(data.get("cost")),
        )


def _objective(data: Any, path: str) -> Objective:
    data = check_keys(data, path, ("metric", "direction"))
    if "metric" not in data:
        raise SpecError(f"{path}.metric", "is required")
    try:
        return Objective(data["metric"], data.get("direction"))
    except SpecError as exc:  # Objective names its own field: objective.direction
        raise SpecError(f"{path}.{exc.field.rsplit('.', 1)[-1]}", exc.message) from None


def _objectives(data: Mapping[str, Any]) -> tuple[Objective, ...]:
    """``objective: {...}`` (one) or ``objectives: [{...}, ...]`` (several), never both."""
    if "objective" in data and "objectives" in data:
        raise SpecError(
            "objectives", "give either objective (one) or objectives (a list), not both"
        )
    if "objectives" not in data:
        if "objective" not in data:
            raise SpecError("objective", "is required (or objectives: a list of them)")
        return (_objective(data["objective"], "objective"),)
    items = data["objectives"]
    if isinstance(items, str | Mapping) or not isinstance(items, Sequence) or not items:
        raise SpecError("objectives", "must be a non-empty list of {metric: ..., direction: ...}")
    out = tuple(_objective(item, f"objectives[{i}]") for i, item in enumerate(items))
    for i, objective in enumerate(out):
        if objective.metric in [o.metric for o in out[:i]]:
            raise SpecError(
                f"objectives[{i}].metric", f"{objective.metric!r} is an objective twice"
            )
    return out


def _constraints(items: Any) -> tuple[Constraint, ...]:
    """``constraints: [{metric: memory_mb, max: 512}, {metric: accuracy, min: 0.9}]``."""
    if items is None:
        return ()
    if isinstance(items, str | Mapping) or not isinstance(items, Sequence):
        raise SpecError("constraints", "must be a list of {metric: ..., min: ..., max: ...}")
    out = []
    for i, item in enumerate(items):
        where = f"constraints[{i}]"
        item = check_keys(item, where, ("metric", "min", "max"))
        if "metric" not in item:
            raise SpecError(f"{where}.metric", "is required")
        try:
            out.append(Constraint(item["metric"], item.get("min"), item.get("max")))
        except SpecError as exc:
            raise SpecError(f"{where}.{exc.field.rsplit('.', 1)[-1]}", exc.message) from None
    return tuple(out)


def _enqueue_list(data: Any) -> tuple[Mapping[str, Any], ...]:
    if data is None:
        return ()
    if isinstance(data, str) or not isinstance(data, Sequence):
        raise SpecError("enqueue", "must be a list of configurations such as [{lr: 0.01}]")
    check_json_value(list(data), "enqueue")
    return tuple(data)


def parse_spec_text(text: str, source: str) -> StudySpec:
    """Parse YAML or JSON text (``source`` names the file in errors) into a validated spec."""
    from tunewise.specfile import load_spec_data

    return StudySpec.from_dict(load_spec_data(text, source))
