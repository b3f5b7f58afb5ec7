"""Adapters from the ``bench`` harness's ask/tell interface to tunewise studies.

The harness builds ``Optimizer(space, seed, budget)`` and then alternates ``ask()`` and
``tell(params, value)`` (``value`` is minimised)::

    python -m bench.run --problems public --optimizers tw_random \\
        --adapter tw_random=benchmarks.bench_adapter:RandomOptimizer --seeds 0-9 --budget 100

Each adapter instance owns one in-memory study (``storage=None``) with one of tunewise's
strategies. Only tunewise and ``bench.space`` are imported.
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from bench.space import Categorical, Float, Int

import tunewise as tw

BenchParam = Float | Int | Categorical


def to_tunewise_param(param: BenchParam) -> tw.Float | tw.Int | tw.Categorical:
    """One bench parameter as the tunewise parameter with the same range, scale and
    condition (bench's ``when=(parent, values)`` is tunewise's ``when={parent: values}``)."""
    scale = "log" if getattr(param, "log", False) else "linear"
    bench_when = getattr(param, "when", None)
    when = {bench_when[0]: list(bench_when[1])} if bench_when else None
    if isinstance(param, Float):
        return tw.Float(float(param.low), float(param.high), scale=scale, when=when)
    if isinstance(param, Int):
        return tw.Int(int(param.low), int(param.high), scale=scale, when=when)
    return tw.Categorical(list(param.choices), when=when)


class TunewiseOptimizer:
    """A bench optimizer backed by an in-memory tunewise study using ``strategy``.

    One trial is pending at a time: ``ask`` starts it, the next ``tell`` finishes it.
    """

    strategy: ClassVar[str] = "random"
    #: Conditional spaces are translated (children active only under their parent's values).
    supports_conditional: ClassVar[bool] = True
    #: Several objectives (all minimised) become metrics ``f0``, ``f1``, ... of one study.
    supports_multiobjective: ClassVar[bool] = True

    def __init__(
        self, space: Sequence[BenchParam], seed: int, budget: int, n_objectives: int = 1
    ) -> None:
        self.space = tuple(space)
        self.budget = int(budget)
        self.n_objectives = int(n_objectives)
        self._tw_space = {p.name: to_tunewise_param(p) for p in self.space}
        several = self.n_objectives > 1
        objectives = [tw.Objective(f"f{i}", "minimize") for i in range(self.n_objectives)]
        self.study = tw.create_study(
            f"bench-{self.strategy}",
            objective=None if several else tw.Objective("value", "minimize"),
            objectives=objectives if several else None,
            space=self._tw_space,
            strategy=self.strategy,
            storage=None,
            seed=int(seed),
        )
        # An in-memory study gets a temporary runs folder; ask/tell never writes to it.
        with contextlib.suppress(OSError):
            os.rmdir(self.study.runs_dir.parent)
        self._pending: tw.Trial | None = None
        self._asked = 0

    def _ask_study(self) -> tw.Trial:
        """The study's next trial, told how many the budget leaves (its last ones refine)."""
        trial = self.study.ask(remaining=max(1, self.budget - self._asked))
        self._asked += 1
        return trial

    def ask(self) -> dict[str, Any]:
        """Start a trial and return its values with bench's types (categoricals as given)."""
        if self._pending is not None:
            raise RuntimeError("ask() called twice without tell()")
        self._pending = self._ask_study()
        out: dict[str, Any] = {}
        for p in self.space:
            if p.name not in self._pending.params:
                continue  # inactive in a conditional space: bench expects it absent
            value = self._pending.params[p.name]
            if isinstance(p, Float):
                out[p.name] = float(value)
            elif isinstance(p, Int):
                out[p.name] = int(value)
            else:
                tw_param = self._tw_space[p.name]
                assert isinstance(tw_param, tw.Categorical)
                out[p.name] = p.choices[tw_param.index(value)]
        return out

    def tell(self, params: dict[str, Any], value: float | Sequence[float]) -> None:
        """Finish the pending trial; a non-finite value is recorded as a failed trial (a list
        of values: one per objective, told as the metrics ``f0``, ``f1``, ...)."""
        if self._pending is None:
            raise RuntimeError("tell() called without a pending ask()")
        trial, self._pending = self._pending, None
        if isinstance(value, Sequence):
            values = [float(v) for v in value]
            if all(math.isfinite(v) for v in values):
                self.study.tell(trial, {f"f{i}": v for i, v in enumerate(values)})
            else:
                self.study.tell(trial, state="failed", error=f"non-finite values {values!r}")
            return
        value = float(value)
        if math.isfinite(value):
            self.study.tell(trial, value)
        else:
            self.study.tell(trial, state="failed", error=f"non-finite value {value!r}")


class RandomOptimizer(TunewiseOptimizer):
    """tunewise's ``random`` strategy."""

    strategy = "random"


class SobolOptimizer(TunewiseOptimizer):
    """tunewise's ``sobol`` strategy (scrambled Sobol sequence)."""

    strategy = "sobol"


def make_optimizer(strategy: str) -> type[TunewiseOptimizer]:
    """An adapter class for any registered tunewise strategy, e.g. ``make_optimizer("grid")``."""
    return type(
        f"{strategy.capitalize()}Optimizer",
        (TunewiseOptimizer,),
        {"strategy": strategy, "__doc__": f"tunewise's {strategy!r} strategy."},
    )


class BayesianOptimizer(TunewiseOptimizer):
    """tunewise's ``bayesian`` strategy (GP, log expected improvement; the default)."""

    strategy = "bayesian"


class TPEOptimizer(TunewiseOptimizer):
    """tunewise's ``tpe`` strategy (multivariate tree-structured Parzen estimator)."""

    strategy = "tpe"


class KeepsTrialsRunning:
    """``workers`` trials started at once, handed out oldest first (asynchronous parallelism).

    Shared by the tunewise adapter below and ``benchmarks.parallel``'s Optuna one, so that both
    run trials at once in exactly the same order.
    """

    workers: ClassVar[int] = 4
    batch: ClassVar[bool] = False
    budget: int

    def _start_running(self) -> None:
        self._running: list[Any] = []
        self._started = 0

    def _next_running(self, start: Callable[[], Any]) -> Any:
        """Top the running set up with ``start()`` (unless ``batch`` and some are still out),
        then hand out its oldest trial."""
        refill = not self._running or not self.batch
        while refill and len(self._running) < self.workers and self._started < self.budget:
            self._running.append(start())
            self._started += 1
        return self._running.pop(0)


class ConcurrentOptimizer(KeepsTrialsRunning, TunewiseOptimizer):
    """A tunewise study with ``workers`` trials running at once (asynchronous parallelism).

    The harness alternates ``ask`` and ``tell``; this adapter keeps ``workers`` trials started:
    ``ask`` tops the running set up (each new suggestion sees the others as pending, as the
    tuner's suggestions do with ``max_parallel=workers``) and hands out the oldest running
    trial, whose value the next ``tell`` records. Every suggestion but the first few is thus
    made while ``workers - 1`` other trials are still running.

    With ``batch = True`` the set is refilled only once all of it has been told (synchronous
    batches: ask ``workers``, run them, tell them all, as a user who waits for a whole batch
    does): the suggestions of a batch see 0, 1, ... ``workers - 1`` pending trials.
    """

    def __init__(self, space: Sequence[BenchParam], seed: int, budget: int) -> None:
        super().__init__(space, seed, budget)
        self._start_running()

    def ask(self) -> dict[str, Any]:
        if self._pending is not None:
            raise RuntimeError("ask() called twice without tell()")
        trial: tw.Trial = self._next_running(self._ask_study)
        out: dict[str, Any] = {}
        for p in self.space:
            value = trial.params[p.name]
            tw_param = self._tw_space[p.name]
            if isinstance(tw_param, tw.Categorical):
                out[p.name] = p.choices[tw_param.index(value)]  # type: ignore[union-attr]
            else:
                out[p.name] = float(value) if isinstance(p, Float) else int(value)
        self._pending = trial
        return out


class ConcurrentBayesianOptimizer(ConcurrentOptimizer):
    """``bayesian`` with 4 trials running at once (pending trials through q-EI, ``pending.py``)."""

    strategy = "bayesian"


class ConcurrentTPEOptimizer(ConcurrentOptimizer):
    """``tpe`` with 4 trials running at once (pending trials as constant liars)."""

    strategy = "tpe"
