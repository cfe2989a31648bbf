"""FFT filters, resolution reduction and noise on arrays (no files)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.synth.perturb import (
    Perturbation,
    fft_filter,
    frequency_distance,
    gaussian_noise,
    highpass,
    image_rng,
    lowpass,
    reduce_resolution,
)


def _image(seed=0, shape=(28, 28, 1)):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(28, 28, 1), (31, 20, 3), (224, 224, 1)])
def test_lowpass_wider_than_the_image_is_the_identity(shape):
    x = _image(1, shape)
    diagonal = float(np.hypot(*shape[:2]))
    np.testing.assert_allclose(lowpass(x, diagonal + 1), x, atol=1e-6)
    np.testing.assert_allclose(lowpass(x, 10_000), x, atol=1e-6)


def test_lowpass_of_diameter_one_keeps_only_the_mean():
    x = _image(2, (30, 30, 3))
    out = lowpass(x, 1)
    np.testing.assert_allclose(out, np.broadcast_to(x.mean(axis=(0, 1)), x.shape), atol=1e-6)


def test_mask_is_a_circle_of_the_given_diameter():
    d = frequency_distance(8, 8)
    assert d[4, 4] == 0 and d[4, 7] == 3 and d[0, 0] == pytest.approx(np.hypot(4, 4))
    x = np.zeros((8, 8))
    x[2, 3] = 1.0
    spectrum = np.fft.fftshift(np.fft.fft2(fft_filter(x, 4.0, "lowpass")[:, :, 0]))
    kept = np.abs(spectrum) > 1e-9
    np.testing.assert_array_equal(kept, d <= 2.0)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.5, 60.0))
def test_lowpass_and_highpass_are_complements(seed, diameter):
    x = _image(seed, (17, 24, 1))
    low = fft_filter(x, diameter, "lowpass")
    high = fft_filter(x, diameter, "highpass")
    np.testing.assert_allclose(low + high, x, atol=1e-9)


def test_highpass_removes_the_mean_and_is_rescaled():
    x = _image(3, (32, 32, 1))
    raw = fft_filter(x, 5, "highpass")
    assert abs(raw.mean()) < 1e-9
    out = highpass(x, 5)
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out, (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-6)
    assert (highpass(np.full((8, 8, 1), 0.3), 3) == 0).all()  # nothing left: constant 0


def test_filters_are_deterministic():
    x = _image(4, (40, 36, 3))
    for p in (
        Perturbation("lowpass", 10),
        Perturbation("highpass", 10),
        Perturbation("resolution", 8),
        Perturbation("noise", 0.1),
    ):
        first, second = p.apply(x, "id1", 0), p.apply(x.copy(), "id1", 0)
        assert first.dtype == np.float32 and first.shape == x.shape
        np.testing.assert_array_equal(first, second)
        assert first.min() >= 0 and first.max() <= 1


def test_resolution_reduction():
    x = _image(5, (32, 32, 1))
    np.testing.assert_allclose(reduce_resolution(x, 32), x, atol=1e-6)
    out = reduce_resolution(x, 1)
    np.testing.assert_allclose(out, np.full_like(x, x.mean()), atol=1e-5)  # one box: the mean
    blocks = np.kron(np.array([[0.2, 0.8], [0.6, 0.4]]), np.ones((4, 4)))[:, :, None]
    np.testing.assert_allclose(
        reduce_resolution(blocks, 2)[[0, 0, 7, 7], [0, 7, 0, 7], 0], [0.2, 0.8, 0.6, 0.4], atol=1e-6
    )


def test_noise_is_seeded_per_image():
    x = np.full((64, 64, 1), 0.5, np.float32)
    a = gaussian_noise(x, 0.05, image_rng(0, "a"))
    assert abs(float((a - x).std()) - 0.05) < 0.005
    np.testing.assert_array_equal(a, gaussian_noise(x, 0.05, image_rng(0, "a")))
    assert not np.array_equal(a, gaussian_noise(x, 0.05, image_rng(0, "b")))
    assert not np.array_equal(a, gaussian_noise(x, 0.05, image_rng(1, "a")))
    np.testing.assert_array_equal(gaussian_noise(x, 0.0, image_rng(0, "a")), x)


def test_perturbation_names_and_checks():
    assert Perturbation("lowpass", 50).name == "lowpass_d50"
    assert Perturbation("noise", 0.05).name == "noise_s0.05"
    assert Perturbation("resolution", 32).name == "resolution_32"
    for kind, value in (("lowpass", 0), ("resolution", 2.5), ("noise", -1), ("blur", 3)):
        with pytest.raises(ValueError):
            Perturbation(kind, value)


@pytest.mark.parametrize("shape", [(16, 16), (15, 22), (9, 7)])
@pytest.mark.parametrize("diameter", [1, 3.5, 8, 13])
def test_real_fft_equals_masking_the_full_centred_spectrum(shape, diameter):
    """The definition, written out with the full FFT: shift, mask the disc, unshift, invert."""
    x = np.random.default_rng(6).random(shape)
    spectrum = np.fft.fftshift(np.fft.fft2(x))
    disc = frequency_distance(*shape) <= diameter / 2
    for kind, keep in (("lowpass", disc), ("highpass", ~disc)):
        expected = np.fft.ifft2(np.fft.ifftshift(spectrum * keep))
        assert np.abs(expected.imag).max() < 1e-12  # the masked spectrum is that of a real image
        np.testing.assert_allclose(fft_filter(x, diameter, kind)[:, :, 0], expected.real, atol=1e-12)
