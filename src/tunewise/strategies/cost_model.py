"""Cost-aware ``bayesian``: expected improvement per unit of expected cost, with cost cooling.

With ``cost: {..., aware: true}`` the acquisition ``bayesian`` maximises is
``log EI(x) - alpha * log cost(x)``, i.e. ``EI(x) / cost(x)^alpha``:

- **The cost model.** A GP (the objective's kernel and encoding, :mod:`.gp`, :mod:`.features`)
  fitted to the standardised *log* cost of every finished trial that has one (a
  ``per_hour`` study: its run time, whose price per second is the same for every trial; a
  ``metric`` study: the metric's value). Log, because run time grows multiplicatively with
  epochs x width and a GP on log cost predicts the orders of magnitude that matter; its
  posterior mean is ``log cost(x)``. Snoek et al. (2012) model cost the same way ("EI per
  second").
- **Cost cooling** (Lee et al. 2020, "Cost-aware Bayesian optimization", CArBO): EI per unit
  cost alone prefers cheap configurations for ever, and the best ones are often expensive
  (more epochs, wider networks). ``alpha`` goes from 1 to 0 as the budget is spent:
  ``alpha = (max_cost - spent) / (max_cost - spent_initial)``, where ``spent_initial`` is
  what the space-filling start cost; without ``max_cost`` it cools over the trial budget
  (``remaining / (remaining + trials since the start)``), and without either it stays 1.

The weighting starts once ``MIN_COSTS`` trials report a cost, and only for suggestions the
model makes (the space-filling start is unchanged). Everything it reads is the stored
history, so the suggestions stay a function of (seed, history): resume and replay hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tunewise.cost import CostSpec, trial_cost

if TYPE_CHECKING:
    from tunewise.spec import StudySpec
    from tunewise.strategies.acquisition import Acquisition
    from tunewise.strategies.features import Features
    from tunewise.strategies.gp import GaussianProcess
    from tunewise.trial import Trial

#: Trials with a known cost before the cost model is fitted.
MIN_COSTS = 4
#: The option keys the strategy gets (see :func:`cost_options`).
OPTION = "cost"


def cost_options(spec: StudySpec) -> dict[str, Any]:
    """The strategy options of a cost-aware study (empty otherwise): what a trial costs, the
    budget and the units per trial, so that the strategy counts spend as the tuner does."""
    from tunewise.cost import units_per_trial

    if spec.cost is None or not spec.cost.aware:
        return {}
    return {
        OPTION: {
            **spec.cost.to_dict(),
            "max_cost": spec.limits.max_cost,
            "units": units_per_trial(spec.executor),
        }
    }


class CostWeighted:
    """``inner - alpha * log cost``: an acquisition (:class:`.acquisition.Acquisition`) per
    unit of expected cost."""

    def __init__(self, inner: Acquisition, weighting: CostWeighting) -> None:
        self.inner = inner
        self.weighting = weighting

    def value(self, rows: np.ndarray) -> np.ndarray:
        return self.inner.value(rows) - self.weighting.penalty(rows)

    def value_with_grad(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, grad = self.inner.value_with_grad(rows)
        penalty, dpenalty = self.weighting.penalty_with_grad(rows)
        return value - penalty, grad - dpenalty


class CostWeighting:
    """The fitted cost model and this suggestion's ``alpha``."""

    def __init__(self, gp: GaussianProcess, scale: float, alpha: float) -> None:
        self.gp = gp
        self.scale = scale  # the standard deviation of the log costs
        self.alpha = alpha

    def log_cost(self, rows: np.ndarray) -> np.ndarray:
        """The predicted log cost at ``rows``, less a constant (the mean log cost)."""
        mean, _ = self.gp.predict(rows)
        return mean * self.scale

    def penalty(self, rows: np.ndarray) -> np.ndarray:
        return self.alpha * self.log_cost(rows)

    def penalty_with_grad(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean, _, dmean, _ = self.gp.predict_with_grad(rows)
        factor = self.alpha * self.scale
        return factor * mean, factor * dmean

    def weigh(self, acquisition: Acquisition) -> CostWeighted:
        return CostWeighted(acquisition, self)

    @classmethod
    def fit(
        cls,
        options: Mapping[str, Any],
        features: Features,
        history: Sequence[Trial],
        remaining: int | None,
        n_initial: int,
    ) -> CostWeighting | None:
        """The weighting of a cost-aware study's next suggestion, or ``None`` (not cost-aware,
        too few costs known, or the budget cooled it off)."""
        settings = options.get(OPTION)
        if not settings or len(history) < n_initial:
            return None  # not cost-aware, or still in the space-filling start (not weighed)
        spec = CostSpec.from_dict({k: settings[k] for k in ("per_hour", "metric") if k in settings})
        if spec is None:
            return None
        units = float(settings.get("units") or 1.0)
        costs = [_cost(spec, t, units) for t in history]
        alpha = _alpha(costs, settings.get("max_cost"), remaining, n_initial)
        if alpha <= 0:
            return None
        known = [(t, c) for t, c in zip(history, costs, strict=True) if c is not None and c > 0]
        if len(known) < MIN_COSTS:
            return None
        rows, ok = features.encode_many([t.params for t, _ in known])
        logs = np.log(np.array([c for _, c in known], dtype=float))[ok]
        rows = rows[ok]
        if len(logs) < MIN_COSTS:
            return None
        spread = float(np.std(logs))
        if not math.isfinite(spread) or spread < 1e-9:
            return None  # every trial costs the same: nothing to weigh
        from tunewise.strategies.gp import GaussianProcess

        standard = (logs - float(np.mean(logs))) / spread
        gp = GaussianProcess.fit(rows, standard, features.categorical, restarts=1)
        return cls(gp, spread, alpha)


def _cost(spec: CostSpec, trial: Trial, units: float) -> float | None:
    """A finished trial's cost (``None`` for one that has none: not finished, not reported)."""
    if not trial.state.is_finished:
        return None
    if spec.per_hour is not None:
        return None if trial.duration is None else trial_cost(spec, trial, units=units)
    assert spec.metric is not None
    value = trial.metrics.get(spec.metric)
    return float(value) if value is not None and math.isfinite(value) and value >= 0 else None


def _alpha(
    costs: Sequence[float | None], max_cost: float | None, remaining: int | None, n_initial: int
) -> float:
    """Cost cooling: 1 at the end of the space-filling start, 0 when the budget is spent."""
    if max_cost is not None:
        spent = sum(c for c in costs if c is not None)
        initial = sum(c for c in costs[:n_initial] if c is not None)
        if max_cost <= initial:
            return 0.0
        return min(1.0, max(0.0, (max_cost - spent) / (max_cost - initial)))
    if remaining is not None:
        since = max(0, len(costs) - n_initial)
        return remaining / (remaining + since) if remaining + since > 0 else 0.0
    return 1.0
