"""The acquisition of a suggestion made while other trials are still running (pending).

A pending trial has no value yet, but it will have one, and the next suggestion should be worth
running *beside* it. Its value here is the marginal gain of the batch's expected improvement
(q-EI; Ginsbourger et al. 2010, as BoTorch treats ``X_pending``): how much a new point ``x`` is
expected to improve on both the best observation and whatever the pending trials ``P`` return,

    E over f(P) of  EI(x | f(P)) below min(best, min f(P)),

averaged over ``SAMPLES`` joint draws of the pending trials' latent values (antithetic pairs,
from the suggestion's generator) with **half the posterior's spread** (``DRAW_SCALE``, below).
Given one draw, the GP conditioned on it has the kriging believer's variance (which does not
depend on the values) and a mean moved linearly by the draw
(:meth:`GaussianProcess.predict_and_weights_with_grad`), so every draw's EI and its gradient
come from one pass over the candidates.

Why not the kriging believer alone (the pending trials observed at their posterior mean, as
before): its EI still counts improvements the pending trials may bring themselves, and it has
no notion of how good they may turn out. Measured with 4 trials running at once
(``benchmarks.parallel``, 30 seeds, median regret at 100 trials over the sequential run's, see
docs/benchmarks.md): branin 4.3 -> 2.7, hartmann6 10.5 -> 6.3, rosenbrock5 2.2 -> 1.6, mixed
1.0 -> 1.0 — better medians, though seed to seed either one wins about half the time, and a
10-seed median moves by 10x between two streams of draws. Also tried, on the same problems: a
constant liar (the pending trials observed at the best or at the worst value) was 1e4-1e7 times
worse on branin and hartmann6; local penalisation (González et al. 2016) worse on branin and
rosenbrock5; a slot for the posterior mean's minimiser, or EI without the pending trials when
they hardly lower it, no better. On rosenbrock5 over 60 seeds (ratio 1.30 as landed), none better:
pending rows observed with noise (so they take less variance away: 1.38-1.61), the sequential
suggestion whenever the pending trials leave it most of its variance (1.39-1.53), a step
within 0.03 of the incumbent whenever no pending trial is there (1.48), and only the 2 newest
pending trials in the acquisition (1.63).

Why tempered draws (a measured choice, not a derived one): with the posterior's full spread,
some draws have a pending trial improve a lot, the next suggestion must beat that draw to gain,
and it goes where the model is uncertain, exploring, where the sequential run (which by then
knows the pending trials' values) would refine near them. Measured (``benchmarks.parallel``,
30 seeds, ratio of the median regret at 100 trials to the sequential run's): the full spread
gave branin 2.66, hartmann6 6.26, rosenbrock5 1.55, mixed 1.19; half of it gives 0.63, 1.63,
1.43, 0.78. Other fractions on branin / hartmann6: 0 (the kriging believer's threshold) 1.88 /
3.23, 0.25 1.33 / 2.47, 0.75 1.69 / 9.95, 1.5 1990 / 65. On seeds 30-59, half beat the full
spread in 63% (branin) and 77% (hartmann6) of the seeds at 100 trials.

Not done here: a narrower trust region. Beside pending trials throughout a run (0.1 or 0.15
instead of 0.25) it made 4-at-once runs better at 100 trials and worse at 50, and it made the
sequential run better by as much: it is about exploiting, not waiting. It is now the
strategy's, for the last rounds of a trial budget, sequential or not
(:func:`tunewise.strategies.bayesian.trust_radius`); counted in rounds, it starts earlier in
trials when trials run at once (numbers in docs/benchmarks.md).

Sequential suggestions (nothing pending) never come here: their acquisition is plain log EI.
"""

from __future__ import annotations

import numpy as np

from tunewise.strategies.gp import GaussianProcess

#: Joint draws of the pending trials' values per suggestion (16 antithetic pairs).
SAMPLES = 32
#: The draws' spread, as a fraction of the posterior's: tempered fantasies (see above).
DRAW_SCALE = 0.5


class PendingLogEI:
    """log of the expected improvement beyond the best value and the pending trials' draws.

    ``model`` is the GP with the pending rows added at their posterior mean (the kriging
    believer): its mean is the original one, its variance the one given the pending trials,
    and its rows (data and pending) centre the optimiser's trust region.
    """

    def __init__(
        self,
        gp: GaussianProcess,
        pending: np.ndarray,
        best: float,
        rng: np.random.Generator,
        samples: int = SAMPLES,
    ) -> None:
        mean = gp.predict(pending)[0]
        self.model = gp.with_points(pending, mean)
        self.index = np.arange(len(gp.x), len(gp.x) + len(pending))
        # Draws of f(P) - mean from the joint posterior, tempered by DRAW_SCALE: a symmetric
        # square root of the covariance (eigenvalues clipped at 0), robust to pending rows
        # that nearly coincide.
        cov = gp.covariance(pending, pending)
        eigval, eigvec = np.linalg.eigh(0.5 * (cov + cov.T))
        root = eigvec * np.sqrt(np.maximum(eigval, 0.0))
        half = rng.standard_normal((samples // 2, len(pending)))
        self.delta = DRAW_SCALE * (np.vstack([half, -half]) @ root.T)  # (S, q)
        #: Per draw, the value to beat: the best mean at the data or a pending trial's draw.
        self.threshold = np.minimum(best, np.min(mean + self.delta, axis=1))

    def _z(self, mean: np.ndarray, var: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Per draw, the standardised improvement at rows ``(m, S)``."""
        means = mean[:, None] + weights @ self.delta.T
        return (self.threshold[None, :] - means) / np.sqrt(var)[:, None]

    def value(self, rows: np.ndarray) -> np.ndarray:
        from tunewise.strategies.acquisition import log_h

        mean, var = self.model.predict(rows)
        z = self._z(mean, var, self.model.weights(rows, self.index))
        return _log_mean_exp(log_h(z)[0])[0] + 0.5 * np.log(var)

    def value_with_grad(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from tunewise.strategies.acquisition import log_h

        mean, var, dmean, dvar, weights, dweights = self.model.predict_and_weights_with_grad(
            rows, self.index
        )
        z = self._z(mean, var, weights)
        lh, dlh = log_h(z)
        value, share = _log_mean_exp(lh)
        sd = np.sqrt(var)[:, None]
        dsd = dvar / (2.0 * sd)  # (m, d)
        dmeans = dmean[:, None, :] + np.einsum("mqd,sq->msd", dweights, self.delta)
        dz = (-dmeans - z[:, :, None] * dsd[:, None, :]) / sd[:, :, None]
        grad = np.einsum("ms,msd->md", share, dlh[:, :, None] * dz) + dsd / sd
        return value + np.log(sd[:, 0]), grad


def _log_mean_exp(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``log(mean(exp(values)))`` along the last axis, and each column's share of the sum."""
    top = np.max(values, axis=1, keepdims=True)
    weights = np.exp(values - top)
    total = np.sum(weights, axis=1, keepdims=True)
    return (top + np.log(total / values.shape[1]))[:, 0], weights / total
