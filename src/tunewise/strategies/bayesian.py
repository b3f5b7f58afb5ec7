"""Bayesian optimisation with a Gaussian process: the default strategy.

One suggestion, derived from the history alone (the strategy keeps no state):

1. **Space-filling start.** The first ``initial_design_size(d)`` trials (5 to 10) take the points
   of a Latin hypercube seeded by the study (trial ``k`` takes point ``k``): enough spread for a
   first model, few enough that the model takes over early.
2. **Model.** A Matérn-5/2 ARD GP (:mod:`.gp`, dimension-scaled lengthscale prior after
   Hvarfner et al. 2024) on the rows of :mod:`.features` (unit encoding, categoricals as
   unordered choices), fitted by MAP to warped values (:mod:`.warping`, after HEBO) — or,
   in a space with categorical parameters, to values only fenced and standardised
   (:func:`.warping.fence`: there the warping hid every choice but the first one located).
   A conditional space's inactive columns hold markers (:mod:`.tree`): the tree is modelled
   by the parents' categorical columns, and every candidate is projected onto it.
   COMPLETED and STOPPED trials with a finite value are data; FAILED ones are not (they are
   only never suggested again). Past ``MAX_GP_POINTS`` observations the GP sees the best half,
   the incumbent's neighbourhood and a random sample of the rest, so a suggestion costs about
   the same at 300 or 3,000 trials.
3. **Acquisition.** log expected improvement (Ament et al. 2023; :mod:`.acquisition`) below
   the best posterior mean at the data, maximised from many starts with local refinement,
   within a trust region around the observations (after OSS Vizier), on snapped (runnable)
   configurations. When the study has a trial budget, its last rounds refine: the region
   narrows (:func:`trust_radius`).
4. **Parallel.** With trials pending (running, or suggested earlier in this batch) the
   acquisition is the expected improvement beyond both the best value and what the pending
   trials may return, averaged over joint draws of their values (:mod:`.pending`, q-EI's
   marginal gain): the next pick is worth running beside them, near them when that still pays.
5. **Never twice, never crash.** A configuration already run or pending is not suggested again;
   a finite space that is used up gives fewer suggestions; a numerical failure of the model
   gives a uniformly random new configuration instead (logged as a warning), never an exception.

Same seed and same history give the same suggestions: every random choice comes from the
generator the tuner derives from (seed, trial number) or from the seed itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy
from tunewise.strategies.registry import register

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.strategies.cost_model import CostWeighting
    from tunewise.strategies.features import Features, Observation
    from tunewise.strategies.gp import GaussianProcess
    from tunewise.trial import Trial

logger = logging.getLogger(__name__)

#: Past this many usable observations the GP is fitted to a subset of this size.
MAX_GP_POINTS = 200
#: Rounds before the end of the trial budget from which suggestions refine (see trust_radius).
LATE_ROUNDS = 10
#: The trust region's radius in those rounds (elsewhere ``acquisition.TRUST_RADIUS``, 0.25).
LATE_TRUST_RADIUS = 0.1
#: A GP on warped values whose noise variance reaches this share of its signal variance
#: is refitted to fenced values (see :func:`noisy`).
NOISY_SHARE = 0.1


def trust_radius(remaining: int | None, at_once: int) -> float:
    """The trust region's radius for a suggestion with ``remaining`` trials left in the study's
    budget (this one included) while ``at_once`` trials run together (this one included).

    Exploring pays only through the trials that follow and use what it found; near the end of
    a budget few do, so once ``LATE_ROUNDS`` rounds or fewer are left the suggestions stay
    close to what has been observed and refine the best of it. Rounds, not trials: with 4
    trials running at once the trials left are used 4 at a time, each round deciding without
    the other three's results, so the region narrows 40 trials before the end instead of 10.
    Measured on the public benchmark (median regret at 100 trials; docs/benchmarks.md, "Four
    trials at once"): rosenbrock5 over 180 seeds, one at a time 6.66 -> 5.62 and 4 at once
    8.83 -> 5.26 (so 4 at once no longer costs trials there); hartmann6 over 60 seeds, one at a
    time 8.8e-7 -> 1.7e-7; branin and mixed unchanged one at a time, within 15% of it 4 at once.
    Without a budget (``remaining`` None) the region never narrows.
    """
    from tunewise.strategies.acquisition import TRUST_RADIUS

    if remaining is None or remaining > LATE_ROUNDS * at_once:
        return TRUST_RADIUS
    return LATE_TRUST_RADIUS


def noisy(gp: GaussianProcess) -> bool:
    """Whether a GP fitted to warped values explains a large share of them as noise
    (``NOISY_SHARE`` of the signal variance or more): then the model is refitted to values
    only fenced and standardised (:func:`.warping.fence`).

    The warping stretches the good half of the values apart (its power step), which suits a
    deterministic objective, where those small differences are real. An objective whose best
    configurations differ by noise (a model's cross-validated loss) has its top values
    stretched into scatter the GP can only call noise; its expected improvement then keeps
    re-sampling the corner of the first good configuration instead of the other good
    regions. Deterministic problems never reach the threshold (branin, hartmann6,
    rosenbrock5, and hartmann6 with runs diverging to 1e10: identical runs, seeds 0-2);
    hgb_breast_cancer's median regret at 50 trials went 0.0955 -> 0.0925 over the
    benchmark's seeds 0-4 and 0.0955 -> 0.0943 over seeds 0-14 (better on 8 seeds, worse on
    1 by 3e-5, the same on 6; one-sided Wilcoxon p = 0.004; docs/benchmarks.md, "The
    default strategy").
    """
    return gp.hyper.noise >= NOISY_SHARE * gp.hyper.signal


def initial_design_size(dim: int) -> int:
    """Space-filling trials before the GP takes over: ``2d + 1``, at least 5 and at most 10.

    The GP needs a few spread-out points per dimension to fit its lengthscales; past 10 they
    are better spent by the model itself (Optuna's GPSampler and HEBO start with 10, BoTorch
    with ``2(d + 1)``; our dimension-scaled prior makes the cap safe in wide spaces).
    """
    return max(5, min(2 * dim + 1, 10))


@register
class BayesianStrategy(Strategy):
    name = "bayesian"

    def suggest(
        self,
        space: Space,
        history: Sequence[Trial],
        pending: Sequence[Trial],
        n: int,
        rng: np.random.Generator,
        *,
        remaining: int | None = None,
    ) -> list[dict[str, Any]]:
        from tunewise.strategies.feasibility import needs_outcomes

        if needs_outcomes(self):  # several objectives or constraints (issue 23)
            from tunewise.strategies import multi_objective

            return multi_objective.suggest(
                self, space, history, pending, n, rng, remaining=remaining
            )
        from tunewise.strategies.cost_model import CostWeighting
        from tunewise.strategies.features import Features, single_threaded_blas

        features = Features(space)
        obs, pending_rows, avoid = features.known(history, pending, self.objective)
        position = len(history) + len(pending)
        with single_threaded_blas():
            # cost: {aware: true}: EI per unit of expected cost (strategies/cost_model.py)
            n_init = initial_design_size(features.dim)
            cost = CostWeighting.fit(self.options, features, history, remaining, n_init)
            return self._suggest(
                features, obs, pending_rows, avoid, position, n, rng, remaining, cost
            )

    def _suggest(
        self,
        features: Features,
        obs: Observation,
        pending_rows: np.ndarray,
        avoid: set[bytes],
        position: int,
        n: int,
        rng: np.random.Generator,
        remaining: int | None,
        cost: CostWeighting | None = None,
    ) -> list[dict[str, Any]]:
        import numpy as np

        n_init = initial_design_size(features.dim)
        out: list[dict[str, Any]] = []
        chosen: list[np.ndarray] = []
        model: _Model | None = None
        for i in range(n):
            if features.exhausted(avoid):
                break  # every configuration of a finite space was run or is pending
            pick: tuple[np.ndarray, dict[str, Any]] | None = None
            if position + i < n_init or len(obs.y) < 2:
                pick = self._initial(features, position + i, n_init, avoid)
            else:
                try:
                    if model is None:
                        model = _Model(features, obs.x, obs.y, rng)
                        model.cost = cost
                    fantasies = (
                        np.vstack([pending_rows, *chosen]) if len(pending_rows) or chosen else None
                    )
                    at_once = 1 + (0 if fantasies is None else len(fantasies))
                    left = None if remaining is None else remaining - i
                    pick = model.suggest(fantasies, avoid, rng, trust_radius(left, at_once))
                except (ArithmeticError, ValueError, np.linalg.LinAlgError) as exc:
                    logger.warning("bayesian: model failed (%s); suggesting a random point", exc)
                    model = None
            pick = features.take(pick, avoid, rng)
            if pick is None:
                break
            row, params = pick
            chosen.append(row[None, :])
            out.append(params)
        return out

    def _initial(
        self, features: Features, position: int, size: int, avoid: set[bytes]
    ) -> tuple[np.ndarray, dict[str, Any]] | None:
        """Point ``position`` of the study's Latin hypercube (or the next new one)."""
        return features.first_new(features.latin_hypercube(self.seed, position, size), avoid)


class _Model:
    """The GP fitted to (a subset of) the history, ready to propose points."""

    cost: CostWeighting | None = None  # weighs the acquisition by expected cost

    def __init__(
        self, features: Features, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> None:
        import numpy as np

        from tunewise.strategies.gp import GaussianProcess
        from tunewise.strategies.warping import fence, warp

        x, y = _subset(features, x, y, rng)
        self.features = features
        restarts = 2 if len(y) <= 60 else 1
        # With categorical columns, values are only standardised (see warping.fence).
        values = fence(y) if features.categorical.any() else warp(y)
        self.gp = GaussianProcess.fit(x, values, features.categorical, restarts=restarts)
        if not features.categorical.any() and noisy(self.gp):
            self.gp = GaussianProcess.fit(x, fence(y), features.categorical, restarts=restarts)
        mean = self.gp.mean_at_data()
        self.best = float(np.min(mean))
        self.incumbents = x[np.argsort(mean, kind="stable")[:5]]

    def suggest(
        self,
        fantasies: np.ndarray | None,
        avoid: set[bytes],
        rng: np.random.Generator,
        radius: float,
    ) -> tuple[np.ndarray, dict[str, Any]] | None:
        from tunewise.strategies.acquisition import LogEI, optimize_log_ei

        if fantasies is None or not len(fantasies):
            weighed = None if self.cost is None else self.cost.weigh(LogEI(self.gp, self.best))
            rows, _ = optimize_log_ei(
                self.gp,
                self.features,
                self.best,
                self.incumbents,
                rng,
                acquisition=weighed,
                trust_radius=radius,
            )
            return self.features.first_new(rows, avoid)
        from tunewise.strategies.pending import PendingLogEI

        acquisition = PendingLogEI(self.gp, fantasies, self.best, rng)
        rows, _ = optimize_log_ei(
            acquisition.model,
            self.features,
            self.best,
            self.incumbents,
            rng,
            acquisition=acquisition if self.cost is None else self.cost.weigh(acquisition),
            trust_radius=radius,
        )
        return self.features.first_new(rows, avoid)


def _subset(
    features: Features, x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """At most ``MAX_GP_POINTS`` observations: the best half, the incumbent's nearest
    neighbours, and a uniform sample of the rest (so the GP still sees the whole space)."""
    import numpy as np

    if len(y) <= MAX_GP_POINTS:
        return x, y
    order = np.argsort(y, kind="stable")
    keep = list(order[: MAX_GP_POINTS // 2])
    rest = order[MAX_GP_POINTS // 2 :]
    diff = x[rest] - x[order[0]]
    diff[:, features.categorical] = diff[:, features.categorical] != 0
    near = rest[np.argsort(np.sum(diff * diff, axis=1), kind="stable")[: MAX_GP_POINTS // 4]]
    keep += list(near)
    left = np.setdiff1d(rest, near)
    keep += list(rng.choice(left, size=MAX_GP_POINTS - len(keep), replace=False))
    index = np.sort(np.array(keep))
    return x[index], y[index]
