"""Augmentation: exact against NumPy oracles for shifts and quarter turns; seeded per (epoch, image)."""

from __future__ import annotations

import math

import numpy as np
import torch

from hstool.train.augment import Augmentation


def params(n, angle=0.0, sx=0.0, sy=0.0, scale=1.0, flip=0.0):
    return torch.tensor([[angle, sx, sy, scale, flip]] * n, dtype=torch.float64)


def test_identity_and_whole_pixel_shift():
    images = torch.rand(2, 1, 10, 16)
    aug = Augmentation()
    assert torch.allclose(aug.apply(images, params(2)), images, atol=1e-6)
    # Shift right by 2 pixels (2/16 of the width) and down by 1 (1/10): a roll with black fill.
    shifted = aug.apply(images, params(2, sx=2 / 16, sy=1 / 10)).numpy()
    expected = np.zeros_like(images.numpy())
    expected[:, :, 1:, 2:] = images.numpy()[:, :, :-1, :-2]
    assert np.allclose(shifted, expected, atol=1e-5)


def test_quarter_turn_and_flip_match_numpy():
    images = torch.rand(1, 3, 12, 12)
    turned = Augmentation().apply(images, params(1, angle=math.pi / 2)).numpy()
    # One of the two quarter turns, whichever the sign convention; both are exact permutations.
    candidates = [np.rot90(images.numpy(), k, axes=(2, 3)) for k in (1, -1)]
    assert min(np.abs(turned - c).max() for c in candidates) < 1e-5
    flipped = Augmentation().apply(images, params(1, flip=1.0)).numpy()
    assert np.allclose(flipped, images.numpy()[:, :, :, ::-1], atol=1e-5)


def test_rotation_keeps_the_aspect_of_a_wide_image():
    # A 180-degree turn of a non-square image is an exact flip of both axes (no shear).
    images = torch.rand(1, 1, 8, 20)
    turned = Augmentation().apply(images, params(1, angle=math.pi)).numpy()
    assert np.allclose(turned, images.numpy()[:, :, ::-1, ::-1], atol=1e-5)


def test_parameters_are_seeded_per_epoch_and_within_range():
    aug = Augmentation(rotation=10, translation=0.05, zoom=0.1)
    a = aug.epoch_parameters(500, seed=1, epoch=3)
    assert torch.equal(a, aug.epoch_parameters(500, seed=1, epoch=3))
    assert not torch.equal(a, aug.epoch_parameters(500, seed=1, epoch=4))
    assert a[:, 0].abs().max() <= math.radians(10) and a[:, 1:3].abs().max() <= 0.05
    assert ((a[:, 3] >= 0.9) & (a[:, 3] <= 1.1)).all()
    assert (a[:, 4] == 0).all()  # no flips unless asked
    flips = Augmentation(hflip=True).epoch_parameters(500, seed=1, epoch=3)[:, 4]
    assert 150 < flips.sum() < 350


def test_an_image_gets_the_same_warp_whatever_its_batch():
    aug = Augmentation()
    p = aug.epoch_parameters(6, seed=0, epoch=1)
    images = torch.rand(6, 1, 28, 28)
    whole = aug.apply(images, p)
    parts = torch.cat([aug.apply(images[[4, 1]], p[[4, 1]]), aug.apply(images[[0, 2, 3, 5]], p[[0, 2, 3, 5]])])
    assert torch.allclose(whole[[4, 1, 0, 2, 3, 5]], parts, atol=1e-6)
