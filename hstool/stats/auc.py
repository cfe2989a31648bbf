"""AUC and its DeLong variance, computed from counts per distinct score ("rank classes").

With scores sorted once into U distinct values, every subset of the data is summarised by two
count vectors (positives and negatives per distinct value). From those, the DeLong structural
components (DeLong, DeLong & Clarke-Pearson 1988; the midrank form of Sun & Xu 2014) follow in
O(U) with cumulative sums, ties counting one half. One global sort serves every subgroup and
its complement, which is what makes a million-row, many-group audit fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hstool.stats.sums import dot


def score_order(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """The rows in ascending score order, the index of each row's score among the sorted
    distinct scores (its rank class), and the number of distinct scores."""
    order = np.argsort(scores)
    ordered = scores[order]
    starts = np.empty(len(scores), bool)  # a row whose score differs from the one before
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    classes = np.empty(len(scores), np.int64)
    classes[order] = np.cumsum(starts) - 1
    return order, classes, int(np.count_nonzero(starts))


def rank_classes(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Index of each score among the sorted distinct scores, and the number of distinct scores."""
    _, classes, n_classes = score_order(scores)
    return classes, n_classes


def midranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank (as scipy.stats.rankdata's default)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)  # rank of the last member of each tie block
    return (upper - (counts - 1) / 2.0)[inverse]


def class_counts(classes: np.ndarray, mask: np.ndarray, n_classes: int) -> np.ndarray:
    """How many rows selected by `mask` fall in each rank class."""
    return np.bincount(classes[mask], minlength=n_classes)


@dataclass(frozen=True)
class DelongComponents:
    """DeLong placement values per rank class, with the counts that weight them.

    v10[k]: for a positive with score class k, the fraction of negatives scored lower (ties 1/2).
    v01[k]: for a negative with score class k, the fraction of positives scored higher (ties 1/2).
    """

    pos_counts: np.ndarray
    neg_counts: np.ndarray
    v10: np.ndarray
    v01: np.ndarray
    auc: float

    @property
    def n_pos(self) -> int:
        return int(self.pos_counts.sum())

    @property
    def n_neg(self) -> int:
        return int(self.neg_counts.sum())

    def variance(self) -> float | None:
        """DeLong variance S10/m + S01/n; None when either class has fewer than 2 cases."""
        m, n = self.n_pos, self.n_neg
        if m < 2 or n < 2:
            return None
        s10 = dot(self.pos_counts, (self.v10 - self.auc) ** 2) / (m - 1)
        s01 = dot(self.neg_counts, (self.v01 - self.auc) ** 2) / (n - 1)
        return s10 / m + s01 / n


def delong_components(pos_counts: np.ndarray, neg_counts: np.ndarray) -> DelongComponents | None:
    """Components from per-class counts; None when a class is absent (AUC undefined)."""
    m = int(pos_counts.sum())
    n = int(neg_counts.sum())
    if m == 0 or n == 0:
        return None
    neg_below = np.cumsum(neg_counts) - neg_counts
    pos_above = m - np.cumsum(pos_counts)
    v10 = (neg_below + 0.5 * neg_counts) / n
    v01 = (pos_above + 0.5 * pos_counts) / m
    auc = dot(pos_counts, v10) / m
    return DelongComponents(pos_counts, neg_counts, v10, v01, auc)


def shared_class_covariance(a: DelongComponents, b: DelongComponents, shared: str) -> float | None:
    """Cov(AUC_a, AUC_b) when a and b share one class exactly and the other class is disjoint.

    `shared` is 'neg' (same negatives, e.g. two positive subclasses against all negatives) or
    'pos'. Only the shared class's placement values are correlated, so the covariance is their
    weighted covariance over the shared cases divided by the number of those cases.
    """
    if shared == "neg":
        weights, va, vb = a.neg_counts, a.v01, b.v01
        if not np.array_equal(weights, b.neg_counts):
            raise ValueError("the two AUCs do not share their negatives")
    elif shared == "pos":
        weights, va, vb = a.pos_counts, a.v10, b.v10
        if not np.array_equal(weights, b.pos_counts):
            raise ValueError("the two AUCs do not share their positives")
    else:
        raise ValueError(f"shared must be 'pos' or 'neg', not {shared!r}")
    k = int(weights.sum())
    if k < 2:
        return None
    return dot(weights, (va - a.auc) * (vb - b.auc)) / (k - 1) / k


def delong(scores: np.ndarray, labels: np.ndarray) -> DelongComponents | None:
    """DeLong components of boolean `labels` scored by `scores`; None if one class is absent."""
    classes, n_classes = rank_classes(np.asarray(scores, dtype=np.float64))
    labels = np.asarray(labels, dtype=bool)
    return delong_components(class_counts(classes, labels, n_classes), class_counts(classes, ~labels, n_classes))


def auc_score(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Convenience: AUC of boolean `labels` by `scores` (ties count 1/2); None if one class."""
    comp = delong(scores, labels)
    return None if comp is None else comp.auc
