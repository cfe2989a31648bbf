"""Which training labels look wrong: confident learning on out-of-sample probabilities.

Confident learning (Northcutt, Jiang & Chuang, "Confident Learning: Estimating Uncertainty in
Dataset Labels", JAIR 70, 2021), implemented from the paper:

- Per-class thresholds: t_j = the mean predicted probability of class j over the cases whose
  given label is j (the class's average self-confidence). A class no case is labelled with has
  no threshold, and is never a confident class.
- Confident joint C (K x K): a case with given label i counts in C[i, j*], where j* is the
  class with the highest probability among the classes whose probability reaches their
  threshold (p_j >= t_j); a case where no class reaches its threshold is not counted. The cases
  off the diagonal (j* != i) are the confident label issues (the paper's C_{y~,y*} method).
- Calibrated joint Q: each row of C rescaled to the number of cases given that label, then
  normalised to sum to 1; n x (1 - trace Q) estimates how many labels are wrong, and
  n_i = n x sum_{j != i} Q[i, j] (rounded) how many of the cases labelled i are.

Which cases are label issues (`issues`):

- `prune-by-class` (the default; the paper's "prune by class"): in each class i, the n_i cases
  labelled i with the lowest label-quality score. The confident joint decides how many per
  class, the score which ones. (The paper orders by the self-confidence; here by the chosen
  score, the same cases for `self-confidence` and for every score with two classes.)
- `confident-joint`: the cases off the diagonal of the confident joint (the paper's
  C_{y~,y*} method).

The ranking orders every case by a label-quality score, lowest (most suspect) first:

- `margin`: the normalised margin p_given - max_{j != given} p_j, in [-1, 1].
- `self-confidence`: p_given.
- `adjusted-margin`: the normalised margin after dividing each class's probability by its
  threshold (and renormalising), so that a class the model is less sure of overall (a rare or
  hard class) is not over-flagged.
- `adjusted-self-confidence` (the default): p_given after the same adjustment.

With `issues_first` (the default), the label issues come first (each part ordered by the
score), as confident learning prunes them: the score then only orders within the two parts.
With `prune-by-class` this puts each class's estimated number of errors on top, where one
score over all classes would take more from the class whose probabilities run lower.

The probabilities must be out of sample (`hs train --cross-fit K`): a model scoring the images
it was trained on has memorised their labels, wrong ones included, and ranks them poorly.
No torch here; the file handling is in `label_issues_run.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import NDArray

from hstool.errors import InputError

MARGIN = "margin"
SELF_CONFIDENCE = "self-confidence"
ADJUSTED_MARGIN = "adjusted-margin"
ADJUSTED_SELF_CONFIDENCE = "adjusted-self-confidence"
SCORES = (MARGIN, SELF_CONFIDENCE, ADJUSTED_MARGIN, ADJUSTED_SELF_CONFIDENCE)
# The best of the four on planted noise (benchmarks/label_issues_bench.py, docs/benchmarks.md).
DEFAULT_SCORE = ADJUSTED_SELF_CONFIDENCE
PRUNE_BY_CLASS = "prune-by-class"
CONFIDENT_JOINT = "confident-joint"
ISSUE_SETS = (PRUNE_BY_CLASS, CONFIDENT_JOINT)
# The defaults of the ranking (LabelIssueOptions and the CLI take them from here). Issues
# first, pruned by class: at least cleanlab's precision at k in every benchmark setting.
DEFAULT_ISSUES = PRUNE_BY_CLASS
DEFAULT_ISSUES_FIRST = True
NO_CLASS = -1  # a case no class is confident about: outside the confident joint

Floats = NDArray[np.float64]
Ints = NDArray[np.int64]


@dataclass(frozen=True)
class LabelIssues:
    """The ranking of n cases with K classes (arrays in the order of the input rows)."""

    score: Floats  # label quality, lower = more suspect
    order: Ints  # case indices, most suspect first (ties: the input order)
    issue: NDArray[np.bool_]  # a label issue by the chosen set (`issues`): one of the two below
    pruned: NDArray[np.bool_]  # pruned by class: among its class's n_i lowest scores
    off_diagonal: NDArray[np.bool_]  # off the diagonal of the confident joint
    per_class: Ints  # n_i: the calibrated joint's estimated number of errors among the cases labelled i
    suspected: Ints  # the class the case more likely belongs to (never its given label)
    thresholds: Floats  # t_j per class, NaN for a class no case is labelled with
    confident_joint: Ints  # (K, K), rows: given label, columns: confident class
    joint: Floats  # calibrated joint distribution of (given, true) labels, (K, K)
    estimated_issues: int  # n x (off-diagonal mass of the calibrated joint), rounded half up


def confident_thresholds(probs: Floats, given: Ints) -> Floats:
    """t_j = mean of p_j over the cases labelled j; NaN where no case is labelled j."""
    k = probs.shape[1]
    counts = np.bincount(given, minlength=k).astype(np.float64)
    sums = np.zeros(k)
    np.add.at(sums, given, probs[np.arange(len(given)), given])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def confident_class(probs: Floats, thresholds: Floats) -> Ints:
    """Per case, the most probable class among those at or above their threshold; NO_CLASS
    when none is."""
    reached = probs >= np.where(np.isnan(thresholds), np.inf, thresholds)
    masked = np.where(reached, probs, -np.inf)
    best = np.argmax(masked, axis=1).astype(np.int64)
    return np.where(reached.any(axis=1), best, NO_CLASS)


def confident_joint(given: Ints, confident: Ints, k: int) -> Ints:
    counted = confident != NO_CLASS
    joint = np.zeros((k, k), dtype=np.int64)
    np.add.at(joint, (given[counted], confident[counted]), 1)
    return joint


def calibrate_joint(joint: Ints, given: Ints) -> Floats:
    """Rows rescaled to the number of cases with that given label, then normalised to sum 1.
    A row without counted cases keeps its cases on the diagonal (no evidence of noise)."""
    k = joint.shape[0]
    given_counts = np.bincount(given, minlength=k).astype(np.float64)
    rows = joint.sum(axis=1, keepdims=True).astype(np.float64)
    calibrated = np.where(rows > 0, joint / np.where(rows > 0, rows, 1.0), np.eye(k)) * given_counts[:, None]
    return np.asarray(calibrated / calibrated.sum(), dtype=np.float64)


def _round_half_up(numerator: Ints, denominator: Ints) -> Ints:
    """numerator / denominator rounded half up, in integers (no float can land below a half)."""
    return np.asarray((2 * numerator + denominator) // (2 * denominator), dtype=np.int64)


def _off_diagonal(counts: Ints, given: Ints) -> tuple[Ints, Ints]:
    """Per class i, g_i x (off-diagonal counts of row i) and the counts of row i: n_i (see
    issues_per_class) is their ratio, and 0 for a row without counted cases."""
    labelled = np.bincount(given, minlength=counts.shape[0]).astype(np.int64)
    row = counts.sum(axis=1)
    return labelled * (row - np.diag(counts)), row


def estimated_issues(counts: Ints, given: Ints) -> int:
    """n x (off-diagonal mass of the calibrated joint), rounded half up: the sum over classes of
    the unrounded n_i (see issues_per_class), in fractions."""
    numerator, row = _off_diagonal(counts, given)
    total = sum((Fraction(int(a), int(r)) for a, r in zip(numerator, row) if r), Fraction(0))
    return math.floor(total + Fraction(1, 2))


def issues_per_class(counts: Ints, given: Ints) -> Ints:
    """n_i = n x sum_{j != i} Q[i, j] for the calibrated joint Q of the confident joint `counts`,
    rounded half up.

    Q's row i is the row of counts rescaled to the g_i cases labelled i, over n, so n_i is
    g_i x (off-diagonal counts of row i) / (counts of row i): computed in integers, because a
    count such as 7 x 1/2 must round to 4 whatever the order of the floating-point sums (the
    classes' order changed it)."""
    numerator, row = _off_diagonal(counts, given)
    counted = row > 0  # a row without counted cases keeps its cases on the diagonal
    return np.where(counted, _round_half_up(numerator, np.where(counted, row, 1)), 0)


def prune_by_class(given: Ints, score: Floats, per_class: Ints) -> NDArray[np.bool_]:
    """In each class i, the per_class[i] cases labelled i with the lowest score (ties: the
    input order)."""
    pruned = np.zeros(len(given), dtype=bool)
    for i, m in enumerate(per_class.tolist()):
        rows = np.flatnonzero(given == i)
        pruned[rows[np.argsort(score[rows], kind="stable")[:m]]] = True
    return pruned


def _margin(probs: Floats, given: Ints) -> Floats:
    rows = np.arange(len(given))
    others = probs.copy()
    others[rows, given] = -np.inf
    return np.asarray(probs[rows, given] - others.max(axis=1), dtype=np.float64)


def _adjusted(probs: Floats, thresholds: Floats) -> Floats:
    # A class without a threshold gets no weight: nothing says how confident the model is in it.
    scaled = probs / np.where(np.isnan(thresholds) | (thresholds <= 0), np.inf, thresholds)
    totals = scaled.sum(axis=1, keepdims=True)
    return scaled / np.where(totals > 0, totals, 1.0)


def label_scores(probs: Floats, given: Ints, method: str, thresholds: Floats) -> Floats:
    """The label-quality score of every case (lower = more suspect); see the module docstring."""
    scorers: dict[str, Callable[[], Floats]] = {
        MARGIN: lambda: _margin(probs, given),
        SELF_CONFIDENCE: lambda: probs[np.arange(len(given)), given],
        ADJUSTED_MARGIN: lambda: _margin(_adjusted(probs, thresholds), given),
        ADJUSTED_SELF_CONFIDENCE: lambda: _adjusted(probs, thresholds)[np.arange(len(given)), given],
    }
    return scorers[method]()


def rank_label_issues(
    probs: Floats,
    given: Ints,
    method: str = DEFAULT_SCORE,
    *,
    issues: str = DEFAULT_ISSUES,
    issues_first: bool = DEFAULT_ISSUES_FIRST,
) -> LabelIssues:
    """Rank n cases by how likely their given label is wrong.

    `probs`: (n, K) out-of-sample class probabilities, rows summing to 1; `given`: the given
    label of each case as a class index in [0, K); `method` one of SCORES; `issues` one of
    ISSUE_SETS (which cases are label issues); `issues_first`: the label issues before the
    rest. At least two classes must occur in `given` (raises InputError otherwise: the
    thresholds of the other classes would be undefined).
    """
    k = probs.shape[1]
    present = np.unique(given)
    if len(present) < 2:
        raise InputError(
            f"every case has the same label (class index {int(present[0]) if len(present) else '-'}); "
            "label issues need cases of at least two classes"
        )
    thresholds = confident_thresholds(probs, given)
    confident = confident_class(probs, thresholds)
    counts = confident_joint(given, confident, k)
    joint = calibrate_joint(counts, given)
    off_diagonal = (confident != NO_CLASS) & (confident != given)
    others = _adjusted(probs, thresholds)
    others[np.arange(len(given)), given] = -np.inf
    suspected = np.where(off_diagonal, confident, np.argmax(others, axis=1)).astype(np.int64)
    score = label_scores(probs, given, method, thresholds)
    per_class = issues_per_class(counts, given)
    pruned = prune_by_class(given, score, per_class)
    issue = {PRUNE_BY_CLASS: pruned, CONFIDENT_JOINT: off_diagonal}[issues]
    # lexsort: the last key is the primary one; it is stable, so ties keep the input order.
    order = np.lexsort((score, ~issue) if issues_first else (score,)).astype(np.int64)
    return LabelIssues(
        score=score,
        order=order,
        issue=issue,
        pruned=pruned,
        off_diagonal=off_diagonal,
        per_class=per_class,
        suspected=suspected,
        thresholds=thresholds,
        confident_joint=counts,
        joint=joint,
        estimated_issues=estimated_issues(counts, given),
    )
