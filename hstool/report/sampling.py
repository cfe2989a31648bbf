"""Seeded sampling of cases for galleries, montages and review sheets.

Each image gets a random priority from (seed, image_id) alone; a gallery shows the k members
with the lowest priority. That is a uniform random sample of each gallery for a given seed,
independent of row order, and coherent across galleries: an error shown for `sex=F` is likely
to be the one shown for its cluster too, so fewer distinct thumbnails cover more galleries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np


def priorities(ids: Iterable[str], seed: int) -> np.ndarray:
    key = seed.to_bytes(8, "little", signed=True)
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(str(i).encode("utf-8"), digest_size=8, key=key).digest(), "little")
            for i in ids
        ],
        dtype=np.uint64,
    )


def pick(mask: np.ndarray, priority: np.ndarray, k: int) -> np.ndarray:
    """Row indices of at most `k` rows of `mask`, lowest priority first."""
    rows = np.flatnonzero(mask)
    if k <= 0 or rows.size == 0:
        return rows[:0]
    order = np.argsort(priority[rows], kind="stable")[:k]
    return rows[order]
