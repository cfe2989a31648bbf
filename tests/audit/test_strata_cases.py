"""A group's own counts, calls and Brier score from one pass equal those of its rows taken apart."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss

from hstool.audit.strata_cases import Data, Own


def test_every_group_counts_what_its_rows_hold():
    rng = np.random.default_rng(3)
    n, n_groups = 5_000, 9
    labels = rng.random(n) < 0.3
    scores = rng.random(n)
    codes = rng.integers(0, n_groups - 1, n)  # the last group is empty
    data = Data.build(scores, labels, 0.4)
    owns = Own.per_group(data, codes, n_groups)
    assert len(owns) == n_groups
    for g, own in enumerate(owns[:-1]):
        member = codes == g
        y, called = labels[member], scores[member] >= 0.4
        assert (own.n, own.n_pos) == (int(member.sum()), int(y.sum()))
        assert (own.tp, own.fp) == (int((called & y).sum()), int((called & ~y).sum()))
        assert own.brier == pytest.approx(brier_score_loss(y, scores[member]), rel=1e-12)
    assert owns[-1].n == 0
    whole = Own.of_all(data)
    assert (whole.n, whole.n_pos) == (n, int(labels.sum()))
    assert (whole.tp, whole.fp) == (sum(o.tp for o in owns), sum(o.fp for o in owns))
    assert whole.brier == pytest.approx(brier_score_loss(labels, scores), rel=1e-12)
