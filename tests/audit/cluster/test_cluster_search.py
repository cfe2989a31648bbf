"""The clustering engines: the sketched k-means against scikit-learn, PCA, mixtures, ordering."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score

from hstool.audit.cluster.kmeans import KMeansSearch, nearest
from hstool.audit.cluster.mixture import fit_error_mixture
from hstool.audit.cluster.options import SearchOptions
from hstool.audit.cluster.search import search_superclass
from hstool.audit.cluster.space import l2_normalise, member_means, principal_axes


def blobs(n=900, dims=200, k=3, seed=0, spread=8.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dims)) * spread / np.sqrt(dims)
    truth = rng.integers(0, k, n)
    return (centres[truth] + 0.3 * rng.normal(size=(n, dims))).astype(np.float32), truth


def test_principal_axes_match_sklearn_pca():
    x, _ = blobs(dims=40)
    proj = principal_axes(x, 5)
    ref = PCA(n_components=5, svd_solver="full").fit(x)
    # Same axes up to sign, same variances.
    assert np.abs(np.sum(proj.axes.T * ref.components_, axis=1)) == pytest.approx(np.ones(5), abs=1e-4)
    assert proj.variance == pytest.approx(ref.explained_variance_, rel=1e-4)
    assert np.allclose(np.abs(proj.apply(x)), np.abs(ref.transform(x)), atol=1e-3)


def test_sketched_kmeans_finds_the_same_clusters_as_full_space_kmeans():
    x, truth = blobs(dims=300, k=4)
    search = KMeansSearch(x, n_init=3, seed=0)
    assert search.sketch is not None and search.sketch.shape == (900, 64)
    labels = search.fit(4, seed=4)
    reference = KMeans(4, n_init=3, random_state=0).fit(x).labels_
    assert adjusted_rand_score(reference, labels) == 1.0
    assert adjusted_rand_score(truth, labels) == 1.0


def test_kmeans_is_a_fixed_point_of_lloyd_in_the_full_space():
    x, _ = blobs(dims=300, k=3, spread=3.0)  # overlapping blobs: the sketch alone could differ
    labels = KMeansSearch(x, n_init=2, seed=1).fit(3, seed=2)
    centroids = member_means(x, labels, 3)
    assert np.array_equal(nearest(x, centroids), labels)


def test_same_seed_same_clusters():
    x, _ = blobs(dims=150, k=5, spread=2.0)
    a = KMeansSearch(x, 3, seed=7).fit(5, seed=5)
    b = KMeansSearch(x, 3, seed=7).fit(5, seed=5)
    assert np.array_equal(a, b)


def test_l2_normalise():
    x = np.array([[3, 4], [0, 0], [1, 0]], dtype=np.float32)
    assert np.allclose(l2_normalise(x), [[0.6, 0.8], [0, 0], [1, 0]])


def test_clusters_are_numbered_worst_first_and_held_out_rows_assigned():
    x, truth = blobs(n=600, dims=20, k=2)
    errors = (truth == 1) & (np.arange(600) % 2 == 0)  # cluster of truth 1 has 50% errors
    fit = np.arange(600) % 3 != 0
    (c,) = search_superclass(x, errors, fit, SearchOptions(ks=(2,)), key=0)
    assert c.n_clusters == 2
    assert adjusted_rand_score(truth, c.labels) == 1.0  # held-out rows join their blob
    assert set(c.labels[truth == 1]) == {0}  # the high-error blob is c0
    assert c.distance.shape == (600,) and (c.distance >= 0).all()


def test_error_mixture_pulls_errors_together_and_assigns_held_out_rows_without_them():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(800, 5))
    errors = x[:, 0] > 1.0  # errors live in one corner of a single blob
    start = (x[:, 1] > 0).astype(np.int64)  # a start that ignores the errors
    mix = fit_error_mixture(x, errors, start, 2, error_weight=5.0)
    with_errors = mix.assign(x, errors)
    error_component = np.argmax(mix.error_rates)
    assert mix.error_rates[error_component] > 0.8
    assert (with_errors[errors] == error_component).mean() > 0.9
    # Without the errors, only the embedding decides: still mostly the x0 > 1 corner.
    embedding_only = mix.assign(x)
    assert embedding_only.shape == (800,)
    assert (embedding_only[x[:, 0] > 1.5] == error_component).mean() > 0.8


@pytest.mark.parametrize("method", ["gmm", "error-gmm"])
def test_mixture_methods_run_through_the_search(method):
    x, truth = blobs(n=600, dims=10, k=3)
    errors = truth == 2
    fit = np.arange(600) % 2 == 0
    result = search_superclass(x, errors, fit, SearchOptions(ks=(2, 3), method=method, silhouette=True), key=1)
    assert [c.k for c in result] == [2, 3]
    assert result[1].silhouette > 0.5
    assert adjusted_rand_score(truth, result[1].labels) > 0.95
