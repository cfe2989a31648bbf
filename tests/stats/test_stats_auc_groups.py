"""Every group's and every rest's AUC/variance from one pass equal the dense DeLong computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.stats import auc_groups
from hstool.stats.auc import delong_components, score_order
from hstool.stats.auc_groups import Whole, groups_and_rests


def _check(scores: np.ndarray, labels: np.ndarray, codes: np.ndarray, n_groups: int) -> None:
    """groups_and_rests on the rows sorted by group then score, against delong_components of
    each group's and each rest's dense counts."""
    order, classes, n_classes = score_order(scores)
    whole = Whole.of(
        np.bincount(classes[labels], minlength=n_classes), np.bincount(classes[~labels], minlength=n_classes)
    )
    by_group = order[np.argsort(codes[order], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_groups))])
    results = groups_and_rests(whole, classes[by_group], labels[by_group], starts)
    assert len(results) == n_groups
    for g, (group, rest) in enumerate(results):
        for got, member in ((group, codes == g), (rest, codes != g)):
            pos = np.bincount(classes[member & labels], minlength=n_classes)
            neg = np.bincount(classes[member & ~labels], minlength=n_classes)
            assert (got.m, got.n) == (int(pos.sum()), int(neg.sum()))
            dense = delong_components(pos, neg)
            if dense is None:
                assert got.auc is None and got.variance is None
                continue
            assert got.auc == pytest.approx(dense.auc, rel=1e-12, abs=1e-12)
            expected = dense.variance()
            if expected is None:
                assert got.variance is None
            else:
                assert got.variance == pytest.approx(expected, rel=1e-9, abs=1e-15)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 8), st.booleans(), st.integers(0, 4)), min_size=2, max_size=60),
    st.integers(1, 8),
)
def test_any_grouping_matches_dense_delong(rows, chunk):
    # Few distinct scores (many ties within and across groups), groups of any size (some empty:
    # code 4 may never be drawn), and chunks that cut through groups and tie blocks.
    scores, labels, codes = (np.array(column) for column in zip(*rows))
    original = auc_groups.CHUNK
    auc_groups.CHUNK = chunk
    try:
        _check(scores.astype(np.float64), labels.astype(bool), codes.astype(np.int64), 5)
    finally:
        auc_groups.CHUNK = original


def test_a_large_data_set_with_many_groups_matches():
    rng = np.random.default_rng(0)
    n = 20_000
    labels = rng.random(n) < 0.3
    scores = np.round(rng.normal(size=n) + labels, 2)  # about 700 distinct scores
    _check(scores, labels, rng.integers(0, 37, n), 37)


def test_a_group_of_one_class_has_no_auc_and_its_rest_has_one():
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    labels = np.array([False, True, False, True, True, True])
    codes = np.array([0, 0, 0, 0, 1, 1])  # group 1 holds two positives only
    _check(scores, labels, codes, 2)
    _, classes, n_classes = score_order(scores)
    whole = Whole.of(
        np.bincount(classes[labels], minlength=n_classes), np.bincount(classes[~labels], minlength=n_classes)
    )
    (_, _), (group, rest) = groups_and_rests(whole, classes, labels, np.array([0, 4, 6]))
    assert (group.m, group.n, group.auc) == (2, 0, None)
    assert rest.auc == pytest.approx(0.75)  # 4 rows: negatives 0.1, 0.3; positives 0.2, 0.4
