"""The paper's selection rule and the silhouette rule on small hand-built clusterings."""

from __future__ import annotations

import numpy as np
import pytest

from hstool.audit.cluster.select import Partition, candidate_pair, select


def part(k, sizes, errors, centroids, silhouette=None) -> Partition:
    return Partition(k, np.array(sizes), np.array(errors), np.array(centroids, dtype=float), silhouette)


def test_candidate_is_the_largest_error_gap_among_large_clusters():
    # Cluster 2 has the worst error rate (90/101) but only 101 members; with --min-size 101 it
    # is excluded, so the pair is cluster 0 (0.5) vs cluster 1 (0.1).
    p = part(3, [200, 300, 101], [100, 30, 90], [[0, 0], [3, 4], [10, 10]])
    pair = candidate_pair(p, min_size=101)
    assert (pair.high, pair.low) == (0, 1)
    assert pair.difference == pytest.approx(0.4)
    assert pair.distance == pytest.approx(5.0)
    # With --min-size 100 it has "more than 100" members and joins: 90/101 vs 30/300.
    pair = candidate_pair(p, min_size=100)
    assert (pair.high, pair.low) == (2, 1)


def test_exactly_min_size_members_is_not_enough():
    p = part(2, [100, 500], [90, 5], [[0], [1]])
    assert candidate_pair(p, min_size=100) is None
    assert candidate_pair(p, min_size=99).high == 0


def test_among_k_the_farthest_pair_is_reported():
    k2 = part(2, [500, 500], [250, 50], [[0, 0], [1, 0]])  # gap 0.4, distance 1
    k3 = part(3, [300, 300, 400], [60, 30, 200], [[0, 0], [0, 6], [0, -2]])  # gap 0.4, distance 8
    k4 = part(4, [250] * 4, [200, 10, 20, 30], [[0, 0], [2, 0], [0, 3], [1, 1]])  # gap 0.76, distance 2
    sel = select([k2, k3, k4], min_size=100, rule="paper")
    assert sel.k == 3 and (sel.pair.high, sel.pair.low) == (2, 1)
    assert sel.pair.distance == pytest.approx(8.0)
    assert set(sel.candidates) == {2, 3, 4}
    # The largest error gap (k=4) does not win: the paper ranks pairs by centroid distance.
    assert sel.candidates[4].difference > sel.pair.difference


def test_ties_go_to_the_larger_distance_then_the_smaller_k():
    # Two pairs with the same gap (0.2): 0-1 at distance 1 and 0-2 at distance 5.
    p = part(3, [200, 200, 200], [60, 20, 20], [[0, 0], [1, 0], [5, 0]])
    pair = candidate_pair(p, min_size=100)
    assert (pair.high, pair.low) == (0, 2)
    same = part(2, [300, 300], [90, 30], [[0, 0], [3, 4]])
    also = part(3, [300, 300, 300], [90, 30, 60], [[0, 0], [3, 4], [1, 1]])
    assert select([also, same], min_size=100).k == 2


def test_no_pair_is_explained():
    small = part(2, [50, 60], [10, 1], [[0], [1]])
    sel = select([small], min_size=100)
    assert sel.k is None and sel.pair is None
    assert "more than --min-size 100" in sel.reason
    flat = part(2, [200, 200], [20, 20], [[0], [1]])
    sel = select([flat], min_size=100)
    assert sel.pair is None and "same error rate" in sel.reason


def test_silhouette_rule_chooses_k_first():
    k2 = part(2, [500, 500], [250, 50], [[0], [9]], silhouette=0.30)
    k3 = part(3, [300, 300, 400], [60, 30, 200], [[0], [1], [2]], silhouette=0.55)
    sel = select([k2, k3], min_size=100, rule="silhouette")
    assert sel.k == 3 and (sel.pair.high, sel.pair.low) == (2, 1)
    assert select([k2, k3], min_size=100, rule="paper").k == 2  # farther apart


def test_silhouette_rule_reports_k_even_without_a_pair():
    k2 = part(2, [500, 500], [250, 50], [[0], [9]], silhouette=0.3)
    k3 = part(3, [50, 60, 890], [1, 2, 3], [[0], [1], [2]], silhouette=0.9)
    sel = select([k2, k3], min_size=100, rule="silhouette")
    assert sel.k == 3 and sel.pair is None and "k=3" in sel.reason


def test_min_size_counts_held_out_members_too():
    # 60 and 70 fitting members each, but 130 and 140 cases in all (half held out).
    p = Partition(2, np.array([60, 70]), np.array([30, 7]), np.array([[0.0], [1.0]]), None, np.array([130, 140]))
    pair = candidate_pair(p, min_size=100)
    assert (pair.high, pair.low) == (0, 1) and pair.difference == pytest.approx(0.5 - 0.1)
    assert candidate_pair(Partition(2, p.sizes, p.errors, p.centroids), min_size=100) is None
