"""Clustering one superclass at every searched k (`hs cluster`'s search).

The rows of one superclass are mapped to the clustering space (normalised, projected), then
clustered at each k with the chosen method. Only the fitting rows shape the clusters; held-out
rows (`--holdout`) are assigned afterwards from their embedding alone. Clusters are renumbered
by their error rate among the fitting rows, highest first, so `c0` is always the worst.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hstool.audit.cluster.kmeans import KMeansSearch, distance_to, nearest, stream_seed
from hstool.audit.cluster.mixture import fit_error_mixture, fit_gmm
from hstool.audit.cluster.options import SearchOptions
from hstool.audit.cluster.space import clustering_space, member_means


@dataclass(frozen=True)
class Clustering:
    """One clustering of a superclass at one k (cluster 0 has the highest fitting error rate)."""

    k: int
    labels: np.ndarray  # every row of the superclass, fitting and held out
    centroids: np.ndarray  # (clusters, dims): mean of each cluster's fitting rows
    distance: np.ndarray  # every row's distance to its own cluster's centroid
    silhouette: float | None

    @property
    def n_clusters(self) -> int:
        return int(self.centroids.shape[0])


def search_superclass(
    x: np.ndarray, errors: np.ndarray, fit: np.ndarray, options: SearchOptions, key: int
) -> list[Clustering]:
    """Clusterings of one superclass's rows `x` for every k in options.ks that the rows allow.

    `fit` marks the rows that form the clusters (all rows unless some are held out); `key`
    (the superclass's index) keeps every superclass's random streams independent of the others.
    """
    z = clustering_space(x, fit, normalise=options.normalise, pca=options.pca)
    z_fit = z if fit.all() else z[fit]
    e_fit = errors[fit]
    kmeans = None
    if options.method in ("kmeans", "error-gmm"):
        kmeans = KMeansSearch(z_fit, options.n_init, stream_seed([options.seed, key]))
    results = []
    for k in options.ks:
        if k > z_fit.shape[0]:
            continue
        fit_labels, assign_held_out = _fit(k, stream_seed([options.seed, key, k]), z_fit, e_fit, kmeans, options)
        labels = np.empty(len(z), dtype=np.int64)
        labels[fit] = fit_labels
        if not fit.all():
            labels[~fit] = assign_held_out(z[~fit], np.bincount(fit_labels, minlength=k) > 0)
        results.append(_ordered(k, z, z_fit, labels, fit, errors, options))
    return results


AssignHeldOut = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (rows, components in use) -> labels


def _fit(
    k: int, seed: int, z_fit: np.ndarray, e_fit: np.ndarray, kmeans: KMeansSearch | None, options: SearchOptions
) -> tuple[np.ndarray, AssignHeldOut]:
    """Labels of the fitting rows, and how held-out rows are assigned (embedding only)."""
    if options.method == "gmm":
        model = fit_gmm(z_fit, k, seed, options.n_init, options.covariance)
        return model.predict(z_fit).astype(np.int64), lambda rows, used: _best_allowed(model.predict_proba(rows), used)
    assert kmeans is not None  # built for both k-means-started methods
    if options.method == "kmeans":
        fit_labels = kmeans.fit(k, seed)
        centroids = member_means(z_fit, fit_labels, k)
        return fit_labels, lambda rows, used: nearest(rows, centroids)
    mixture = fit_error_mixture(z_fit, e_fit, kmeans.fit(k, seed), k, options.error_weight)
    return mixture.assign(z_fit, e_fit), lambda rows, used: _best_allowed(mixture.embedding_log_density(rows), used)


def _best_allowed(score: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Most probable component (by probability or log density) among those with fitting rows."""
    return np.asarray(np.argmax(np.where(allowed[None, :], score, -np.inf), axis=1), dtype=np.int64)


def _ordered(
    k: int,
    z: np.ndarray,
    z_fit: np.ndarray,
    labels: np.ndarray,
    fit: np.ndarray,
    errors: np.ndarray,
    options: SearchOptions,
) -> Clustering:
    """Renumber clusters by fitting error rate (highest first), then size; drop empty ones."""
    sizes = np.bincount(labels[fit], minlength=k)
    wrong = np.bincount(labels[fit], weights=errors[fit].astype(np.float64), minlength=k)
    present = np.flatnonzero(sizes > 0)
    rates = wrong[present] / sizes[present]
    order = present[np.lexsort((present, -sizes[present], -rates))]
    mapping = np.full(k, -1, dtype=np.int64)
    mapping[order] = np.arange(len(order))
    labels = mapping[labels]
    centroids = member_means(z_fit, labels[fit], len(order))
    silhouette = _silhouette(z_fit, labels[fit], options) if options.silhouette else None
    return Clustering(k, labels, centroids, distance_to(z, centroids, labels), silhouette)


def _silhouette(z: np.ndarray, labels: np.ndarray, options: SearchOptions) -> float | None:
    """Mean silhouette on a seeded subsample (the same subsample for every k of a superclass)."""
    from sklearn.metrics import silhouette_score

    if len(np.unique(labels)) < 2:
        return None
    sample = min(options.silhouette_sample, len(labels))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(silhouette_score(z, labels, sample_size=sample, random_state=options.seed))
    except ValueError:  # the subsample holds a single cluster
        return None
