"""Two objectives on the digits MLP: validation accuracy (maximise) against the number of
weights (minimise), with a constraint that the accuracy is at least 0.9.

A small network is cheaper to serve; a large one is more accurate, up to a point. The study's
answer is not one configuration but the Pareto front: every configuration that no other beats
on both numbers at once. From the repository root::

    python -m examples.mlp_pareto --trials 60 --png docs/img/mlp-pareto.png

prints the front and draws it (the figure of ``tunewise plot pareto_front``). Each trial trains
one ``MLPClassifier`` (from :mod:`examples.mlp_digits`) on 1,010 of the training digits and
scores it on the other 337 (the test split stays unseen).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

import tunewise as tw
from examples.mlp_digits import SEED, THREADS_PER_TRIAL, build_model

N_FEATURES, N_CLASSES = 64, 10
# Its own split, with the true labels: the main job's training digits carry noisy labels.
_digits = load_digits()
X_train, _, y_train, _ = train_test_split(
    _digits.data, _digits.target, test_size=0.25, stratify=_digits.target, random_state=SEED
)
X_fit, X_val, y_fit, y_val = train_test_split(
    X_train, y_train, test_size=0.25, stratify=y_train, random_state=SEED
)

OBJECTIVES = [tw.Objective("accuracy", "maximize"), tw.Objective("n_weights", "minimize")]
CONSTRAINTS = [tw.Constraint("accuracy", min=0.9)]
SPACE: dict[str, tw.Float | tw.Int] = {
    "hidden_layers": tw.Int(1, 2),
    "nodes_per_layer": tw.Int(2, 128, scale="log"),
    "learning_rate_init": tw.Float(1e-4, 0.1, scale="log"),
    "alpha": tw.Float(1e-5, 1.0, scale="log"),
    "max_iter": tw.Int(20, 200, scale="log"),
}


def n_weights(params: dict[str, Any]) -> int:
    """Weights and biases of the network: 64 inputs, the hidden layers, 10 outputs."""
    sizes = [N_FEATURES, *[int(params["nodes_per_layer"])] * int(params["hidden_layers"])]
    sizes.append(N_CLASSES)
    return sum((a + 1) * b for a, b in itertools.pairwise(sizes))


def train(params: dict[str, Any]) -> dict[str, float]:
    """Every metric the study needs: both objectives (the constraint is on accuracy)."""
    model = build_model({**params, "random_state": SEED})
    started = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(THREADS_PER_TRIAL):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_fit, y_fit)
    return {
        "accuracy": float(model.score(X_val, y_val)),
        "n_weights": float(n_weights(params)),
        "fit_seconds": time.perf_counter() - started,
    }


def make_study(storage: str | None = None, seed: int = 0) -> tw.Study:
    return tw.create_study(
        "mlp-pareto",
        objectives=OBJECTIVES,
        constraints=CONSTRAINTS,
        space=SPACE,
        strategy="random",
        storage=storage,
        seed=seed,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60)
    parser.add_argument("--storage", default=None, help="default: in memory")
    parser.add_argument("--png", type=Path, default=None, help="draw the front into this file")
    args = parser.parse_args(argv)
    study = make_study(args.storage)
    study.optimize(train, n_trials=args.trials, max_parallel=2, progress=False)
    print(f"Pareto front of {len(study.trials)} trials (accuracy >= 0.9):")
    for trial in sorted(study.best_trials, key=lambda t: t.metrics["n_weights"]):
        shape = f"{trial.params['hidden_layers']} x {trial.params['nodes_per_layer']}"
        print(
            f"  #{trial.number:<3} accuracy {trial.metrics['accuracy']:.4f}  "
            f"weights {int(trial.metrics['n_weights']):>6}  layers {shape}"
        )
    if args.png is not None:
        from tunewise.analysis import TrialFrame
        from tunewise.analysis.png import write_png

        spec = study.spec
        table = study.store.get_trial_table(study.store.get_study(study.name).id)
        frame = TrialFrame.from_trials(
            table, spec.space, spec.objective, spec.objectives, spec.constraints
        )
        write_png("pareto_front", frame, args.png)
        print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
