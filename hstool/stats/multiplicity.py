"""Adjusting p-values for the many subgroup tests of one run (NaN = no test, left as NaN)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from hstool.stats.methods import CORRECTIONS


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down: family-wise error control under any dependence."""
    return _adjust(p, _holm_sorted)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) step-up: false discovery rate control."""
    return _adjust(p, _bh_sorted)


def adjust(p: np.ndarray, method: str) -> np.ndarray:
    if method == "holm":
        return holm(p)
    if method == "bh":
        return benjamini_hochberg(p)
    if method == "none":
        return np.asarray(p, dtype=np.float64).copy()
    raise ValueError(f"unknown correction {method!r}; use one of {', '.join(CORRECTIONS)}")


def _adjust(p: npt.ArrayLike, sorted_rule: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    present = np.flatnonzero(~np.isnan(p))
    if present.size == 0:
        return out
    order = present[np.argsort(p[present], kind="stable")]
    out[order] = sorted_rule(p[order])
    return out


def _holm_sorted(ps: np.ndarray) -> np.ndarray:
    m = len(ps)
    stepped = ps * (m - np.arange(m))
    return np.minimum(np.maximum.accumulate(stepped), 1.0)


def _bh_sorted(ps: np.ndarray) -> np.ndarray:
    m = len(ps)
    stepped = ps * m / np.arange(1, m + 1)
    return np.minimum(np.minimum.accumulate(stepped[::-1])[::-1], 1.0)
