"""Heterogeneity of an AUC across the groups of one stratifier (e.g. sites): a meta-analysis.

Each group's AUC is an estimate with its DeLong variance v_i (independent groups: disjoint
cases). With fixed-effect weights w_i = 1/v_i:

- Cochran's Q = sum w_i (AUC_i - AUC_FE)^2, chi-square with k - 1 degrees of freedom under
  homogeneity (Cochran 1954);
- I^2 = max(0, (Q - (k - 1)) / Q), the share of variation beyond chance (Higgins & Thompson 2002);
- tau^2 by DerSimonian & Laird (1986): max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w)),
  the random-effects pooled AUC sum w*_i AUC_i / sum w*_i with w*_i = 1/(v_i + tau^2), and its
  Wald interval with standard error (sum w*_i)^{-1/2}.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hstool.stats.delong import normal_quantile


@dataclass(frozen=True)
class Heterogeneity:
    k: int
    q: float
    df: int
    q_p: float
    i2: float
    tau2: float
    pooled: float
    pooled_se: float
    pooled_ci_low: float
    pooled_ci_high: float


def chi2_sf(q: float, df: int) -> float:
    """P(X > q) for a chi-square with integer `df`: the closed-form series of the regularised
    upper incomplete gamma Q(df/2, q/2) (Abramowitz & Stegun 26.4.4-5), without importing scipy
    (slow to import) for one number."""
    x = q / 2.0
    if x <= 0:
        return 1.0
    log_x = math.log(x)
    if df % 2 == 0:
        return min(1.0, sum(math.exp(-x + i * log_x - math.lgamma(i + 1)) for i in range(df // 2)))
    series = sum(math.exp(-x + (i - 0.5) * log_x - math.lgamma(i + 0.5)) for i in range(1, (df + 1) // 2))
    return min(1.0, math.erfc(math.sqrt(x)) + series)


def dersimonian_laird(estimates: np.ndarray, variances: np.ndarray, level: float = 0.95) -> Heterogeneity | None:
    """Q, I^2, tau^2 and the random-effects pooled estimate; None with fewer than 2 groups.

    Groups with a variance that is not positive (e.g. a perfect AUC with SE 0) would get an
    infinite weight; the caller leaves them out.
    """
    theta = np.asarray(estimates, dtype=np.float64)
    v = np.asarray(variances, dtype=np.float64)
    if theta.size < 2 or (v <= 0).any():
        return None
    w = 1.0 / v
    fixed = float(w @ theta / w.sum())
    q = float(w @ (theta - fixed) ** 2)
    df = theta.size - 1
    i2 = max(0.0, (q - df) / q) if q > 0 else 0.0
    tau2 = max(0.0, (q - df) / float(w.sum() - (w @ w) / w.sum()))
    w_star = 1.0 / (v + tau2)
    pooled = float(w_star @ theta / w_star.sum())
    se = math.sqrt(1.0 / float(w_star.sum()))
    half = normal_quantile(level) * se
    return Heterogeneity(
        k=int(theta.size),
        q=q,
        df=df,
        q_p=chi2_sf(q, df),
        i2=i2,
        tau2=tau2,
        pooled=pooled,
        pooled_se=se,
        pooled_ci_low=pooled - half,
        pooled_ci_high=pooled + half,
    )
