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
    CONFIDENT_JOINT,
    ISSUE_SETS,
    MARGIN,
    NO_CLASS,
    PRUNE_BY_CLASS,
    SCORES,
    SELF_CONFIDENCE,
    calibrate_joint,
    estimated_issues,
    issues_per_class,
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
    np.testing.assert_array_equal(result.off_diagonal, [False, True, False, False, False])
    assert result.suspected[1] == 1
    # Margins: 0.7, -0.5, 0.1, 0.5, 0.5 -> order 1, 2, 3, 4, 0 (ties in input order).
    np.testing.assert_allclose(result.score, [0.7, -0.5, 0.1, 0.5, 0.5])
    np.testing.assert_array_equal(rank_label_issues(PROBS, GIVEN, MARGIN, issues_first=False).order, [1, 2, 3, 4, 0])
    # Calibrated joint: row 0 (2 cases) split 1:1, rows 1 and 2 on the diagonal; total 5.
    np.testing.assert_allclose(result.joint, np.array([[1, 1, 0], [0, 2, 0], [0, 0, 1]]) / 5)
    assert result.estimated_issues == 1
    # Pruned by class: n_0 = 5 x 1/5 = 1, the lowest margin labelled 0 (case 1); n_1 = n_2 = 0.
    np.testing.assert_array_equal(result.per_class, [1, 0, 0])
    np.testing.assert_array_equal(result.pruned, [False, True, False, False, False])
    np.testing.assert_array_equal(result.issue, result.pruned)  # the default set
    # Issues first (the default): case 1 is the only issue and already first.
    np.testing.assert_array_equal(result.order, [1, 2, 3, 4, 0])


# Nine binary cases (columns p_0, p_1), worked by hand in the test below: class 1 has a case
# (8) that scores below one of class 0's estimated errors (2) but is beyond class 1's estimate.
P0 = np.array([0.95, 0.52, 0.5, 0.15, 0.05, 0.1, 0.15, 0.7, 0.52])
BINARY = np.column_stack([P0, 1 - P0])
BINARY_GIVEN = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])


def test_prune_by_class_by_hand():
    result = rank_label_issues(BINARY, BINARY_GIVEN, SELF_CONFIDENCE)
    # t_0 = (0.95 + 0.52 + 0.5 + 0.15) / 4 = 0.53; t_1 = (0.95 + 0.9 + 0.85 + 0.3 + 0.48) / 5 = 0.696.
    np.testing.assert_allclose(result.thresholds, [0.53, 0.696])
    # Labelled 0: case 0 -> 0; cases 1, 2 reach neither threshold (p_0 0.52, 0.5 < 0.53; p_1 0.48,
    # 0.5 < 0.696); case 3 -> 1 (p_1 0.85). Labelled 1: cases 4-6 -> 1; case 7 -> 0 (p_0 0.7);
    # case 8 reaches neither (p_0 0.52, p_1 0.48).
    np.testing.assert_array_equal(result.confident_joint, [[1, 1], [1, 3]])
    np.testing.assert_array_equal(result.off_diagonal, [0, 0, 0, 1, 0, 0, 0, 1, 0])
    # Calibrated: row 0 (4 cases, 2 counted) -> (2, 2); row 1 (5 cases, 4 counted) -> (1.25, 3.75).
    np.testing.assert_allclose(result.joint * 9, [[2, 2], [1.25, 3.75]])
    assert result.estimated_issues == 3  # 9 x 3.25 / 9
    # n_0 = 2, n_1 = round(1.25) = 1: class 0's two lowest p_0 (cases 3, 2), class 1's lowest p_1 (case 7).
    np.testing.assert_array_equal(result.per_class, [2, 1])
    np.testing.assert_array_equal(result.pruned, [0, 0, 1, 1, 0, 0, 0, 1, 0])
    # Self-confidence: 0.95, 0.52, 0.5, 0.15, 0.95, 0.9, 0.85, 0.3, 0.48. By score alone case 8
    # (0.48) comes before case 2 (0.5); pruned first puts case 2 before it.
    np.testing.assert_array_equal(result.order, [3, 7, 2, 8, 1, 6, 5, 0, 4])
    by_score = [3, 7, 8, 2, 1, 6, 5, 0, 4]
    np.testing.assert_array_equal(
        rank_label_issues(BINARY, BINARY_GIVEN, SELF_CONFIDENCE, issues_first=False).order, by_score
    )
    confident = rank_label_issues(BINARY, BINARY_GIVEN, SELF_CONFIDENCE, issues=CONFIDENT_JOINT)
    np.testing.assert_array_equal(confident.issue, confident.off_diagonal)
    np.testing.assert_array_equal(confident.order, by_score)  # cases 3 and 7 lead by score anyway
    # Two classes: every score orders the cases within a class alike, so it prunes the same cases.
    for method in SCORES:
        np.testing.assert_array_equal(rank_label_issues(BINARY, BINARY_GIVEN, method).pruned, result.pruned)


def test_issues_per_class_rounds_half_up():
    # n_i = (cases labelled i) x (off-diagonal share of the confident joint's row i).
    counts = np.array([[2, 2], [1, 3]])
    np.testing.assert_array_equal(issues_per_class(counts, np.array([0] * 3 + [1] * 4)), [2, 1])  # 1.5, 1
    np.testing.assert_array_equal(issues_per_class(counts, np.array([0, 1])), [1, 0])  # 0.5, 0.25
    # 7 x 1/2 = 3.5 rounds up to 4 in any class order: in floating point, n x Q's off-diagonal
    # mass came out as 3.4999999999999996 for one order of the classes and 3.5 for another.
    counts = np.array([[3, 2, 1], [5, 2, 1], [1, 0, 2]])
    given = np.array([0] * 7 + [1] * 8 + [2] * 4)
    for order in ([0, 1, 2], [2, 0, 1], [1, 2, 0]):
        moved = np.empty_like(counts)
        moved[np.ix_(order, order)] = counts
        np.testing.assert_array_equal(issues_per_class(moved, np.array(order)[given])[order], [4, 6, 1])
    assert estimated_issues(counts, given) == 11  # 3.5 + 6 + 4/3 = 10.83


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
    base = rank_label_issues(probs, given_, method, issues_first=False)
    rows = np.array(rnd.sample(range(n), n))
    classes = np.array(rnd.sample(range(k), k))  # new index of each old class
    moved = np.empty_like(probs)
    moved[:, classes] = probs[rows]
    other = rank_label_issues(moved, classes[given_[rows]], method, issues_first=False)
    np.testing.assert_allclose(other.score, base.score[rows], atol=1e-12)
    np.testing.assert_array_equal(other.issue, base.issue[rows])
    np.testing.assert_array_equal(other.off_diagonal, base.off_diagonal[rows])
    np.testing.assert_array_equal(other.per_class[classes], base.per_class)
    np.testing.assert_array_equal(other.suspected, classes[base.suspected[rows]])
    assert (base.suspected != given_).all()
    if method != SELF_CONFIDENCE:
        assert (np.abs(base.score) <= 1 + 1e-12).all()
    assert sorted(base.order.tolist()) == list(range(n))
    assert (np.diff(base.score[base.order]) >= 0).all()
    t = np.where(np.isnan(base.thresholds), np.inf, base.thresholds)
    assert base.confident_joint.sum() == int((probs >= t).any(axis=1).sum())
    assert base.joint.sum() == pytest.approx(1.0)
    # Pruned by class: n_i cases of class i (at most all of them), its lowest scores.
    counts = np.bincount(given_, minlength=k)
    np.testing.assert_array_equal(np.bincount(given_[base.pruned], minlength=k), np.minimum(base.per_class, counts))
    for i in range(k):
        kept, pruned = base.score[(given_ == i) & ~base.pruned], base.score[(given_ == i) & base.pruned]
        assert not (len(kept) and len(pruned)) or pruned.max() <= kept.min()
    for issues in ISSUE_SETS:
        first = rank_label_issues(probs, given_, method, issues=issues)  # issues first: the default
        np.testing.assert_array_equal(first.issue, first.pruned if issues == PRUNE_BY_CLASS else first.off_diagonal)
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
    assert abs(int(result.pruned.sum()) - result.estimated_issues) <= n_classes  # rounding per class
    precision_at_k = truth[result.order[:40]].mean()
    assert precision_at_k > 0.5  # chance: 0.1
    assert roc_auc_score(truth, -result.score) > 0.85
    assert truth[result.issue].mean() > 0.3 and result.issue[truth].mean() > 0.5
    # The suspected class is the true one for most flagged flips (chance: 1 / (K - 1)); more
    # often off the confident joint's diagonal, where it is the confident class.
    for flagged, at_least in ((result.issue, 0.75), (result.off_diagonal, 0.85)):
        assert (result.suspected[flipped][flagged[flipped]] == y[flipped][flagged[flipped]]).mean() >= at_least
    assert NO_CLASS not in result.suspected


def _noisy_logistic(n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=n_classes, class_sep=1.0, random_state=seed
    )
    rng = np.random.default_rng(seed)
    flipped = rng.permutation(len(y))[:30]
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return cross_val_predict(LogisticRegression(max_iter=1000), x, noisy, cv=5, method="predict_proba"), noisy


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_agrees_with_cleanlab(n_classes, seed):
    """cleanlab (the authors' library; skipped where it is not installed) as the oracle:
    the same off-diagonal cases of the confident joint and the same estimated errors per class
    (cleanlab rounds each cell of the calibrated joint keeping the row totals, hs each class's
    sum: they may differ by one). With two classes prune by class is cleanlab's default filter,
    prune by noise rate, less the cases whose predicted class is the given one (which cleanlab
    drops afterwards): the same cases."""
    count = pytest.importorskip("cleanlab.count")
    cleanlab_filter = pytest.importorskip("cleanlab.filter")
    probs, noisy = _noisy_logistic(n_classes, seed)
    result = rank_label_issues(probs, noisy, SELF_CONFIDENCE)
    joint, off_diagonal = count.compute_confident_joint(noisy, probs, return_indices_of_off_diagonals=True)
    np.testing.assert_array_equal(np.flatnonzero(result.off_diagonal), np.sort(off_diagonal))
    assert np.abs(result.per_class - (joint.sum(axis=1) - np.diag(joint))).max() <= 1
    if n_classes == 2:
        np.testing.assert_array_equal(result.per_class, joint.sum(axis=1) - np.diag(joint))
        flagged = cleanlab_filter.find_label_issues(noisy, probs)
        np.testing.assert_array_equal(result.pruned & (probs.argmax(axis=1) != noisy), flagged)
