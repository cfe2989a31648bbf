"""hstool.synth.plant: the drawn tube and lesion, checked against hand-computed geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.synth.plant import Drain, Lesion, brighten


def straight(width: float, strength: float = 1.0) -> Drain:
    """A horizontal tube along y = 10 from x = 2 to x = 26 (control point on the line)."""
    return Drain(start=(10.0, 2.0), control=(10.0, 14.0), end=(10.0, 26.0), width=width, strength=strength)


def test_straight_tube_coverage_matches_the_distance_to_the_line():
    cover = straight(width=2.0).coverage(20, 28)
    # Pixel centres are at y + 0.5: rows 9 and 10 (distance 0.5) are fully covered, rows 8 and 11
    # (distance 1.5) get the anti-aliased edge: 1 + 0.5 - 1.5 = 0, rows further away nothing.
    column = cover[:, 14]
    np.testing.assert_allclose(column[[9, 10]], 1.0)
    assert column[[7, 8, 11, 12]].max() == 0.0
    thin = straight(width=1.5).coverage(20, 28)[:, 14]
    np.testing.assert_allclose(thin[[9, 10]], 0.75)  # radius 0.75 + 0.5 - distance 0.5
    # Along the tube, coverage stops at its ends (x = 2 and x = 26), with a one-pixel ramp.
    row = cover[9]
    assert row[3:25].min() == 1.0 and row[0] == 0.0 and row[27] == 0.0


def test_wide_tube_has_a_less_opaque_lumen():
    cover = straight(width=8.0).coverage(24, 28)[:, 14]
    wall, centre = cover[6], cover[9]  # distances 3.5 (inside the wall) and 0.5 (the lumen)
    assert wall == 1.0 and centre == pytest.approx(0.65)


def test_brighten_moves_towards_white_by_a_fraction_of_the_headroom():
    image = np.array([[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(brighten(image, np.ones_like(image), 0.5), [[0.5, 0.75, 1.0]])
    np.testing.assert_allclose(brighten(image, np.full_like(image, 0.5), 0.5), [[0.25, 0.625, 1.0]])
    with pytest.raises(ValueError, match="grey image"):
        brighten(np.zeros((2, 2, 1)), np.zeros((2, 2)), 0.5)


def test_lesion_profile_peaks_at_its_centre():
    lesion = Lesion(centre=(10.5, 12.5), sigma=(3.0, 1.5), angle=0.0, contrast=0.2)
    cover = lesion.coverage(21, 25)
    assert cover[10, 12] == 1.0 and cover.argmax() == 10 * 25 + 12
    # Major axis along x: 3 pixels along x is one sigma, 1.5 along y is one sigma.
    np.testing.assert_allclose(cover[10, [9, 15]], np.exp(-0.5))
    np.testing.assert_allclose(cover[[9, 11], 12], np.exp(-0.5 * (1 / 1.5) ** 2))
    np.testing.assert_allclose(lesion.apply(np.full((21, 25), 0.5))[10, 12], 0.5 + 0.2 * 0.5)


def test_random_geometry_is_seeded_and_scales_with_the_image():
    small = Drain.random(np.random.default_rng(3), 28, 28)
    again = Drain.random(np.random.default_rng(3), 28, 28)
    large = Drain.random(np.random.default_rng(3), 280, 280)
    assert small == again
    np.testing.assert_allclose(np.array(large.start), np.array(small.start) * 10)
    np.testing.assert_allclose(large.width, small.width * 10)
    for seed in range(50):
        drain = Drain.random(np.random.default_rng(seed), 28, 28)
        assert 1.0 <= drain.width <= 0.065 * 28 and 0.85 <= drain.strength <= 0.95
        # It enters at a lateral edge, in the lower half, and ends in the upper third.
        assert min(drain.start[1], 28 - drain.start[1]) <= 0.04 * 28 + 1e-9 and drain.start[0] >= 0.55 * 28
        assert drain.end[0] <= 0.30 * 28
        covered = drain.coverage(28, 28) > 0
        assert 15 <= covered.sum() <= 200  # a line, neither a dot nor a slab


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.01, 1.0))
def test_planting_never_darkens_and_stays_in_range(seed, contrast):
    rng = np.random.default_rng(seed)
    image = rng.random((28, 28))
    for finding in (Drain.random(rng, 28, 28), Lesion.random(rng, 28, 28, contrast)):
        out = finding.apply(image)
        assert out.min() >= 0.0 and out.max() <= 1.0
        assert (out >= image).all()
