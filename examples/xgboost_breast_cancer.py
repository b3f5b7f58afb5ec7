"""Tune XGBoost on scikit-learn's breast-cancer data set (569 tumours, 30 features, 2 classes).

Needs the optional extra: ``pip install 'tunewise[xgboost]'``. From the repository root::

    tunewise run examples/xgboost_breast_cancer.yaml

Each trial scores a configuration by 5-fold stratified cross-validation with ``xgboost.cv``
(fixed folds) and minimises the mean held-out log loss; AUC and error rate are stored beside it.
The data is loaded once at import, so trials forked from the runner share it.
"""

from __future__ import annotations

import time
from typing import Any

from sklearn.datasets import load_breast_cancer

SEED = 0
CV_FOLDS = 5
#: Threads per trial: the demo runs two trials at once on two cores.
THREADS_PER_TRIAL = 1
#: The one searched value that is not a booster parameter.
_ROUNDS_KEY = "num_boost_round"
#: Booster parameters that must be ints (a strategy or a JSON round trip may give 4.0).
_INT_KEYS = ("max_depth",)

_data = load_breast_cancer()
X, y = _data.data, _data.target


def _import_xgboost() -> Any:
    """``xgboost``, or an ImportError that says how to install it."""
    try:
        import xgboost
    except ImportError as exc:
        raise ImportError("this example needs XGBoost: pip install 'tunewise[xgboost]'") from exc
    return xgboost


# At import, so that `tunewise run` reports a missing XGBoost before the first trial starts.
xgb = _import_xgboost()


def booster_params(params: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Split trial params into XGBoost booster parameters and the number of boosting rounds."""
    booster = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "auc", "error"],
        "nthread": THREADS_PER_TRIAL,
        "seed": SEED,
        "verbosity": 0,
    }
    rounds = 100
    for key, value in params.items():
        if key == _ROUNDS_KEY:
            rounds = int(value)
        elif key in _INT_KEYS:
            booster[key] = int(value)
        else:
            booster[key] = value
    return booster, rounds


def train(params: dict[str, Any]) -> dict[str, float]:
    """One trial: mean 5-fold CV log loss (the objective), AUC and error after the last round."""
    booster, rounds = booster_params(params)
    start = time.perf_counter()
    history = xgb.cv(
        booster,
        xgb.DMatrix(X, label=y, nthread=THREADS_PER_TRIAL),
        num_boost_round=rounds,
        nfold=CV_FOLDS,
        stratified=True,
        seed=SEED,
        as_pandas=False,
    )
    last = {name: float(values[-1]) for name, values in history.items()}
    return {
        "logloss": last["test-logloss-mean"],
        "logloss_std": last["test-logloss-std"],
        "auc": last["test-auc-mean"],
        "error": last["test-error-mean"],
        "train_logloss": last["train-logloss-mean"],
        "fit_seconds": time.perf_counter() - start,
    }
