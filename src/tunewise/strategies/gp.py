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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
    if len(xa) * len(xb) < 4096:  # a few rows: one broadcast operation is cheapest
        terms = xa[:, None, :] - xb[None, :, :]
        mismatch = (terms[..., categorical] != 0.0).astype(float) if categorical.any() else None
        np.multiply(terms, terms, out=terms)
        if mismatch is not None:
            terms[..., categorical] = mismatch
        return terms
    # Many rows (candidate sets, the fit's pairs): column by column, so that numpy's inner
    # loops run along the rows of ``xb`` instead of along the few columns (twice as fast).
    terms = np.empty((len(xa), len(xb), xa.shape[1]))
    diff = np.empty((len(xa), len(xb)))
    columns = np.ascontiguousarray(xb.T)
    for j, column in enumerate(columns):
        np.subtract(xa[:, j, None], column, out=diff)
        if categorical[j]:
            terms[:, :, j] = diff != 0.0
        else:
            np.multiply(diff, diff, out=terms[:, :, j])
    return terms


def _matern_parts(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k``, ``1 + sqrt5 r`` and ``exp(-sqrt5 r)`` of squared scaled distances ``r2``.

    Computed in place, in the operation order of the textbook form
    ``k = (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r)``, so the results are bit for bit those of the
    plain expression, with three temporaries instead of eight.
    """
    t = np.maximum(r2, 0.0)
    np.sqrt(t, out=t)
    t *= SQRT5  # sqrt5 r
    e = np.negative(t)
    np.exp(e, out=e)
    t += 1.0  # 1 + sqrt5 r
    k = r2 * (5.0 / 3.0)
    k += t
    k *= e
    return k, t, e


def _matern(r2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Matérn-5/2 correlation of squared scaled distances, and ``A = -(dk/dr) / r``."""
    k, a, e = _matern_parts(r2)
    a *= 5.0 / 3.0  # A = 5/3 (1 + sqrt5 r) exp(-sqrt5 r)
    a *= e
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
        self,
        x: np.ndarray,
        y: np.ndarray,
        categorical: np.ndarray,
        hyper: Hyperparameters,
        *,
        terms: np.ndarray | None = None,
    ) -> None:
        """``terms``: ``_pair_terms(x, x, categorical)`` when the caller has it already."""
        self.x = np.asarray(x, dtype=float)
        self.y = np.asarray(y, dtype=float)
        self.categorical = categorical
        self.continuous = ~categorical
        self.hyper = hyper
        self._inv_l2 = 1.0 / hyper.lengthscales**2
        if terms is None:
            terms = _pair_terms(self.x, self.x, categorical)
        corr = _matern_parts(terms @ self._inv_l2)[0]
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
        x = np.asarray(x, dtype=float)
        terms = _pair_terms(x, x, categorical)
        hyper = fit_hyperparameters(
            x, y, categorical, restarts=restarts, maxiter=maxiter, terms=terms
        )
        return cls(x, y, categorical, hyper, terms=terms)

    def with_points(self, x_new: np.ndarray, y_new: np.ndarray) -> GaussianProcess:
        """The same hyperparameters with more data (fantasies for pending trials)."""
        return GaussianProcess(
            np.vstack([self.x, x_new]),
            np.concatenate([self.y, y_new]),
            self.categorical,
            self.hyper,
        )

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and variance of the latent function at rows ``xq``."""
        xq = np.atleast_2d(xq)
        out_mean = np.empty(len(xq))
        out_var = np.empty(len(xq))
        for start in range(0, len(xq), 1024):  # bounded memory for big candidate sets
            chunk = xq[start : start + 1024]
            corr = _matern_parts(_pair_terms(chunk, self.x, self.categorical) @ self._inv_l2)[0]
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
        return self._predict_with_grad(*self._kernel_with_grad(xq))

    def predict_and_weights_with_grad(
        self, xq: np.ndarray, index: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """:meth:`predict_with_grad`, then the kriging weights of the training rows ``index``
        at ``xq`` (see :meth:`weights`) and their gradients ``(m, r, d)``: one evaluation of
        the kernel for both (:mod:`.pending` needs both at every step of its optimiser)."""
        ks, dk = self._kernel_with_grad(xq)
        inverse = self._inverse(index)
        weights = (ks @ inverse, np.einsum("mnj,nr->mrj", dk, inverse))
        return (*self._predict_with_grad(ks, dk), *weights)

    def _kernel_with_grad(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``k(xq, x)`` ``(m, n)`` and its gradient in ``xq`` ``(m, n, d)``, zero along
        categorical columns."""
        xq = np.atleast_2d(xq)
        if not np.isfinite(xq).all():  # refused, as scipy's checked solve used to
            raise ValueError("GP query rows contain inf or NaN; pass finite rows")
        diff = xq[:, None, :] - self.x[None, :, :]
        terms = diff * diff
        if self.categorical.any():
            terms[..., self.categorical] = (diff[..., self.categorical] != 0.0).astype(float)
        corr, a = _matern(terms @ self._inv_l2)
        s = self.hyper.signal
        corr *= s  # k(xq, x)
        # dk/dx_j = -s * A * diff_j / l_j^2 on non-categorical columns.
        a *= s
        np.negative(a, out=a)
        dk = np.multiply(a[:, :, None], diff, out=diff)
        dk *= self._inv_l2
        if self.categorical.any():
            dk[..., self.categorical] = 0.0
        return corr, dk

    def _predict_with_grad(
        self, ks: np.ndarray, dk: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        s = self.hyper.signal
        mean = self.hyper.mean + ks @ self._alpha
        w, _ = dpotrs(self._chol, ks.T, lower=1)  # (n, m): K^-1 k(x, xq)
        var = s - np.einsum("mn,nm->m", ks, w)
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

    # Pending trials (:mod:`.pending`) -------------------------------------------------------
    def covariance(self, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
        """Posterior covariance of the latent function between rows ``xa`` and ``xb``."""
        s = self.hyper.signal

        def kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return s * _matern_parts(_pair_terms(a, b, self.categorical) @ self._inv_l2)[0]

        va, vb = (
            solve_triangular(self._chol, kernel(rows, self.x).T, lower=True, check_finite=False)
            for rows in (xa, xb)
        )
        return kernel(xa, xb) - va.T @ vb

    def weights(self, xq: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Kriging weights of the training rows ``index`` at rows ``xq``, ``(m, r)``.

        The posterior mean is linear in the observed values: moving the value of row
        ``index[j]`` by ``delta`` moves the mean at ``xq[i]`` by ``weights[i, j] * delta``.
        """
        terms = _pair_terms(np.atleast_2d(xq), self.x, self.categorical)
        return (self.hyper.signal * _matern_parts(terms @ self._inv_l2)[0]) @ self._inverse(index)

    def _inverse(self, index: np.ndarray) -> np.ndarray:
        """The columns ``index`` of ``K^-1``."""
        unit = np.zeros((len(self.x), len(index)))
        unit[index, np.arange(len(index))] = 1.0
        return cho_solve((self._chol, True), unit)


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
    sk, a = _matern(terms @ inv_l2)
    sk *= s  # s * corr
    # K in Fortran order, so that LAPACK factorises and inverts it in place (no copies).
    k = np.array(sk, order="F")
    k.reshape(-1, order="F")[:: n + 1] += noise
    chol, info = dpotrf(k, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        return 1e25, np.zeros_like(theta)
    resid = y
    alpha, _ = dpotrs(chol, resid, lower=1)
    lml = -0.5 * resid @ alpha - np.sum(np.log(np.diag(chol))) - 0.5 * n * LOG_2PI
    # W = alpha alpha^T - K^-1, from the lower triangle of K^-1 (the upper one is zero:
    # ``clean=1`` above): subtract it, then its strict part transposed.
    lower, _ = dpotri(chol, lower=1, overwrite_c=1)
    w = np.outer(alpha, alpha)
    w -= lower
    np.fill_diagonal(lower, 0.0)
    w -= lower.T
    grad = np.empty_like(theta)
    # dK/dlog l_j = s * A * terms_j / l_j^2 ; dK/dlog s = s * corr ; dK/dlog noise = noise * I
    a *= s
    a *= w
    grad[:d] = 0.5 * (a.ravel() @ terms.reshape(n * n, d)) * inv_l2
    sk *= w
    grad[d] = 0.5 * np.sum(sk)
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


def _known_at(
    theta0: np.ndarray, known: tuple[float, np.ndarray]
) -> Callable[..., tuple[float, np.ndarray]]:
    """:func:`_neg_log_posterior`, answering from ``known`` at ``theta0``: L-BFGS-B evaluates
    its start first, which the choice of starts has evaluated already."""
    key = theta0.tobytes()

    def objective(theta: np.ndarray, *args: Any) -> tuple[float, np.ndarray]:
        if theta.tobytes() == key:
            return known[0], known[1].copy()
        return _neg_log_posterior(theta, *args)

    return objective


def fit_hyperparameters(
    x: np.ndarray,
    y: np.ndarray,
    categorical: np.ndarray,
    *,
    restarts: int = 2,
    maxiter: int = 200,
    terms: np.ndarray | None = None,
) -> Hyperparameters:
    """MAP hyperparameters for standardised ``y``; raises ``LinAlgError`` if every start fails.

    ``terms``: ``_pair_terms(x, x, categorical)`` when the caller has it already.
    """
    d = x.shape[1]
    if terms is None:
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
    evaluated = [_neg_log_posterior(start, terms, y, mu, sigma) for start in starts]
    values = [value for value, _ in evaluated]
    best: tuple[float, np.ndarray] | None = None
    for index in np.argsort(values, kind="stable")[: max(1, restarts)]:
        result = minimize(
            _known_at(starts[index], evaluated[index]),
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
