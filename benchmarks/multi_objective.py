"""Issue 23's two measurements that the harness's multi-objective family does not make.

1. **Feasible suggestions** (``--feasible``): a small constrained problem of our own, ZDT1 on 4
   variables with the constraint ``x1 + x2 + x3 <= 0.6`` (3.6% of the cube is feasible; the
   feasible front is ZDT1's, ``x1 = x2 = x3 = 0``), and its single-objective variant
   (minimise ZDT1's ``f2`` under the same constraint). Each strategy runs 30 sequential
   trials per seed through a real in-memory study (``create_study(..., constraints=...)``,
   ask and tell); reported: the share of feasible trials among all 30 and among trials
   21-30, and the normalised hypervolume of the feasible trials (the harness's bounds:
   ``f1`` in [0, 1], ``f2`` in [0, 5]).
2. **Time per suggestion** (``--time``): ``bayesian``'s suggestions for trials 91-100 of a
   2-objective, 6-variable study (ZDT1), median wall and CPU time, single-threaded BLAS.

    PYTHONPATH=.:src /tmp/bench-venv/bin/python -m benchmarks.multi_objective --feasible \\
        --seeds 0-9
    PYTHONPATH=.:src /tmp/bench-venv/bin/python -m benchmarks.multi_objective --time
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

LIMIT = 0.6
STRATEGIES = ("bayesian", "tpe", "random", "sobol")


def zdt1(params: dict[str, Any], d: int) -> dict[str, float]:
    x = [float(params[f"x{i}"]) for i in range(d)]
    g = 1.0 + 9.0 * sum(x[1:]) / (d - 1)
    return {"f1": x[0], "f2": g * (1.0 - math.sqrt(x[0] / g)), "load": sum(x[1:])}


def constrained_run(strategy: str, seed: int, trials: int, several: bool) -> list[dict[str, float]]:
    import tunewise as tw

    objectives = [tw.Objective("f1", "minimize"), tw.Objective("f2", "minimize")]
    study = tw.create_study(
        f"constrained-{strategy}",
        objectives=objectives if several else None,
        objective=None if several else objectives[1],
        constraints=[tw.Constraint("load", max=LIMIT)],
        space={f"x{i}": tw.Float(0.0, 1.0) for i in range(4)},
        strategy=strategy,
        storage=None,
        seed=seed,
    )
    out = []
    for _ in range(trials):
        trial = study.ask()
        metrics = zdt1(trial.params, 4)
        study.tell(trial, metrics)
        out.append(metrics)
    return out


def feasible_table(seeds: list[int], trials: int) -> str:
    from tunewise.pareto import hypervolume

    lines = [
        "| study | strategy | feasible, trials 1-30 | feasible, trials 21-30 | "
        "feasible hypervolume @30 |",
        "|---|---|---:|---:|---:|",
    ]
    for several in (True, False):
        for strategy in STRATEGIES:
            share, late, hv = [], [], []
            for seed in seeds:
                runs = constrained_run(strategy, seed, trials, several)
                ok = [m["load"] <= LIMIT for m in runs]
                share.append(sum(ok) / len(ok))
                late.append(sum(ok[-10:]) / len(ok[-10:]))
                pairs = zip(runs, ok, strict=True)
                points = [[m["f1"], m["f2"] / 5.0] for m, good in pairs if good]
                hv.append(hypervolume(points, [1.0, 1.0]) if points else 0.0)
            kind = "2 objectives" if several else "f2 only"
            lines.append(
                f"| {kind} | {strategy} | {statistics.mean(share):.2f} | "
                f"{statistics.mean(late):.2f} | {statistics.median(hv):.3f} |"
            )
    return "\n".join(lines)


def suggestion_time(trials: int = 100) -> tuple[float, float]:
    """Median wall and CPU seconds of ``bayesian``'s suggestions for trials 91-100 of a real
    2-objective study on ZDT1 (6 variables): the history is the search's own, its front as
    large as the search makes it."""
    import tunewise as tw

    study = tw.create_study(
        "suggest-time",
        objectives=[tw.Objective("f1", "minimize"), tw.Objective("f2", "minimize")],
        space={f"x{i}": tw.Float(0.0, 1.0) for i in range(6)},
        strategy="bayesian",
        storage=None,
        seed=0,
    )
    wall, cpu = [], []
    for _ in range(trials):
        start, start_cpu = time.perf_counter(), time.process_time()
        trial = study.ask()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        study.tell(trial, zdt1(trial.params, 6))
    return statistics.median(wall[-10:]), statistics.median(cpu[-10:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feasible", action="store_true")
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    low, _, high = args.seeds.partition("-")
    seeds = list(range(int(low), int(high or low) + 1))
    if args.feasible:
        print(feasible_table(seeds, args.trials))
    if args.time:
        wall, cpu = suggestion_time()
        print(f"bayesian, 2 objectives, trials 91-100: {wall:.3f} s wall, {cpu:.3f} s CPU")


if __name__ == "__main__":
    main()
