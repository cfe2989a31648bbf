"""Agreement between two raters (models or label sources) on the same cases.

- Cohen's kappa (Cohen 1960) with the large-sample standard error of Fleiss, Cohen & Everitt
  (Psychological Bulletin 1969), which is the delta-method variance of kappa under multinomial
  sampling of the k x k table of joint ratings (not the variance under the null kappa = 0).
- Bland-Altman statistics (Bland & Altman, Lancet 1986) for two continuous measurements of the
  same cases: mean difference with its t interval, SD of the differences, limits of agreement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hstool.stats.delong import normal_quantile


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa of a k x k table of counts (rows: rater A, columns: rater B)."""

    n: int
    observed: float  # p_o, the raw agreement
    expected: float  # p_e, agreement expected from the marginals alone
    kappa: float | None  # None when p_e = 1 (both raters give one and the same category)
    se: float | None
    ci_low: float | None
    ci_high: float | None


def confusion_counts(a: np.ndarray, b: np.ndarray, k: int = 2) -> np.ndarray:
    """k x k table of joint ratings from integer codes 0..k-1 (for binary: booleans)."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    return np.bincount(a * k + b, minlength=k * k).reshape(k, k)


def kappa_variance(table: np.ndarray) -> float | None:
    """Fleiss, Cohen & Everitt (1969) large-sample variance of kappa; None if undefined.

    With cell proportions p_ij, row margins p_i., column margins p_.j, p_o = sum_i p_ii and
    p_e = sum_i p_i. p_.i:

        Var = [ sum_i p_ii ((1 - p_e) - (p_i. + p_.i)(1 - p_o))^2
              + (1 - p_o)^2 sum_{i != j} p_ij (p_.i + p_j.)^2
              - (p_o p_e - 2 p_e + p_o)^2 ] / (n (1 - p_e)^4)
    """
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    if n == 0:
        return None
    p = table / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    p_o, p_e = float(np.trace(p)), float(rows @ cols)
    if p_e >= 1.0:
        return None
    diagonal = np.diag(p) @ ((1 - p_e) - (rows + cols) * (1 - p_o)) ** 2
    # weight of cell (i, j), i != j: (p_.i + p_j.)^2, i.e. column margin of i plus row margin of j
    cross = (cols[:, None] + rows[None, :]) ** 2
    off = p * cross
    off_diagonal = (1 - p_o) ** 2 * (off.sum() - np.trace(off))
    numerator = diagonal + off_diagonal - (p_o * p_e - 2 * p_e + p_o) ** 2
    # The numerator is a variance times (1 - p_e)^4 n, so it is >= 0; rounding can leave -1e-18.
    return max(float(numerator), 0.0) / float(n * (1 - p_e) ** 4)


def cohen_kappa(table: np.ndarray, level: float = 0.95) -> Kappa:
    """Kappa, its FCE-1969 standard error and the Wald interval kappa +/- z se, clipped to [-1, 1]."""
    table = np.asarray(table, dtype=np.float64)
    n = int(table.sum())
    if n == 0:
        raise ValueError("kappa needs at least one rated case")
    p = table / n
    p_o = float(np.trace(p))
    p_e = float(p.sum(axis=1) @ p.sum(axis=0))
    if p_e >= 1.0:
        return Kappa(n, p_o, p_e, None, None, None, None)
    kappa = (p_o - p_e) / (1 - p_e)
    variance = kappa_variance(table)
    assert variance is not None  # undefined only when p_e >= 1, returned above
    se = math.sqrt(variance)
    half = normal_quantile(level) * se
    return Kappa(n, p_o, p_e, kappa, se, max(-1.0, kappa - half), min(1.0, kappa + half))


@dataclass(frozen=True)
class BlandAltman:
    """Differences x - y of two measurements of the same cases."""

    n: int
    mean_diff: float
    mean_ci_low: float | None
    mean_ci_high: float | None
    sd_diff: float | None
    loa_low: float | None  # mean_diff - z sd_diff
    loa_high: float | None  # mean_diff + z sd_diff


def bland_altman(x: np.ndarray, y: np.ndarray, level: float = 0.95) -> BlandAltman:
    """Mean difference (t interval at `level`), SD (n - 1) and limits mean +/- z_{level} SD.

    The limits use the normal quantile (1.96 at 95%), as Bland & Altman do; the interval of the
    mean difference uses Student's t with n - 1 degrees of freedom. With one case only the mean
    is defined.
    """
    d = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    n = len(d)
    if n == 0:
        raise ValueError("Bland-Altman statistics need at least one case")
    mean = float(d.mean())
    if n < 2:
        return BlandAltman(n, mean, None, None, None, None, None)
    sd = float(d.std(ddof=1))
    from scipy.special import stdtrit  # Student t quantile; imported here, scipy is slow to import

    half_mean = float(stdtrit(n - 1, 0.5 + level / 2)) * sd / math.sqrt(n)
    half_loa = normal_quantile(level) * sd
    return BlandAltman(n, mean, mean - half_mean, mean + half_mean, sd, mean - half_loa, mean + half_loa)
