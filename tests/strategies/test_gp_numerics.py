"""The GP's and the acquisition's fast numerical kernels against their textbook forms.

The kernels of :mod:`tunewise.strategies.gp` and :mod:`tunewise.strategies.acquisition` are
written for speed (in-place operations, column-wise loops, LAPACK called directly); these tests
pin them to the plain expressions they replace, on both sides of every size switch.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import cho_solve, cholesky
from scipy.optimize import minimize

from tunewise.strategies import gp as gp_module
from tunewise.strategies.acquisition import distance_to_data, log_h
from tunewise.strategies.gp import (
    LOG_NOISE_PRIOR,
    LOG_SIGNAL_PRIOR,
    _matern,
    _neg_log_posterior,
    _pair_terms,
    fit_hyperparameters,
    lengthscale_prior,
)


def _mixed_rows(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    categorical = np.array([False, True, False, True])
    x = rng.random((count, 4))
    x[:, 1] = rng.integers(0, 3, count)
    x[:, 3] = rng.integers(0, 2, count)
    return x, categorical


def _textbook_terms(xa: np.ndarray, xb: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    diff = xa[:, None, :] - xb[None, :, :]
    terms = diff * diff
    terms[..., categorical] = (diff[..., categorical] != 0.0).astype(float)
    return terms


@pytest.mark.parametrize("count", [10, 90])  # 100 and 8,100 pairs: both sides of the switch
def test_pair_terms_equal_the_broadcast_form(count: int) -> None:
    rng = np.random.default_rng(0)
    xa, categorical = _mixed_rows(rng, count)
    xb, _ = _mixed_rows(rng, 90)
    terms = _pair_terms(xa, xb, categorical)
    assert terms.flags.c_contiguous
    np.testing.assert_array_equal(terms, _textbook_terms(xa, xb, categorical))


def test_matern_equals_the_textbook_form() -> None:
    r2 = np.random.default_rng(1).random((40, 30)) * 9.0
    r = np.sqrt(r2)
    e = np.exp(-math.sqrt(5.0) * r)
    k, a = _matern(r2)
    np.testing.assert_array_equal(k, (1.0 + math.sqrt(5.0) * r + (5.0 / 3.0) * r2) * e)
    np.testing.assert_array_equal(a, (5.0 / 3.0) * (1.0 + math.sqrt(5.0) * r) * e)


def _textbook_neg_log_posterior(
    theta: np.ndarray, terms: np.ndarray, y: np.ndarray, mu: float, sigma: float
) -> tuple[float, np.ndarray]:
    n, _, d = terms.shape
    inv_l2 = np.exp(-2.0 * theta[:d])
    s, noise = math.exp(theta[d]), math.exp(theta[d + 1])
    corr, a = _matern(terms @ inv_l2)
    k = s * corr + noise * np.eye(n)
    chol = cholesky(k, lower=True)
    alpha = cho_solve((chol, True), y)
    k_inv = cho_solve((chol, True), np.eye(n))
    lml = -0.5 * y @ alpha - np.sum(np.log(np.diag(chol))) - 0.5 * n * math.log(2 * math.pi)
    w = np.outer(alpha, alpha) - k_inv
    grad = np.concatenate(
        [
            0.5 * np.einsum("ij,ijk->k", w * s * a, terms) * inv_l2,
            [0.5 * np.sum(w * s * corr), 0.5 * noise * np.trace(w)],
        ]
    )
    z = (theta[:d] - mu) / sigma
    lp = np.sum(-0.5 * z * z - theta[:d])
    glp = np.concatenate([-z / sigma - 1.0, [0.0, 0.0]])
    for index, (m, sd) in ((d, LOG_SIGNAL_PRIOR), (d + 1, LOG_NOISE_PRIOR)):
        lp += -0.5 * ((theta[index] - m) / sd) ** 2
        glp[index] = -(theta[index] - m) / sd**2
    return -(lml + lp), -(grad + glp)


def test_marginal_likelihood_equals_the_textbook_form() -> None:
    rng = np.random.default_rng(2)
    x, categorical = _mixed_rows(rng, 70)
    y = np.sin(5 * x[:, 0]) + x[:, 1] - x[:, 2] + 0.1 * rng.standard_normal(70)
    y = (y - y.mean()) / y.std()
    terms = _pair_terms(x, x, categorical)
    mu, sigma = lengthscale_prior(4)
    theta = np.array([np.log(0.4), np.log(1.2), np.log(0.7), np.log(2.0), 0.3, np.log(1e-3)])
    value, grad = _neg_log_posterior(theta, terms, y, mu, sigma)
    ref_value, ref_grad = _textbook_neg_log_posterior(theta, terms, y, mu, sigma)
    assert value == pytest.approx(ref_value, rel=1e-10)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-8, atol=1e-10)


def test_fit_reusing_its_start_evaluation_matches_a_plain_l_bfgs_b_run() -> None:
    rng = np.random.default_rng(3)
    x, categorical = _mixed_rows(rng, 40)
    y = np.cos(4 * x[:, 0]) - x[:, 3] + x[:, 2] ** 2
    y = (y - y.mean()) / y.std()
    hyper = fit_hyperparameters(x, y, categorical, restarts=1)
    # The same fit by hand: the start with the best posterior, L-BFGS-B on the bare function.
    terms = _pair_terms(x, x, categorical)
    mu, sigma = lengthscale_prior(4)
    mode = mu - sigma * sigma
    starts = [
        np.concatenate([np.full(4, mode), [0.0, math.log(1e-3)]]),
        np.concatenate([np.full(4, mode + 1.5), [0.0, math.log(1e-3)]]),
        np.concatenate([np.full(4, mode - 1.0), [0.0, math.log(1e-2)]]),
    ]
    values = [_neg_log_posterior(s, terms, y, mu, sigma)[0] for s in starts]
    bounds = [gp_module.LOG_LENGTHSCALE_BOUNDS] * 4 + [
        gp_module.LOG_SIGNAL_BOUNDS,
        gp_module.LOG_NOISE_BOUNDS,
    ]
    result = minimize(
        _neg_log_posterior,
        starts[int(np.argmin(values))],
        args=(terms, y, mu, sigma),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 200, "ftol": 1e-7, "gtol": 1e-3},
    )
    np.testing.assert_array_equal(hyper.lengthscales, np.exp(result.x[:4]))
    assert hyper.noise == math.exp(result.x[5])


def test_distance_to_data_equals_the_brute_force_form() -> None:
    rng = np.random.default_rng(4)
    rows, data = rng.random((50, 3)), rng.random((300, 3))  # 300 rows: two chunks
    brute = np.min(np.max(np.abs(rows[:, None, :] - data[None, :, :]), axis=2), axis=1)
    np.testing.assert_array_equal(distance_to_data(rows, data), brute)
    np.testing.assert_array_equal(distance_to_data(rows, data[:, :0]), np.zeros(50))


def test_log_h_gives_the_same_values_with_and_without_its_masks() -> None:
    upper = np.linspace(-0.99, 8.0, 13)
    everything = np.concatenate([upper, [-3.0, -1e5]])  # forces the masked path
    fast, masked = log_h(upper), log_h(everything)
    np.testing.assert_array_equal(fast[0], masked[0][:13])
    np.testing.assert_array_equal(fast[1], masked[1][:13])
