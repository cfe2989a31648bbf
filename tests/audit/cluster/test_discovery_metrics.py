"""Planted-slice recovery metrics on hand-built cases and against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from hstool.audit.cluster.discovery import (
    average_precision,
    cluster_membership_score,
    cluster_precision_recall,
    error_ranking,
    precision_at_k,
    recover,
)


def test_precision_at_k_by_hand():
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    member = np.array([1, 0, 1, 1, 0], bool)
    assert precision_at_k(score, member, 1) == 1.0
    assert precision_at_k(score, member, 2) == 0.5
    assert precision_at_k(score, member, 4) == 0.75
    assert precision_at_k(score, member, 10) == 0.6  # fewer cases than k: all of them


def test_average_precision_by_hand():
    # Ranked: hit, miss, hit, hit, miss -> (1/1 + 2/3 + 3/4) / 3
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    member = np.array([1, 0, 1, 1, 0], bool)
    assert average_precision(score, member) == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert np.isnan(average_precision(score, np.zeros(5, bool)))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=40))
def test_average_precision_matches_sklearn_with_ties(pairs):
    score = np.array([p[0] for p in pairs], float)
    member = np.array([p[1] for p in pairs], bool)
    if not member.any():
        return
    assert average_precision(score, member) == pytest.approx(average_precision_score(member, score))


def test_cluster_scores_put_members_first_closest_first():
    labels = np.array(["a", "b", "a", "a"])
    distance = np.array([2.0, 0.1, 0.5, 1.0])
    score = cluster_membership_score(labels, distance, "a")
    assert list(np.argsort(-score, kind="stable")) == [2, 3, 0, 1]
    assert score[1] == 0.0


def test_error_ranking_orders_by_cluster_error_then_distance():
    labels = np.array([0, 0, 1, 1, 1])
    distance = np.array([1.0, 0.5, 3.0, 0.2, 1.0])
    errors = np.array([0, 0, 1, 1, 0])  # cluster 1 has the higher error rate
    score = error_ranking(labels, distance, errors)
    assert list(np.argsort(-score)) == [3, 4, 2, 1, 0]


def test_cluster_precision_recall_george_style():
    labels = np.array([0, 0, 0, 1, 1, 1, 1, 2])
    member = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool)
    assert cluster_precision_recall(labels, member) == pytest.approx((2 / 3, 2 / 3))  # cluster 0 holds most
    assert cluster_precision_recall(labels, member, cluster=1) == pytest.approx((1 / 4, 1 / 3))


def test_recover_credits_the_best_cluster():
    labels = np.array([0] * 10 + [1] * 30)
    distance = np.linspace(0, 1, 40)
    member = np.r_[np.ones(10, bool), np.zeros(30, bool)]
    r = recover(labels, distance, member)
    assert r.best_cluster == 0 and r.average_precision == 1.0 and r.precision_at_10 == 1.0
    assert r.precision_at_25 == pytest.approx(10 / 25)
    assert (r.cluster_precision, r.cluster_recall) == (1.0, 1.0)
