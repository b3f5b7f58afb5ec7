"""Cost-aware ``bayesian`` (``cost: {metric: ..., aware: true}``) against plain ``bayesian`` and
``random`` on a problem whose trials cost what their hyperparameters make them cost.

    nice -n 10 .venv/bin/python -m benchmarks.cost_aware --seeds 10 --out /tmp/h4-cost/cost.md

The problem, ``costly_mlp``, stands for training a network: learning rate (log), dropout, width
(16-1024, log) and epochs (2-100). Its loss is deterministic: a learning-rate bowl, a dropout
bowl, underfitting that falls with epochs (slower at small learning rates) and with width, and
overfitting that grows with width x epochs at low dropout; so the best configurations are of
moderate size, and the cheapest good ones are far cheaper than the largest. A trial costs
``epochs x width / 1000`` (GPU-minutes, say) plus 0.05 of overhead, and reports it as the
metric ``cost``, which is how the study declares it. ``--problem saturating`` is the same
network on a small data set: width and epochs stop helping early (about 64 and 20), so most of
what a large trial costs buys nothing.

Protocol, per seed: ``random`` runs until it has spent the budget (``--budget``, about 40 random
trials' worth); its best value there is the seed's *target*. Each strategy then runs (up to
``--cap`` times the budget) and we record the total cost at which it first reaches the target,
and its best value once it has spent the budget. The strategies run in a simulated loop (one
trial at a time, the suggestion from the study's history, as the tuner does), so a run takes
seconds, not hours; the cost is the declared metric, not the clock.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Mapping
from typing import Any

from benchmarks.common import emit_table, versions

METHODS = ("random", "bayesian", "bayesian_cost_aware")
PROBLEMS = ("costly_mlp", "saturating")
SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "width": {"type": "int", "low": 16, "high": 1024, "scale": "log"},
    "epochs": {"type": "int", "low": 2, "high": 100},
}
#: About 40 random trials' worth (a random trial costs 12.4 on average).
DEFAULT_BUDGET = 500.0
MAX_TRIALS = 200


def loss(p: Mapping[str, Any], problem: str = "costly_mlp") -> float:
    """The validation loss of the pretend network (deterministic; minimum about 0.1).

    ``saturating``: the same network on a small data set, where the loss stops improving
    early in width (about 64) and epochs (about 20) — so most of the cost buys nothing.
    """
    lr, dropout, width, epochs = p["lr"], p["dropout"], p["width"], p["epochs"]
    bowl = 0.08 * (math.log10(lr) + 2.2) ** 2
    drop = 0.4 * (dropout - 0.25) ** 2
    speed = min(lr / 0.006, 1.0)  # a small learning rate needs more epochs
    if problem == "saturating":
        underfit = 0.5 * math.exp(-epochs * speed / 4) + 0.3 * (16 / width) ** 2
    else:
        underfit = 0.5 * math.exp(-epochs * speed / 12) + 0.3 * (32 / width) ** 0.8
    overfit = 0.15 * (width / 1024) * (epochs / 100) * max(0.0, 0.5 - dropout) / 0.5
    return 0.05 + bowl + drop + underfit + overfit


def cost(p: Mapping[str, Any]) -> float:
    """What a trial costs: proportional to epochs x width, plus a fixed overhead."""
    return p["epochs"] * p["width"] / 1000 + 0.05


def spec_for(method: str, seed: int, budget: float) -> Any:
    from tunewise.spec import StudySpec

    data: dict[str, Any] = {
        "study": "costly-mlp",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random" if method == "random" else "bayesian",
        "space": SPACE,
        "seed": seed,
        "cost": {"metric": "cost", "aware": method == "bayesian_cost_aware"},
        "limits": {"max_cost": budget},
    }
    return StudySpec.from_dict(data)


def run(
    method: str,
    seed: int,
    budget: float,
    stop_cost: float,
    target: float | None,
    problem: str = "costly_mlp",
) -> dict[str, Any]:
    """One study, trial after trial, until it has spent ``stop_cost`` (or reached
    ``target``, once past ``budget``)."""
    from tunewise.strategies import strategy_for, strategy_rng
    from tunewise.trial import Trial, TrialState

    spec = spec_for(method, seed, budget)
    strategy = strategy_for(spec)
    history: list[Trial] = []
    spent, best, best_at_budget, reached_at, in_budget = 0.0, math.inf, math.inf, None, 0
    started = time.perf_counter()
    for number in range(MAX_TRIALS):
        rng = strategy_rng(spec.seed, number)
        suggestion = strategy.suggest(spec.space, history, [], 1, rng, remaining=None)
        if not suggestion:
            break
        params = suggestion[0]
        value, price = loss(params, problem), cost(params)
        metrics = {"loss": value, "cost": price}
        history.append(Trial(1, number, TrialState.COMPLETED, params, value, metrics))
        spent += price
        best = min(best, value)
        if spent <= budget:
            best_at_budget, in_budget = best, in_budget + 1
        if target is not None and reached_at is None and best <= target:
            reached_at = spent
        if spent >= stop_cost or (reached_at is not None and spent >= budget):
            break
    return {
        "problem": problem,
        "method": method,
        "seed": seed,
        "budget": budget,
        "trials": len(history),
        "trials_in_budget": in_budget,
        "spent": spent,
        "best_at_budget": best_at_budget,
        "target": target,
        "cost_to_target": reached_at,
        "seconds": time.perf_counter() - started,
    }


def table(rows: list[dict[str, Any]], cap: float) -> list[str]:
    by = {m: [r for r in rows if r["method"] == m] for m in METHODS}
    random_cost = {r["seed"]: r["cost_to_target"] for r in by["random"]}
    bayes_cost = {r["seed"]: r["cost_to_target"] or math.inf for r in by["bayesian"]}
    lines = [
        "| strategy | reached random's best | total cost to reach it: median [q25, q75] "
        "| cost vs random's (median ratio) | vs bayesian's: median ratio [95% CI], cheaper in "
        "| best at the budget: median | trials in the budget |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        runs = by[method]
        if not runs:
            continue
        capped = [r["cost_to_target"] or math.inf for r in runs]
        reached = sum(math.isfinite(c) for c in capped)
        q = statistics.quantiles(capped, n=4, method="inclusive") if len(capped) > 1 else capped
        ratios = [
            (r["cost_to_target"] or math.inf) / random_cost[r["seed"]]
            for r in runs
            if random_cost.get(r["seed"])
        ]
        ratio = statistics.median(ratios) if ratios else math.nan
        versus = _versus(runs, bayes_cost) if method != "bayesian" and bayes_cost else "-"
        best = statistics.median(r["best_at_budget"] for r in runs)
        in_budget = statistics.median(r["trials_in_budget"] for r in runs)
        lines.append(
            f"| {method} | {reached}/{len(runs)} | {_num(statistics.median(capped))} "
            f"[{_num(q[0])}, {_num(q[-1])}] | {ratio:.2f} | {versus} | {best:.4f} "
            f"| {in_budget:g} |"
        )
    lines.append("")
    lines.append(f"(a run that did not reach it within {cap:g}x the budget counts as inf)")
    return lines


def _versus(runs: list[dict[str, Any]], other: Mapping[int, float]) -> str:
    """The per-seed ratio of this strategy's cost to reach the target to ``other``'s: its
    median with a bootstrap 95% interval (2,000 resamples of the seeds), and on how many
    seeds it was cheaper."""
    import random

    ratios = [
        (r["cost_to_target"] or math.inf) / other[r["seed"]] for r in runs if r["seed"] in other
    ]
    if not ratios:
        return "-"
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(2000))
    low, high = medians[50], medians[1949]
    cheaper = sum(r < 1 for r in ratios)
    return f"{statistics.median(ratios):.2f} [{low:.2f}, {high:.2f}], {cheaper}/{len(ratios)}"


def _num(x: float) -> str:
    return "inf" if not math.isfinite(x) else f"{x:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=PROBLEMS, default="costly_mlp")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--budget", type=float, default=DEFAULT_BUDGET)
    parser.add_argument("--cap", type=float, default=3.0, help="runs stop at cap x budget")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", help="the Markdown table, also printed")
    parser.add_argument("--jsonl", help="one line per run (default: beside --out)")
    args = parser.parse_args(argv)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    rows: list[dict[str, Any]] = []
    jsonl = args.jsonl or (os.path.splitext(args.out)[0] + ".jsonl" if args.out else None)
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        base = run("random", seed, args.budget, args.budget, None, args.problem)
        target = base["best_at_budget"]
        for method in args.methods:
            result = run(method, seed, args.budget, args.cap * args.budget, target, args.problem)
            rows.append(result)
            print(json.dumps(result), flush=True)
            if jsonl:
                with open(jsonl, "a") as f:
                    f.write(json.dumps(result) + "\n")
    lines = [
        f"{args.problem}, budget {args.budget:g}, seeds {args.first_seed}-"
        f"{args.first_seed + args.seeds - 1}; {json.dumps(versions())}",
        "",
        *table(rows, args.cap),
    ]
    emit_table(lines, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
