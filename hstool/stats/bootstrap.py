"""Stratified percentile bootstrap for a group's AUC and proportions (`--ci bootstrap`).

Positives and negatives are resampled separately (keeping each class's size fixed), as is usual
for ROC analysis (e.g. pROC's stratified bootstrap), so every replicate has both classes.
"""

from __future__ import annotations

import numpy as np

from hstool.stats.auc import delong_components

METRICS = ("auc", "sensitivity", "specificity", "ppv", "npv", "accuracy")


def bootstrap_intervals(
    pos_scores_class: np.ndarray,
    neg_scores_class: np.ndarray,
    pos_called: np.ndarray,
    neg_called: np.ndarray,
    *,
    n_boot: int,
    level: float,
    rng: np.random.Generator,
) -> dict[str, tuple[float | None, float | None]]:
    """Percentile intervals per metric; (None, None) where a metric is undefined in the group.

    `*_scores_class` are rank classes (any integer coding that orders the scores), `*_called`
    whether each case is called positive at the operating threshold.
    """
    m, n = len(pos_scores_class), len(neg_scores_class)
    local, inverse = np.unique(np.concatenate([pos_scores_class, neg_scores_class]), return_inverse=True)
    kp, kn = inverse[:m], inverse[m:]
    size = len(local)
    draws = {name: np.full(n_boot, np.nan) for name in METRICS}
    pos_called = np.asarray(pos_called, bool)
    neg_called = np.asarray(neg_called, bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for b in range(n_boot):
            ip = rng.integers(0, m, m) if m else np.empty(0, np.int64)
            ineg = rng.integers(0, n, n) if n else np.empty(0, np.int64)
            tp = float(pos_called[ip].sum())
            fp = float(neg_called[ineg].sum())
            fn, tn = m - tp, n - fp
            if m and n:
                comp = delong_components(np.bincount(kp[ip], minlength=size), np.bincount(kn[ineg], minlength=size))
                draws["auc"][b] = comp.auc if comp is not None else np.nan
            draws["sensitivity"][b] = tp / m if m else np.nan
            draws["specificity"][b] = tn / n if n else np.nan
            draws["ppv"][b] = tp / (tp + fp) if tp + fp else np.nan
            draws["npv"][b] = tn / (tn + fn) if tn + fn else np.nan
            draws["accuracy"][b] = (tp + tn) / (m + n)
    alpha = 1 - level
    out: dict[str, tuple[float | None, float | None]] = {}
    for name, values in draws.items():
        values = values[~np.isnan(values)]
        if values.size < n_boot * 0.5:  # undefined in most replicates: no honest interval
            out[name] = (None, None)
        else:
            low, high = np.quantile(values, [alpha / 2, 1 - alpha / 2])
            out[name] = (float(low), float(high))
    return out
