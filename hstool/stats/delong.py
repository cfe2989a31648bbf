"""DeLong tests: intervals for one AUC, and z-tests for the difference of two AUCs.

Two cases: independent samples (a subgroup against the rest, or against a reference group:
disjoint cases, covariance 0) and correlated samples (two AUCs that share cases; the
covariance comes from the shared placement values).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from hstool.stats.auc import midranks


@dataclass(frozen=True)
class Comparison:
    delta: float
    z: float | None
    p: float | None


def normal_quantile(level: float) -> float:
    """Two-sided critical value, e.g. 1.96 for a 95% interval."""
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def two_sided_p(z: float) -> float:
    """2 * P(Z > |z|), accurate far into the tail (erfc rather than 1 - cdf)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def one_sided_p(z: float) -> float:
    """P(Z > z), accurate far into the upper tail."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def wald_interval(estimate: float, variance: float | None, level: float) -> tuple[float | None, float | None]:
    """estimate +/- z * se, clipped to [0, 1] (an AUC cannot leave it)."""
    if variance is None:
        return None, None
    half = normal_quantile(level) * math.sqrt(max(variance, 0.0))
    return max(0.0, estimate - half), min(1.0, estimate + half)


def compare_aucs(
    auc_a: float, var_a: float | None, auc_b: float, var_b: float | None, covariance: float = 0.0
) -> Comparison:
    """Two-sided z-test of AUC_a = AUC_b: z = (a - b) / sqrt(var_a + var_b - 2 cov)."""
    delta = auc_a - auc_b
    if var_a is None or var_b is None:
        return Comparison(delta, None, None)
    var = var_a + var_b - 2.0 * covariance
    if var <= 0.0:
        # Both AUCs exactly known (e.g. both perfect): no evidence of a difference unless they differ.
        return Comparison(delta, None, None) if delta != 0 else Comparison(0.0, 0.0, 1.0)
    z = delta / math.sqrt(var)
    return Comparison(delta, z, two_sided_p(z))


def paired_placements(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Per-case DeLong placements for one scoring of a labelled set (Sun & Xu midranks).

    Returns (v10 for each positive, v01 for each negative, AUC), in the order of the cases.
    """
    labels = np.asarray(labels, dtype=bool)
    x, y = scores[labels], scores[~labels]
    m, n = len(x), len(y)
    tz = midranks(np.concatenate([x, y]))
    tx, ty = midranks(x), midranks(y)
    v10 = (tz[:m] - tx) / n
    v01 = 1.0 - (tz[m:] - ty) / m
    return v10, v01, float(v10.mean())


def paired_auc_covariance(
    scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray
) -> tuple[float, float, np.ndarray | None]:
    """AUCs of two scorings of the *same* cases and their 2 x 2 DeLong covariance matrix.

    The diagonal holds each AUC's DeLong variance. None when there are fewer than two
    positives or two negatives.
    """
    a10, a01, auc_a = paired_placements(np.asarray(scores_a, float), labels)
    b10, b01, auc_b = paired_placements(np.asarray(scores_b, float), labels)
    m, n = len(a10), len(a01)
    if m < 2 or n < 2:
        return auc_a, auc_b, None
    s10 = np.cov(np.vstack([a10, b10]))
    s01 = np.cov(np.vstack([a01, b01]))
    return auc_a, auc_b, s10 / m + s01 / n


def compare_paired_aucs(
    scores_a: np.ndarray, scores_b: np.ndarray, labels: np.ndarray
) -> tuple[float, float, Comparison]:
    """DeLong test for two scorings (e.g. two models) of the *same* cases.

    Returns (AUC_a, AUC_b, comparison). Needs at least two positives and two negatives.
    """
    auc_a, auc_b, cov = paired_auc_covariance(scores_a, scores_b, labels)
    if cov is None:
        return auc_a, auc_b, Comparison(auc_a - auc_b, None, None)
    return auc_a, auc_b, compare_aucs(auc_a, float(cov[0, 0]), auc_b, float(cov[1, 1]), float(cov[0, 1]))
