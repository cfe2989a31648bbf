"""Calibration of a group's scores: Brier score, calibration-in-the-large, calibration slope, ECE.

- Brier score: mean of (score - label)^2; its interval is the normal one for a mean.
- Calibration-in-the-large: the intercept `a` of `logit P(y=1) = a + logit(score)` (slope fixed
  at 1, logit(score) as an offset); 0 when the scores are right on average, positive when they
  understate risk. Calibration slope: `b` of `logit P(y=1) = a + b logit(score)`; 1 is ideal,
  below 1 the scores are too extreme (Cox 1958; Van Calster et al. 2019). Both are maximum
  likelihood estimates with Wald intervals from the observed information.
- ECE: the bin-weighted mean of |observed fraction - mean score| over equal-mass score bins
  (Naeini et al. 2015; Guo et al. 2017). It has no analytic interval: a seeded bootstrap of the
  bins' mean residuals gives one (see `ece_interval`).

Scores of exactly 0 or 1 have an infinite logit; they are clipped to [EPS, 1 - EPS] first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hstool.stats.delong import normal_quantile

EPS = 1e-8
N_BINS = 10
_MAX_ITER = 100
_DIVERGED = 1e3  # |coefficient| or standard error beyond which a fit is separated (infinite MLE)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its standard error (None when no interval can be given)."""

    value: float
    se: float | None

    def interval(self, level: float) -> tuple[float | None, float | None]:
        if self.se is None:
            return None, None
        half = normal_quantile(level) * self.se
        return self.value - half, self.value + half


def logit(scores: np.ndarray) -> np.ndarray:
    s = np.clip(np.asarray(scores, dtype=np.float64), EPS, 1.0 - EPS)
    return np.log(s) - np.log1p(-s)


def brier(scores: np.ndarray, labels: np.ndarray) -> Estimate:
    """Brier score with the standard error of a mean (None below two cases)."""
    squared = (np.asarray(scores, dtype=np.float64) - np.asarray(labels, dtype=np.float64)) ** 2
    se = float(squared.std(ddof=1) / math.sqrt(squared.size)) if squared.size >= 2 else None
    return Estimate(float(squared.mean()), se)


def _logistic_fit(
    design: np.ndarray, y: np.ndarray, offset: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Maximum likelihood logistic regression by Newton-Raphson with step halving, from `start`.

    Returns (coefficients, covariance = inverse observed information), or None when the
    likelihood has no finite maximum (separation, one class only) or the information is singular.
    The linear predictor is carried from one iteration to the next, so an iteration costs one
    product with the design for the step and one likelihood.
    """

    def loglik(eta: np.ndarray) -> float:
        # log-likelihood of a Bernoulli with logit eta: y eta - log(1 + e^eta), stably.
        return float(np.sum(y * eta - np.logaddexp(0.0, eta)))

    columns = np.ascontiguousarray(design.T)  # one contiguous row per coefficient: fast dot products

    def information(eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-eta))
        weighted = columns * (p * (1.0 - p))
        return weighted @ columns.T, columns @ (y - p)

    beta = start.astype(np.float64)
    eta = offset + beta @ columns
    current = loglik(eta)
    for _ in range(_MAX_ITER):
        info, score = information(eta)
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            return None
        moved = step @ columns
        scale = 1.0
        while True:
            candidate = eta + scale * moved
            value = loglik(candidate)
            if value >= current - 1e-12 or scale < 1e-6:
                break
            scale /= 2.0
        beta, eta, previous, current = beta + scale * step, candidate, current, value
        if np.abs(beta).max() > _DIVERGED:
            return None
        if np.abs(scale * step).max() < 1e-10 or abs(current - previous) < 1e-12 * (1.0 + abs(current)):
            break
    else:
        return None
    info, _ = information(eta)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    # Separated data drift towards an infinite coefficient until the likelihood stops changing;
    # their information is then nearly singular, which shows as an enormous standard error.
    if not np.isfinite(cov).all() or np.sqrt(np.diag(cov)).max() > _DIVERGED:
        return None
    return beta, cov


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.any() and not y.all())


def calibration_intercept(scores: np.ndarray, labels: np.ndarray) -> Estimate | None:
    """Calibration-in-the-large: intercept with logit(score) as offset; None with one class."""
    y = np.asarray(labels, dtype=np.float64)
    if not _both_classes(y):
        return None
    # Started at 0, the value for calibrated scores.
    fit = _logistic_fit(np.ones((y.size, 1)), y, logit(scores), np.zeros(1))
    if fit is None:
        return None
    beta, cov = fit
    return Estimate(float(beta[0]), float(math.sqrt(cov[0, 0])))


def calibration_slope(scores: np.ndarray, labels: np.ndarray) -> Estimate | None:
    """Calibration slope: coefficient of logit(score) with a free intercept; None with one class."""
    y = np.asarray(labels, dtype=np.float64)
    if not _both_classes(y):
        return None
    design = np.column_stack([np.ones(y.size), logit(scores)])
    # Started at intercept 0 and slope 1, the values for calibrated scores.
    fit = _logistic_fit(design, y, np.zeros(y.size), np.array([0.0, 1.0]))
    if fit is None:
        return None
    beta, cov = fit
    return Estimate(float(beta[1]), float(math.sqrt(cov[1, 1])))


def equal_mass_bins(scores: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Bin index (0..k-1) of each score: k = min(n_bins, n) bins of (nearly) equal counts by rank.

    Cases are ordered by score (ties in input order) and cut into k consecutive runs whose
    sizes differ by at most one, so every bin holds cases (a run of equal scores may straddle
    an edge; each case still counts once).
    """
    n = np.asarray(scores).size
    k = max(1, min(n_bins, n))
    order = np.argsort(scores, kind="stable")
    index = np.empty(n, dtype=np.int64)
    index[order] = (np.arange(n) * k) // max(n, 1)
    return index


@dataclass(frozen=True)
class Bins:
    """Per-bin count, mean score, observed fraction of positives, and residual spread."""

    count: np.ndarray
    mean_score: np.ndarray
    observed: np.ndarray
    residual_var: np.ndarray  # sample variance of (label - score) within each bin


def bin_summary(scores: np.ndarray, labels: np.ndarray, index: np.ndarray) -> Bins:
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    k = int(index.max()) + 1 if index.size else 0
    count = np.bincount(index, minlength=k).astype(np.float64)
    mean_score = np.bincount(index, weights=s, minlength=k) / count
    observed = np.bincount(index, weights=y, minlength=k) / count
    r = y - s
    mean_r = observed - mean_score
    sq = np.bincount(index, weights=r * r, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(count > 1, (sq - count * mean_r**2) / (count - 1), 0.0)
    return Bins(count, mean_score, observed, np.maximum(var, 0.0))


def ece(scores: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error over equal-mass bins."""
    bins = bin_summary(scores, labels, equal_mass_bins(scores, n_bins))
    return float(bins.count @ np.abs(bins.observed - bins.mean_score) / bins.count.sum())


def ece_interval(
    scores: np.ndarray, labels: np.ndarray, *, n_bins: int, n_boot: int, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile interval of the ECE from a seeded parametric bootstrap of the bin means.

    Conditional on the bins, a bin's residual mean (observed - mean score) is the mean of its
    cases' label - score, approximately normal with the bins' sample variance over its count;
    each replicate redraws every bin's mean residual from that normal and recomputes the weighted mean of
    absolute values. Cost is O(bins x replicates), independent of the group's size.
    """
    bins = bin_summary(scores, labels, equal_mass_bins(scores, n_bins))
    weights = bins.count / bins.count.sum()
    se = np.sqrt(bins.residual_var / bins.count)
    draws = rng.normal(bins.observed - bins.mean_score, se, size=(n_boot, bins.count.size))
    replicates = np.abs(draws) @ weights
    low, high = np.quantile(replicates, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)
