"""The space clusters are formed in: optional L2 normalisation, optional PCA, and the sketch
that speeds k-means up.

Principal axes come from the eigenvectors of the centred Gram matrix (d x d), accumulated in
chunks of rows in float64, so the whole computation is deterministic (no random solver) and
never copies the full matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_CHUNK = 16384  # rows per block when streaming over a large matrix


@dataclass(frozen=True)
class Projection:
    """x -> (x - mean) @ axes: the top principal axes of the data it was fitted on."""

    mean: np.ndarray  # (d,) float32
    axes: np.ndarray  # (d, r) float32, orthonormal columns, largest variance first
    variance: np.ndarray  # (r,) variance along each axis

    def apply(self, x: np.ndarray) -> np.ndarray:
        out = np.empty((x.shape[0], self.axes.shape[1]), dtype=np.float32)
        for start in range(0, x.shape[0], _CHUNK):
            block = np.asarray(x[start : start + _CHUNK], dtype=np.float32) - self.mean
            out[start : start + _CHUNK] = block @ self.axes
        return out


def principal_axes(x: np.ndarray, r: int) -> Projection:
    """The top `r` principal axes of the rows of `x` (exact, from the d x d covariance)."""
    from scipy.linalg import eigh
    from threadpoolctl import threadpool_limits

    n, d = x.shape
    r = min(r, d)
    mean = np.asarray(x.mean(axis=0, dtype=np.float64), dtype=np.float32)
    gram = np.zeros((d, d), dtype=np.float64)
    for start in range(0, n, _CHUNK):
        block = np.asarray(x[start : start + _CHUNK], dtype=np.float32) - mean
        gram += block.T @ block
    # One BLAS thread: the eigensolver gains little from threads and, on a busy machine, loses
    # up to 20x to them (measured on the shared 2-core development machine).
    with threadpool_limits(limits=1, user_api="blas"):
        values, vectors = eigh(gram, subset_by_index=[d - r, d - 1])
    order = np.argsort(values)[::-1]
    axes = vectors[:, order]
    # Fix each axis's sign (largest-magnitude entry positive): eigenvector signs are arbitrary.
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1.0, signs)
    variance = np.maximum(values[order], 0.0) / max(n - 1, 1)
    return Projection(mean, axes.astype(np.float32), variance)


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def clustering_space(x: np.ndarray, fit: np.ndarray, *, normalise: bool, pca: int | None) -> np.ndarray:
    """The embeddings as clustered: normalised and/or projected (PCA fitted on the `fit` rows)."""
    z = l2_normalise(x) if normalise else np.asarray(x, dtype=np.float32)
    if pca is not None and pca < z.shape[1]:
        z = principal_axes(z[fit] if not fit.all() else z, pca).apply(z)
    return np.ascontiguousarray(z, dtype=np.float32)


def member_means(z: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Mean of each cluster's rows (k, dims), summed in float64; NaN rows for empty clusters."""
    means = np.full((k, z.shape[1]), np.nan)
    for j in range(k):
        rows = labels == j
        if rows.any():
            means[j] = z[rows].sum(axis=0, dtype=np.float64) / rows.sum()
    return means
