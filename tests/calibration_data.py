"""Data that strains the calibration fits, for the tests of the grouped computation
(tests/stats/test_stats_calibration_groups.py) and of hs stratify's calibration columns
(tests/audit/test_stratify_calibration.py)."""

from __future__ import annotations

import numpy as np


def miscalibrated_groups(seed: int, n: int = 4000, decimals: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scores, labels, group codes): miscalibrated scores with many ties (rounded), some exactly
    0 or 1, and 8 groups: group 5 has negatives only, group 6 one positive, group 7 is separated
    by score, group 4 is tiny (six cases)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 8, n)
    true_logit = rng.normal(-0.8, 1.4, n) + 0.6 * (codes == 2)
    y = rng.random(n) < 1 / (1 + np.exp(-true_logit))
    s = np.round(1 / (1 + np.exp(-(true_logit - 0.3) * 1.5)), decimals)
    s[rng.random(n) < 0.01] = 0.0
    s[rng.random(n) < 0.01] = 1.0
    y[codes == 5] = False
    one = np.flatnonzero(codes == 6)
    y[one] = False
    y[one[0]] = True
    sep = codes == 7
    s[sep] = np.where(y[sep], 0.8, 0.2)
    tiny = np.flatnonzero(codes == 4)
    codes[tiny[6:]] = 0
    return s, y, codes
