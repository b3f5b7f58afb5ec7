"""``TunewiseSearchCV``: scikit-learn's search estimator, choosing candidates with tunewise.

scikit-learn's ``BaseSearchCV`` runs the cross-validation (folds, scorers, ``error_score``,
parallel fits, refit, ``cv_results_``); it lets a subclass decide the candidates through
``_run_search(evaluate_candidates)``. Here the candidates come from a tunewise study by
ask-and-tell: each round asks for as many trials as ``n_jobs`` runs at once, has
scikit-learn evaluate them, and tells back each one's mean test score (``NaN``, from
``error_score=nan``, is told as a failed trial). So ``cv_results_`` has exactly the keys
``RandomizedSearchCV`` gives, plus ``trial_number``; every other attribute and method
(``best_params_``, ``predict``, ...) is scikit-learn's own.

The study is in memory unless ``storage`` names a database: then every trial is kept with its
per-fold results, and calling ``fit`` again with the same ``study_name`` continues the search
up to ``n_trials`` in all, with the earlier trials back in ``cv_results_``.
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from joblib import effective_n_jobs
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection._search import BaseSearchCV
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval

from tunewise.integrations.sklearn_space import SearchSpace, to_search_space
from tunewise.trial import Objective, TrialState

#: The user attribute that keeps a trial's per-fold results in a stored study.
RESULTS_ATTR = "sklearn_cv"
#: The column of ``cv_results_`` that names each candidate's trial in the study.
TRIAL_COLUMN = "trial_number"
#: How much of a failed fit's traceback a stored trial keeps.
_ERROR_CHARS = 2000

Evaluate = Callable[..., dict[str, Any]]


def _jsonable(value: Any) -> Any:
    """A fold's result in JSON (NaN and infinities as strings, arrays as lists)."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, Mapping):
        if set(value) == {"float"}:
            return float(value["float"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


class TunewiseSearchCV(BaseSearchCV):
    """Search hyperparameters by cross-validation, choosing each candidate with tunewise's
    Bayesian optimisation (or any tunewise strategy); a drop-in for ``RandomizedSearchCV``.

    Parameters
    ----------
    estimator : estimator object
        What to tune; in a ``Pipeline`` name parameters ``step__param``.
    param_distributions : dict
        Parameter name -> ``tw.Float`` / ``tw.Int`` / ``tw.Categorical`` (conditions with
        ``when=`` included), a list of choices (any objects, estimators too), or a frozen
        ``scipy.stats`` ``uniform`` / ``loguniform`` / ``randint``.
    n_trials : int, default=50
        Candidates evaluated in all (with ``storage``: in the stored study, all fits together).
    scoring, refit, cv, verbose, pre_dispatch, error_score, return_train_score
        As in ``RandomizedSearchCV``. With several scorers, tunewise maximises the one named
        by ``refit`` (the first one when ``refit`` is not a name).
    n_jobs : int, default=None
        Fits run at once, and candidates asked of tunewise per round (``-1``: all cores).
    random_state : int, RandomState or None
        Seeds the strategy; the same seed gives the same candidates.
    strategy : str, default="bayesian"
        Any tunewise strategy: ``bayesian``, ``tpe``, ``random``, ``grid``.
    storage : str or None
        ``sqlite:///file.db`` or ``postgresql://...`` to keep the study (and resume it).
    study_name : str or None
        The stored study's name (default ``"sklearn-search"``).
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_distributions": [dict, list],
        "n_trials": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "strategy": [str],
        "storage": [str, None],
        "study_name": [str, None],
    }

    def __init__(
        self,
        estimator: Any,
        param_distributions: Any,
        *,
        n_trials: int = 50,
        scoring: Any = None,
        n_jobs: int | None = None,
        refit: Any = True,
        cv: Any = None,
        verbose: int = 0,
        pre_dispatch: Any = "2*n_jobs",
        random_state: Any = None,
        error_score: Any = np.nan,
        return_train_score: bool = False,
        strategy: str = "bayesian",
        storage: str | None = None,
        study_name: str | None = None,
    ) -> None:
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.random_state = random_state
        self.strategy = strategy
        self.storage = storage
        self.study_name = study_name
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )

    # ---------------------------------------------------------------- the search
    def _seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(2**31 - 1))

    def _tuned_metric(self, results: Mapping[str, Any]) -> str:
        if "mean_test_score" in results:
            return "mean_test_score"
        if isinstance(self.refit, str):
            return f"mean_test_{self.refit}"
        return next(k for k in results if k.startswith("mean_test_"))

    def _run_search(self, evaluate_candidates: Evaluate) -> None:
        """Ask tunewise for ``n_jobs`` candidates at a time until ``n_trials`` are done."""
        import tunewise

        space = to_search_space(self.param_distributions)
        self.study_name_ = self.study_name or "sklearn-search"
        study = tunewise.create_study(
            self.study_name_,
            objective=Objective("score", "maximize"),
            space=space.space,
            strategy=self.strategy,
            storage=self.storage,
            seed=self._seed(),
        )
        try:
            done = self._restore(study, space)
            if done >= self.n_trials:
                raise ValueError(
                    f"the study {self.study_name_!r} in {self.storage} already has {done} "
                    f"trials of n_trials={self.n_trials}: raise n_trials to continue it, or "
                    "read it with tunewise.load_study"
                )
            batch = max(1, effective_n_jobs(self.n_jobs))
            evaluated: dict[str, Any] | None = None
            all_failed: ValueError | None = None
            while done < self.n_trials:
                count = min(batch, self.n_trials - done)
                asked = self._ask(study, count, self.n_trials - done)
                if not asked:
                    break
                candidates = [space.to_estimator_params(t.params) for t in asked]
                started = time.perf_counter()
                try:
                    results = evaluate_candidates(
                        candidates, more_results={TRIAL_COLUMN: [t.number for t in asked]}
                    )
                except ValueError as exc:
                    if not _all_fits_failed(exc):
                        _fail(study, asked, exc)
                        raise
                    all_failed = exc
                    self._record_failed(asked, candidates, exc, time.perf_counter() - started)
                    for trial in asked:
                        self._tell_one(study, trial, float(self.error_score), None)
                except BaseException as exc:
                    _fail(study, asked, exc)
                    raise
                else:
                    evaluated = results
                    self._tell(study, asked, results)
                done += len(asked)
                if self.__dict__.pop("_exhausted", False):
                    break
            if evaluated is None and all_failed is not None:
                raise all_failed
            if evaluated is not None and self.__dict__.get("_failed"):
                # rounds that failed after the last one scikit-learn kept: the table fit()
                # holds is that round's dict, so it is completed in place
                evaluated.update(self._format_results(*self._last_call))
        finally:
            study.close()
            # what only the search needed: a fitted estimator keeps no copy of every fold
            for name in ("_prior", "_last_out", "_last_call", "_failed", "_exhausted"):
                self.__dict__.pop(name, None)

    def _ask(self, study: Any, count: int, remaining: int) -> list[Any]:
        """Up to ``count`` new trials; fewer when the space has no new configuration left (a
        small discrete space), with RandomizedSearchCV's warning for that case."""
        asked = []
        for i in range(count):
            try:
                asked.append(study.ask(remaining=remaining - i))
            except ValueError as exc:
                if "no configuration left" not in str(exc):
                    raise
                warnings.warn(
                    f"The search space has fewer configurations than n_trials="
                    f"{self.n_trials}; the {self.strategy} strategy tried every one "
                    f"({len(study.trials)} trials).",
                    UserWarning,
                    stacklevel=4,
                )
                self.__dict__["_exhausted"] = True
                break
        return asked

    def _tell(self, study: Any, asked: list[Any], results: Mapping[str, Any]) -> None:
        """Tell each asked trial its mean score (the rows for this round are the last ones)."""
        scores = results[self._tuned_metric(results)][-len(asked) :]
        start = len(results[TRIAL_COLUMN]) - len(asked)
        for i, (trial, score) in enumerate(zip(asked, scores, strict=True)):
            self._tell_one(study, trial, float(score), start + i)

    def _tell_one(self, study: Any, trial: Any, score: float, row: int | None) -> None:
        if self.storage is not None and row is not None:
            trial.set_user_attr(RESULTS_ATTR, self._fold_results(row))
        if math.isnan(score):
            study.tell(trial, state="failed", error="its score is NaN (a fit or score failed)")
        else:
            study.tell(trial, score)
        if self.verbose > 0:
            print(f"[TunewiseSearchCV] trial {trial.number}: score {score:.5g}")

    def _record_failed(
        self, asked: list[Any], candidates: list[dict[str, Any]], exc: Exception, seconds: float
    ) -> None:
        """Keep a round whose every fit failed (scikit-learn raised and kept none of it) to
        put back into ``cv_results_`` with ``error_score``, as RandomizedSearchCV would."""
        failed = self.__dict__.setdefault("_failed", [])
        fits = len(asked) * self.n_splits_
        warnings.warn(
            f"\n{fits} fits failed out of a total of {fits} in a round of {len(asked)} "
            f"trial(s).\nThe score on these train-test partitions for these parameters will be "
            f"set to {self.error_score}.\n{str(exc)[-_ERROR_CHARS:]}",
            FitFailedWarning,
            stacklevel=4,
        )
        per_fit = seconds / max(1, len(asked) * self.n_splits_)
        for trial, params in zip(asked, candidates, strict=True):
            failed.append((trial.number, params, str(exc)[-_ERROR_CHARS:], per_fit))

    # ---------------------------------------------------------------- resume
    def _restore(self, study: Any, space: SearchSpace) -> int:
        """Take back the trials of a stored study that kept their per-fold results; how many."""
        prior: list[tuple[int, dict[str, Any], list[Any]]] = []
        for trial in study.get_trials((TrialState.COMPLETED, TrialState.FAILED)):
            folds = trial.user_attrs.get(RESULTS_ATTR)
            if folds:
                params = space.to_estimator_params(trial.params)
                prior.append((trial.number, params, _from_json(folds)))
        self._prior = prior
        return len(prior)

    def _fold_results(self, index: int) -> list[Any]:
        folds = self._last_out[index * self._last_splits : (index + 1) * self._last_splits]
        kept = []
        for fold in folds:
            fold = dict(fold)
            if fold.get("fit_error"):  # a traceback: its end says what failed
                fold["fit_error"] = str(fold["fit_error"])[-_ERROR_CHARS:]
            kept.append(fold)
        return list(_jsonable(kept))

    def _format_results(
        self,
        candidate_params: list[dict[str, Any]],
        n_splits: int,
        out: list[dict[str, Any]],
        more_results: Mapping[str, list[Any]] | None = None,
    ) -> dict[str, Any]:
        """scikit-learn's table, with a resumed study's earlier trials and the rounds whose
        every fit failed put back in trial order."""
        self._last_call = (candidate_params, n_splits, out, more_results)
        numbers = list((more_results or {}).get(TRIAL_COLUMN, []))
        rows = [
            (number, params, out[i * n_splits : (i + 1) * n_splits])
            for i, (number, params) in enumerate(zip(numbers, candidate_params, strict=True))
        ]
        rows.extend(self.__dict__.get("_prior", []))
        if out:
            for number, params, error, seconds in self.__dict__.get("_failed", []):
                rows.append(
                    (
                        number,
                        params,
                        _failed_folds(out[0], n_splits, error, seconds, self.error_score),
                    )
                )
        if len(rows) > len(numbers):
            rows.sort(key=lambda row: row[0])
            candidate_params = [params for _, params, _ in rows]
            out = [fold for _, _, folds in rows for fold in folds]
            more = dict(more_results or {})
            more[TRIAL_COLUMN] = [number for number, _, _ in rows]
            more_results = more
        self._last_out, self._last_splits = out, n_splits
        return super()._format_results(candidate_params, n_splits, out, more_results)


def _all_fits_failed(exc: ValueError) -> bool:
    """scikit-learn's error for a call of evaluate_candidates in which no fit succeeded."""
    text = str(exc)
    return "All the" in text and "fits failed" in text


def _fail(study: Any, asked: list[Any], exc: BaseException) -> None:
    for trial in asked:
        study.tell(trial, state="failed", error=f"{type(exc).__name__}: {exc}"[-_ERROR_CHARS:])


def _failed_folds(
    like: Mapping[str, Any], n_splits: int, error: str, seconds: float, error_score: Any
) -> list[dict[str, Any]]:
    """A failed candidate's folds, shaped as ``like`` (one scorer or a dict of them)."""

    def scores(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {name: float(error_score) for name in value}
        return float(error_score)

    fold = {k: v for k, v in like.items() if k not in ("parameters", "estimator")}
    fold.update(
        fit_error=error, test_scores=scores(like["test_scores"]), fit_time=seconds, score_time=0.0
    )
    if "train_scores" in like:
        fold["train_scores"] = scores(like["train_scores"])
    return [dict(fold) for _ in range(n_splits)]
