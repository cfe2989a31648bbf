"""Operating thresholds chosen on labelled scores: Youden, target sensitivity or specificity.

Convention everywhere in hs: a case is called positive when score >= threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OperatingCurve:
    """Sensitivity and specificity at every distinct score used as the threshold."""

    thresholds: np.ndarray  # ascending distinct scores
    sensitivity: np.ndarray
    specificity: np.ndarray
    tp: np.ndarray  # positives scored >= each threshold (integers, for exact comparisons)
    fp: np.ndarray
    n_pos: int
    n_neg: int


def operating_curve(scores: np.ndarray, labels: np.ndarray) -> OperatingCurve:
    labels = np.asarray(labels, dtype=bool)
    uniq, inverse = np.unique(np.asarray(scores, dtype=np.float64), return_inverse=True)
    pos = np.bincount(inverse[labels], minlength=len(uniq))
    neg = np.bincount(inverse[~labels], minlength=len(uniq))
    m, n = pos.sum(), neg.sum()
    if m == 0 or n == 0:
        raise ValueError("a threshold needs both positives and negatives")
    tp = np.cumsum(pos[::-1])[::-1]  # positives scored >= each threshold
    fp = np.cumsum(neg[::-1])[::-1]
    return OperatingCurve(uniq, tp / m, 1.0 - fp / n, tp, fp, int(m), int(n))


class UninformativeScores(ValueError):
    """No threshold separates the classes better than chance (best Youden J = 0)."""


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Threshold maximising J = sensitivity + specificity - 1 (Youden 1950).

    Among ties the highest threshold wins (fewest positive calls for the same J). When the best
    J is 0 (the lowest score, calling every case positive, always reaches J = 0), the scores do
    not separate the classes at any threshold: UninformativeScores, rather than a threshold
    that calls everything positive.
    """
    curve = operating_curve(scores, labels)
    # J = tp/m - fp/n; compared as the integer m n J, so that equal J are equal (floating-point
    # sums of fractions are not, and would break ties at random).
    j = curve.tp.astype(np.int64) * curve.n_neg - curve.fp.astype(np.int64) * curve.n_pos
    if j.max() <= 0:
        raise UninformativeScores(
            "the best Youden J is 0: no threshold separates positives from negatives better than chance, "
            "and youden would call every case positive"
        )
    best = np.flatnonzero(j == j.max())[-1]
    return float(curve.thresholds[best])


def threshold_for_sensitivity(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """The highest threshold whose sensitivity is at least `target`."""
    curve = operating_curve(scores, labels)
    ok = np.flatnonzero(curve.sensitivity >= target)
    return float(curve.thresholds[ok[-1]])  # sensitivity is 1 at the lowest score, so ok is never empty


def threshold_for_specificity(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """The lowest threshold whose specificity is at least `target`."""
    curve = operating_curve(scores, labels)
    ok = np.flatnonzero(curve.specificity >= target)
    if ok.size == 0:  # only a threshold above every score reaches it
        return float(np.nextafter(curve.thresholds[-1], np.inf))
    return float(curve.thresholds[ok[0]])


@dataclass(frozen=True)
class ThresholdRule:
    """A threshold as the user asked for it: fixed, `youden`, `sens=0.95` or `spec=0.9`."""

    kind: str  # 'fixed', 'youden', 'sens', 'spec'
    value: float | None = None

    @classmethod
    def parse(cls, text: str) -> ThresholdRule:
        t = text.strip().lower()
        if t == "youden":
            return cls("youden")
        for prefix, kind in (("sens=", "sens"), ("spec=", "spec")):
            if t.startswith(prefix):
                value = _fraction(t[len(prefix) :], text)
                return cls(kind, value)
        return cls("fixed", _fraction(t, text))

    def resolve(self, scores: np.ndarray, labels: np.ndarray) -> float:
        if self.kind == "youden":
            return youden_threshold(scores, labels)
        assert self.value is not None  # parse gives every other kind a value
        if self.kind == "fixed":
            return self.value
        if self.kind == "sens":
            return threshold_for_sensitivity(scores, labels, self.value)
        return threshold_for_specificity(scores, labels, self.value)

    def describe(self) -> str:
        if self.kind in ("fixed", "youden"):
            return self.kind
        return f"{self.kind}={self.value:g}"


def _fraction(text: str, original: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"threshold {original!r} is not understood; use a number in [0, 1], youden, sens=0.95, spec=0.9 or a calibration .json"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"threshold {original!r} must be within [0, 1]")
    return value


def sensitivity_specificity(scores: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    """Sensitivity and specificity when `score >= threshold` is called positive."""
    labels = np.asarray(labels, dtype=bool)
    called = np.asarray(scores, dtype=np.float64) >= threshold
    if labels.all() or not labels.any():
        raise ValueError("sensitivity and specificity need both positives and negatives")
    return float(called[labels].mean()), float((~called[~labels]).mean())
