"""Moving a model's operating point to 0.5: the piecewise-linear map of Cohen et al. (2020).

Cohen, Hashir, Brooks, Bertrand, "On the limits of cross-domain generalization in automated
X-ray prediction" (MIDL 2020), eq. 1: with the operating threshold t (Youden-optimal on a
labelled set), a score s becomes

    s' = s / (2 t)                        if s < t
    s' = 1 - (1 - s) / (2 (1 - t))        if s >= t

Both pieces are linear and meet at s = t, s' = 0.5; 0 maps to 0 and 1 to 1, so the map is
continuous, increasing, and keeps scores in [0, 1]. Two models calibrated this way can be
compared score for score (Bland-Altman) and both call a case positive at 0.5.

Convention of hs: positive when score >= threshold. The map keeps it exactly, in floating
point too: s >= t gives s' >= 0.5 (the upper piece is monotone and equals 0.5 at t), and
s < t gives s' < 0.5 (the lower piece is capped just below 0.5, where rounding of s / (2t)
could otherwise reach 0.5 for an s one ulp below t).
"""

from __future__ import annotations

import numpy as np

_BELOW_HALF = float(np.nextafter(0.5, 0.0))


def piecewise_calibrate(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Cohen et al.'s eq. 1 for any threshold t >= 0 (t >= 1 calls only s = 1 >= t positive)."""
    s = np.asarray(scores, dtype=np.float64)
    t = float(threshold)
    if not t >= 0.0:
        raise ValueError(f"threshold {threshold} must be >= 0")
    out = np.empty_like(s)
    upper = s >= t
    if t > 0.0:
        out[~upper] = np.minimum(s[~upper] / (2.0 * t), _BELOW_HALF)
    if t < 1.0:
        out[upper] = 1.0 - (1.0 - s[upper]) / (2.0 * (1.0 - t))
    else:  # t >= 1: only a score equal to t (= 1) is at the operating point
        out[upper] = 0.5
    return out


def calibrated_threshold(value: float, threshold: float) -> float:
    """Where another original-scale threshold lands on the calibrated scale."""
    return float(piecewise_calibrate(np.array([value]), threshold)[0])
