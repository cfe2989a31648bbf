"""How well a clustering recovers a planted slice of known membership.

Definitions follow the two papers the discovery benchmark compares with:

- Domino (Eyuboglu et al., ICLR 2022): every discovered slice ranks the cases by its
  membership score; precision@k is the fraction of slice members among the k top-ranked cases
  (ties in rank order broken by position), average precision is scikit-learn's
  `average_precision_score` of the membership score against true membership, and a planted
  slice is credited with the discovered slice of the highest average precision.
- GEORGE (Sohoni et al., NeurIPS 2020): a cluster's precision is the fraction of its members in
  the slice, its recall the fraction of the slice inside it.

Clusters are hard assignments, so a cluster's membership score puts its members first, the
closest to the centroid highest (score 1 + 1 / (1 + distance)), and every other case tied last
(score 0). `error_ranking` is the ranking a reviewer gets without knowing the slice: cases
ordered by their cluster's error rate, then by closeness to their centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def precision_at_k(score: np.ndarray, member: np.ndarray, k: int) -> float:
    """Fraction of members among the k highest scores (stable order for ties)."""
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="stable")[:k]
    return float(np.asarray(member, dtype=bool)[order].mean()) if len(order) else float("nan")


def average_precision(score: np.ndarray, member: np.ndarray) -> float:
    """Sum over distinct score thresholds of precision x recall gained (tied scores count once).

    The same step-wise definition as scikit-learn's average_precision_score; NaN without members.
    """
    member = np.asarray(member, dtype=bool)
    if not member.any():
        return float("nan")
    score = np.asarray(score, dtype=np.float64)
    order = np.argsort(-score, kind="stable")
    s, m = score[order], member[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    hits = np.cumsum(m)[last_of_tie]
    seen = last_of_tie + 1
    recall_gain = np.diff(np.r_[0, hits]) / member.sum()
    return float(np.sum(hits / seen * recall_gain))


def cluster_membership_score(labels: np.ndarray, distance: np.ndarray, cluster: object) -> np.ndarray:
    """Members of `cluster` first (closest to the centroid highest), everything else tied at 0."""
    member = np.asarray(labels) == cluster
    return np.where(member, 1.0 + 1.0 / (1.0 + np.asarray(distance, dtype=np.float64)), 0.0)


def error_ranking(labels: np.ndarray, distance: np.ndarray, errors: np.ndarray) -> np.ndarray:
    """A score ranking cases by their cluster's error rate, then closeness to its centroid."""
    labels = np.asarray(labels)
    _names, codes = np.unique(labels, return_inverse=True)
    rates = np.bincount(codes, weights=np.asarray(errors, dtype=np.float64)) / np.bincount(codes)
    order = np.lexsort((np.asarray(distance, dtype=np.float64), -rates[codes]))
    score = np.empty(len(labels))
    score[order] = np.arange(len(labels), 0, -1)
    return score


@dataclass(frozen=True)
class SliceRecovery:
    precision_at_10: float
    precision_at_25: float
    average_precision: float
    best_cluster: object  # the cluster credited with the slice (highest average precision)
    cluster_precision: float  # of the cluster with most slice members (GEORGE)
    cluster_recall: float


def recover(labels: np.ndarray, distance: np.ndarray, member: np.ndarray) -> SliceRecovery:
    """Domino's best-slice metrics and GEORGE's cluster precision/recall for one planted slice."""
    member = np.asarray(member, dtype=bool)
    best: tuple[float, object, np.ndarray] | None = None
    for cluster in np.unique(labels):
        score = cluster_membership_score(labels, distance, cluster)
        ap = average_precision(score, member)
        if best is None or ap > best[0]:
            best = (ap, cluster, score)
    if best is None:
        raise ValueError("no clusters to credit with the slice")
    ap, cluster, score = best
    precision, recall = cluster_precision_recall(labels, member)
    return SliceRecovery(
        precision_at_k(score, member, 10), precision_at_k(score, member, 25), ap, cluster, precision, recall
    )


def cluster_precision_recall(labels: np.ndarray, member: np.ndarray, cluster: object = None) -> tuple[float, float]:
    """Precision and recall of `cluster` (default: the one holding most slice members)."""
    labels = np.asarray(labels)
    member = np.asarray(member, dtype=bool)
    if cluster is None:
        names, counts = np.unique(labels[member], return_counts=True)
        if len(names) == 0:
            return float("nan"), float("nan")
        cluster = names[np.argmax(counts)]
    inside = labels == cluster
    overlap = int((inside & member).sum())
    return overlap / max(int(inside.sum()), 1), overlap / max(int(member.sum()), 1)
