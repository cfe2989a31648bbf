"""Confident learning (hstool.audit.label_issues) against hand-worked values, invariances and a
seeded planted-noise check with out-of-fold probabilities from scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from hstool.audit.label_issues import (
    ADJUSTED_MARGIN,
    ADJUSTED_SELF_CONFIDENCE,
    MARGIN,
    NO_CLASS,
    SCORES,
    SELF_CONFIDENCE,
    calibrate_joint,
    rank_label_issues,
)
from hstool.errors import InputError

# Five cases, three classes, worked by hand below.
PROBS = np.array(
    [
        [0.8, 0.1, 0.1],  # label 0
        [0.2, 0.7, 0.1],  # label 0: class 1 reaches its threshold 0.6 -> issue, suspected 1
        [0.1, 0.5, 0.4],  # label 1: nothing reaches a threshold (t = 0.5, 0.6, 0.7)? p1 0.5 < 0.6, p2 0.4 < 0.7
        [0.1, 0.7, 0.2],  # label 1
        [0.1, 0.2, 0.7],  # label 2
    ]
)
GIVEN = np.array([0, 0, 1, 1, 2])


def test_hand_worked_thresholds_joint_and_issues():
    result = rank_label_issues(PROBS, GIVEN, MARGIN)
    # t_0 = mean(0.8, 0.2) = 0.5; t_1 = mean(0.5, 0.7) = 0.6; t_2 = 0.7.
    np.testing.assert_allclose(result.thresholds, [0.5, 0.6, 0.7])
    # Case 0 -> C[0,0]; case 1: p0 0.2 < 0.5, p1 0.7 >= 0.6 -> C[0,1]; case 2: none; case 3 -> C[1,1]; case 4 -> C[2,2].
    np.testing.assert_array_equal(result.confident_joint, [[1, 1, 0], [0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(result.issue, [False, True, False, False, False])
    assert result.suspected[1] == 1
    # Margins: 0.7, -0.5, 0.1, 0.5, 0.5 -> order 1, 2, 3, 4, 0 (ties in input order).
    np.testing.assert_allclose(result.score, [0.7, -0.5, 0.1, 0.5, 0.5])
    np.testing.assert_array_equal(result.order, [1, 2, 3, 4, 0])
    # Issues first: case 1 is the only issue and already first; with self-confidence too.
    np.testing.assert_array_equal(rank_label_issues(PROBS, GIVEN, MARGIN, issues_first=True).order, [1, 2, 3, 4, 0])
    # Calibrated joint: row 0 (2 cases) split 1:1, rows 1 and 2 on the diagonal; total 5.
    np.testing.assert_allclose(result.joint, np.array([[1, 1, 0], [0, 2, 0], [0, 0, 1]]) / 5)
    assert result.estimated_issues == 1


def test_self_confidence_and_adjusted_scores_by_hand():
    np.testing.assert_allclose(rank_label_issues(PROBS, GIVEN, SELF_CONFIDENCE).score, [0.8, 0.2, 0.5, 0.7, 0.7])
    # Case 0: (0.8/0.5, 0.1/0.6, 0.1/0.7) normalised, the given class's share.
    q0 = np.array([0.8 / 0.5, 0.1 / 0.6, 0.1 / 0.7])
    assert rank_label_issues(PROBS, GIVEN, ADJUSTED_SELF_CONFIDENCE).score[0] == pytest.approx(q0[0] / q0.sum())
    # Case 2 divided by the thresholds: (0.2, 0.8333, 0.5714) / 1.6048 -> margin (0.8333 - 0.5714) / 1.6048.
    adjusted = rank_label_issues(PROBS, GIVEN, ADJUSTED_MARGIN).score
    q = np.array([0.1 / 0.5, 0.5 / 0.6, 0.4 / 0.7])
    assert adjusted[2] == pytest.approx((q[1] - q[2]) / q.sum())


def test_a_case_no_class_is_confident_about_is_outside_the_joint():
    result = rank_label_issues(PROBS, GIVEN, MARGIN)
    assert result.confident_joint.sum() == 4  # case 2 is not counted
    assert not result.issue[2]


def test_single_class_is_refused():
    with pytest.raises(InputError, match="at least two classes"):
        rank_label_issues(PROBS[:2], GIVEN[:2])


def test_absent_class_has_no_threshold_and_is_never_suspected():
    probs = np.array([[0.6, 0.1, 0.3], [0.2, 0.5, 0.3], [0.7, 0.2, 0.1], [0.3, 0.6, 0.1]])
    result = rank_label_issues(probs, np.array([0, 1, 0, 1]))
    assert np.isnan(result.thresholds[2])
    assert (result.suspected != 2).all()


def test_calibrated_joint_rows_match_the_given_counts():
    joint = np.array([[3, 1], [0, 0]])
    q = calibrate_joint(joint, np.array([0, 0, 0, 0, 1, 1]))
    np.testing.assert_allclose(q, [[3 / 6, 1 / 6], [0, 2 / 6]])


@st.composite
def cases(draw):
    """Dirichlet probabilities from a drawn seed: continuous, so no two values tie (a tie at a
    threshold or between classes is decided by float rounding and index order)."""
    n, k = draw(st.integers(4, 30)), draw(st.integers(2, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    probs = rng.dirichlet(np.full(k, draw(st.sampled_from([0.3, 1.0, 5.0]))), size=n)
    given = rng.integers(0, k, n)
    given[:2] = [0, 1]  # at least two classes
    return probs, given


@settings(max_examples=60, deadline=None)
@given(cases(), st.sampled_from(SCORES), st.randoms(use_true_random=False))
def test_row_order_and_class_names_do_not_matter(case, method, rnd):
    probs, given_ = case
    n, k = probs.shape
    base = rank_label_issues(probs, given_, method)
    rows = np.array(rnd.sample(range(n), n))
    classes = np.array(rnd.sample(range(k), k))  # new index of each old class
    moved = np.empty_like(probs)
    moved[:, classes] = probs[rows]
    other = rank_label_issues(moved, classes[given_[rows]], method)
    np.testing.assert_allclose(other.score, base.score[rows], atol=1e-12)
    np.testing.assert_array_equal(other.issue, base.issue[rows])
    np.testing.assert_array_equal(other.suspected, classes[base.suspected[rows]])
    assert (base.suspected != given_).all()
    if method != SELF_CONFIDENCE:
        assert (np.abs(base.score) <= 1 + 1e-12).all()
    assert sorted(base.order.tolist()) == list(range(n))
    assert (np.diff(base.score[base.order]) >= 0).all()
    t = np.where(np.isnan(base.thresholds), np.inf, base.thresholds)
    assert base.confident_joint.sum() == int((probs >= t).any(axis=1).sum())
    assert base.joint.sum() == pytest.approx(1.0)
    first = rank_label_issues(probs, given_, method, issues_first=True)
    flagged = first.issue[first.order]
    assert (np.diff(flagged.astype(int)) <= 0).all()  # every issue before every other case
    for part in (first.order[flagged], first.order[~flagged]):
        assert (np.diff(first.score[part]) >= 0).all()


@pytest.mark.parametrize("method", [MARGIN, ADJUSTED_SELF_CONFIDENCE])
@pytest.mark.parametrize("n_classes", [2, 4])
def test_planted_flips_rank_above_chance(n_classes, method):
    """Out-of-fold probabilities of a logistic regression (scikit-learn) on separable data
    with 10% of the labels flipped: the flips come first far more often than chance."""
    x, y = make_classification(
        n_samples=400, n_features=8, n_informative=6, n_classes=n_classes, class_sep=2.0, random_state=3
    )
    rng = np.random.default_rng(3)
    flipped = rng.permutation(len(y))[:40]
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    probs = cross_val_predict(LogisticRegression(max_iter=1000), x, noisy, cv=5, method="predict_proba")
    truth = np.zeros(len(y), bool)
    truth[flipped] = True
    result = rank_label_issues(probs, noisy, method)
    precision_at_k = truth[result.order[:40]].mean()
    assert precision_at_k > 0.5  # chance: 0.1
    assert roc_auc_score(truth, -result.score) > 0.85
    assert truth[result.issue].mean() > 0.3 and result.issue[truth].mean() > 0.5
    assert (result.suspected[flipped][result.issue[flipped]] == y[flipped][result.issue[flipped]]).mean() > 0.8
    assert NO_CLASS not in result.suspected
