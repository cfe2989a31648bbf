"""Sums of products of two vectors, without BLAS.

`a @ b` on 1-D float arrays calls OpenBLAS's ddot, which above a few thousand elements splits the
sum over threads; on a busy machine waking them costs ten times the arithmetic (a 50,000-element
product took 70 us against 6 us single-threaded, and hs stratify's AUC pass spent most of its
time there). einsum's own loop is single-threaded and as fast as a one-thread ddot.
"""

from __future__ import annotations

import numpy as np


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) of two 1-D arrays of equal length."""
    return float(np.einsum("i,i->", a, b))
