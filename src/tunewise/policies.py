"""Policies of a study: limits, retries, leases, where trials run — validated value types of
the spec."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tunewise.cost import check_max_cost
from tunewise.errors import SpecError
from tunewise.validation import check_keys, parse_duration, positive_int

DEFAULT_MAX_CONSECUTIVE_FAILURES = 10


@dataclass(frozen=True)
class Limits:
    """When the study ends and how much runs at once."""

    max_trials: int | None = None
    max_parallel: int = 1
    max_runtime: float | None = None  # seconds of study wall clock
    max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES
    #: The study's budget in the units of its ``cost`` (money, GPU-hours): see tunewise.cost.
    max_cost: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "max_trials": self.max_trials,
            "max_parallel": self.max_parallel,
            "max_runtime": self.max_runtime,
            "max_consecutive_failures": self.max_consecutive_failures,
        }
        if self.max_cost is not None:  # left out unset: specs stored before it read the same
            out["max_cost"] = self.max_cost
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "limits") -> Limits:
        keys = (
            "max_trials",
            "max_parallel",
            "max_runtime",
            "max_consecutive_failures",
            "max_cost",
        )
        data = check_keys(data or {}, path, keys)
        max_trials = data.get("max_trials")
        if max_trials is not None:
            max_trials = positive_int(max_trials, f"{path}.max_trials")
        max_runtime = data.get("max_runtime")
        if max_runtime is not None:
            max_runtime = parse_duration(max_runtime, f"{path}.max_runtime")
        return cls(
            max_trials=max_trials,
            max_parallel=positive_int(data.get("max_parallel", 1), f"{path}.max_parallel"),
            max_runtime=max_runtime,
            max_consecutive_failures=positive_int(
                data.get("max_consecutive_failures", DEFAULT_MAX_CONSECUTIVE_FAILURES),
                f"{path}.max_consecutive_failures",
            ),
            max_cost=check_max_cost(data.get("max_cost"), f"{path}.max_cost"),
        )


RETRYABLE_KINDS = (
    "crashed",
    "timeout",
    "lost",
    "user_error",
    "metric_missing",
    "metric_invalid",
    "infrastructure",
)


@dataclass(frozen=True)
class RetryPolicy:
    """Which failures run the trial again, as a new attempt of the same trial, and how often.

    ``max_attempts`` counts every attempt (1: never retry). By default a trial whose process
    crashed or vanished (lost lease) gets one more attempt; an exception in the training code
    is the user's and is not retried unless ``on`` says so.
    """

    max_attempts: int = 2
    on: frozenset[str] = frozenset({"crashed", "lost"})

    def allows(self, kind: str | None, attempt: int) -> bool:
        """Whether a failure of ``kind`` at ``attempt`` is retried."""
        return kind is not None and str(kind) in self.on and attempt < self.max_attempts

    def to_dict(self) -> dict[str, Any]:
        return {"max_attempts": self.max_attempts, "on": sorted(self.on)}

    @classmethod
    def from_dict(cls, data: Any, path: str = "retries") -> RetryPolicy:
        data = check_keys(data or {}, path, ("max_attempts", "on"))
        on = data.get("on", sorted(cls.on))
        if isinstance(on, str) or not isinstance(on, Sequence):
            raise SpecError(f"{path}.on", "must be a list such as [crashed, timeout, lost]")
        for i, kind in enumerate(on):
            if kind not in RETRYABLE_KINDS:
                raise SpecError(
                    f"{path}.on[{i}]",
                    f"{kind!r} is not a failure kind; use {', '.join(RETRYABLE_KINDS)}",
                )
        return cls(
            positive_int(data.get("max_attempts", cls.max_attempts), f"{path}.max_attempts"),
            frozenset(on),
        )


@dataclass(frozen=True)
class LeasePolicy:
    """How a running trial's owner proves it is alive: a heartbeat every ``heartbeat`` seconds;
    the lease ends ``grace`` seconds after the last one, and the trial is then lost."""

    heartbeat: float = 10.0
    grace: float = 30.0

    def to_dict(self) -> dict[str, float]:
        return {"heartbeat": self.heartbeat, "grace": self.grace}

    @classmethod
    def from_dict(cls, data: Any, path: str = "lease") -> LeasePolicy:
        data = check_keys(data or {}, path, ("heartbeat", "grace"))
        heartbeat = parse_duration(data.get("heartbeat", cls.heartbeat), f"{path}.heartbeat")
        grace = parse_duration(data.get("grace", cls.grace), f"{path}.grace")
        if grace <= heartbeat:
            raise SpecError(f"{path}.grace", f"must be longer than the heartbeat ({heartbeat:g}s)")
        return cls(heartbeat, grace)


@dataclass(frozen=True)
class EarlyStopping:
    """``early_stopping: median`` — SageMaker's Auto rule: after each step, stop a trial whose
    value is worse than the median of the running averages of the objective of the completed
    trials up to that step. It acts once ``min_trials`` completed trials reported that far and
    from step ``min_steps`` on (Optuna's MedianPruner uses 5 startup trials too)."""

    rule: str = "median"
    min_trials: int = 5
    min_steps: int = 1

    RULES = ("median",)

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "min_trials": self.min_trials, "min_steps": self.min_steps}

    @classmethod
    def from_dict(cls, data: Any, path: str = "early_stopping") -> EarlyStopping | None:
        if data is None or data is False or data == "off":
            return None
        if isinstance(data, str):
            data = {"rule": data}
        data = check_keys(data, path, ("rule", "min_trials", "min_steps"))
        rule = data.get("rule", "median")
        if rule not in cls.RULES:
            raise SpecError(f"{path}.rule", f"unknown rule {rule!r}; use median")
        return cls(
            rule,
            positive_int(data.get("min_trials", cls.min_trials), f"{path}.min_trials"),
            positive_int(data.get("min_steps", cls.min_steps), f"{path}.min_steps"),
        )


#: Static hyperparameters that give Hyperband its maximum resource, as in SageMaker.
RESOURCE_NAMES = ("epochs", "num_epochs", "n_epochs", "max_iter")


@dataclass(frozen=True)
class Hyperband:
    """``strategy: hyperband`` settings: asynchronous successive halving over Hyperband
    brackets (ASHA). The trial gets ``resource`` = ``max_resource`` (e.g. epochs) and reports each
    step; at each rung ``min_resource * reduction_factor**k`` only the top 1/reduction_factor of
    the trials of its bracket go on. ``sampler`` draws new configurations."""

    min_resource: int = 1
    max_resource: int | None = None
    reduction_factor: int = 3
    resource: str | None = None
    sampler: str = "random"

    SAMPLERS = ("random", "bayesian")

    def to_dict(self) -> dict[str, Any]:
        return {
            "min_resource": self.min_resource,
            "max_resource": self.max_resource,
            "reduction_factor": self.reduction_factor,
            "resource": self.resource,
            "sampler": self.sampler,
        }

    @classmethod
    def from_dict(cls, data: Any, static: Mapping[str, Any], path: str = "hyperband") -> Hyperband:
        """Validate and resolve: the resource's name and maximum come from the spec or from a
        static ``epochs`` / ``num_epochs`` / ``n_epochs`` / ``max_iter``."""
        keys = ("min_resource", "max_resource", "reduction_factor", "resource", "sampler")
        data = check_keys(data or {}, path, keys)
        resource = data.get("resource")
        if resource is None:
            resource = next((n for n in RESOURCE_NAMES if n in static), "epochs")
        elif not isinstance(resource, str) or not resource:
            raise SpecError(f"{path}.resource", "must name the parameter that gets the resource")
        max_resource = data.get("max_resource")
        if max_resource is None:
            if resource not in static:
                raise SpecError(
                    f"{path}.max_resource",
                    "is required, or give a static hyperparameter "
                    f"{' / '.join(RESOURCE_NAMES)} that sets it",
                )
            max_resource = static[resource]
            path_max = f"static.{resource}"
        else:
            path_max = f"{path}.max_resource"
        max_resource = positive_int(max_resource, path_max)
        min_resource = positive_int(data.get("min_resource", 1), f"{path}.min_resource")
        if min_resource >= max_resource:
            raise SpecError(
                f"{path}.min_resource",
                f"must be below max_resource ({min_resource} >= {max_resource})",
            )
        factor = data.get("reduction_factor", 3)
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
            raise SpecError(f"{path}.reduction_factor", f"must be an integer >= 2, got {factor!r}")
        sampler = data.get("sampler", "random")
        if sampler not in cls.SAMPLERS:
            raise SpecError(f"{path}.sampler", f"must be random or bayesian, got {sampler!r}")
        return cls(min_resource, max_resource, factor, resource, sampler)


def _fraction(value: Any, path: str) -> float:
    """``0.01`` or ``"1%"``: a relative amount."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1]) / 100
        except ValueError:
            raise SpecError(
                path, f"expected a fraction such as 0.01 or 1%, got {value!r}"
            ) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        raise SpecError(path, f"expected a fraction such as 0.01 or 1%, got {value!r}")
    if not 0 <= number < 1:
        raise SpecError(path, f"must be between 0 and 1 (0% and 100%), got {value!r}")
    return number


@dataclass(frozen=True)
class NotImproving:
    """End when the best has not improved by ``min_delta`` (relative) over ``trials`` trials."""

    trials: int
    min_delta: float = 0.0


@dataclass(frozen=True)
class CompletionCriteria:
    """SageMaker's TuningJobCompletionCriteria: a target value, a best that stopped improving,
    and convergence of the search (see :mod:`tunewise.stopping.completion`)."""

    #: A value of the objective; with several objectives ``{metric: value}`` (all reached).
    target: float | Mapping[str, float] | None = None
    not_improving: NotImproving | None = None
    convergence: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.target is not None:
            out["target"] = dict(self.target) if isinstance(self.target, Mapping) else self.target
        if self.not_improving is not None:
            out["not_improving"] = {
                "trials": self.not_improving.trials,
                "min_delta": self.not_improving.min_delta,
            }
        if self.convergence:
            out["convergence"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "completion") -> CompletionCriteria:
        data = check_keys(data or {}, path, ("target", "not_improving", "convergence"))
        target = data.get("target")
        if isinstance(target, Mapping):  # several objectives: a value per objective
            for key, value in target.items():
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise SpecError(f"{path}.target.{key}", f"must be a number, got {value!r}")
            if not target:
                raise SpecError(f"{path}.target", "must name at least one objective's value")
            target = {str(k): float(v) for k, v in target.items()}
        elif target is not None:
            if isinstance(target, bool) or not isinstance(target, int | float):
                raise SpecError(f"{path}.target", f"must be a number, got {target!r}")
            target = float(target)
        not_improving = None
        if data.get("not_improving") is not None:
            where = f"{path}.not_improving"
            raw = check_keys(data["not_improving"], where, ("trials", "min_delta"))
            if "trials" not in raw:
                raise SpecError(f"{where}.trials", "is required (at least 3)")
            trials = positive_int(raw["trials"], f"{where}.trials")
            if trials < 3:
                raise SpecError(f"{where}.trials", f"must be at least 3, got {trials}")
            not_improving = NotImproving(
                trials, _fraction(raw.get("min_delta", 0.0), f"{where}.min_delta")
            )
        convergence = data.get("convergence", False)
        if not isinstance(convergence, bool):
            raise SpecError(f"{path}.convergence", f"must be true or false, got {convergence!r}")
        return cls(target, not_improving, convergence)


WARM_START_TYPES = ("identical", "transfer")
MAX_PARENTS = 5


@dataclass(frozen=True)
class WarmStart:
    """Start from earlier studies (SageMaker's WarmStartConfig): ``identical`` reuses their
    trials as history (same data and algorithm); ``transfer`` only takes their best
    configurations as starting points."""

    parents: tuple[str, ...]
    type: str = "identical"
    storage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"parents": list(self.parents), "type": self.type}
        if self.storage is not None:
            out["storage"] = self.storage
        return out

    @classmethod
    def from_dict(cls, data: Any, path: str = "warm_start") -> WarmStart | None:
        if data is None:
            return None
        data = check_keys(data, path, ("parents", "type", "storage"))
        parents = data.get("parents")
        if isinstance(parents, str) or not isinstance(parents, Sequence) or not parents:
            raise SpecError(f"{path}.parents", "must be a list of 1 to 5 study names")
        if len(parents) > MAX_PARENTS:
            raise SpecError(f"{path}.parents", f"at most {MAX_PARENTS} parents, got {len(parents)}")
        for i, name in enumerate(parents):
            if not isinstance(name, str) or not name:
                raise SpecError(f"{path}.parents[{i}]", f"must be a study name, got {name!r}")
        kind = data.get("type", "identical")
        if kind not in WARM_START_TYPES:
            raise SpecError(f"{path}.type", f"must be identical or transfer, got {kind!r}")
        storage = data.get("storage")
        if storage is not None and not isinstance(storage, str):
            raise SpecError(f"{path}.storage", "must be a storage URL")
        return cls(tuple(parents), kind, storage)


EXECUTOR_TYPES = ("local", "ray")
#: ``ray`` addresses that are no host: connect to the cluster this machine knows (``ray start``
#: or ``RAY_ADDRESS``), or start a private single-node Ray on loopback.
RAY_SPECIAL_ADDRESSES = ("auto", "local")
_RAY_HOST_PORT = re.compile(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.\-]+):(\d{1,5})")
_RESOURCE_KEYS = ("cpu", "gpu")


@dataclass(frozen=True)
class ExecutorSpec:
    """Where trials run: ``local`` processes (the default), or tasks on a Ray cluster.

    ``reuse_processes`` (local only, on by default): a trial process that ended its trial
    cleanly runs the next one of the study (set it off to give every trial a fresh process:
    nothing a trial leaves in its interpreter — globals, caches, threads — reaches the next).
    ``address`` (Ray only): ``auto`` (the cluster ``ray start`` made on this machine, or
    ``RAY_ADDRESS``), ``local`` (tunewise starts a private Ray on loopback), ``HOST:PORT`` (a
    cluster's GCS) or ``ray://HOST:PORT`` (Ray Client). ``cpu`` and ``gpu`` are what each trial
    asks of Ray (``resources_per_trial``); fractions share a device.

    Local trials may ask for GPUs too (``resources_per_trial: {gpu: 1}``; ``0.5`` puts two
    trials on a device, ``2`` gives each two): each trial process sees its own devices through
    ``CUDA_VISIBLE_DEVICES`` and waits for free ones. ``gpus`` lists the devices to use
    (``[0, 2]``; default: those NVML or ``nvidia-smi`` find; with ``gpus`` alone each trial
    takes one).
    """

    type: str = "local"
    address: str = "auto"
    cpu: float = 1.0
    gpu: float = 0.0
    reuse_processes: bool = True
    #: Local only: GPUs per trial (``resources_per_trial.gpu`` of ``type: local``; kept apart
    #: from Ray's ``gpu`` so that ``--executor`` switches keep each type's settings).
    local_gpu: float = 0.0
    gpus: tuple[int, ...] = ()  # local only: the devices to share out (empty: discover them)

    def with_type(self, kind: str) -> ExecutorSpec:
        """This spec with another type (``--executor``); the Ray settings are kept."""
        if kind not in EXECUTOR_TYPES:
            raise SpecError("executor.type", f"must be one of {', '.join(EXECUTOR_TYPES)}")
        return replace(self, type=kind)

    def to_dict(self) -> dict[str, Any]:
        if self.type != "ray":  # the default left out: specs stored before it read the same
            out: dict[str, Any] = {"type": self.type}
            if not self.reuse_processes:
                out["reuse_processes"] = False
            if self.local_gpu:
                out["resources_per_trial"] = {"gpu": self.local_gpu}
            if self.gpus:
                out["gpus"] = list(self.gpus)
            return out
        return {
            "type": self.type,
            "address": self.address,
            "resources_per_trial": {"cpu": self.cpu, "gpu": self.gpu},
        }

    @classmethod
    def from_dict(cls, data: Any, path: str = "executor") -> ExecutorSpec:
        """``local``, ``ray``, ``{type: local, reuse_processes}`` or ``{type: ray, address,
        resources_per_trial: {cpu, gpu}}``."""
        if data is None:
            return cls()
        if isinstance(data, str):
            data = {"type": data}
        keys = ("type", "address", "resources_per_trial", "reuse_processes", "gpus")
        data = check_keys(data, path, keys)
        kind = data.get("type", "local")
        if kind not in EXECUTOR_TYPES:
            raise SpecError(
                f"{path}.type", f"must be one of {', '.join(EXECUTOR_TYPES)}, got {kind!r}"
            )
        if kind != "ray":
            if "address" in data:
                raise SpecError(f"{path}.address", "applies only to type: ray")
            reuse = data.get("reuse_processes", cls.reuse_processes)
            if not isinstance(reuse, bool):
                raise SpecError(f"{path}.reuse_processes", f"must be true or false, got {reuse!r}")
            gpus = _device_list(data.get("gpus"), f"{path}.gpus")
            gpu = _local_gpu(data.get("resources_per_trial"), f"{path}.resources_per_trial")
            if gpus and not gpu:
                gpu = 1.0  # devices listed: one per trial unless said otherwise
            if gpus and gpu > len(gpus):
                raise SpecError(
                    f"{path}.resources_per_trial.gpu",
                    f"asks for {gpu:g} GPUs per trial and {path}.gpus lists {len(gpus)}",
                )
            return cls(kind, reuse_processes=reuse, local_gpu=gpu, gpus=gpus)
        for key in ("reuse_processes", "gpus"):
            if key in data:
                raise SpecError(f"{path}.{key}", "applies only to type: local")
        address = _ray_address(data.get("address", cls.address), f"{path}.address")
        where = f"{path}.resources_per_trial"
        resources = check_keys(data.get("resources_per_trial") or {}, where, _RESOURCE_KEYS)
        cpu = _amount(resources.get("cpu", cls.cpu), f"{where}.cpu")
        gpu = _amount(resources.get("gpu", cls.gpu), f"{where}.gpu")
        if cpu == 0 and gpu == 0:
            raise SpecError(where, "asks for nothing; give each trial at least some cpu or gpu")
        return cls(kind, address, cpu, gpu)


def _ray_address(value: Any, path: str) -> str:
    """``auto``, ``local``, ``HOST:PORT`` or ``ray://HOST:PORT``, as Ray takes them."""
    if not isinstance(value, str) or not value.strip():
        raise SpecError(path, "must be auto, local, HOST:PORT or ray://HOST:PORT")
    address = value.strip()
    if address in RAY_SPECIAL_ADDRESSES:
        return address
    host_port = address.removeprefix("ray://")
    match = _RAY_HOST_PORT.fullmatch(host_port)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise SpecError(
            path, f"{value!r} is not auto, local, HOST:PORT or ray://HOST:PORT (e.g. 10.0.0.5:6379)"
        )
    return address


def _device_list(value: Any, path: str) -> tuple[int, ...]:
    """``gpus: [0, 2]``: distinct device indices (what ``nvidia-smi`` numbers them)."""
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value)
    ):
        raise SpecError(path, f"must be a list of GPU indices such as [0, 2], got {value!r}")
    if len(set(value)) != len(value):
        raise SpecError(path, f"lists a device twice: {value!r}")
    return tuple(value)


def _local_gpu(value: Any, path: str) -> float:
    """A local trial's ``resources_per_trial``: ``{gpu: N}`` only, a share of one device
    (``0.5``) or whole devices (``2``); CPUs are not counted out locally (``max_parallel``)."""
    if isinstance(value, Mapping) and "cpu" in value:
        raise SpecError(
            f"{path}.cpu", "applies only to type: ray (local trials share the CPUs; max_parallel)"
        )
    data = check_keys(value or {}, path, ("gpu",))
    if "gpu" not in data:
        if value is not None:
            raise SpecError(path, "local trials ask only for GPUs here: give gpu: 1 (or 0.5)")
        return 0.0
    gpu = _amount(data["gpu"], f"{path}.gpu")
    if gpu == 0 or (gpu > 1 and not gpu.is_integer()):
        raise SpecError(
            f"{path}.gpu",
            f"must be a share of one device (0.5, 0.25) or a whole number of devices, got {gpu:g}",
        )
    return gpu


def _amount(value: Any, path: str) -> float:
    """A non-negative, finite amount of a resource (``0.5`` GPU shares one device)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(path, f"must be a number such as 1 or 0.5, got {value!r}")
    if value < 0:
        raise SpecError(path, f"must be zero or more, got {value!r}")
    return float(value)
