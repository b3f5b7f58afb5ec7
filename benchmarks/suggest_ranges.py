"""Range proposals (issue 27 §4): does a second study that follows ``suggest_ranges`` beat
spending the same budget continuing the first?

Each problem's given ranges deliberately exclude or only graze its optimum (or search a wide
range on the wrong scale). For each seed, a budget of B trials is spent two ways, both starting
from the same first study of B/2 trials:

- continue: the first study runs B/2 more trials;
- propose: ``study.suggest_ranges()`` makes the next spec, whose study (warm-started from the
  first, ``identical``) runs B/2 trials.

The score is the final regret: the best value over all B trials minus the problem's optimum
(every function is noise-free and its optimum known). Reported: median and quartiles over seeds,
and on how many seeds ``propose`` ended lower.

    python -m benchmarks.suggest_ranges [--budget 60] [--seeds 5] [--strategy bayesian]
        [--problems branin,hartmann6,rosenbrock,mlp] [--out /tmp/h5-ranges/ranges.jsonl]
        [--rule NARROW_PAD=1.0 ...]  (a variant of a rule's threshold)
    python -m benchmarks.suggest_ranges --table /tmp/h5-ranges/ranges.jsonl  (the table again)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import tunewise as tw


@dataclass(frozen=True)
class Problem:
    name: str
    space: tw.Space
    f: Callable[[Mapping[str, Any]], float]  # minimised
    optimum: float
    what: str  # how the given ranges miss the optimum


def _branin(p: Mapping[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_H_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
_H_ALPHA = [1.0, 1.2, 3.0, 3.2]


def _hartmann6(p: Mapping[str, Any]) -> float:
    x = [p[f"x{i}"] for i in range(1, 7)]
    return -sum(
        _H_ALPHA[i] * math.exp(-sum(_H_A[i][j] * (x[j] - _H_P[i][j]) ** 2 for j in range(6)))
        for i in range(4)
    )


def _rosenbrock(p: Mapping[str, Any]) -> float:
    x = [p[f"x{i}"] for i in range(1, 5)]
    return sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(3))


_BATCH = {32: 0.0, 64: 0.02, 128: 0.05, 256: 0.4}


def _mlp(p: Mapping[str, Any]) -> float:
    """A validation-loss-like surface: a bowl in log10(lr) around 3e-4 whose width grows with
    the batch, weight decay best near 1e-3 (log), dropout near 0.1, 3 layers best, and a
    parameter that does nothing (``seed_offset``)."""
    lr = math.log10(p["lr"]) - math.log10(3e-4)
    wd = math.log10(p["weight_decay"]) + 3
    return (
        0.3 * lr**2
        + 0.05 * wd**2
        + 2.0 * (p["dropout"] - 0.1) ** 2
        + 0.03 * (p["layers"] - 3) ** 2
        + _BATCH[p["batch"]]
        + 0.0 * p["seed_offset"]
    )


PROBLEMS = {
    "branin": Problem(
        "branin",
        tw.Space({"x1": tw.Float(0.0, 3.0), "x2": tw.Float(3.0, 10.0)}),
        _branin,
        0.397887,
        "x1 in [0, 3], x2 in [3, 10]: the nearest optimum (pi, 2.275) lies outside both",
    ),
    "hartmann6": Problem(
        "hartmann6",
        tw.Space(
            {
                "x1": tw.Float(0.3, 1.0),
                "x2": tw.Float(0.25, 1.0),
                "x3": tw.Float(0.0, 1.0),
                "x4": tw.Float(0.0, 1.0),
                "x5": tw.Float(0.0, 1.0),
                "x6": tw.Float(0.0, 0.66),
            }
        ),
        _hartmann6,
        -3.32237,
        "x1 >= 0.3 and x2 >= 0.25 exclude the optimum (0.20, 0.15, ...); x6 <= 0.66 grazes 0.657",
    ),
    "rosenbrock": Problem(
        "rosenbrock",
        tw.Space({f"x{i}": tw.Float(-2.0, 0.8) for i in range(1, 5)}),
        _rosenbrock,
        0.0,
        "every x in [-2, 0.8]: the optimum (1, 1, 1, 1) lies just outside",
    ),
    "mlp": Problem(
        "mlp",
        tw.Space(
            {
                "lr": tw.Float(1e-3, 1.0, scale="linear"),
                "weight_decay": tw.Float(1e-6, 1e-1, scale="log"),
                "dropout": tw.Float(0.0, 0.8),
                "layers": tw.Int(1, 8),
                "batch": tw.Categorical([32, 64, 128, 256]),
                "seed_offset": tw.Float(0.0, 1.0),
            }
        ),
        _mlp,
        0.0,
        "lr searched linearly over [1e-3, 1]: the optimum 3e-4 lies below, three decades from "
        "most samples; one parameter does nothing",
    ),
}


def _run(study: tw.Study, f: Callable[[Mapping[str, Any]], float], n: int) -> None:
    """``n`` more trials through ``optimize`` (the loop that reads a warm start's trials)."""
    static = study.static
    study.optimize(lambda params: f({**static, **params}), n_trials=n)


def _best(study: tw.Study) -> float:
    values = [t.value for t in study.trials if t.value is not None]
    return min(values)


def one(problem: Problem, seed: int, budget: int, strategy: str) -> dict[str, Any]:
    """Both arms for one seed, in one in-memory store (the warm start reads the first study)."""
    from tunewise.store import open_store
    from tunewise.study import Study
    from tunewise.study_create import open_or_create

    store = open_store(None)
    runs = tempfile.mkdtemp(prefix="tunewise-ranges-")
    half = budget // 2
    objective = tw.Objective("value", "minimize")
    spec = tw.StudySpec(
        name="first", objective=objective, space=problem.space, strategy=strategy, seed=seed
    )
    open_or_create(store, spec)
    first = Study(store, "first", runs_dir=runs)
    started = time.perf_counter()
    _run(first, problem.f, half)
    after_first = _best(first)
    proposals = first.suggest_ranges()
    changes = [f"{c.param}:{c.action}" for c in proposals.changes if c.action != "keep"]
    propose = None
    if proposals.changed:  # (nothing proposed: a user continues, and so does this arm)
        open_or_create(store, proposals.to_spec("second"))
        second = Study(store, "second", runs_dir=runs)
        _run(second, problem.f, budget - half)
        propose = min(after_first, _best(second))
    _run(first, problem.f, budget - half)  # continue: the same first half, B/2 more
    cont = _best(first)
    propose = cont if propose is None else propose
    store.close()
    return {
        "problem": problem.name,
        "strategy": strategy,
        "seed": seed,
        "budget": budget,
        "regret_first_half": after_first - problem.optimum,
        "regret_continue": cont - problem.optimum,
        "regret_propose": propose - problem.optimum,
        "changes": changes,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _q(values: list[float]) -> str:
    qs = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values * 3
    return f"{qs[1]:.3g} [{qs[0]:.3g}, {qs[2]:.3g}]"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of docs/benchmarks.md: per problem, median [quartiles] of regret."""
    out = [
        "| problem | strategy | seeds | regret after B/2 | continue (B) | propose (B) | "
        "propose lower / tied / higher |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["problem"], r["strategy"]) for r in rows}, key=lambda k: (k[1], k[0]))
    for problem, strategy in keys:
        mine = [r for r in rows if r["problem"] == problem and r["strategy"] == strategy]
        wins = sum(r["regret_propose"] < r["regret_continue"] for r in mine)
        losses = sum(r["regret_propose"] > r["regret_continue"] for r in mine)
        out.append(
            f"| {problem} | {strategy} | {len(mine)} | "
            f"{_q([r['regret_first_half'] for r in mine])} | "
            f"{_q([r['regret_continue'] for r in mine])} | "
            f"{_q([r['regret_propose'] for r in mine])} | "
            f"{wins} / {len(mine) - wins - losses} / {losses} |"
        )
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=60)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategy", default="bayesian")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument("--out", default=None, help="append one JSON line per run here")
    parser.add_argument(
        "--rule",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="try another threshold of tunewise.analysis.range_rules (e.g. NARROW_PAD=1.0)",
    )
    parser.add_argument("--table", metavar="JSONL", help="only print the table of earlier runs")
    args = parser.parse_args()
    if args.table:
        with open(args.table, encoding="utf-8") as handle:
            print(table([json.loads(line) for line in handle if line.strip()]))
        return
    from tunewise.analysis import range_rules

    for rule in args.rule:
        name, _, value = rule.partition("=")
        if not hasattr(range_rules, name):
            parser.error(f"--rule: range_rules has no {name}")
        setattr(range_rules, name, float(value))
    rows = []
    for name in args.problems.split(","):
        for seed in range(args.seeds):
            row = {**one(PROBLEMS[name], seed, args.budget, args.strategy), "rules": args.rule}
            rows.append(row)
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
    print(table(rows))


if __name__ == "__main__":
    main()
