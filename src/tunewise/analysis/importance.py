"""Hyperparameter importance by PED-ANOVA (Watanabe et al., IJCAI 2023).

Why PED-ANOVA and not fANOVA on a random forest: it needs no model fit, only one density
estimate per hyperparameter, so it runs in milliseconds on 100,000 trials and can be
recomputed on every dashboard view; and it needs nothing beyond numpy (no scikit-learn in the
dashboard's dependencies).

The idea: a hyperparameter matters when the best trials (the top ``quantile``) are spread over
its range differently from all trials. For each hyperparameter, in the space's unit encoding,
estimate the density of the top trials ``p_top`` and of all scored trials ``p_all``, and take
the Pearson divergence ``E_all[(p_top / p_all - 1)^2]`` (times ``quantile^2``, the paper's local
variance). Normalised, the values sum to 1. A parameter of a conditional space (or one a
define-by-run trial did not ask) is judged over the trials where it is active: "all" and "top"
are those trials and their own top ``quantile``.

Densities are histograms on ``bins`` cells smoothed with a Gaussian kernel (Scott's bandwidth)
plus one prior observation spread uniformly, so a cell never has zero density. Categories are
counted per choice, with the same prior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tunewise.analysis.frame import TrialFrame
from tunewise.space import Categorical

METHOD = "ped-anova"
MIN_TRIALS = 10  # below this the top quantile holds one or two trials: noise, not signal


@dataclass(frozen=True)
class Importance:
    """Normalised importances (sum 1, largest first) and what they were computed from."""

    values: dict[str, float]
    n_trials: int
    quantile: float
    method: str = METHOD
    note: str | None = None  # why ``values`` is empty

    def to_dict(self) -> dict[str, object]:
        return {
            "method": self.method,
            "importances": self.values,
            "n_trials": self.n_trials,
            "quantile": self.quantile,
            "note": self.note,
        }


def ped_anova(frame: TrialFrame, *, quantile: float = 0.1, bins: int = 50) -> Importance:
    """Importance of each searched hyperparameter over the study's COMPLETED trials."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    rows = np.flatnonzero(frame.scored)
    n = int(rows.size)
    if n < MIN_TRIALS:
        return Importance(
            {},
            n,
            quantile,
            note=f"needs at least {MIN_TRIALS} completed trials with a value ({n} so far)",
        )
    good = frame.goodness()[rows]
    raw: dict[str, float] = {}
    for name, param in frame.space.params.items():
        column = frame.unit[name][rows]
        known = np.isfinite(column)
        if known.sum() < MIN_TRIALS:
            continue
        # Over the trials where it is active (a tree's branch, a name define-by-run asked),
        # with their own top quantile: a branch never among the study's best trials still shows
        # what matters inside it (the study's top trials left such a parameter out).
        active = column[known]
        n_top = max(2, int(np.ceil(quantile * active.size)))
        top_known = active[np.argsort(-good[known], kind="stable")[:n_top]]
        if isinstance(param, Categorical):
            cells = len(param.values)
            p_all = _categorical_density(column[known], cells)
            p_top = _categorical_density(top_known, cells)
        else:
            p_all = _kde_density(column[known], bins)
            p_top = _kde_density(top_known, bins)
        raw[name] = quantile**2 * float(np.sum(p_all * (p_top / p_all - 1.0) ** 2))
    total = sum(raw.values())
    values = {k: (v / total if total > 0 else 0.0) for k, v in raw.items()}
    ordered = dict(sorted(values.items(), key=lambda kv: -kv[1]))
    return Importance(ordered, n, quantile)


def _categorical_density(unit: np.ndarray, cells: int) -> np.ndarray:
    index = np.clip((unit * cells).astype(np.int64), 0, cells - 1)
    counts = np.bincount(index, minlength=cells).astype(np.float64) + 1.0 / cells
    return counts / counts.sum()


def _kde_density(unit: np.ndarray, bins: int) -> np.ndarray:
    """Probability mass per cell of a Gaussian KDE of ``unit`` on [0, 1], with a prior."""
    counts = np.histogram(np.clip(unit, 0.0, 1.0), bins=bins, range=(0.0, 1.0))[0]
    counts = counts.astype(np.float64)
    std = float(np.std(unit)) if unit.size > 1 else 0.5
    bandwidth = max(1.06 * max(std, 1e-3) * unit.size ** (-0.2), 1.0 / bins)
    offsets = np.arange(-bins + 1, bins) / bins
    kernel = np.exp(-0.5 * (offsets / bandwidth) ** 2)
    # full[k] sums counts[j] * kernel at offset (k - bins + 1 - j): cell i is k = i + bins - 1.
    smooth = np.convolve(counts, kernel)[bins - 1 : 2 * bins - 1]
    smooth = smooth / smooth.sum() * unit.size + 1.0 / bins
    return smooth / smooth.sum()
