"""Parallel suggestions: ``bayesian`` with 4 trials running at once against the sequential run.

    PYTHONPATH=.:../shared /tmp/bench-venv/bin/python -m benchmarks.parallel \\
        --sequential /tmp/tunewise-bench/tunewise.jsonl --out /tmp/tunewise-bench/parallel.md

Each run drives :class:`benchmarks.bench_adapter.ConcurrentBayesianOptimizer` (every suggestion
made while 3 other trials are still running; ``--at-once N`` for N, ``--mode batch`` for
batches asked and told together) on a public synthetic problem, counts repeated
configurations among everything it suggested, and reports the median simple regret at the
budget beside the sequential ``tw_bayesian`` runs of ``bench.run`` (same problems and seeds),
with a bootstrap interval of their ratio and the trial at which the sequential median got
there (the cost of running trials at once, in trials). ``--problems hgb_breast_cancer`` adds
the ML task (minutes per run; its "regret" is the CV log loss itself).

``--optimizer gp`` measures the same for the strongest peer, Optuna's ``GPSampler``, whose
suggestions beside running trials maximise q-batch log EI (:class:`ConcurrentOptunaGP`),
against its own sequential runs (``bench.run --optimizers gp``).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing as mp
import os
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from benchmarks.common import emit_table

#: The public synthetic problems, run by default (seconds per run).
SYNTHETIC = ("branin", "hartmann6", "rosenbrock5", "mixed")
#: Every problem ``--problems`` takes: the ML task's runs take minutes (about 1 s per trial),
#: and its regret is the CV log loss itself (no optimum known).
PROBLEMS = (*SYNTHETIC, "hgb_breast_cancer")
#: Thread pools every run keeps to one thread, as ``bench.run`` does: fair to the sequential
#: runs, and two runs share the 2 cores (scikit-learn's OpenMP threads, oversubscribed, made
#: one ML run take over ten minutes instead of half of one).
SINGLE_THREADED = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
#: ``--optimizer`` choices: tunewise's default strategy, or Optuna's GPSampler (the peer).
OPTIMIZERS = ("tw_bayesian", "gp")


def concurrent_optuna_gp() -> type:
    """:class:`ConcurrentOptunaGP`, built on first use (``bench`` and Optuna are imported then).

    Torch runs single-threaded, as in ``bench.run``'s processes: its threads would change the
    sums' order and so, from run to run, the suggestions.
    """
    import torch
    from bench.adapters import OptunaGP

    from benchmarks.bench_adapter import KeepsTrialsRunning

    torch.set_num_threads(1)

    class ConcurrentOptunaGP(KeepsTrialsRunning, OptunaGP):
        """The harness's Optuna GPSampler adapter with ``workers`` trials running at once.

        As :class:`benchmarks.bench_adapter.ConcurrentOptimizer` runs tunewise: each new trial
        is asked while the others are RUNNING (GPSampler takes them into account with q-batch
        log EI), and the oldest is handed out, whose value the next ``tell`` records.
        """

        def __init__(self, space: Any, seed: int, budget: int) -> None:
            super().__init__(space, seed, budget)
            self._start_running()

        def ask(self) -> dict[str, Any]:
            self._trial = self._next_running(
                lambda: self.study.ask(fixed_distributions=self._dists)
            )
            return dict(self._trial.params)

    return ConcurrentOptunaGP


def run_one(
    problem: str,
    seed: int,
    budget: int,
    mode: str = "async",
    at_once: int = 4,
    optimizer: str = "tw_bayesian",
) -> dict[str, Any]:
    """One concurrent run: best value after ``budget`` evaluations and repeated suggestions.

    ``mode``: ``async`` keeps ``at_once`` trials running (each suggestion beside
    ``at_once - 1`` pending ones); ``batch`` asks ``at_once``, then tells them all (beside 0 to
    ``at_once - 1`` pending ones).
    """
    from bench import problems

    from benchmarks.bench_adapter import ConcurrentBayesianOptimizer

    prob = problems.get_problem(problem)
    base = ConcurrentBayesianOptimizer if optimizer == "tw_bayesian" else concurrent_optuna_gp()
    adapter = type("Adapter", (base,), {"workers": at_once, "batch": mode == "batch"})
    opt = adapter(prob.space, seed, budget)
    seen: set[str] = set()
    repeats = 0
    best = math.inf
    for _ in range(budget):
        params = opt.ask()
        key = json.dumps(params, sort_keys=True)
        repeats += key in seen
        seen.add(key)
        value = prob.evaluate(params)
        opt.tell(params, value)
        best = min(best, value)
    regret = best - (prob.optimum or 0.0)
    return {"problem": problem, "seed": seed, "regret": regret, "repeats": repeats}


def sequential_traces(
    path: str, budget: int, seeds: range, optimizer: str = "tw_bayesian"
) -> dict[str, list[list[float]]]:
    """Per problem, the regret after each of the first ``budget`` trials of the file's
    ``optimizer`` runs on ``seeds``."""
    out: dict[str, list[list[float]]] = defaultdict(list)
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            ours = r.get("optimizer") == optimizer and r["problem"] in PROBLEMS
            if ours and r["seed"] in seeds and not r["error"] and len(r["best"]) >= budget:
                optimum = r["optimum"] or 0.0
                out[r["problem"]].append([v - optimum for v in r["best"][:budget]])
    return out


def trials_to_reach(traces: Sequence[Sequence[float]], regret: float) -> int | None:
    """The first trial at which the median of ``traces`` is down to ``regret`` (None: never).

    It turns a concurrent run's regret into trials of the sequential run: reaching at trial 89
    what 4 at once reaches at 100 means running 4 at once costs 11 trials of 100.
    """
    for trial in range(min(len(t) for t in traces)):
        if statistics.median(t[trial] for t in traces) <= regret:
            return trial + 1
    return None


def ratio_interval(
    concurrent: Sequence[float], sequential: Sequence[float], reps: int = 2000
) -> tuple[float, float]:
    """90% bootstrap interval of the ratio of the two medians (seeds resampled on each side).

    With regrets that spread over orders of magnitude from seed to seed, a ratio of two
    30-seed medians is itself uncertain by a large factor; the interval says how large.
    """
    rng = random.Random(0)
    ratios = sorted(
        statistics.median(rng.choices(concurrent, k=len(concurrent)))
        / statistics.median(rng.choices(sequential, k=len(sequential)))
        for _ in range(reps)
    )
    return ratios[int(0.05 * reps)], ratios[int(0.95 * reps) - 1]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sequential", required=True, help="bench.run JSONL with the optimizer's runs"
    )
    parser.add_argument(
        "--optimizer",
        choices=OPTIMIZERS,
        default="tw_bayesian",
        help="tunewise's bayesian or Optuna's GPSampler (default %(default)s)",
    )
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds start here")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=None)
    parser.add_argument(
        "--mode",
        choices=("async", "batch"),
        default="async",
        help="async: N trials always running; batch: ask N, tell N (default %(default)s)",
    )
    parser.add_argument(
        "--at-once", type=int, default=4, metavar="N", help="trials at once (default 4)"
    )
    parser.add_argument(
        "--problems",
        default=",".join(SYNTHETIC),
        help=f"comma-separated subset of: {', '.join(PROBLEMS)} (default %(default)s)",
    )
    args = parser.parse_args(argv)
    problems = [p for p in args.problems.split(",") if p]
    unknown = sorted(set(problems) - set(PROBLEMS))
    if unknown:
        parser.error(f"--problems: unknown {', '.join(unknown)}; choose from {', '.join(PROBLEMS)}")

    if args.at_once < 2:
        parser.error("--at-once: give 2 or more trials at once (1 is the sequential run)")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tasks = [
        (p, s, args.budget, args.mode, args.at_once, args.optimizer)
        for p in problems
        for s in seeds
    ]
    results: list[dict[str, Any]] = []
    for variable in SINGLE_THREADED:  # the spawned workers inherit them
        os.environ.setdefault(variable, "1")
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx) as pool:
        for result in pool.map(run_one, *zip(*tasks, strict=True)):
            results.append(result)
            print(json.dumps(result), flush=True)
    sequential = sequential_traces(args.sequential, args.budget, seeds, args.optimizer)
    lines = [
        f"| problem | {args.optimizer}: sequential median regret @{args.budget} "
        f"| {args.at_once} at once "
        f"({args.mode}) | ratio | 90% interval | sequential trials to the same regret "
        "| repeated suggestions |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for problem in problems:
        mine = [r["regret"] for r in results if r["problem"] == problem]
        repeats = sum(r["repeats"] for r in results if r["problem"] == problem)
        traces = sequential.get(problem, [])
        theirs = [t[-1] for t in traces]
        seq = statistics.median(theirs) if theirs else math.nan
        par = statistics.median(mine)
        low, high = ratio_interval(mine, theirs) if theirs and seq > 0 else (math.nan, math.nan)
        reached = "-"
        if traces:
            reach = trials_to_reach(traces, par)
            reached = str(reach) if reach else f"over {args.budget}"
        lines.append(
            f"| {problem} | {seq:.3g} | {par:.3g} | {par / seq if seq else math.nan:.2f} "
            f"| {low:.2f}-{high:.2f} | {reached} "
            f"| {repeats} of {len(mine) * args.budget} |"
        )
    emit_table(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
