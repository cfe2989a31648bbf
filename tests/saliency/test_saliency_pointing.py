"""Pointing game and mass share on hand-worked maps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hstool.saliency.pointing import fit_mask, score_region


def test_hand_worked_maps():
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True  # 2 of 16 pixels: chance 0.125
    heat = np.zeros((4, 4))
    heat[0, 1], heat[3, 3], heat[2, 0] = 3.0, 1.0, -5.0
    score = score_region(heat, mask)
    assert (score.hit, score.mass, score.chance) == (1.0, 0.75, 0.125)
    heat[3, 3] = 3.0  # two tied maxima, one inside
    assert score_region(heat, mask).hit == 0.5 and score_region(heat, mask).mass == 0.5
    assert score_region(-np.ones((4, 4)), mask).hit == 0.125  # a flat map: all pixels tie, chance
    assert math.isnan(score_region(-np.ones((4, 4)), mask).mass)


def test_mask_follows_the_maps_geometry():
    mask = np.zeros((8, 8), bool)
    mask[:4, :4] = True
    small = fit_mask(mask, (4, 4))
    assert small.shape == (4, 4) and small[:2, :2].all() and small.sum() == 4
    assert score_region(np.eye(4), mask).chance == pytest.approx(0.25)
