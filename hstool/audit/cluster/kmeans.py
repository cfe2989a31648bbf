"""k-means for `hs cluster`: Lloyd's algorithm (scikit-learn's), made cheap for a search over k.

The paper clusters the full penultimate-layer features. In high dimensions most of the cost of
each Lloyd iteration is reading the d-dimensional rows, so the search runs in two stages:

1. k-means (at least SKETCH_RESTARTS k-means++ restarts, the lowest cost wins) on a sketch: the rows
   projected on their top `SKETCH_DIM` principal axes (estimated on a seeded sample of rows),
   computed once per superclass and shared by every k. For k clusters, projecting on the top
   O(k/eps) axes preserves every clustering's cost within a factor 1 + eps, up to a constant
   (Cohen, Elder, Musco, Musco & Persu, STOC 2015), so the sketch finds and ranks the same
   basins as the full space at a fraction of the cost.
2. The winning clustering is lifted to the full space (member means) and refined there by
   Lloyd's iterations until they converge.

The result is therefore a converged Lloyd solution of the full-space k-means objective, as
scikit-learn's KMeans(n_init=...) on the full rows returns; benchmarks/cluster_speed.py
measures how often the two agree (adjusted Rand index, selected pair) and how much faster this
is. Rows with no more dimensions than 2 x SKETCH_DIM are clustered directly.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hstool.audit.cluster.space import Projection, member_means, principal_axes

SKETCH_DIM = 64
_CHUNK = 16384
# Below this many values, k-means runs on one OpenMP thread: on a busy machine the threads'
# barriers cost far more than a small problem's arithmetic (measured 100x slower on 1500 x 32).
_SMALL = 1 << 21
_AXES_SAMPLE = 8192  # rows used to estimate the sketch's axes
SKETCH_RESTARTS = 10  # restarts on the sketch are cheap: at least this many (more with --n-init)


def stream_seed(key: list[int]) -> int:
    """An independent seed for one (seed, superclass, k) search."""
    return int(np.random.default_rng(key).integers(0, 2**31 - 1))


class KMeansSearch:
    """k-means at several k on the same rows, sharing the sketch between them."""

    def __init__(self, z: np.ndarray, n_init: int, seed: int, *, sketch_dim: int = SKETCH_DIM) -> None:
        self.z = z
        self.n_init = n_init
        self.sketch: np.ndarray | None = None
        if z.shape[1] > 2 * sketch_dim and z.shape[0] > 2 * sketch_dim:
            # The axes only steer the search (the result converges in the full space), so a
            # seeded sample of rows estimates them well enough at a fraction of the cost.
            rows = np.random.default_rng(seed).choice(z.shape[0], min(z.shape[0], _AXES_SAMPLE), replace=False)
            projection: Projection = principal_axes(z[np.sort(rows)], sketch_dim)
            self.sketch = projection.apply(z)

    def fit(self, k: int, seed: int) -> np.ndarray:
        """Cluster labels (0..k-1) of the rows for `k` clusters.

        Without a sketch: the best of `n_init` k-means++ restarts on the rows. With one: the best
        of max(n_init, SKETCH_RESTARTS) restarts on the sketch (its cost ranks clusterings as the
        full cost does, up to 1 + eps), lifted to the full space and iterated there to
        convergence.
        """
        if self.sketch is None:
            return np.asarray(_kmeans(self.z, k, seed=seed, n_init=self.n_init).labels_, dtype=np.int64)
        rough = _kmeans(self.sketch, k, seed=seed, n_init=max(self.n_init, SKETCH_RESTARTS))
        start = member_means(self.z, rough.labels_, k)
        if np.isnan(start).any():  # the sketch lost a cluster: cluster the full rows directly
            return np.asarray(_kmeans(self.z, k, seed=seed, n_init=self.n_init).labels_, dtype=np.int64)
        return np.asarray(_kmeans(self.z, k, init=start.astype(np.float32)).labels_, dtype=np.int64)


def _kmeans(
    x: np.ndarray, k: int, *, seed: int | None = None, n_init: int = 1, init: np.ndarray | None = None
) -> Any:  # a fitted sklearn KMeans (sklearn is untyped)
    """scikit-learn's Lloyd k-means: best of `n_init` k-means++ starts, or one run from `init`."""
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    model = (
        KMeans(n_clusters=k, n_init=n_init, random_state=seed)
        if init is None
        else KMeans(n_clusters=k, init=init, n_init=1)
    )
    with warnings.catch_warnings(), threadpool_limits(limits=1 if x.size < _SMALL else None, user_api="openmp"):
        # Fewer distinct rows than k: scikit-learn warns and returns fewer clusters, which
        # the caller reports as such.
        warnings.simplefilter("ignore")
        return model.fit(x)


def nearest(z: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the nearest centroid of each row (empty clusters, NaN centroids, never win)."""
    c = np.asarray(centroids, dtype=np.float64)
    empty = np.asarray(np.isnan(c).any(axis=1))
    c = np.where(empty[:, None], 0.0, c)
    c_sq = np.where(empty, np.inf, (c**2).sum(axis=1))
    labels = np.empty(z.shape[0], dtype=np.int64)
    for start in range(0, z.shape[0], _CHUNK):
        block = np.asarray(z[start : start + _CHUNK], dtype=np.float64)
        labels[start : start + _CHUNK] = np.argmin(c_sq[None, :] - 2.0 * block @ c.T, axis=1)
    return labels


def distance_to(z: np.ndarray, centroids: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row to the centroid of its own cluster."""
    c = np.asarray(centroids, dtype=np.float32)
    out = np.empty(z.shape[0], dtype=np.float64)
    for start in range(0, z.shape[0], _CHUNK):
        block = z[start : start + _CHUNK] - c[labels[start : start + _CHUNK]]
        out[start : start + _CHUNK] = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
    return out
