"""TunewiseSearchCV against RandomizedSearchCV and HalvingRandomSearchCV on the shared bench's
ML task (hgb_breast_cancer: HistGradientBoosting, 5 hyperparameters, 3-fold CV log loss).

Every search gets the same estimator, the same scipy.stats space, the same folds and the same
scorer (``neg_log_loss``); the score reported for each is its best candidate's mean 3-fold CV
log loss on those folds (lower is better), recomputed the same way for all three (Halving's own
``best_score_`` comes from its last, possibly smaller, round of data). Budgets:

- ``tunewise``: TunewiseSearchCV, 50 trials (default ``bayesian``);
- ``random``: RandomizedSearchCV, 50 candidates;
- ``halving``: HalvingRandomSearchCV (factor 3, resource = samples) with as many candidates as
  fit in tunewise's wall-clock of the same seed (a pilot of 60 candidates measures its speed).

Single-threaded (OMP_NUM_THREADS=1, n_jobs=1): the CPU is shared.

    python -m benchmarks.sklearn_search --seeds 0-4 --out /tmp/tunewise-bench/sklearn_search.md
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before NumPy / scikit-learn load

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

N_TRIALS = 50
PILOT_CANDIDATES = 60


def _data() -> tuple[Any, Any, list[tuple[Any, Any]]]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold

    X, y = load_breast_cancer(return_X_y=True)  # the bench problem's data and folds
    folds = list(StratifiedKFold(n_splits=3, shuffle=True, random_state=0).split(X, y))
    return X, y, folds


def _estimator() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0)


def _space() -> dict[str, Any]:
    from scipy.stats import loguniform, randint

    return {  # the bench's HGB_SPACE (max_leaf_nodes uniform: scipy has no log-uniform int)
        "learning_rate": loguniform(1e-3, 1.0),
        "max_depth": randint(2, 13),
        "max_leaf_nodes": randint(4, 65),
        "l2_regularization": loguniform(1e-6, 10.0),
        "min_samples_leaf": randint(2, 61),
    }


def _log_loss(params: dict[str, Any], X: Any, y: Any, folds: Any) -> float:
    from sklearn.model_selection import cross_val_score

    model = _estimator().set_params(**params)
    scores = cross_val_score(model, X, y, cv=folds, scoring="neg_log_loss")
    return float(-scores.mean())


def _halving(seed: int, n_candidates: int, X: Any, y: Any, folds: Any) -> Any:
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV, StratifiedKFold

    # Halving subsamples X itself, so it cannot reuse fixed index folds: same splitter instead
    cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    return HalvingRandomSearchCV(
        _estimator(),
        _space(),
        n_candidates=n_candidates,
        factor=3,
        cv=cv,
        scoring="neg_log_loss",
        random_state=seed,
        refit=False,
    )


def run_seed(seed: int, halving_rate: float) -> dict[str, Any]:
    """One seed: the three searches, their best CV log loss, wall-clock and fits."""
    from sklearn.model_selection import RandomizedSearchCV

    from tunewise.sklearn import TunewiseSearchCV

    X, y, folds = _data()
    row: dict[str, Any] = {"seed": seed}
    searches = {
        "tunewise": TunewiseSearchCV(
            _estimator(),
            _space(),
            n_trials=N_TRIALS,
            cv=folds,
            scoring="neg_log_loss",
            random_state=seed,
            refit=False,
        ),
        "random": RandomizedSearchCV(
            _estimator(),
            _space(),
            n_iter=N_TRIALS,
            cv=folds,
            scoring="neg_log_loss",
            random_state=seed,
            refit=False,
        ),
    }
    for name, search in searches.items():
        start = time.perf_counter()
        search.fit(X, y)
        row[name] = {
            "loss": -float(search.best_score_),
            "seconds": time.perf_counter() - start,
            "candidates": len(search.cv_results_["params"]),
        }
    n_candidates = max(3, int(halving_rate * row["tunewise"]["seconds"]))
    search = _halving(seed, n_candidates, X, y, folds)
    start = time.perf_counter()
    search.fit(X, y)
    seconds = time.perf_counter() - start
    row["halving"] = {
        "loss": _log_loss(search.best_params_, X, y, folds),
        "seconds": seconds,
        "candidates": n_candidates,
    }
    return row


def pilot_rate() -> float:
    """Candidates per second HalvingRandomSearchCV gets through on this machine now."""
    X, y, folds = _data()
    search = _halving(12345, PILOT_CANDIDATES, X, y, folds)
    start = time.perf_counter()
    search.fit(X, y)
    return PILOT_CANDIDATES / (time.perf_counter() - start)


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table: per method, mean (sd) loss, wins vs tunewise, seconds, candidates."""
    lines = [
        "| search | best 3-fold CV log loss, mean (sd) | tunewise better on | seconds, mean "
        "| candidates |",
        "|---|---|---|---|---|",
    ]
    for name in ("tunewise", "random", "halving"):
        losses = [r[name]["loss"] for r in rows]
        sd = statistics.stdev(losses) if len(losses) > 1 else 0.0
        wins = sum(r["tunewise"]["loss"] < r[name]["loss"] for r in rows)
        secs = statistics.mean(r[name]["seconds"] for r in rows)
        cands = "/".join(str(r[name]["candidates"]) for r in rows)
        versus = "-" if name == "tunewise" else f"{wins}/{len(rows)} seeds"
        lines.append(
            f"| {name} | {statistics.mean(losses):.4f} ({sd:.4f}) | {versus} | {secs:.1f} "
            f"| {cands} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    rate = pilot_rate()
    print(f"halving pilot: {rate:.2f} candidates/s", file=sys.stderr)
    rows = []
    for seed in _seeds(args.seeds):
        rows.append(run_seed(seed, rate))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    text = table(rows)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n\n" + "\n".join(json.dumps(r) for r in rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
