"""Tune scikit-learn's ``MLPClassifier`` on the digits data set (1,797 8x8 images, 10 classes).

Run the study from the repository root, then compare the best configuration with
scikit-learn's defaults on held-out digits that the search never saw::

    tunewise run examples/mlp_digits.yaml
    python -m examples.mlp_digits compare --storage sqlite:///tunewise.db --study mlp-digits

Each trial scores a configuration by stratified k-fold cross-validation on a fixed training
split; the test split is used only by ``compare``. The data is loaded once at import, so
trials forked from the runner share it.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

SEED = 0
TEST_SIZE = 0.25
CV_FOLDS = 3
#: BLAS threads per fit: the demo runs two trials at once on two cores, and these small
#: matrices gain nothing from more threads anyway.
THREADS_PER_TRIAL = 1

_digits = load_digits()
X_train, X_test, y_train, y_test = train_test_split(
    _digits.data,
    _digits.target,
    test_size=TEST_SIZE,
    stratify=_digits.target,
    random_state=SEED,
)

#: Keys that are not MLPClassifier arguments: together they give ``hidden_layer_sizes``.
_SHAPE_KEYS = ("hidden_layers", "nodes_per_layer")
#: MLPClassifier arguments that must be ints (a strategy or a JSON round trip may give 64.0).
_INT_KEYS = ("batch_size", "max_iter", "n_iter_no_change")


def build_model(params: Mapping[str, Any]) -> Pipeline:
    """Standard scaling then an MLPClassifier built from ``params`` (static + searched values).

    ``hidden_layers`` and ``nodes_per_layer`` give ``hidden_layer_sizes`` (scikit-learn's
    default of one layer of 100 units fills in a missing one); every other key is passed to
    ``MLPClassifier`` as is. ``build_model({})`` is scikit-learn's default classifier.
    """
    kwargs = dict(params)
    if any(key in kwargs for key in _SHAPE_KEYS):
        layers = int(kwargs.pop("hidden_layers", 1))
        nodes = int(kwargs.pop("nodes_per_layer", 100))
        kwargs["hidden_layer_sizes"] = (nodes,) * layers
    for key in _INT_KEYS:
        if key in kwargs:
            kwargs[key] = int(kwargs[key])
    kwargs.setdefault("random_state", SEED)
    return Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(**kwargs))])


def train(params: dict[str, Any]) -> dict[str, float]:
    """One trial: mean stratified CV accuracy of ``build_model(params)`` on the training split.

    Returns the objective ``accuracy`` with ``accuracy_std`` (across folds) and
    ``fit_seconds``. A configuration whose weights blow up (a large learning rate with high
    momentum) raises ``ValueError``, so the trial fails with that reason.
    """
    model = build_model(params)
    folds = StratifiedKFold(n_splits=CV_FOLDS, shuffle=True, random_state=SEED)
    start = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(limits=THREADS_PER_TRIAL):
        # Expected with few epochs: finding enough of them is part of the search.
        warnings.simplefilter("ignore", ConvergenceWarning)
        # Overflow on the way to diverging; the ValueError below says it plainly.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            scores = cross_val_score(
                model,
                X_train,
                y_train,
                cv=folds,
                scoring="accuracy",
                n_jobs=1,
                error_score="raise",
            )
        except ValueError as exc:
            if "non-finite" not in str(exc):
                raise
            raise ValueError(
                "training diverged (non-finite weights); learning_rate_init="
                f"{params.get('learning_rate_init')}, momentum={params.get('momentum')}"
            ) from exc
    return {
        "accuracy": float(np.mean(scores)),
        "accuracy_std": float(np.std(scores)),
        "fit_seconds": time.perf_counter() - start,
    }


def held_out_accuracy(params: Mapping[str, Any]) -> float:
    """Fit ``build_model(params)`` on the whole training split; accuracy on the test split."""
    model = build_model(params)
    with warnings.catch_warnings(), threadpool_limits(limits=THREADS_PER_TRIAL):
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    return float(model.score(X_test, y_test))


def load_best(
    study_name: str, storage: str
) -> tuple[dict[str, Any], dict[str, Any], float, dict[str, float]]:
    """The study's best trial as (searched params, static values, objective value, metrics).

    The only code here that touches tunewise's API.
    """
    import tunewise as tw

    study = tw.load_study(study_name, storage=storage)
    best = study.best_trial
    return dict(best.params), dict(study.static), float(best.value), dict(best.metrics)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def compare(study_name: str, storage: str) -> None:
    """Print the best configuration and its held-out accuracy beside scikit-learn's defaults."""
    params, static, cv_value, metrics = load_best(study_name, storage)
    cv_line = f"{cv_value:.4f}"
    if "accuracy_std" in metrics:
        cv_line += f" +/- {metrics['accuracy_std']:.4f}"
    print(f"study {study_name}: best {CV_FOLDS}-fold CV accuracy {cv_line}")
    print(f"  on {len(y_train)} training digits; best hyperparameters:")
    width = max(map(len, params), default=0)
    for name in sorted(params):
        print(f"    {name:<{width}}  {_format_value(params[name])}")
    if static:
        fixed = ", ".join(f"{k}={_format_value(v)}" for k, v in sorted(static.items()))
        print(f"  fixed: {fixed}")

    tuned = held_out_accuracy({**static, **params})
    default = held_out_accuracy({})
    print(f"held-out test accuracy ({len(y_test)} digits):")
    print(f"  tuned    {tuned:.4f}   (the best hyperparameters above)")
    print(f"  default  {default:.4f}   (MLPClassifier())")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.mlp_digits", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    cmp = commands.add_parser(
        "compare", help="held-out test accuracy of the best trial vs scikit-learn's defaults"
    )
    cmp.add_argument("--storage", default="sqlite:///tunewise.db", help="the study's storage URL")
    cmp.add_argument("--study", default="mlp-digits", help="the study's name")
    args = parser.parse_args(argv)
    if args.command == "compare":
        compare(args.study, args.storage)
    return 0


if __name__ == "__main__":
    sys.exit(main())
