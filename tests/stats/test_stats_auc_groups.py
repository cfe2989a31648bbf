"""Group and rest AUC/variance from per-class sums equal the dense DeLong computation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.stats.auc import delong_components
from hstool.stats.auc_groups import Whole, group_and_rest


def _sparse(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes = np.flatnonzero(counts)
    return classes, counts[classes]


def _check(pos: np.ndarray, neg: np.ndarray, gpos: np.ndarray, gneg: np.ndarray) -> None:
    group, rest = group_and_rest(Whole.of(pos, neg), *_sparse(gpos), *_sparse(gneg))
    for got, (p, n) in ((group, (gpos, gneg)), (rest, (pos - gpos, neg - gneg))):
        dense = delong_components(p, n)
        assert (got.m, got.n) == (int(p.sum()), int(n.sum()))
        if dense is None:
            assert got.auc is None
            continue
        assert got.auc == pytest.approx(dense.auc, rel=1e-12, abs=1e-12)
        expected = dense.variance()
        if expected is None:
            assert got.variance is None
        else:
            assert got.variance == pytest.approx(expected, rel=1e-9, abs=1e-15)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 6), st.integers(0, 6), st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=30
    )
)
def test_any_split_matches_dense_delong(cells):
    # Per class: (group positives, rest positives, group negatives, rest negatives); many ties.
    arr = np.array(cells)
    gpos, rpos, gneg, rneg = arr.T
    _check(gpos + rpos, gneg + rneg, gpos, gneg)


def test_a_large_random_split_matches():
    rng = np.random.default_rng(0)
    u = 5000
    pos, neg = rng.poisson(3, u), rng.poisson(5, u)
    gpos, gneg = rng.binomial(pos, 0.1), rng.binomial(neg, 0.1)
    _check(pos, neg, gpos, gneg)
