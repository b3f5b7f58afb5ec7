"""Cost-aware ``bayesian`` (``cost: {metric: ..., aware: true}``) against plain ``bayesian`` and
``random`` on a problem whose trials cost what their hyperparameters make them cost.

    nice -n 10 .venv/bin/python -m benchmarks.cost_aware --seeds 10 --out /tmp/h4-cost/cost.md
    nice -n 10 .venv/bin/python -m benchmarks.cost_aware --problem mlp_digits --seeds 40 \
        --workers 2 --out /tmp/h10-cost-real/final_digits.md

The problem, ``costly_mlp``, stands for training a network: learning rate (log), dropout, width
(16-1024, log) and epochs (2-100). Its loss is deterministic: a learning-rate bowl, a dropout
bowl, underfitting that falls with epochs (slower at small learning rates) and with width, and
overfitting that grows with width x epochs at low dropout; so the best configurations are of
moderate size, and the cheapest good ones are far cheaper than the largest. A trial costs
``epochs x width / 1000`` (GPU-minutes, say) plus 0.05 of overhead, and reports it as the
metric ``cost``, which is how the study declares it. ``--problem saturating`` is the same
network on a small data set: width and epochs stop helping early (about 64 and 20), so most of
what a large trial costs buys nothing.

``--problem mlp_digits`` is a real training: scikit-learn's ``MLPClassifier`` on the digits of
``examples/mlp_digits.py`` (its noisy training labels, its ``build_model``), fitted on the first
of that job's CV folds (597 digits) and scored on the rest of the fold (299): learning rate
(1e-4-0.3, log), alpha (1e-5-10, log), width (16-512, log) and epochs (``max_iter``, 5-200, log);
the objective is the validation log loss. The cost a trial reports is the deterministic proxy
``epochs run x width x 597 / 1e6`` (``n_iter_``: a fit that plateaus stops early); its measured
training seconds are recorded beside it, and the table gives both totals. Why a proxy: wall time
on a shared machine moves with the load, so a run would not repeat; the seconds show that the
proxy tracks what the clock says. A fixed ``random_state`` makes the loss a function of the
parameters, so each configuration is trained once per process (``_real_trial``'s cache).

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
from collections.abc import Iterable, Mapping
from typing import Any

from benchmarks.common import emit_table, versions

METHODS = ("random", "bayesian", "bayesian_cost_aware")
PROBLEMS = ("costly_mlp", "saturating", "mlp_digits")
SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1.0, "scale": "log"},
    "dropout": {"type": "float", "low": 0.0, "high": 0.6},
    "width": {"type": "int", "low": 16, "high": 1024, "scale": "log"},
    "epochs": {"type": "int", "low": 2, "high": 100},
}
#: The real problem's space (see the module docstring).
REAL_SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 0.3, "scale": "log"},
    "alpha": {"type": "float", "low": 1e-5, "high": 10.0, "scale": "log"},
    "width": {"type": "int", "low": 16, "high": 512, "scale": "log"},
    "epochs": {"type": "int", "low": 5, "high": 200, "scale": "log"},
}
#: About 40 random trials' worth (a random trial costs 12.4 on average).
DEFAULT_BUDGET = 500.0
#: The same for ``mlp_digits`` (a random trial costs about REAL_BUDGET / 40 on average).
REAL_BUDGET = 150.0
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


_REAL_CACHE: dict[tuple[Any, ...], dict[str, float] | None] = {}


def _real_trial(p: Mapping[str, Any]) -> dict[str, float] | None:
    """Train ``mlp_digits`` once: ``{"loss", "cost", "seconds"}``, or ``None`` if it diverged.

    Cached by the parameters: with a fixed ``random_state`` the fit is deterministic, so a
    configuration met again (random's target run and its measured run share every trial)
    costs nothing to look up; its recorded seconds are those of the first fit.
    """
    key = tuple(sorted(p.items()))
    if key in _REAL_CACHE:
        return _REAL_CACHE[key]
    import warnings

    from examples.mlp_digits import CV_FOLDS, SEED, X_train, build_model, y_train
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    fit_rows, val_rows = next(folds.split(X_train, y_train))
    model = build_model(
        {
            "learning_rate_init": p["lr"],
            "alpha": p["alpha"],
            "nodes_per_layer": p["width"],
            "max_iter": p["epochs"],
        }
    )
    result: dict[str, float] | None
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        started = time.perf_counter()
        try:
            model.fit(X_train[fit_rows], y_train[fit_rows])
        except ValueError:  # non-finite weights: the trial fails
            result = None
        else:
            seconds = time.perf_counter() - started
            value = float(log_loss(y_train[val_rows], model.predict_proba(X_train[val_rows])))
            epochs_run = int(model[-1].n_iter_)
            price = epochs_run * p["width"] * len(fit_rows) / 1e6
            result = {"loss": value, "cost": price, "seconds": seconds}
    _REAL_CACHE[key] = result
    return result


def evaluate(p: Mapping[str, Any], problem: str) -> dict[str, float] | None:
    """The metrics one trial reports (``loss``, ``cost``; ``seconds`` for the real problem),
    or ``None`` for a trial that failed."""
    if problem == "mlp_digits":
        return _real_trial(p)
    return {"loss": loss(p, problem), "cost": cost(p)}


def spec_for(method: str, seed: int, budget: float, problem: str = "costly_mlp") -> Any:
    from tunewise.spec import StudySpec

    data: dict[str, Any] = {
        "study": "costly-mlp",
        "objective": {"metric": "loss", "direction": "minimize"},
        "strategy": "random" if method == "random" else "bayesian",
        "space": REAL_SPACE if problem == "mlp_digits" else SPACE,
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

    spec = spec_for(method, seed, budget, problem)
    strategy = strategy_for(spec)
    history: list[Trial] = []
    spent, best, best_at_budget, reached_at, in_budget = 0.0, math.inf, math.inf, None, 0
    seconds, seconds_at = 0.0, None
    started = time.perf_counter()
    for number in range(MAX_TRIALS):
        rng = strategy_rng(spec.seed, number)
        suggestion = strategy.suggest(spec.space, history, [], 1, rng, remaining=None)
        if not suggestion:
            break
        params = suggestion[0]
        metrics = evaluate(params, problem)
        if metrics is None:  # diverged: a failed trial that still cost its epochs
            price = params["epochs"] * params["width"] * 597 / 1e6
            history.append(Trial(1, number, TrialState.FAILED, params, None, {"cost": price}))
        else:
            price, value = metrics["cost"], metrics["loss"]
            seconds += metrics.get("seconds", 0.0)
            history.append(Trial(1, number, TrialState.COMPLETED, params, value, metrics))
            best = min(best, value)
        spent += price
        if spent <= budget:
            best_at_budget, in_budget = best, in_budget + 1
        if target is not None and reached_at is None and best <= target:
            reached_at, seconds_at = spent, seconds
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
        "train_seconds": seconds,
        "train_seconds_to_target": seconds_at,
        "seconds": time.perf_counter() - started,
    }


def table(rows: list[dict[str, Any]], cap: float) -> list[str]:
    by = {m: [r for r in rows if r["method"] == m] for m in METHODS}
    random_cost = {r["seed"]: r["cost_to_target"] for r in by["random"]}
    bayes_cost = {r["seed"]: r["cost_to_target"] or math.inf for r in by["bayesian"]}
    timed = any(r.get("train_seconds") for r in rows)
    lines = [
        "| strategy | reached random's best | total cost to reach it: median [q25, q75] "
        "| cost vs random's (median ratio) | vs bayesian's: median ratio [95% CI], cheaper in "
        "| best at the budget: median | trials in the budget |"
        + (
            " training seconds to reach it: median [q25, q75] | seconds vs bayesian's |"
            if timed
            else ""
        ),
        "|---|---|---|---|---|---|---|" + ("---|---|" if timed else ""),
    ]
    for method in METHODS:
        runs = by[method]
        if not runs:
            continue
        capped = [r["cost_to_target"] or math.inf for r in runs]
        reached = sum(math.isfinite(c) for c in capped)
        ratios = [
            (r["cost_to_target"] or math.inf) / random_cost[r["seed"]]
            for r in runs
            if random_cost.get(r["seed"])
        ]
        ratio = statistics.median(ratios) if ratios else math.nan
        versus = _versus(runs, bayes_cost) if method != "bayesian" and bayes_cost else "-"
        best = statistics.median(r["best_at_budget"] for r in runs)
        in_budget = statistics.median(r["trials_in_budget"] for r in runs)
        line = (
            f"| {method} | {reached}/{len(runs)} | {_spread(capped)} | {ratio:.2f} | {versus} "
            f"| {best:.4f} | {in_budget:g} |"
        )
        if timed:
            secs = [r["train_seconds_to_target"] or math.inf for r in runs]
            bayes_secs = {
                r["seed"]: r["train_seconds_to_target"] or math.inf for r in by["bayesian"]
            }
            versus_secs = (
                _versus(runs, bayes_secs, "train_seconds_to_target")
                if method != "bayesian" and bayes_secs
                else "-"
            )
            line += f" {_spread(secs, 1)} | {versus_secs} |"
        lines.append(line)
    lines.append("")
    lines.append(f"(a run that did not reach it within {cap:g}x the budget counts as inf)")
    return lines


def _ratio(mine: float, theirs: float) -> float:
    """``mine / theirs``, and 1 where neither reached the target (a tie at the cap)."""
    return 1.0 if math.isinf(mine) and math.isinf(theirs) else mine / theirs


def _spread(values: list[float], digits: int = 0) -> str:
    """``median [q25, q75]`` of ``values`` (inf counts as the largest)."""
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else values
    med = statistics.median(values)
    return f"{_num(med, digits)} [{_num(q[0], digits)}, {_num(q[-1], digits)}]"


def _versus(
    runs: list[dict[str, Any]], other: Mapping[int, float], key: str = "cost_to_target"
) -> str:
    """The per-seed ratio of this strategy's cost to reach the target to ``other``'s: its
    median with a bootstrap 95% interval (2,000 resamples of the seeds), and on how many
    seeds it was cheaper."""
    import random

    ratios = [_ratio(r[key] or math.inf, other[r["seed"]]) for r in runs if r["seed"] in other]
    if not ratios:
        return "-"
    draw = random.Random(0)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(2000))
    low, high = medians[50], medians[1949]
    cheaper = sum(r < 1 for r in ratios)
    return f"{statistics.median(ratios):.2f} [{low:.2f}, {high:.2f}], {cheaper}/{len(ratios)}"


def _num(x: float, digits: int = 0) -> str:
    return "inf" if not math.isfinite(x) else f"{x:.{digits}f}"


def _one_seed(job: tuple[int, float, float, tuple[str, ...], str]) -> list[dict[str, Any]]:
    """Every method's run on one seed: random's best within the budget is the target."""
    seed, budget, cap, methods, problem = job
    base = run("random", seed, budget, budget, None, problem)
    target = base["best_at_budget"]
    return [run(method, seed, budget, cap * budget, target, problem) for method in methods]


def _collect(results: Iterable[list[dict[str, Any]]], jsonl: str | None) -> list[dict[str, Any]]:
    """Print and append (to ``jsonl``) each seed's runs as they come."""
    rows: list[dict[str, Any]] = []
    for runs in results:
        for result in runs:
            rows.append(result)
            print(json.dumps(result), flush=True)
            if jsonl:
                with open(jsonl, "a") as f:
                    f.write(json.dumps(result) + "\n")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problem", choices=PROBLEMS, default="costly_mlp")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--budget", type=float, help=f"default {DEFAULT_BUDGET:g}; {REAL_BUDGET:g} for mlp_digits"
    )
    parser.add_argument("--cap", type=float, default=3.0, help="runs stop at cap x budget")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--out", help="the Markdown table, also printed")
    parser.add_argument("--jsonl", help="one line per run (default: beside --out)")
    parser.add_argument("--workers", type=int, default=1, help="seeds run in this many processes")
    args = parser.parse_args(argv)
    if args.budget is None:
        args.budget = REAL_BUDGET if args.problem == "mlp_digits" else DEFAULT_BUDGET
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    rows: list[dict[str, Any]] = []
    jsonl = args.jsonl or (os.path.splitext(args.out)[0] + ".jsonl" if args.out else None)
    jobs = [
        (seed, args.budget, args.cap, tuple(args.methods), args.problem)
        for seed in range(args.first_seed, args.first_seed + args.seeds)
    ]
    if args.workers > 1:
        from multiprocessing import Pool

        with Pool(args.workers) as pool:
            results = pool.imap_unordered(_one_seed, jobs)
            rows = _collect(results, jsonl)
    else:
        rows = _collect(map(_one_seed, jobs), jsonl)
    rows.sort(key=lambda r: (r["seed"], METHODS.index(r["method"])))
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
