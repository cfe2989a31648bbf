"""Proportions (sensitivity, specificity, PPV, NPV, accuracy): intervals and two-sample tests.

Vectorised over arrays of counts. An undefined proportion (0 of 0) is NaN, never a number.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hstool.stats.delong import normal_quantile, two_sided_p


def _as_arrays(k: npt.ArrayLike, n: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)


def proportion(k: npt.ArrayLike, n: npt.ArrayLike) -> np.ndarray:
    k, n = _as_arrays(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)


def wilson_interval(k: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval (no continuity correction), Wilson 1927."""
    k, n = _as_arrays(k, n)
    z = normal_quantile(level)
    safe_n = np.where(n > 0, n, 1)
    p = k / safe_n
    denom = 1 + z**2 / safe_n
    centre = (p + z**2 / (2 * safe_n)) / denom
    half = z * np.sqrt(p * (1 - p) / safe_n + z**2 / (4 * safe_n**2)) / denom
    low = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    # Exact endpoints at the boundaries (rounding can leave 1e-17 instead of 0).
    low = np.where((n > 0) & (k == 0), 0.0, low)
    high = np.where((n > 0) & (k == n), 1.0, high)
    return low, high


def clopper_pearson_interval(k: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson 1934) interval from beta quantiles."""
    k, n = _as_arrays(k, n)
    from scipy.special import betaincinv  # imported here: scipy is slow to import

    alpha = 1 - level
    with np.errstate(invalid="ignore"):
        low = np.where(k > 0, betaincinv(k, n - k + 1, alpha / 2), 0.0)
        high = np.where(k < n, betaincinv(k + 1, n - k, 1 - alpha / 2), 1.0)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def interval(
    k: npt.ArrayLike, n: npt.ArrayLike, level: float = 0.95, method: str = "wilson"
) -> tuple[np.ndarray, np.ndarray]:
    if method == "wilson":
        return wilson_interval(k, n, level)
    if method == "clopper-pearson":
        return clopper_pearson_interval(k, n, level)
    raise ValueError(f"unknown interval method {method!r}")


def two_proportion_z_p(k1: float, n1: float, k2: float, n2: float) -> float:
    """Two-sided pooled two-proportion z-test."""
    pooled = (k1 + k2) / (n1 + n2)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if var <= 0:
        return 1.0
    return two_sided_p((k1 / n1 - k2 / n2) / np.sqrt(var))


def fisher_p(k1: float, n1: float, k2: float, n2: float) -> float:
    """Two-sided Fisher exact test on the 2x2 table [[k1, n1-k1], [k2, n2-k2]]: the probability,
    given the margins, of the tables as likely as the observed one or less.

    The hypergeometric probabilities come from the ratio of consecutive terms, so no factorial is
    formed (and scipy.stats, 0.5 s to import, is not needed); a relative tolerance of 1e-7
    counts tables whose probability equals the observed one up to rounding, as R's fisher.test.
    """
    n1, n2, k = int(n1), int(n2), int(k1 + k2)
    lo, hi = max(0, k - n2), min(n1, k)
    x = np.arange(lo, hi, dtype=np.float64)  # P(x + 1) / P(x) for x = lo .. hi - 1
    log_ratio = np.log((n1 - x) * (k - x)) - np.log((x + 1) * (n2 - k + x + 1))
    log_pmf = np.concatenate(([0.0], np.cumsum(log_ratio)))
    pmf = np.exp(log_pmf - log_pmf.max())
    observed = pmf[int(k1) - lo]
    return float(min(1.0, pmf[pmf <= observed * (1 + 1e-7)].sum() / pmf.sum()))


def compare_proportions(k1: float, n1: float, k2: float, n2: float) -> tuple[float | None, str | None]:
    """Two-sided test of p1 = p2 for independent samples; returns (p, test name).

    Fisher's exact test when any expected cell count is below 5 (where the normal
    approximation is poor), the pooled z-test otherwise. None when either sample is empty.
    """
    if n1 <= 0 or n2 <= 0:
        return None, None
    total = n1 + n2
    successes = k1 + k2
    expected = [n * successes / total for n in (n1, n2)] + [n * (total - successes) / total for n in (n1, n2)]
    if min(expected) < 5:
        return fisher_p(k1, n1, k2, n2), "fisher"
    return two_proportion_z_p(k1, n1, k2, n2), "z"
