"""Multivariate tree-structured Parzen estimator (TPE).

Bergstra et al. (2011) split the finished trials into a good group (the best ``gamma(n)``) and
the rest, fit a density to each — ``l(x)`` to the good, ``g(x)`` to the others — and pick, among
candidates drawn from ``l``, the one with the largest ``l(x) / g(x)`` (which ranks candidates as
expected improvement does under the TPE model). The multivariate form (Falkner et al. 2018,
BOHB; Optuna's ``multivariate=True``) uses one kernel per trial over all parameters jointly, so
interactions between parameters are kept.

Here, on the rows of :mod:`.features`:

- continuous and discrete columns: Gaussian kernels truncated to ``[0, 1]``, one bandwidth per
  column from Scott's rule on that column's spread in the group, kept within a factor of
  Optuna's multivariate bandwidth (so a group of identical values still explores), samples
  snapped to runnable values;
- categorical columns: a categorical kernel that keeps most of its mass on the trial's own
  choice and spreads the rest uniformly (Optuna's prior-weighted form), so choices are never
  ordered;
- each estimator also holds a uniform prior component, so no region ever has zero density;
- FAILED trials and pending ones (and the batch's earlier picks) join the *bad* group — a
  "constant liar" that steers parallel suggestions and repeats away from them.

In a conditional space (or a define-by-run one that grew) the parameters are split into groups
that are always active together in the history (Optuna's ``group=True`` decomposition): each
group gets its own pair of estimators, fitted to the trials where the group is active, and
its own pick; the picks are assembled into one row and projected onto the tree, so children
follow the parent chosen for them. A flat space is one group: the plain multivariate TPE.

Cost is linear in the history: scoring ``N_CANDIDATES`` candidates against ``n`` kernels is one
vectorised pass (a few milliseconds at 1,000 trials).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunewise.strategies.base import Strategy
from tunewise.strategies.registry import register

if TYPE_CHECKING:
    import numpy as np

    from tunewise.space import Space
    from tunewise.strategies.features import Features
    from tunewise.trial import Trial

#: Trials of the Latin-hypercube start before the estimators take over.
N_STARTUP = 10
#: Candidates drawn from l(x) per suggestion (Optuna's default): more makes the pick greedier
#: (the best l/g among more draws sits closer to the good points) and, on Branin, more often
#: stuck on a slope.
N_CANDIDATES = 24
#: Weight of the uniform prior component, in units of one trial's kernel.
PRIOR_WEIGHT = 1.0


def n_good(n: int) -> int:
    """Size of the good group: 10% of the trials, at least 1 and at most 25 (Optuna's
    default); the good density stays sharp while the bad one grows with the history."""
    return max(1, min(math.ceil(0.1 * n), 25))


@register
class TPEStrategy(Strategy):
    name = "tpe"

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
            from tunewise.strategies import mo_tpe

            return mo_tpe.suggest(self, space, history, pending, n, rng)
        import numpy as np

        from tunewise.strategies.features import Features

        features = Features(space)
        obs, pending_rows, avoid = features.known(history, pending, self.objective)
        position = len(history) + len(pending)
        liars = [obs.failed, pending_rows]
        out: list[dict[str, Any]] = []
        for i in range(n):
            if features.exhausted(avoid):
                break
            pick = None
            if position + i < N_STARTUP or len(obs.y) < 2:
                rows = features.latin_hypercube(self.seed, position + i, N_STARTUP)
                pick = features.first_new(rows, avoid)
            elif features.conditional or obs.present is not None:
                pick = _grouped_pick(
                    features, obs.x, obs.y, obs.present, np.vstack(liars), avoid, rng
                )
            else:
                pick = _tpe_pick(features, obs.x, obs.y, np.vstack(liars), avoid, rng)
            pick = features.take(pick, avoid, rng)
            if pick is None:
                break
            row, params = pick
            liars.append(row[None, :])
            out.append(params)
        return out


def _tpe_pick(
    features: Features,
    x: np.ndarray,
    y: np.ndarray,
    liars: np.ndarray,
    avoid: set[bytes],
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]] | None:
    import numpy as np

    order = np.argsort(y, kind="stable")
    k = n_good(len(y))
    good = _Parzen(features, x[order[:k]])
    bad = _Parzen(features, np.vstack([x[order[k:]], liars]))
    candidates = features.snap(good.sample(rng, N_CANDIDATES))
    score = good.log_pdf(candidates) - bad.log_pdf(candidates)
    ranked = candidates[np.argsort(-score, kind="stable")]
    return features.first_new(ranked, avoid)


def _grouped_pick(
    features: Features,
    x: np.ndarray,
    y: np.ndarray,
    present: np.ndarray | None,
    liars: np.ndarray,
    avoid: set[bytes],
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """One TPE per group of parameters active together; the picks assembled into rows.

    ``present``: which cells of ``x`` hold a value (None: all); a parameter first seen after
    a trial ran is absent from it, though the tree may call it active.
    """
    import numpy as np

    active = features.active(x)
    if present is not None:
        active &= present
    liar_active = features.active(liars)
    groups = features.tree.groups(active)
    # Columns no observation has active (a branch never run yet) stay uniformly random.
    base = features.random(rng, N_CANDIDATES)
    for cols in groups:
        has = active[:, cols].all(axis=1)
        if has.sum() < 2:
            continue
        gx, gy = x[has], y[has]
        order = np.argsort(gy, kind="stable")
        k = n_good(len(gy))
        bad_rows = np.vstack([gx[order[k:]], liars[liar_active[:, cols].all(axis=1)]])
        good = _Parzen(features, gx[order[:k]], cols)
        bad = _Parzen(features, bad_rows, cols)
        candidates = good.sample(rng, N_CANDIDATES)
        score = good.log_pdf(candidates) - bad.log_pdf(candidates)
        ranked = candidates[np.argsort(-score, kind="stable")]
        base[:, cols] = ranked[:, cols]
    return features.first_new(features.snap(base), avoid)


class _Parzen:
    """A mixture of per-trial kernels plus a uniform prior component, over feature rows
    (over the columns ``cols`` only when given: one group of a conditional space)."""

    def __init__(
        self, features: Features, rows: np.ndarray, cols: np.ndarray | None = None
    ) -> None:
        import numpy as np

        self.features = features
        self.rows = rows
        n = len(rows)
        self.cols = np.ones(features.dim, dtype=bool) if cols is None else cols
        cont = features.continuous & self.cols
        self.cont = cont
        self.weights = np.concatenate([np.ones(n), [PRIOR_WEIGHT]])
        self.weights /= self.weights.sum()
        # Per-column Scott's rule on the group's spread, kept within a factor of Optuna's
        # multivariate bandwidth 0.2 * n^(-1/(d+4)) (half of it up to twice it), and never
        # below half the grid spacing of a discrete column.
        d_eff = int(cont.sum())
        shrink = max(n, 1) ** (-1.0 / (4 + d_eff))
        spread = np.std(rows[:, cont], axis=0) if n > 1 else np.full(d_eff, 0.29)
        base = 0.2 * shrink
        bandwidth = np.clip(1.06 * spread * shrink, base / 2.0, base * 2.0)
        for i, j in enumerate(np.flatnonzero(cont)):
            grid = features.grids[j]
            if grid is not None and len(grid) > 1:
                bandwidth[i] = max(bandwidth[i], 0.5 * float(np.min(np.diff(grid))))
        self.bandwidth = np.minimum(bandwidth, 1.0)
        # Categorical kernel: own choice weight 1 + p/n, each choice p/n (normalised).
        self.cat_cols = np.flatnonzero(features.categorical & self.cols)
        self.cat_own: list[float] = []
        self.cat_other: list[float] = []
        for j in self.cat_cols:
            choices = int(features.n_choices[j])
            base = PRIOR_WEIGHT / max(n, 1)
            total = 1.0 + base * choices
            self.cat_own.append((1.0 + base) / total)
            self.cat_other.append(base / total)

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        """Draws from the mixture (the prior component draws uniformly)."""
        import numpy as np
        from scipy.special import ndtr, ndtri

        f = self.features
        n = len(self.rows)
        comp = rng.choice(n + 1, size=count, p=self.weights)
        out = f.random(rng, count)
        from_kernel = comp < n
        centres = self.rows[comp[from_kernel]]
        cont = self.cont
        mu = centres[:, cont]
        sd = self.bandwidth
        lo, hi = ndtr((0.0 - mu) / sd), ndtr((1.0 - mu) / sd)
        u = lo + (hi - lo) * rng.random(mu.shape)
        drawn = mu + sd * ndtri(np.clip(u, 1e-12, 1.0 - 1e-12))
        block = out[from_kernel]
        block[:, cont] = np.clip(drawn, 0.0, 1.0)
        for i, j in enumerate(self.cat_cols):
            choices = int(f.n_choices[j])
            keep = rng.random(len(centres)) < self.cat_own[i] - self.cat_other[i]
            uniform = np.floor(rng.random(len(centres)) * choices)
            block[:, j] = np.where(keep, centres[:, j], uniform)
        out[from_kernel] = block
        return out

    def log_pdf(self, rows: np.ndarray) -> np.ndarray:
        """Log density of the mixture at ``rows`` (continuous part w.r.t. the unit cube)."""
        import numpy as np
        from scipy.special import ndtr

        f = self.features
        cont = self.cont
        mu = self.rows[:, cont]
        sd = self.bandwidth
        z = (rows[:, None, cont] - mu[None, :, :]) / sd
        mass = ndtr((1.0 - mu) / sd) - ndtr((0.0 - mu) / sd)
        log_k = -0.5 * z * z - 0.5 * math.log(2 * math.pi) - np.log(sd) - np.log(mass)
        log_comp = log_k.sum(axis=2)  # (m, n)
        for i, j in enumerate(self.cat_cols):
            same = rows[:, None, j] == self.rows[None, :, j]
            log_comp = log_comp + np.where(
                same, math.log(self.cat_own[i]), math.log(self.cat_other[i])
            )
        # The prior: uniform over the cube and over each categorical's choices.
        log_prior = -np.sum(np.log(f.n_choices[self.cat_cols].astype(float)))
        log_all = np.concatenate([log_comp, np.full((len(rows), 1), log_prior)], axis=1)
        log_all += np.log(self.weights)[None, :]
        top = np.max(log_all, axis=1, keepdims=True)
        return top[:, 0] + np.log(np.sum(np.exp(log_all - top), axis=1))
