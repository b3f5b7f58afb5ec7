"""Time per suggestion as the history grows, in wall-clock and CPU seconds.

    PYTHONPATH=.:src:../shared /tmp/bench-venv/bin/python -m benchmarks.suggest_time \\
        --optimizers bayesian,tpe --n 1000 --out /tmp/tunewise-bench/suggest_time.md

The protocol of the harness's ``bench.overhead`` (hartmann6, 6-D; one sequential study per
strategy through :mod:`benchmarks.bench_adapter`, single-threaded BLAS; mean over the 20
trials ending at n = 100, 300, 1000), with one addition: the process's CPU time of each
``ask()`` + ``tell()`` beside its wall time. On a machine shared with other work the wall time
is inflated by the wait for a core; the CPU time is what the suggestion costs, and on an idle
single-threaded run the two agree.

``--problem cond_synthetic`` times the same on the harness's 10-parameter tree (a branch
choice with 2, 3 and 2 conditional children and 2 shared parameters; issue 22's target is one
suggestion under 0.1 s at 100 trials there)::

    PYTHONPATH=.:src:../shared /tmp/bench-venv/bin/python -m benchmarks.suggest_time \
        --optimizers bayesian,tpe --problem cond_synthetic --n 100
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence

from benchmarks.common import emit_table

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

CHECKPOINTS = (100, 300, 1000)
WINDOW = 20


def measure(
    strategy: str, n: int, seed: int, problem_name: str = "hartmann6"
) -> dict[int, tuple[float, float]]:
    """Mean (wall ms, CPU ms) of ask+tell over the WINDOW trials ending at each checkpoint."""
    from bench import problems

    from benchmarks.bench_adapter import make_optimizer

    problem = problems.get_problem(problem_name)
    optimizer = make_optimizer(strategy)(problem.space, seed, n)
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(n):
        w0, c0 = time.perf_counter(), time.process_time()
        params = optimizer.ask()
        w1, c1 = time.perf_counter(), time.process_time()
        value = problem.evaluate(params)
        w2, c2 = time.perf_counter(), time.process_time()
        optimizer.tell(params, value)
        w3, c3 = time.perf_counter(), time.process_time()
        wall.append((w1 - w0) + (w3 - w2))
        cpu.append((c1 - c0) + (c3 - c2))
    return {
        k: (1e3 * statistics.mean(wall[k - WINDOW : k]), 1e3 * statistics.mean(cpu[k - WINDOW : k]))
        for k in CHECKPOINTS
        if k <= n
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizers", default="bayesian,tpe", help="tunewise strategies")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--problem", default="hartmann6", help="a bench problem, e.g. cond_synthetic"
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    checkpoints = [k for k in CHECKPOINTS if k <= args.n]
    head = " | ".join(f"wall ms @{k} | CPU ms @{k}" for k in checkpoints)
    lines = [
        f"| strategy | {head} | load average |",
        "|---|" + "---:|" * (2 * len(checkpoints) + 1),
    ]
    for strategy in args.optimizers.split(","):
        result = measure(strategy, args.n, args.seed, args.problem)
        cells = " | ".join(f"{result[k][0]:.1f} | {result[k][1]:.1f}" for k in checkpoints)
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        lines.append(f"| {strategy} | {cells} | {load} |")
        print(lines[-1], flush=True)
    emit_table(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
