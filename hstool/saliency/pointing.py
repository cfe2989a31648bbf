"""Scoring a saliency map against a known region (a planted shortcut's mask, hstool.synth.regions).

- **Pointing game** (Zhang et al., ECCV 2016): does the map's maximum fall inside the region?
  Occlusion maps are patch averages and often have plateaus of equal maxima, so the hit is the
  share of the maximal pixels that lie inside (1 or 0 when the maximum is unique): the expected
  hit of a pointer that picks one of the tied maxima at random.
- **Mass share**: the share of the map's positive mass (values above 0, the evidence for the
  explained class) that lies inside the region; undefined (NaN) when the map has no positive mass.

The chance level of both, for a map that knows nothing of the region, is the region's share of
the image: a uniformly random pointer hits it that often, and a flat map puts that share of its
mass there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class RegionScore:
    hit: float  # pointing game, in [0, 1]
    mass: float  # share of positive mass inside, in [0, 1], NaN without positive mass
    chance: float  # the region's share of the image


def fit_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The mask at the map's geometry (nearest neighbour when the model resized the image)."""
    mask = np.asarray(mask, dtype=bool)
    if mask.shape == shape:
        return mask
    image = Image.fromarray(mask.astype(np.uint8) * 255).resize((shape[1], shape[0]), Image.Resampling.NEAREST)
    return np.asarray(image) > 127


def score_region(heat: np.ndarray, mask: np.ndarray) -> RegionScore:
    """Pointing game, mass share and chance for one map and its region's mask."""
    heat = np.asarray(heat, dtype=np.float64)
    inside = fit_mask(mask, heat.shape)
    peak = heat == heat.max()
    positive = np.clip(heat, 0.0, None)
    total = float(positive.sum())
    return RegionScore(
        hit=float(inside[peak].mean()),
        mass=float(positive[inside].sum() / total) if total > 0 else float("nan"),
        chance=float(inside.mean()),
    )
