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
from functools import cached_property

import numpy as np

from hstool.stats.delong import normal_quantile
from hstool.stats.sums import dot

EPS = 1e-8
N_BINS = 10
_MAX_ITER = 100
_DIVERGED = 1e3  # |coefficient| or standard error beyond which a fit is separated (infinite MLE)
_MAX_STEP = 10.0  # largest change of a coefficient in one Newton step (logit units)
# Fits start at the values for calibrated scores: intercept 0 (with the offset), intercept 0 and slope 1.
INTERCEPT_START = np.zeros(1)
SLOPE_START = np.array([0.0, 1.0])


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
    return brier_of((np.asarray(scores, dtype=np.float64) - np.asarray(labels, dtype=np.float64)) ** 2)


def brier_of(squared: np.ndarray) -> Estimate:
    """`brier` of cases given by their squared errors (at least one)."""
    se = float(squared.std(ddof=1) / math.sqrt(squared.size)) if squared.size >= 2 else None
    return Estimate(float(squared.mean()), se)


@dataclass(frozen=True)
class Fit:
    """A logistic fit's coefficients and covariance, with the log-likelihood, information and score
    at those coefficients (the last evaluation: what a fit of a subset warm-started there reuses)."""

    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    info: np.ndarray
    score: np.ndarray


Evaluation = tuple[float, np.ndarray, np.ndarray]  # log-likelihood, information, score


class Likelihood:
    """Log-likelihood, observed information and score of `logit P(y=1) = a + x` (slope False: x is
    an offset, beta = [a]) or of `a + b x` (slope True: beta = [a, b]), on cases grouped by x:
    `total` cases of which `positives` are positive at each x (1 and y for single cases; 0 cases
    contribute 0).

    `x` must be sorted (ascending): the linear predictor eta is then monotone in x, so the values
    with eta >= 0 and those below are two slices, each computed by its own stable formula with
    p = 1 / (1 + e^-eta) and log(1 + e^eta) (below: e = e^eta, p = e / (1 + e), log(1 + e);
    above: e = e^-eta, p = 1 / (1 + e), eta + log(1 + e)); either formula is exact on either
    side, so where the cut falls matters only for overflow. An evaluation is eight vectorised
    passes over x, in `work` (3 rows at least as long as x; allocated when not given), and inner
    products; the sums that do not depend on the coefficients are taken once.
    """

    def __init__(self, x: np.ndarray, total: np.ndarray, positives: np.ndarray, work: np.ndarray | None = None) -> None:
        self.x, self.total = x, total
        self.nx = total * x
        self.k_sum, self.kx = float(positives.sum()), dot(positives, x)
        self.n_sum, self.nx_sum = float(total.sum()), float(self.nx.sum())
        size = x.size
        self.work = work[:3, :size] if work is not None and work.shape[1] >= size else np.empty((3, size))

    def _cut(self, a: float, b: float) -> tuple[slice, slice]:
        """The slices of x where eta = a + b x is >= 0 (above) and < 0 (below)."""
        size = self.x.size
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if b > 0:
                j = int(np.searchsorted(self.x, -a / b, side="left"))
                return slice(j, size), slice(0, j)
            if b < 0:
                j = int(np.searchsorted(self.x, -a / b, side="right"))
                return slice(0, j), slice(j, size)
        return (slice(0, size), slice(0, 0)) if a >= 0 else (slice(0, 0), slice(0, size))

    @cached_property
    def nxx(self) -> np.ndarray:
        nxx: np.ndarray = self.nx * self.x
        return nxx

    @cached_property
    def distinct(self) -> bool:
        """Whether the cases hold two distinct x at least (else a slope is not identifiable)."""
        present = self.x[self.total > 0]
        return bool(present.size and present[-1] > present[0])

    def __call__(self, beta: np.ndarray, slope: bool) -> Evaluation:
        t, c, u = self.work
        n, x = self.total, self.x
        a, b = float(beta[0]), float(beta[1]) if slope else 1.0
        above, below = self._cut(a, b)
        # t = -|eta|: -eta above the cut, eta below.
        np.multiply(x[above], -b, out=t[above])
        t[above] -= a
        np.multiply(x[below], b, out=t[below])
        t[below] += a
        np.exp(t, out=t)  # t = e^-|eta|
        np.add(t, 1.0, out=c)
        np.reciprocal(c, out=c)  # c = 1 / (1 + e^-|eta|): p above the cut, 1 - p below
        np.log(c, out=u)
        # Bernoulli log-likelihood: y eta - log(1 + e^eta), with log(1 + e^eta) = -log(c) below
        # and eta - log(c) above; n . eta above = a n + b n x summed over that slice.
        n_below, nx_below = float(n[below].sum()), float(self.nx[below].sum())
        n_eta_above = a * (self.n_sum - n_below) + b * (self.nx_sum - nx_below)
        loglik = a * self.k_sum + b * self.kx - n_eta_above + dot(n, u)
        t *= c
        t *= c  # t = p (1 - p) = e^-|eta| / (1 + e^-|eta|)^2, without the cancellation of 1 - p
        # n . p = n . c above + (n - n . c) below; likewise with n x.
        n_p = dot(n[above], c[above]) + n_below - dot(n[below], c[below])
        if not slope:
            return loglik, np.array([[dot(n, t)]]), np.array([self.k_sum - n_p])
        nx = self.nx
        nx_p = dot(nx[above], c[above]) + nx_below - dot(nx[below], c[below])
        wx = dot(nx, t)
        return (
            loglik,
            np.array([[dot(n, t), wx], [wx, dot(self.nxx, t)]]),
            np.array([self.k_sum - n_p, self.kx - nx_p]),
        )


def logistic_fit(
    likelihood: Likelihood, slope: bool, start: np.ndarray, at_start: Evaluation | None = None
) -> Fit | None:
    """Maximum likelihood logistic regression (`likelihood`'s model with or without a slope) by
    Newton-Raphson with step halving, from `start` (`at_start`: the evaluation there, when the
    caller already has it).

    Returns None when the likelihood has no finite maximum (separation, one class only) or the
    information is singular (a slope with a single distinct score). Each iteration evaluates
    once, at the candidate: the likelihood that decides on halving the step, and the information
    and score of the next step.
    """
    if slope and not likelihood.distinct:
        return None
    beta = start.astype(np.float64)
    current, info, score = at_start if at_start is not None else likelihood(beta, slope)
    for _ in range(_MAX_ITER):
        try:
            step = np.linalg.solve(info, score)
        except np.linalg.LinAlgError:
            return None
        # Where the information is nearly 0 (far in a flat tail of the likelihood) a Newton step
        # can be enormous; it is capped so that the search still reaches a finite maximum.
        longest = float(np.abs(step).max())
        scale = min(1.0, _MAX_STEP / longest) if longest > 0 else 1.0
        smallest = scale * 1e-6  # halved this far without gain, the step is taken all the same
        while True:
            candidate = beta + scale * step
            value, next_info, next_score = likelihood(candidate, slope)
            # Relative tolerance: a sum over many cases is only resolved to ~1e-16 of its size, and a
            # spurious halving of the last Newton step would stop short of the maximum.
            if value >= current - 1e-12 * (1.0 + abs(current)) or scale < smallest:
                break
            scale /= 2.0
        beta, previous, current, info, score = candidate, current, value, next_info, next_score
        if np.abs(beta).max() > _DIVERGED:
            return None
        if np.abs(scale * step).max() < 1e-10 or abs(current - previous) < 1e-12 * (1.0 + abs(current)):
            break
    else:
        return None
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    # Separated data drift towards an infinite coefficient until the likelihood stops changing;
    # their information is then nearly singular, which shows as an enormous standard error (or,
    # from rounding, as a variance that is not positive).
    variances = np.diag(cov)
    if not np.isfinite(cov).all() or not (variances > 0).all() or np.sqrt(variances).max() > _DIVERGED:
        return None
    return Fit(beta, cov, current, info, score)


def _both_classes(y: np.ndarray) -> bool:
    return bool(y.any() and not y.all())


def _case_likelihood(scores: np.ndarray, y: np.ndarray) -> Likelihood:
    """The likelihood of single cases (ordered by score, as `Likelihood` needs)."""
    x = logit(scores)
    order = np.argsort(x, kind="stable")
    return Likelihood(x[order], np.ones(x.size), y[order])


def calibration_intercept(scores: np.ndarray, labels: np.ndarray) -> Estimate | None:
    """Calibration-in-the-large: intercept with logit(score) as offset; None with one class."""
    y = np.asarray(labels, dtype=np.float64)
    if not _both_classes(y):
        return None
    return intercept_estimate(logistic_fit(_case_likelihood(scores, y), False, INTERCEPT_START))


def calibration_slope(scores: np.ndarray, labels: np.ndarray) -> Estimate | None:
    """Calibration slope: coefficient of logit(score) with a free intercept; None with one class."""
    y = np.asarray(labels, dtype=np.float64)
    if not _both_classes(y):
        return None
    return slope_estimate(logistic_fit(_case_likelihood(scores, y), True, SLOPE_START))


def intercept_estimate(fit: Fit | None) -> Estimate | None:
    return None if fit is None else Estimate(float(fit.beta[0]), float(math.sqrt(fit.cov[0, 0])))


def slope_estimate(fit: Fit | None) -> Estimate | None:
    return None if fit is None else Estimate(float(fit.beta[1]), float(math.sqrt(fit.cov[1, 1])))


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


def sorted_bins(scores: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> Bins:
    """`bin_summary` of cases already in `equal_mass_bins` order (by score, ties in input order)."""
    n = np.asarray(scores).size
    k = max(1, min(n_bins, n))
    return bin_summary(scores, labels, (np.arange(n) * k) // max(n, 1))


def bins_ece(bins: Bins) -> float:
    """Expected calibration error of the bins: their count-weighted mean |observed - mean score|."""
    return float(bins.count @ np.abs(bins.observed - bins.mean_score) / bins.count.sum())


def ece(scores: np.ndarray, labels: np.ndarray, n_bins: int = N_BINS) -> float:
    """Expected calibration error over equal-mass bins."""
    return bins_ece(bin_summary(scores, labels, equal_mass_bins(scores, n_bins)))


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
    return bins_ece_interval(bins, n_boot=n_boot, level=level, rng=rng)


def bins_ece_interval(bins: Bins, *, n_boot: int, level: float, rng: np.random.Generator) -> tuple[float, float]:
    """`ece_interval` from the bins."""
    weights = bins.count / bins.count.sum()
    se = np.sqrt(bins.residual_var / bins.count)
    draws = rng.normal(bins.observed - bins.mean_score, se, size=(n_boot, bins.count.size))
    replicates = np.abs(draws) @ weights
    low, high = np.quantile(replicates, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(low), float(high)
