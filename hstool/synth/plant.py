"""Planting synthetic findings into grey images (pure numpy): a chest-drain-like tube and a
low-contrast blob lesion. Used by `hs synth` (hstool.synth.run) to make hidden strata with a
known answer.

Images are float arrays (H, W) with values in [0, 1], 1 = white (radio-opaque). Both findings
brighten the image *relative to the local pixel*: a pixel of value v under coverage a becomes
`v + a * strength * (1 - v)`, i.e. it moves a fraction of the way towards white, as extra
attenuation does on a radiograph. The result never leaves [0, 1] and a finding over dark lung
shows more than one over the bright mediastinum, as on real films.

Coordinates are continuous, in pixels: the image covers [0, H] x [0, W] and pixel (i, j) has
its centre at (i + 0.5, j + 0.5). Geometry is drawn as fractions of the image size, so the
same random stream gives the same picture at any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Where a chest drain lies on a frontal film: it enters through the lateral chest wall
# (mid/lower chest, "safe triangle"), outside the body it runs to the edge of the image, and
# inside it is aimed up and medially towards the apex, as for a pneumothorax. Fractions of
# (height, width) for the patient's right side of the image; the left side mirrors x.
_DRAIN_START_Y = (0.55, 0.80)
_DRAIN_START_X = (-0.04, 0.04)  # at (or just beyond) the lateral edge of the image
_DRAIN_END_Y = (0.12, 0.30)
_DRAIN_END_X = (0.20, 0.36)
_DRAIN_BEND = (0.03, 0.15)  # control-point offset from the chord, fraction of the image size
_DRAIN_WIDTH = (0.050, 0.065)  # tube width, fraction of the image size (at least 1 pixel)
_DRAIN_STRENGTH = (0.85, 0.95)  # radio-opaque: close to white

# A lesion is an elliptical Gaussian opacity inside a lung field.
_LESION_Y = (0.25, 0.60)
_LESION_X = (0.18, 0.36)
_LESION_SIGMA = (0.08, 0.13)  # major-axis standard deviation, fraction of the image size
_LESION_ASPECT = (0.6, 1.0)  # minor / major


@dataclass(frozen=True)
class Drain:
    """A tube: a quadratic Bezier curve from `start` through `control` to `end` ((y, x) pixel
    coordinates), `width` pixels wide, brightening by `strength` (fraction of the way to white
    at full coverage). Wide tubes (about 5 pixels and more) show a less opaque lumen between
    two bright walls; at 28 x 28 pixels the tube is a solid, anti-aliased line."""

    start: tuple[float, float]
    control: tuple[float, float]
    end: tuple[float, float]
    width: float
    strength: float

    @classmethod
    def random(cls, rng: np.random.Generator, height: int, width: int) -> Drain:
        size = min(height, width)
        mirror = bool(rng.integers(2))  # enter from the image's right instead of its left

        def point(ys: tuple[float, float], xs: tuple[float, float]) -> tuple[float, float]:
            y, x = rng.uniform(*ys) * height, rng.uniform(*xs) * width
            return (y, width - x if mirror else x)

        start, end = point(_DRAIN_START_Y, _DRAIN_START_X), point(_DRAIN_END_Y, _DRAIN_END_X)
        chord = np.subtract(end, start)
        normal = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-9)
        bend = rng.uniform(*_DRAIN_BEND) * size * (1 if rng.integers(2) else -1)
        middle = np.add(start, end) / 2 + bend * normal
        return cls(
            start=start,
            control=(float(middle[0]), float(middle[1])),
            end=end,
            width=max(1.0, rng.uniform(*_DRAIN_WIDTH) * size),
            strength=float(rng.uniform(*_DRAIN_STRENGTH)),
        )

    def coverage(self, height: int, width: int) -> np.ndarray:
        """Opacity of the tube at each pixel, float64 (H, W) in [0, 1], anti-aliased: a pixel
        whose centre lies within the tube is covered, coverage falls linearly to 0 over one
        pixel across the edge."""
        distance = _distance_to_curve(self._polyline(), height, width)
        radius = self.width / 2
        walls = np.clip(radius + 0.5 - distance, 0.0, 1.0)
        lumen_radius = radius - max(1.0, self.width / 4)
        if lumen_radius <= 0.5:
            return walls
        return walls - 0.35 * np.clip(lumen_radius + 0.5 - distance, 0.0, 1.0)

    def apply(self, image: np.ndarray) -> np.ndarray:
        return brighten(image, self.coverage(*image.shape), self.strength)

    def _polyline(self) -> np.ndarray:
        p0, p1, p2 = (np.asarray(p, dtype=np.float64) for p in (self.start, self.control, self.end))
        length = np.hypot(*(p1 - p0)) + np.hypot(*(p2 - p1))  # bounds the curve's length
        t = np.linspace(0.0, 1.0, max(16, int(np.ceil(length)) + 1))[:, None]
        return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


@dataclass(frozen=True)
class Lesion:
    """An elliptical Gaussian opacity centred at `centre` ((y, x) pixels), standard deviations
    `sigma` (major, minor) in pixels, major axis at `angle` radians from the x axis, brightening
    by `contrast` at its centre (fraction of the way to white)."""

    centre: tuple[float, float]
    sigma: tuple[float, float]
    angle: float
    contrast: float

    @classmethod
    def random(cls, rng: np.random.Generator, height: int, width: int, contrast: float) -> Lesion:
        size = min(height, width)
        mirror = bool(rng.integers(2))
        y = rng.uniform(*_LESION_Y) * height
        x = rng.uniform(*_LESION_X) * width
        major = rng.uniform(*_LESION_SIGMA) * size
        return cls(
            centre=(float(y), float(width - x if mirror else x)),
            sigma=(float(major), float(major * rng.uniform(*_LESION_ASPECT))),
            angle=float(rng.uniform(0.0, np.pi)),
            contrast=float(contrast),
        )

    def coverage(self, height: int, width: int) -> np.ndarray:
        """The Gaussian profile, 1 at the centre, float64 (H, W)."""
        y, x = _pixel_centres(height, width)
        dy, dx = y - self.centre[0], x - self.centre[1]
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        u, v = dx * cos + dy * sin, -dx * sin + dy * cos
        profile: np.ndarray = np.exp(-0.5 * ((u / self.sigma[0]) ** 2 + (v / self.sigma[1]) ** 2))
        return profile

    def apply(self, image: np.ndarray) -> np.ndarray:
        return brighten(image, self.coverage(*image.shape), self.contrast)


def brighten(image: np.ndarray, coverage: np.ndarray, strength: float) -> np.ndarray:
    """`v + coverage * strength * (1 - v)`: each pixel moves towards white by a fraction of its
    own headroom, so the result stays in [0, 1] (float64)."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2:
        raise ValueError(f"expected a grey image (H, W), got shape {image.shape}")
    return image + coverage * strength * (1.0 - image)


def _pixel_centres(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return (np.arange(height, dtype=np.float64)[:, None] + 0.5, np.arange(width, dtype=np.float64)[None, :] + 0.5)


def _distance_to_curve(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Distance from every pixel centre to the polyline through `points` ((K, 2) as (y, x)).
    Segments are handled in blocks of (segments x pixels) of about a million values, so a small
    image takes one vectorised step and a large one stays within a few tens of MB."""
    y, x = (c.reshape(1, -1) for c in np.broadcast_arrays(*_pixel_centres(height, width)))
    a, d = points[:-1], np.diff(points, axis=0)
    length2 = np.maximum((d**2).sum(axis=1), 1e-12)[:, None]
    best = np.full(height * width, np.inf)
    step = max(1, 1_000_000 // (height * width))
    for i in range(0, len(d), step):
        ay, ax, dy, dx = a[i : i + step, :1], a[i : i + step, 1:], d[i : i + step, :1], d[i : i + step, 1:]
        t = np.clip(((y - ay) * dy + (x - ax) * dx) / length2[i : i + step], 0.0, 1.0)
        np.minimum(best, np.hypot(y - (ay + t * dy), x - (ax + t * dx)).min(axis=0), out=best)
    return best.reshape(height, width)
