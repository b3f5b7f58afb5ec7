"""scikit-learn's own estimator checks (``sklearn.utils.estimator_checks``) on
TunewiseSearchCV, as scikit-learn runs them on its own GridSearchCV and RandomizedSearchCV:
a classifier and a regressor inside, a small space, few trials."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

import tunewise as tw
from tunewise.sklearn import TunewiseSearchCV

SEARCHES = [  # one trial each, by the random strategy: the checks fit some hundred times
    TunewiseSearchCV(
        Ridge(),
        {"alpha": tw.Float(0.1, 10.0, scale="log")},
        n_trials=1,
        cv=2,
        strategy="random",
        random_state=0,
    ),
    TunewiseSearchCV(
        LogisticRegression(),
        {"C": [0.1, 1.0]},
        n_trials=1,
        cv=2,
        strategy="random",
        random_state=0,
    ),
]

#: Checks expected to fail, and why: the same entry scikit-learn gives its own GridSearchCV
#: and RandomizedSearchCV (``sklearn/utils/_test_common/instance_generator.py``). The warning
#: about a column-vector ``y`` is raised inside the cross-validation fits, where the search's
#: ``FitFailedWarning``/joblib machinery does not pass it on to the caller (the regressor; the
#: classifier passes it). Every other check passes (``check_requires_y_none``, which
#: scikit-learn also excuses, passes here).
EXPECTED_FAILED: dict[str, str] = {
    "check_supervised_y_2d": "DataConversionWarning not caught (as for RandomizedSearchCV)",
}


def _expected_failed(search: TunewiseSearchCV) -> dict[str, str]:
    return EXPECTED_FAILED if isinstance(search.estimator, Ridge) else {}


@parametrize_with_checks(SEARCHES, expected_failed_checks=_expected_failed)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
