"""Image perturbations for shortcut and robustness audits (pure numpy + Pillow, no torch).

Gichoya et al. (Lancet Digital Health 2022) showed that models still read patient race from
chest X-rays after low-pass and high-pass filtering of the 2-D spectrum with a circular mask
(diameters 1 to 200 on 224 x 224 images), and after reducing the resolution. These are the
same operations, on float images (H, W, C) with values in [0, 1]:

- `lowpass` / `highpass`: the centred 2-D FFT of each channel keeps the frequencies within
  (low-pass) or outside (high-pass) a circle of the given diameter, in pixels of the centred
  spectrum, around the zero frequency. A frequency at distance r from the centre is kept by
  the low-pass filter when r <= diameter / 2, so a diameter of 1 keeps only the mean, and a
  diameter at least the image diagonal keeps everything (the identity). The two masks are
  complements: the raw low-pass and high-pass images add up to the original.
- `resolution`: box-average down to size x size, then bilinear back to the original size.
- `noise`: additive Gaussian noise with standard deviation sigma, seeded per image.

Every function returns values in [0, 1]: low-pass, resolution and noise results are clipped
(ringing can overshoot a little); a high-pass image has no mean (its zero frequency is
removed) and is rescaled linearly to [0, 1] per image (min to 0, max to 1; a constant result
becomes 0), as one would to display it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

KINDS = ("lowpass", "highpass", "resolution", "noise")


def _channels(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        return image[:, :, None]
    if image.ndim != 3:
        raise ValueError(f"expected an image (H, W) or (H, W, C), got shape {image.shape}")
    return image


def frequency_distance(height: int, width: int) -> np.ndarray:
    """Distance of each entry of the fftshift-ed spectrum from the zero frequency."""
    fy = np.arange(height) - height // 2
    fx = np.arange(width) - width // 2
    distance: np.ndarray = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    return distance


def _half_spectrum_distance(height: int, width: int) -> np.ndarray:
    """The same distances for the unshifted half spectrum of `rfft2` (integer frequencies)."""
    fy = np.fft.fftfreq(height) * height
    fx = np.fft.rfftfreq(width) * width
    return np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def fft_filter(image: np.ndarray, diameter: float, kind: str) -> np.ndarray:
    """Raw circular low-pass or high-pass filter of each channel (values not rescaled).

    The disc is symmetric about the zero frequency, so the filtered spectrum stays that of a
    real image and the real FFT (half the spectrum, half the work) gives the same result as
    masking the full centred spectrum.
    """
    if kind not in ("lowpass", "highpass"):
        raise ValueError(f"kind must be lowpass or highpass, not {kind!r}")
    if not diameter > 0:
        raise ValueError(f"the diameter must be positive, not {diameter}")
    x = _channels(image).astype(np.float64)
    height, width = x.shape[:2]
    inside = _half_spectrum_distance(height, width) <= diameter / 2.0
    keep = inside if kind == "lowpass" else ~inside
    spectrum = np.fft.rfft2(x, axes=(0, 1)) * keep[:, :, None]
    filtered: np.ndarray = np.fft.irfft2(spectrum, s=(height, width), axes=(0, 1))
    return filtered


def lowpass(image: np.ndarray, diameter: float) -> np.ndarray:
    return np.asarray(np.clip(fft_filter(image, diameter, "lowpass"), 0.0, 1.0), dtype=np.float32)


def highpass(image: np.ndarray, diameter: float) -> np.ndarray:
    return rescale(fft_filter(image, diameter, "highpass"))


def rescale(values: np.ndarray) -> np.ndarray:
    """Linear map of the whole image (all channels together) onto [0, 1]."""
    low, high = float(values.min()), float(values.max())
    if high - low <= 1e-12:
        return np.zeros(values.shape, np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def reduce_resolution(image: np.ndarray, size: int) -> np.ndarray:
    """Box-average each channel down to size x size, then bilinear back to (H, W)."""
    from PIL import Image

    if size < 1:
        raise ValueError(f"the resolution must be at least 1 pixel, not {size}")
    x = _channels(image).astype(np.float32)
    height, width = x.shape[:2]
    out = np.empty_like(x)
    for c in range(x.shape[2]):
        small = Image.fromarray(np.ascontiguousarray(x[:, :, c]), mode="F").resize((size, size), Image.Resampling.BOX)
        out[:, :, c] = np.asarray(small.resize((width, height), Image.Resampling.BILINEAR))
    return np.clip(out, 0.0, 1.0)


def gaussian_noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, not {sigma}")
    x = _channels(image).astype(np.float64)
    return np.clip(x + rng.normal(0.0, sigma, x.shape), 0.0, 1.0).astype(np.float32)


def image_rng(seed: int, image_id: str) -> np.random.Generator:
    """A random stream per image from (seed, image_id): independent of order and workers."""
    digest = int.from_bytes(hashlib.sha256(image_id.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng([seed, digest])


@dataclass(frozen=True)
class Perturbation:
    """One perturbation and its parameter: lowpass/highpass diameter, resolution, noise sigma."""

    kind: str
    value: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown perturbation {self.kind!r}; use one of {', '.join(KINDS)}")
        if self.kind == "noise" and not self.value >= 0:
            raise ValueError(f"noise sigma must be >= 0, not {self.value:g}")
        if self.kind != "noise" and not self.value > 0:
            raise ValueError(f"{self.kind} needs a positive value, not {self.value:g}")
        if self.kind == "resolution" and self.value != int(self.value):
            raise ValueError(f"resolution must be a whole number of pixels, not {self.value:g}")

    @property
    def name(self) -> str:
        """`lowpass_d50`, `highpass_d100`, `resolution_32`, `noise_s0.05`: a folder and a label."""
        prefix = {"lowpass": "lowpass_d", "highpass": "highpass_d", "resolution": "resolution_", "noise": "noise_s"}
        return f"{prefix[self.kind]}{self.value:g}"

    def apply(self, image: np.ndarray, image_id: str, seed: int) -> np.ndarray:
        """The perturbed image (H, W, C), float32 in [0, 1]."""
        if self.kind == "lowpass":
            return lowpass(image, self.value)
        if self.kind == "highpass":
            return highpass(image, self.value)
        if self.kind == "resolution":
            return reduce_resolution(image, int(self.value))
        return gaussian_noise(image, self.value, image_rng(seed, image_id))
