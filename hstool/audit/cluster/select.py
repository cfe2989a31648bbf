"""Choosing the reported high-error / low-error cluster pair of one superclass.

The paper's rule (Oakden-Rayner et al. 2019, section 3.3), for the clusterings of one
superclass at every searched k:

1. for each k, among the clusters with more than `min_size` members, the two with the largest
   difference in error rate are that k's candidate pair;
2. among the candidate pairs of all k, the one whose two centroids are farthest apart is
   reported: the higher-error cluster of it is `high_error`, the other `low_error`.

The GEORGE-style alternative chooses k first, by the largest mean silhouette, and reports the
candidate pair at that k. Ties are broken deterministically (documented in docs/cluster.md):
equal error differences by the larger centroid distance, then the lower cluster indices;
equal distances (or silhouettes) by the smaller k. A pair whose two error rates are equal is no
candidate: there is no high-error cluster to report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Partition:
    """One clustering of a superclass, summarised for selection (counts over the fitting cases)."""

    k: int
    sizes: np.ndarray  # fitting members of each cluster (the error rates' denominators)
    errors: np.ndarray  # errors among them
    centroids: np.ndarray  # (clusters, dims), in the clustering space
    silhouette: float | None = None
    members: np.ndarray | None = None  # all members (fitting and held out), for --min-size; default sizes

    @property
    def counted(self) -> np.ndarray:
        """The sizes compared with --min-size."""
        return np.asarray(self.sizes if self.members is None else self.members)


@dataclass(frozen=True)
class Pair:
    k: int
    high: int  # cluster index with the higher error rate
    low: int
    difference: float  # error rate of high minus that of low (> 0)
    distance: float  # Euclidean distance between the two centroids


@dataclass(frozen=True)
class Selection:
    rule: str
    k: int | None  # the clustering reported (None: nothing to report)
    pair: Pair | None
    candidates: dict[int, Pair | None]
    reason: str  # why nothing is reported, in words ("" when a pair is reported)


def candidate_pair(partition: Partition, min_size: int) -> Pair | None:
    """The two clusters with more than `min_size` members and the largest error-rate gap."""
    sizes = np.asarray(partition.sizes)
    eligible = np.flatnonzero((partition.counted > min_size) & (sizes > 0))
    rates = np.asarray(partition.errors, dtype=np.float64) / np.maximum(sizes, 1)
    best: tuple[tuple[float, float, int, int], Pair] | None = None
    for a_pos, a in enumerate(eligible):
        for b in eligible[a_pos + 1 :]:
            high, low = (a, b) if rates[a] >= rates[b] else (b, a)
            difference = float(rates[high] - rates[low])
            distance = float(np.linalg.norm(partition.centroids[high] - partition.centroids[low]))
            key = (difference, distance, -int(a), -int(b))
            if best is None or key > best[0]:
                best = (key, Pair(partition.k, int(high), int(low), difference, distance))
    if best is None or best[1].difference <= 0:
        return None
    return best[1]


def select(partitions: list[Partition], min_size: int, rule: str = "paper") -> Selection:
    """Apply the paper's rule or the silhouette rule to the clusterings of one superclass."""
    candidates = {p.k: candidate_pair(p, min_size) for p in partitions}
    if rule == "paper":
        found = [pair for pair in candidates.values() if pair is not None]
        if not found:
            return Selection(rule, None, None, candidates, _no_pair_reason(partitions, min_size))
        pair = max(found, key=lambda p: (p.distance, -p.k))
        return Selection(rule, pair.k, pair, candidates, "")
    if rule == "silhouette":
        scored = [p for p in partitions if p.silhouette is not None and not math.isnan(p.silhouette)]
        if not scored:
            return Selection(rule, None, None, candidates, "no clustering has a defined silhouette")
        chosen = max(scored, key=lambda p: (p.silhouette, -p.k))
        chosen_pair = candidates[chosen.k]
        reason = (
            ""
            if chosen_pair is not None
            else f"at k={chosen.k} (best silhouette): " + _no_pair_reason([chosen], min_size)
        )
        return Selection(rule, chosen.k, chosen_pair, candidates, reason)
    raise ValueError(f"unknown selection rule {rule!r}")


def _no_pair_reason(partitions: list[Partition], min_size: int) -> str:
    most = max(int((p.counted > min_size).sum()) for p in partitions)
    if most < 2:
        return f"no clustering has two clusters with more than --min-size {min_size} members"
    return "every pair of clusters with more than --min-size members has the same error rate"
