"""A Gaussian-process regressor for hyperparameter search, in plain numpy/scipy.

Kernel: Matérn-5/2 with one lengthscale per column (ARD). Continuous and discrete columns enter
the distance as ``((x - x') / l)^2``; categorical columns as a mismatch term ``[c != c'] / l^2``
(an overlap/Hamming distance, as Optuna's GPSampler and SMAC do), so choices are never ordered.

Hyperparameters (lengthscales, signal variance, noise variance) are fitted by maximum a
posteriori with L-BFGS-B on the log marginal likelihood plus log prior, from a few
deterministic starts. The lengthscale prior scales with the dimension, as in Hvarfner, Hellsten
and Nardi (2024), "Vanilla Bayesian optimization performs great in high dimensions":
``LogNormal(sqrt(2) + log(d) / 2, sqrt(3))`` — the larger the space, the smoother the prior
function, which keeps the GP from over-fitting (and the search from over-exploring) as ``d``
grows. The noise prior favours near-interpolation of deterministic objectives but lets the data
raise it for noisy ones.

Numerics: Cholesky with escalating jitter; a fit whose every start fails raises
``np.linalg.LinAlgError``, which the strategy turns into a safe suggestion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import LinAlgError, cho_solve, cholesky, solve_triangular
from scipy.linalg.lapack import dpotrf, dpotri, dpotrs
from scipy.optimize import minimize

SQRT5 = math.sqrt(5.0)
LOG_2PI = math.log(2.0 * math.pi)
#: Bounds of the fitted (log) hyperparameters.
LOG_LENGTHSCALE_BOUNDS = (math.log(1e-3), math.log(1e3))
LOG_SIGNAL_BOUNDS = (math.log(5e-2), math.log(20.0))
#: The noise floor decides how finely a deterministic objective is resolved near its optimum
#: (Branin's median regret at 100 trials: 3.6e-6 with a floor of 1e-6, as Optuna's, 5.5e-7 with
#: 1e-9, 7e-10 with 1e-12); escalating jitter keeps the Cholesky factorisation safe.
LOG_NOISE_BOUNDS = (math.log(1e-12), math.log(2.0))
#: Noise prior: log-normal on the variance of standardised outputs.
LOG_NOISE_PRIOR = (math.log(1e-6), 4.0)
#: Signal-variance prior (standardised outputs have unit variance).
LOG_SIGNAL_PRIOR = (0.0, 1.0)
JITTERS = (0.0, 1e-9, 1e-7, 1e-5, 1e-3)


@dataclass(frozen=True)
class Hyperparameters:
    lengthscales: np.ndarray
    signal: float
    noise: float
    #: The prior mean, pinned at the data's mean (0 after standardising). Fitted, a constant
    #: mean drifts towards the bulk of poor values and makes every unexplored region look
    #: hopeless, so the search stalls in the first basin it finds (seen on hartmann6).
    mean: float = 0.0

    @classmethod
    def unpack(cls, theta: np.ndarray) -> Hyperparameters:
        d = len(theta) - 2
        return cls(np.exp(theta[:d]), math.exp(theta[d]), math.exp(theta[d + 1]), 0.0)


def lengthscale_prior(dim: int) -> tuple[float, float]:
    """(mu, sigma) of the log-normal lengthscale prior for a ``dim``-dimensional space."""
    return math.sqrt(2.0) + 0.5 * math.log(max(dim, 1)), math.sqrt(3.0)


def _pair_terms(xa: np.ndarray, xb: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Per-column squared differences (continuous) or mismatches (categorical): ``(a, b, d)``."""
    diff = xa[:, None, :] - xb[None, :, :]
    terms = diff * diff
    if categorical.any():
        terms[..., categorical] = (diff[..., categorical] != 0.0).astype(float)
    return terms


def _matern(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matérn-5/2 correlation of squared scaled distances, and ``A = -(dk/dr) / r``."""
    r = np.sqrt(np.maximum(r2, 0.0))
    e = np.exp(-SQRT5 * r)
    k = (1.0 + SQRT5 * r + (5.0 / 3.0) * r2) * e
    a = (5.0 / 3.0) * (1.0 + SQRT5 * r) * e
    return k, a


def _cholesky(k: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor, adding escalating jitter (relative to the diagonal) on failure."""
    scale = float(np.mean(np.diag(k))) or 1.0
    for jitter in JITTERS:
        try:
            if jitter:
                return cholesky(k + jitter * scale * np.eye(len(k)), lower=True)
            return cholesky(k, lower=True)
        except LinAlgError:
            continue
    raise LinAlgError("covariance matrix is not positive definite even with jitter")


class GaussianProcess:
    """A fitted GP on rows ``x`` (see :mod:`tunewise.strategies.features`) and values ``y``."""

    def __init__(
        self, x: np.ndarray, y: np.ndarray, categorical: np.ndarray, hyper: Hyperparameters
    ) -> None:
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.categorical = categorical
        self.continuous = ~categorical
        self.hyper = hyper
        self._inv_l2 = 1.0 / hyper.lengthscales**2
        corr, _ = _matern(_pair_terms(self.x, self.x, categorical) @ self._inv_l2)
        k = hyper.signal * corr + hyper.noise * np.eye(len(self.x))
        self._chol = _cholesky(k)
        self._alpha = cho_solve((self._chol, True), self.y - hyper.mean)

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        categorical: np.ndarray,
        *,
        restarts: int = 2,
        maxiter: int = 200,
    ) -> GaussianProcess:
        """MAP fit of the hyperparameters from deterministic starts; the best start wins."""
        hyper = fit_hyperparameters(x, y, categorical, restarts=restarts, maxiter=maxiter)
        return cls(x, y, categorical, hyper)

    def with_points(self, x_new: np.ndarray, y_new: np.ndarray) -> GaussianProcess:
        """The same hyperparameters with more data (fantasies for pending trials)."""
        return GaussianProcess(
            np.vstack([self.x, x_new]),
            np.concatenate([self.y, y_new]),
            self.categorical,
            self.hyper,
        )

    def _cross(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        terms = _pair_terms(xq, self.x, self.categorical)
        corr, a = _matern(terms @ self._inv_l2)
        return terms, corr, a

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent function at rows ``xq``."""
        xq = np.atleast_2d(xq)
        out_mean = np.empty(len(xq))
        out_var = np.empty(len(xq))
        for start in range(0, len(xq), 1024):  # bounded memory for big candidate sets
            chunk = xq[start : start + 1024]
            _, corr, _ = self._cross(chunk)
            ks = self.hyper.signal * corr
            out_mean[start : start + 1024] = self.hyper.mean + ks @ self._alpha
            v = solve_triangular(self._chol, ks.T, lower=True, check_finite=False)
            out_var[start : start + 1024] = self.hyper.signal - np.sum(v * v, axis=0)
        return out_mean, np.maximum(out_var, 1e-12 * self.hyper.signal)

    def predict_with_grad(
        self, xq: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, variance and their gradients along the non-categorical columns.

        Gradients have shape ``(m, d)`` with zeros in categorical columns.
        """
        xq = np.atleast_2d(xq)
        diff = xq[:, None, :] - self.x[None, :, :]
        terms = diff * diff
        if self.categorical.any():
            terms[..., self.categorical] = (diff[..., self.categorical] != 0.0).astype(float)
        corr, a = _matern(terms @ self._inv_l2)
        s = self.hyper.signal
        ks = s * corr
        mean = self.hyper.mean + ks @ self._alpha
        w = cho_solve((self._chol, True), ks.T)  # (n, m)
        var = s - np.einsum("mn,nm->m", ks, w)
        # dk/dx_j = -s * A * diff_j / l_j^2 on non-categorical columns.
        dk = -(s * a)[:, :, None] * diff * self._inv_l2[None, None, :]
        dk[..., self.categorical] = 0.0
        dmean = np.einsum("mnj,n->mj", dk, self._alpha)
        dvar = -2.0 * np.einsum("mnj,nm->mj", dk, w)
        floor = 1e-12 * s
        small = var < floor
        var = np.maximum(var, floor)
        dvar[small] = 0.0
        return mean, var, dmean, dvar

    def mean_at_data(self) -> np.ndarray:
        """Posterior mean at the training rows (``y - noise * alpha``)."""
        return self.y - self.hyper.noise * self._alpha


def _neg_log_posterior(
    theta: np.ndarray,
    terms: np.ndarray,
    y: np.ndarray,
    prior_mu: float,
    prior_sigma: float,
) -> tuple[float, np.ndarray]:
    """Negative (log marginal likelihood + log prior) and its gradient in ``theta``."""
    n, _, d = terms.shape
    log_l = theta[:d]
    log_s, log_noise = theta[d], theta[d + 1]
    s, noise = math.exp(log_s), math.exp(log_noise)
    inv_l2 = np.exp(-2.0 * log_l)
    corr, a = _matern(terms @ inv_l2)
    k = s * corr
    k[np.diag_indices(n)] += noise
    chol, info = dpotrf(k, lower=1, clean=1, overwrite_a=0)
    if info != 0:
        return 1e25, np.zeros_like(theta)
    resid = y
    alpha, _ = dpotrs(chol, resid, lower=1)
    k_inv, _ = dpotri(chol, lower=1)  # lower triangle of K^-1
    k_inv = np.tril(k_inv) + np.tril(k_inv, -1).T
    lml = -0.5 * resid @ alpha - np.sum(np.log(np.diag(chol))) - 0.5 * n * LOG_2PI
    w = np.outer(alpha, alpha) - k_inv
    grad = np.empty_like(theta)
    # dK/dlog l_j = s * A * terms_j / l_j^2 ; dK/dlog s = s * corr ; dK/dlog noise = noise * I
    grad[:d] = 0.5 * ((w * (s * a)).ravel() @ terms.reshape(n * n, d)) * inv_l2
    grad[d] = 0.5 * np.sum(w * (s * corr))
    grad[d + 1] = 0.5 * noise * np.trace(w)
    # Log prior. Lengthscales: the log-normal density of l itself, as BoTorch's MAP uses it
    # (its mode sits at exp(mu - sigma^2)); variances: normal in log space.
    z = (log_l - prior_mu) / prior_sigma
    lp = float(np.sum(-0.5 * z * z - log_l))
    glp = np.zeros_like(theta)
    glp[:d] = -z / prior_sigma - 1.0
    for index, (mu, sigma) in ((d, LOG_SIGNAL_PRIOR), (d + 1, LOG_NOISE_PRIOR)):
        zz = float((theta[index] - mu) / sigma)
        lp += -0.5 * zz * zz
        glp[index] = -zz / sigma
    value = -(lml + lp)
    if not math.isfinite(value):
        return 1e25, np.zeros_like(theta)
    return value, -(grad + glp)


def fit_hyperparameters(
    x: np.ndarray,
    y: np.ndarray,
    categorical: np.ndarray,
    *,
    restarts: int = 2,
    maxiter: int = 200,
) -> Hyperparameters:
    """MAP hyperparameters for standardised ``y``; raises ``LinAlgError`` if every start fails."""
    d = x.shape[1]
    terms = _pair_terms(x, x, categorical)
    mu, sigma = lengthscale_prior(d)
    mode = mu - sigma * sigma  # the prior's mode of log l
    starts = [
        np.concatenate([np.full(d, mode), [0.0, math.log(1e-3)]]),
        np.concatenate([np.full(d, mode + 1.5), [0.0, math.log(1e-3)]]),
        np.concatenate([np.full(d, mode - 1.0), [0.0, math.log(1e-2)]]),
    ]
    bounds = [LOG_LENGTHSCALE_BOUNDS] * d + [LOG_SIGNAL_BOUNDS, LOG_NOISE_BOUNDS]
    # Start from the most promising starts only (one L-BFGS-B run costs tens of evaluations).
    values = [_neg_log_posterior(start, terms, y, mu, sigma)[0] for start in starts]
    best: tuple[float, np.ndarray] | None = None
    for index in np.argsort(values, kind="stable")[: max(1, restarts)]:
        result = minimize(
            _neg_log_posterior,
            starts[index],
            args=(terms, y, mu, sigma),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": maxiter, "ftol": 1e-7, "gtol": 1e-3},
        )
        value = float(result.fun)
        if value < 1e24 and np.all(np.isfinite(result.x)) and (best is None or value < best[0]):
            best = (value, np.asarray(result.x))
    if best is None:
        raise LinAlgError("no start of the hyperparameter fit gave a finite posterior")
    return Hyperparameters.unpack(best[1])
