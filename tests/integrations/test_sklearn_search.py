"""TunewiseSearchCV with the real scikit-learn: scikit-learn's own search tests, adapted.

Adapted from ``sklearn/model_selection/tests/test_search.py`` (scikit-learn 1.9), the tests that
apply to a randomized-style search (``RandomizedSearchCV``'s variant where both exist), with
small data and few trials:

- test_random_search_cv_results -> ``test_cv_results_keys_and_types_as_randomized`` (the keys
  are compared with a real RandomizedSearchCV's on the same space, plus ``trial_number``);
- test_random_search_cv_results_multimetric -> ``test_multimetric_matches_single_metric``
  (multi-metric with ``refit="accuracy"`` equals the single ``accuracy`` search of the same
  seed; the ``recall`` single search is left out: tunewise tunes the metric it is given, so a
  recall search chooses other candidates, where a random sampler's do not change);
- test_no_refit, test_refit_callable, test_SearchCV_with_fit_params,
  test_grid_search_failing_classifier (error_score 0.0 and NaN),
  test_grid_search_classifier_all_fits_fail, test_grid_search_failing_classifier_raise,
  test_pickle, test_search_train_scores_set_to_false, test_X_as_list / test_y_as_list,
  test_unsupervised_grid_search, test_grid_search_groups, test_classes__property,
  test_search_cv_timing, test_n_features_in, test_grid_search_pipeline_steps (estimators as
  choices in a Pipeline) -> the tests of the same names here.

Left out: the ParameterGrid/ParameterSampler tests (tunewise replaces both), the grid-only ones
(param_grid validation, one grid point, ranges as grids, precomputed kernels, grid sparse
scoring, ``test_gridsearch_nd``), ``test_search_cv_results_rank_tie_breaking`` and
``test_grid_search_correct_score_results`` (they need each candidate exactly once, which a
Bayesian search does not promise), ``test_random_search_bad_cv``/``test_empty_cv_iterator_error``
(scikit-learn's own checks, unchanged by the subclass), the HTML repr, metadata routing,
array API and callback tests (scikit-learn's machinery that ``BaseSearchCV`` runs as is), and
``test_custom_run_search`` (this class *is* a custom ``_run_search``).
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys

import numpy as np
import pytest
from joblib import parallel_backend
from scipy.stats import expon, loguniform, randint, uniform
from sklearn.base import BaseEstimator, clone
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs, make_classification
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GroupKFold, RandomizedSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils._mocking import CheckingClassifier

import tunewise as tw
from tunewise.integrations.sklearn_space import to_search_space
from tunewise.sklearn import TunewiseSearchCV

X_SMALL = np.array([[-1, -1], [-2, -1], [1, 1], [2, 1]])
Y_SMALL = np.array([1, 1, 2, 2])


class FailingClassifier(BaseEstimator):
    """scikit-learn's test classifier that raises on fit() for one parameter value."""

    FAILING_PARAMETER = 2

    def __init__(self, parameter=None):
        self.parameter = parameter

    def fit(self, X, y=None):
        if self.parameter == FailingClassifier.FAILING_PARAMETER:
            raise ValueError("Failing classifier failed as required")
        return self

    def predict(self, X):
        return np.zeros(X.shape[0])

    def score(self, X=None, Y=None):
        return 0.0


def _data(n=60):
    return make_classification(n_samples=n, n_features=4, random_state=42)


# ------------------------------------------------------------------ the space
def test_scipy_distributions_map_to_bounded_params():
    built = to_search_space(
        {
            "a": uniform(1, 4),
            "b": loguniform(1e-3, 1e2),
            "c": randint(2, 10),
            "d": ["x", "y"],
            "e": np.array([1, 2, 2]),
        }
    ).space.params
    assert built["a"] == tw.Float(1.0, 5.0, scale="linear")
    assert built["b"] == tw.Float(1e-3, 1e2, scale="log")
    assert built["c"] == tw.Int(2, 9, scale="linear")
    assert built["d"] == tw.Categorical(["x", "y"])
    assert built["e"] == tw.Categorical([1, 2])  # numpy ints as ints, the repeat dropped


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"C": expon(scale=10)}, "the expon distribution has no bounds"),
        ({"C": loguniform(1, 10, loc=3)}, "loguniform with loc != 0"),
        ({"C": 1.0}, "a single value 1.0"),
        ({"C": []}, "list of choices is empty"),
        ([{"C": [1]}, {"gamma": [1]}], "a list of several dicts"),
    ],
)
def test_unsupported_spaces_are_refused_in_one_sentence(space, message):
    search = TunewiseSearchCV(SVC(), space, n_trials=1)
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        search.fit(*_data())


# ------------------------------------------------------------------ adapted from scikit-learn
def test_cv_results_keys_and_types_as_randomized():
    X, y = _data()
    space = {"C": loguniform(1e-2, 1e2), "degree": randint(2, 4), "kernel": ["rbf", "poly"]}
    ours = TunewiseSearchCV(SVC(), space, n_trials=4, cv=3, return_train_score=True).fit(X, y)
    theirs = RandomizedSearchCV(SVC(), space, n_iter=2, cv=3, return_train_score=True)
    theirs.fit(X, y)
    assert set(ours.cv_results_) == set(theirs.cv_results_) | {"trial_number"}
    for key in ("param_C", "param_degree", "param_kernel"):
        assert isinstance(ours.cv_results_[key], np.ma.MaskedArray)
    kinds = {k: ours.cv_results_[k].dtype.kind for k in ("param_C", "param_degree")}
    assert kinds == {"param_C": "f", "param_degree": "i"}
    assert ours.cv_results_["rank_test_score"].dtype == np.int32
    assert list(ours.cv_results_["trial_number"]) == [0, 1, 2, 3]
    assert all(ours.cv_results_[k].shape == (4,) for k in ours.cv_results_ if k != "params")
    assert ours.n_splits_ == 3 and not ours.multimetric_
    assert ours.best_params_ == ours.cv_results_["params"][ours.best_index_]
    assert ours.best_score_ == ours.cv_results_["mean_test_score"].max()


def test_multimetric_matches_single_metric():
    X, y = _data()
    space = {"C": loguniform(1e-4, 10)}
    multi = TunewiseSearchCV(
        LogisticRegression(),
        space,
        n_trials=4,
        cv=3,
        scoring=("accuracy", "recall"),
        refit="accuracy",
        random_state=0,
    ).fit(X, y)
    single = TunewiseSearchCV(
        LogisticRegression(), space, n_trials=4, cv=3, scoring="accuracy", random_state=0
    ).fit(X, y)
    assert multi.multimetric_ and sorted(multi.scorer_) == ["accuracy", "recall"]
    for key, value in single.cv_results_.items():
        if key.endswith("_time"):
            continue
        np.testing.assert_equal(multi.cv_results_[re.sub("_score$", "_accuracy", key)], value)
    assert multi.best_params_ == single.best_params_
    assert multi.best_score_ == single.best_score_
    np.testing.assert_allclose(multi.predict_proba(X), single.predict_proba(X))


def test_no_refit():
    X, y = _data()
    search = TunewiseSearchCV(LinearSVC(), {"C": [0.1, 1.0]}, n_trials=2, refit=False, cv=2)
    search.fit(X, y)
    assert not hasattr(search, "best_estimator_")
    assert hasattr(search, "best_index_") and hasattr(search, "best_params_")
    with pytest.raises(AttributeError, match="has no attribute 'predict'"):
        search.predict(X)
    with pytest.raises(ValueError, match="refit must be set to a scorer key"):
        TunewiseSearchCV(
            LinearSVC(), {"C": [1.0]}, n_trials=1, scoring={"acc": "accuracy", "p": "precision"}
        ).fit(X, y)


def test_refit_callable():
    X, y = _data(100)

    def worst(cv_results):
        return int(cv_results["mean_test_score"].argmin())

    search = TunewiseSearchCV(
        LinearSVC(random_state=42),
        {"C": loguniform(1e-3, 1)},
        n_trials=3,
        scoring="precision",
        refit=worst,
        random_state=0,
    ).fit(X, y)
    assert search.best_index_ == int(search.cv_results_["mean_test_score"].argmin())
    assert not hasattr(search, "best_score_")


def test_SearchCV_with_fit_params():
    X = np.arange(100).reshape(10, 10)
    y = np.array([0] * 5 + [1] * 5)
    clf = CheckingClassifier(expected_fit_params=["spam", "eggs"])
    search = TunewiseSearchCV(clf, {"foo_param": [1, 2, 3]}, n_trials=2, cv=2, error_score="raise")
    with pytest.raises(AssertionError, match=r"Expected fit parameter\(s\) \['eggs'\] not seen"):
        search.fit(X, y, spam=np.ones(10))
    search.fit(X, y, spam=np.ones(10), eggs=np.zeros(10))


@pytest.mark.parametrize("error_score", [0.0, float("nan")])
def test_grid_search_failing_classifier(error_score, tmp_path):
    X, y = make_classification(n_samples=20, n_features=10, random_state=0)
    storage = f"sqlite:///{tmp_path / 'fail.db'}"
    search = TunewiseSearchCV(
        FailingClassifier(),
        {"parameter": [0, 1, 2]},
        n_trials=3,
        strategy="grid",
        scoring="accuracy",
        refit=False,
        error_score=error_score,
        storage=storage,
    )
    with pytest.warns(FitFailedWarning):
        search.fit(X, y)
    results = search.cv_results_
    failing = [i for i, p in enumerate(results["params"]) if p["parameter"] == 2]
    assert len(failing) == 1  # kept in cv_results_ though every one of its fits failed
    scores = np.array([results[f"split{s}_test_score"][failing[0]] for s in range(5)])
    np.testing.assert_array_equal(scores, np.full(5, error_score))
    assert results["rank_test_score"][failing[0]] == 3
    assert search.best_index_ != failing[0]
    # tunewise is told: NaN is a failed trial, a number is the score the user chose
    trial = tw.load_study("sklearn-search", storage=storage).trials[failing[0]]
    expected = tw.TrialState.FAILED if np.isnan(error_score) else tw.TrialState.COMPLETED
    assert trial.state == expected


def test_grid_search_classifier_all_fits_fail():
    X, y = make_classification(n_samples=20, n_features=10, random_state=0)
    search = TunewiseSearchCV(FailingClassifier(), {"parameter": [2]}, n_trials=2, error_score=0.0)
    with (
        pytest.raises(ValueError, match="(?s)All the 5 fits failed.+Failing classifier failed"),
        pytest.warns(UserWarning, match="fewer configurations than n_trials=2"),
    ):
        search.fit(X, y)


def test_grid_search_failing_classifier_raise():
    X, y = make_classification(n_samples=20, n_features=10, random_state=0)
    search = TunewiseSearchCV(
        FailingClassifier(),
        {"parameter": [0, 2]},
        n_trials=2,
        strategy="grid",
        refit=False,
        error_score="raise",
    )
    with pytest.raises(ValueError, match="Failing classifier failed as required"):
        search.fit(X, y)


def test_pickle_and_clone():
    X, y = _data()
    search = TunewiseSearchCV(DecisionTreeClassifier(), {"max_depth": randint(1, 5)}, n_trials=2)
    twin = clone(search)
    assert twin.get_params()["n_trials"] == 2 and twin is not search
    search.fit(X, y)
    again = pickle.loads(pickle.dumps(search))
    np.testing.assert_array_almost_equal(search.predict(X), again.predict(X))


def test_search_train_scores_set_to_false():
    X, y = _data()
    search = TunewiseSearchCV(LinearSVC(), {"C": [0.1, 1.0]}, n_trials=2, cv=2)
    search.fit(X, y)
    assert not any("train_score" in key for key in search.cv_results_)


def test_X_and_y_as_list():
    X, y = _data()
    search = TunewiseSearchCV(LinearSVC(), {"C": [0.1, 1.0]}, n_trials=2, cv=3)
    search.fit(X.tolist(), y.tolist()).score(X, y)
    assert hasattr(search, "cv_results_")


def test_unsupervised_grid_search():
    X, y = make_blobs(n_samples=50, random_state=0)
    km = KMeans(random_state=0, init="random", n_init=1)
    search = TunewiseSearchCV(
        km,
        {"n_clusters": [2, 3, 4]},
        n_trials=3,
        strategy="grid",
        scoring=["adjusted_rand_score", "fowlkes_mallows_score"],
        refit="adjusted_rand_score",
    ).fit(X, y)
    assert search.best_params_["n_clusters"] == 3
    search = TunewiseSearchCV(km, {"n_clusters": [2, 3, 4]}, n_trials=3, strategy="grid").fit(X)
    assert search.best_params_["n_clusters"] == 4


def test_grid_search_groups():
    X, y = make_classification(n_samples=15, n_classes=2, random_state=0)
    groups = np.random.RandomState(0).randint(0, 3, 15)
    search = TunewiseSearchCV(LinearSVC(), {"C": [1, 10]}, n_trials=2, cv=GroupKFold(3))
    with pytest.raises(ValueError, match="The 'groups' parameter should not be None."):
        search.fit(X, y)
    search.fit(X, y, groups=groups)


def test_classes__property():
    X, y = X_SMALL, Y_SMALL
    search = TunewiseSearchCV(LinearSVC(), {"C": [0.1, 1.0]}, n_trials=2, cv=2)
    assert not hasattr(search, "classes_")
    search.fit(X, y)
    np.testing.assert_array_equal(search.classes_, search.best_estimator_.classes_)


def test_search_cv_timing_and_n_features_in():
    X, y = _data()
    search = TunewiseSearchCV(SVC(gamma="scale"), {"C": [0.1, 1.0]}, n_trials=2, cv=2)
    search.fit(X, y)
    for key in ("mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"):
        assert np.all(search.cv_results_[key] >= 0)
    assert search.refit_time_ >= 0
    assert search.n_features_in_ == 4


def test_grid_search_pipeline_steps():
    """Estimators as choices (not JSON) in a Pipeline, by ``step__param`` names."""
    X, y = _data()
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LinearSVC())])
    space = {
        "clf": [LinearSVC(), LogisticRegression()],
        "scale__with_mean": [True, False],
        "clf__C": loguniform(1e-2, 10),
    }
    search = TunewiseSearchCV(pipe, space, n_trials=4, cv=2, random_state=0).fit(X, y)
    chosen = {type(p["clf"]).__name__ for p in search.cv_results_["params"]}
    assert chosen <= {"LinearSVC", "LogisticRegression"}
    assert isinstance(search.best_estimator_.named_steps["clf"], LinearSVC | LogisticRegression)
    assert search.best_estimator_.named_steps["clf"] is not search.best_params_["clf"]


# ------------------------------------------------------------------ tunewise's own
def test_same_seed_same_candidates_and_n_jobs_rounds():
    X, y = _data()
    space = {"alpha": tw.Float(1e-3, 10.0, scale="log")}
    a = TunewiseSearchCV(Ridge(), space, n_trials=4, cv=2, random_state=3).fit(X, y)
    b = TunewiseSearchCV(Ridge(), space, n_trials=4, cv=2, random_state=3).fit(X, y)
    assert a.cv_results_["params"] == b.cv_results_["params"]
    with parallel_backend("threading"):  # two trials asked per round, no process start-up
        c = TunewiseSearchCV(Ridge(), space, n_trials=4, n_jobs=2, cv=2, random_state=3)
        c.fit(X, y)
    assert list(c.cv_results_["trial_number"]) == [0, 1, 2, 3]


def test_conditional_space_sets_only_active_params():
    """``when=``: ``degree`` is searched (and set) only for the poly kernel; masked otherwise."""
    X, y = _data()
    space = {
        "kernel": tw.Categorical(["rbf", "poly"]),
        "degree": tw.Int(2, 4, when={"kernel": ["poly"]}),
        "C": tw.Float(0.1, 10.0),
    }
    search = TunewiseSearchCV(SVC(), space, n_trials=6, cv=2, random_state=0).fit(X, y)
    results = search.cv_results_
    kernels = {p["kernel"] for p in results["params"]}
    assert kernels == {"rbf", "poly"}
    for i, params in enumerate(results["params"]):
        assert ("degree" in params) == (params["kernel"] == "poly")
        assert bool(results["param_degree"].mask[i]) == (params["kernel"] == "rbf")


def test_stored_search_resumes_with_earlier_trials(tmp_path):
    X, y = _data()
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    kwargs = dict(
        cv=2, random_state=0, storage=storage, study_name="ridge", return_train_score=True
    )
    space = {"alpha": loguniform(1e-3, 10.0)}
    first = TunewiseSearchCV(Ridge(), space, n_trials=3, **kwargs).fit(X, y)
    resumed = TunewiseSearchCV(Ridge(), space, n_trials=5, **kwargs).fit(X, y)
    assert list(resumed.cv_results_["trial_number"]) == [0, 1, 2, 3, 4]
    for key in ("params", "mean_test_score", "split1_train_score", "mean_fit_time"):
        np.testing.assert_equal(resumed.cv_results_[key][:3], first.cv_results_[key])
    study = tw.load_study("ridge", storage=storage)
    assert study.best_value == pytest.approx(resumed.best_score_)
    with pytest.raises(ValueError, match="already has 5 trials of n_trials=5"):
        TunewiseSearchCV(Ridge(), space, n_trials=5, **kwargs).fit(X, y)


def test_import_tunewise_does_not_import_sklearn():
    code = "import sys, tunewise; print('sklearn' in sys.modules or 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
