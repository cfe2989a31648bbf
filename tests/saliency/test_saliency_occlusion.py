"""Occlusion sensitivity against independent oracles: a hand-worked linear model, a naive
loop of one model call per patch, and invariance to how copies are cut into model calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.errors import UsageError
from hstool.saliency.occlusion import Occlusion, occlusion_maps, parse_fill


def linear_model(weights: np.ndarray):
    """probabilities [1 - s, s] with s = sum(w * x): occluding changes s by a known amount."""

    def run(images: np.ndarray) -> np.ndarray:
        s = np.einsum("nchw,chw->n", images.astype(np.float64), weights)
        return np.stack([1 - s, s], axis=1)

    return run


def sigmoid_model(weights: np.ndarray):
    calls = []

    def run(images: np.ndarray) -> np.ndarray:
        calls.append(len(images))
        z = np.einsum("nchw,chw->n", images.astype(np.float64), weights) - weights.sum() / 2
        s = 1 / (1 + np.exp(-np.tanh(z) * 3 - 0.1 * z**2))  # non-linear in the pixels
        return np.stack([1 - s, s], axis=1)

    return run, calls


def naive(model, image: np.ndarray, target: int, patch: int, stride: int, fill: float) -> np.ndarray:
    """The definition, written out: one call per patch, per-pixel sums and counts by loops."""
    _, h, w = image.shape
    base = model(image[None])[0, target]
    total, count = np.zeros((h, w)), np.zeros((h, w))
    ys = sorted(set(range(0, h - patch + 1, stride)) | {h - patch})
    xs = sorted(set(range(0, w - patch + 1, stride)) | {w - patch})
    for y in ys:
        for x in xs:
            copy = image.copy()
            copy[:, y : y + patch, x : x + patch] = fill
            drop = base - model(copy[None])[0, target]
            for i in range(y, y + patch):
                for j in range(x, x + patch):
                    total[i, j] += drop
                    count[i, j] += 1
    return total / count


def test_patch_of_one_pixel_on_a_linear_model_is_weight_times_contrast():
    rng = np.random.default_rng(0)
    weights, image = rng.normal(size=(1, 3, 4)), rng.uniform(size=(1, 1, 3, 4))
    maps, scores = occlusion_maps(
        linear_model(weights), image, np.array([1]), Occlusion(patch=1, stride=1, fill=0.25), batch=5
    )
    np.testing.assert_allclose(maps[0], weights[0] * (image[0, 0] - 0.25), atol=1e-6)
    assert scores[0] == pytest.approx(float((weights * image[0]).sum()))


def test_log_odds_of_a_logistic_model_are_exact_even_where_the_probability_saturates():
    """z = sum(w * x) and probabilities [sigmoid(-z), sigmoid(z)]: with one-pixel patches the
    log-odds drop is w * (x - fill) exactly, also for z = 40, where p rounds to 1 in float32."""
    rng = np.random.default_rng(1)
    weights = rng.normal(size=(1, 3, 3))
    images = rng.uniform(size=(2, 1, 3, 3))
    images[1] *= 40 / (weights * images[1]).sum()  # the second image has z = 40

    def logistic(x: np.ndarray) -> np.ndarray:
        z = np.einsum("nchw,chw->n", x.astype(np.float64), weights)
        return np.stack([1 / (1 + np.exp(z)), 1 / (1 + np.exp(-z))], axis=1).astype(np.float32)

    occlusion = Occlusion(patch=1, stride=1, fill=0.0, scale="log-odds")
    maps, scores = occlusion_maps(logistic, images.astype(np.float32), np.array([1, 1]), occlusion, batch=4)
    expected = weights[0] * images[:, 0]
    np.testing.assert_allclose(maps, expected, rtol=1e-4, atol=1e-4)
    assert scores[1] == 1.0  # the probability itself saturates...
    flat, _ = occlusion_maps(logistic, images.astype(np.float32), np.array([1, 1]), Occlusion(1, 1, 0.0), batch=4)
    assert np.abs(flat[1]).max() < 1e-6 < np.abs(maps[1]).max()  # ...so its map is flat; the log-odds map is not
    with pytest.raises(UsageError, match="probability or log-odds"):
        Occlusion(1, 1, scale="logit")


@pytest.mark.parametrize(("patch", "stride", "batch"), [(3, 2, 1), (3, 2, 7), (4, 3, 10_000), (9, 9, 3), (5, 5, 11)])
def test_batched_equals_one_call_per_patch(patch, stride, batch):
    rng = np.random.default_rng(patch * 10 + stride)
    weights = rng.normal(size=(2, 9, 11)) * 0.3
    images = rng.uniform(size=(3, 2, 9, 11)).astype(np.float32)
    model, calls = sigmoid_model(weights)
    targets = np.array([1, 0, 1])
    maps, _ = occlusion_maps(model, images, targets, Occlusion(patch=patch, stride=stride, fill=0.5), batch=batch)
    for image, target, got in zip(images, targets, maps):
        np.testing.assert_allclose(got, naive(model, image, int(target), patch, stride, 0.5), atol=1e-5)
    assert max(calls) <= max(batch, 1)


def test_mean_fill_is_each_images_own_mean_per_channel():
    images = np.stack([np.full((3, 4, 4), 0.2), np.full((3, 4, 4), 0.7)]).astype(np.float32)
    images[1, 2] = 0.9
    fills = Occlusion(patch=2, stride=2).fill_values(images)
    np.testing.assert_allclose(fills, [[0.2, 0.2, 0.2], [0.7, 0.7, 0.9]], atol=1e-6)
    # A flat image filled with its own mean does not change: the map is exactly zero.
    maps, _ = occlusion_maps(linear_model(np.ones((3, 4, 4))), images, np.array([1, 1]), Occlusion(2, 2), batch=4)
    assert np.abs(maps).max() < 1e-6


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 40), st.integers(1, 40))  # height, width, patch, stride
def test_every_pixel_is_covered_and_patches_stay_inside(height, width, patch, stride):
    if stride > patch:
        with pytest.raises(UsageError, match="larger than the patch"):
            Occlusion(patch=patch, stride=stride, fill=0.0)
        return
    occlusion = Occlusion(patch=patch, stride=stride, fill=0.0)
    if patch > min(height, width):
        with pytest.raises(UsageError, match="larger than the model's input"):
            occlusion.grid(height, width)
        return
    ys, xs = occlusion.grid(height, width)
    covered = np.zeros((height, width), bool)
    for y, x in zip(ys, xs):
        assert 0 <= y <= height - patch and 0 <= x <= width - patch
        covered[y : y + patch, x : x + patch] = True
    assert covered.all()


def test_options_are_checked():
    with pytest.raises(UsageError, match="1 pixel or more"):
        Occlusion(patch=0, stride=1)
    with pytest.raises(UsageError, match=r"grey value in \[0, 1\]"):
        Occlusion(patch=2, stride=1, fill=1.5)
    assert parse_fill("MEAN") == "mean" and parse_fill("0") == 0.0
    with pytest.raises(UsageError, match="'grey'"):
        parse_fill("grey")
