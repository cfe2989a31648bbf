"""The numbers behind the report's curves: ROC points and calibration bins (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hstool.stats.calibration_metrics import equal_mass_bins
from hstool.stats.proportions import wilson_interval
from hstool.stats.thresholds import operating_curve


@dataclass(frozen=True)
class Roc:
    fpr: np.ndarray  # ascending, from 0 to 1
    tpr: np.ndarray


def roc_points(scores: np.ndarray, labels: np.ndarray, resolution: int = 400) -> Roc:
    """The empirical ROC curve (every distinct score a threshold), thinned for drawing.

    A curve over 10,000 distinct scores would put 10,000 points in the SVG; points that fall
    in the same cell of a `resolution` x `resolution` grid as their predecessor are dropped,
    which bounds the size while keeping the staircase within one cell (well under a pixel).
    """
    curve = operating_curve(scores, labels)
    # Thresholds ascend, so the points run from (1, 1) down; append the (0, 0) corner.
    fpr = np.append(1.0 - curve.specificity, 0.0)[::-1]
    tpr = np.append(curve.sensitivity, 0.0)[::-1]
    cells = np.round(fpr * resolution).astype(np.int64) * (resolution + 1) + np.round(tpr * resolution).astype(np.int64)
    keep = np.ones(len(cells), bool)
    keep[1:] = cells[1:] != cells[:-1]
    keep[-1] = True
    return Roc(fpr[keep], tpr[keep])


@dataclass(frozen=True)
class Calibration:
    """Score bins: mean score, observed fraction of positives and its interval."""

    mean_score: np.ndarray
    observed: np.ndarray
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray


def calibration_bins(
    scores: np.ndarray, labels: np.ndarray, n_bins: int = 10, level: float = 0.95, strategy: str = "mass"
) -> Calibration:
    """Reliability diagram data; empty bins are left out.

    `mass` (default): the equal-mass bins of hs stratify's ECE (hstool.stats.calibration_metrics),
    so the diagram shows the bins the ECE averages; `width`: equal-width bins of [0, 1].
    """
    labels = np.asarray(labels, dtype=bool)
    if strategy == "mass":
        index = equal_mass_bins(scores, n_bins)
    else:
        index = np.minimum((np.asarray(scores) * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    positives = np.bincount(index, weights=labels.astype(np.float64), minlength=n_bins)
    score_sum = np.bincount(index, weights=scores, minlength=n_bins)
    present = count > 0
    count, positives, score_sum = count[present], positives[present], score_sum[present]
    low, high = wilson_interval(positives, count, level)
    return Calibration(score_sum / count, positives / count, low, high, count)
