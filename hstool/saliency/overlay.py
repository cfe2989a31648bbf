"""Drawing a saliency map over its image: an RGB picture a reviewer reads at a glance.

The map is scaled by its own largest absolute value (so every overlay uses the full colour
range: compare where, not how much, between images); positive values (evidence for the
explained class) are red, negative ones blue, and the colour's opacity grows with the value
up to `ALPHA`, so the anatomy stays visible under the strongest spot. Grey images show as
grey; RGB images are shown in grey (ITU-R BT.601 luma) so the colours belong to the map alone.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

ALPHA = 0.65  # opacity of the colour at the map's largest absolute value
POSITIVE = np.array([1.0, 0.1, 0.0])  # red: hiding these pixels lowers the score
NEGATIVE = np.array([0.0, 0.4, 1.0])  # blue: hiding these pixels raises it
_LUMA = np.array([0.299, 0.587, 0.114])


def normalised(heat: np.ndarray) -> np.ndarray:
    """`heat / max |heat|` in float64 (a map of zeros stays zeros)."""
    heat = np.asarray(heat, dtype=np.float64)
    peak = float(np.abs(heat).max()) if heat.size else 0.0
    return heat / peak if peak > 0 else np.zeros_like(heat)


def grey_of(image: np.ndarray) -> np.ndarray:
    """(H, W) grey in [0, 1] from a (C, H, W) model input, C = 1 or 3."""
    image = np.asarray(image, dtype=np.float64)
    return image[0] if image.shape[0] == 1 else np.tensordot(_LUMA, image, axes=1)


def overlay(grey: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): `heat` (H, W) drawn over the grey image (H, W) in [0, 1]."""
    value = normalised(heat)
    alpha = (ALPHA * np.abs(value))[:, :, None]
    colour = np.where(value[:, :, None] >= 0, POSITIVE, NEGATIVE)
    rgb = (1 - alpha) * np.clip(grey, 0.0, 1.0)[:, :, None] + alpha * colour
    return np.asarray(np.clip(rgb, 0.0, 1.0) * 255 + 0.5, dtype=np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG with fixed settings and no metadata chunks: the same pixels give the same bytes."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()
