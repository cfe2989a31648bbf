"""Occlusion sensitivity (Zeiler & Fergus, ECCV 2014), model-agnostic: slide a square patch
over the image, fill it, and record how much the probability of the explained class drops.

The map of an image x for class c is, at each pixel, the mean over the patches that cover it
of `p_c(x) - p_c(x with the patch filled)` (or the same drop in log-odds,
`log p_c - log(1 - p_c)`): positive where hiding the pixels lowers the score
(evidence for c), negative where hiding them raises it. The patches' top-left corners run
from 0 in steps of `stride` (at most the patch) on each axis, plus a last one flush with the
far edge, so every pixel is covered at least once.

Speed: occlusion costs one forward pass per patch. Every occluded copy of every image is a row
of one flat sequence, cut into model calls of `batch` copies (patches of several images share
a call), so at 28 x 28 the 169 default patches of an image take about ten calls, not 169.
Copies are built from the patch boxes on the fly: no (patches x H x W) mask array is ever held.
Bigger is not always faster: on a CPU, large calls ran slower (the activations leave the cache);
benchmarks/saliency_speed.py measures it, and hstool.saliency.run picks the default call size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hstool.errors import UsageError

FILL_MEAN = "mean"
PROBABILITY, LOG_ODDS = "probability", "log-odds"
SCALES = (PROBABILITY, LOG_ODDS)
_TINY = 1e-300  # floor before a log: a probability of exactly 0 gives a large finite log-odds, not -inf
Model = Callable[[np.ndarray], np.ndarray]  # images (N, C, H, W) in [0, 1] -> probabilities (N, K)


@dataclass(frozen=True)
class Occlusion:
    """Patch side and stride in pixels of the model's input; `fill` is a grey value in [0, 1]
    or `mean` (each image's own mean, per channel: the patch hides detail, not brightness);
    `scale`: the drop is measured in probability, or in log-odds (which a confident score near 0
    or 1 does not flatten: the sigmoid saturates, the logit does not)."""

    patch: int
    stride: int
    fill: str | float = FILL_MEAN
    scale: str = PROBABILITY

    def __post_init__(self) -> None:
        if self.patch < 1 or self.stride < 1:
            raise UsageError(f"patch {self.patch} and stride {self.stride}: both must be 1 pixel or more")
        if self.stride > self.patch:
            raise UsageError(
                f"stride {self.stride} is larger than the patch ({self.patch}): pixels between patches would get no "
                "value; use a stride of at most the patch"
            )
        if self.fill != FILL_MEAN and not (isinstance(self.fill, float) and 0.0 <= self.fill <= 1.0):
            raise UsageError(f"fill {self.fill!r}: use 'mean' or a grey value in [0, 1]")
        if self.scale not in SCALES:
            raise UsageError(f"scale {self.scale!r}: use {' or '.join(SCALES)}")

    def grid(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-left corners (ys, xs), one entry per patch, rows first."""
        if self.patch > min(height, width):
            raise UsageError(
                f"patch {self.patch} is larger than the model's input ({height}x{width}); use a patch of at most "
                f"{min(height, width)} pixels"
            )
        ys, xs = _starts(height, self.patch, self.stride), _starts(width, self.patch, self.stride)
        grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
        return grid_y.ravel(), grid_x.ravel()

    def fill_values(self, images: np.ndarray) -> np.ndarray:
        """(N, C) fill value per image and channel."""
        if self.fill == FILL_MEAN:
            return np.asarray(images.mean(axis=(2, 3), dtype=np.float64), dtype=np.float32)
        return np.full(images.shape[:2], self.fill, dtype=np.float32)

    def describe(self) -> dict[str, object]:
        return {"patch": self.patch, "stride": self.stride, "fill": self.fill, "scale": self.scale}


def parse_fill(text: str) -> str | float:
    """'mean' or a grey value in [0, 1], from option text."""
    if text.strip().lower() == FILL_MEAN:
        return FILL_MEAN
    try:
        return float(text)
    except ValueError:
        raise UsageError(f"fill {text!r}: use 'mean' or a grey value in [0, 1], e.g. 0 for black") from None


def _starts(size: int, patch: int, stride: int) -> np.ndarray:
    starts = list(range(0, size - patch + 1, stride))
    if starts[-1] != size - patch:  # a last patch flush with the edge, so no pixel is missed
        starts.append(size - patch)
    return np.asarray(starts, dtype=np.int64)


def occlusion_maps(
    model: Model,
    images: np.ndarray,
    targets: np.ndarray,
    occlusion: Occlusion,
    *,
    batch: int,
    probs: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(maps (N, H, W) float32, scores (N,): the unoccluded probability of each target class)
    for images (N, C, H, W) in [0, 1] and target class indices (N,); at most `batch` copies per
    model call. The drop is measured on the occlusion's `scale` (probability or log-odds).
    `probs`: the model's probabilities for the unoccluded images, when the caller has them."""
    n, _, height, width = images.shape
    ys, xs = occlusion.grid(height, width)
    n_patches = len(ys)
    fills = occlusion.fill_values(images)
    rows = np.arange(n)
    if probs is None:
        probs = np.concatenate([_call(model, images[s : s + batch]) for s in range(0, n, batch)])
    else:
        probs = np.asarray(probs, dtype=np.float64)
    base = _on_scale(probs, targets, occlusion.scale)
    drops = np.empty(n * n_patches, dtype=np.float64)
    for start in range(0, n * n_patches, batch):
        flat = np.arange(start, min(start + batch, n * n_patches))
        image, patch = flat // n_patches, flat % n_patches
        inside = _inside(ys[patch], xs[patch], occlusion.patch, height, width)  # (B, H, W)
        copies = np.where(inside[:, None], fills[image][:, :, None, None], images[image])
        drops[flat] = base[image] - _on_scale(_call(model, copies), targets[image], occlusion.scale)
    return _average(drops.reshape(n, n_patches), ys, xs, occlusion.patch, height, width), probs[rows, targets]


def _on_scale(probs: np.ndarray, targets: np.ndarray, scale: str) -> np.ndarray:
    """The target class's probability, or its log-odds log(p_t) - log(sum of the others): from
    the probability columns themselves, so a binary model's [1 - p, p] (each computed by the
    model without cancellation) keeps its precision where p is within float32 rounding of 1."""
    chosen = probs[np.arange(len(probs)), targets]
    if scale == PROBABILITY:
        return np.asarray(chosen)
    others = probs.sum(axis=1) - chosen if probs.shape[1] > 2 else probs[np.arange(len(probs)), 1 - targets]
    return np.asarray(np.log(np.maximum(chosen, _TINY)) - np.log(np.maximum(others, _TINY)))


def _call(model: Model, batch: np.ndarray) -> np.ndarray:
    return np.asarray(model(np.ascontiguousarray(batch, dtype=np.float32)), dtype=np.float64)


def _membership(starts: np.ndarray, patch: int, size: int) -> np.ndarray:
    """(patches, size) bool: which rows (or columns) each patch covers."""
    axis = np.arange(size)[None, :]
    return (axis >= starts[:, None]) & (axis < starts[:, None] + patch)


def _inside(ys: np.ndarray, xs: np.ndarray, patch: int, height: int, width: int) -> np.ndarray:
    """(patches, H, W) bool: the pixels each patch hides."""
    return np.asarray(_membership(ys, patch, height)[:, :, None] & _membership(xs, patch, width)[:, None, :])


def _average(drops: np.ndarray, ys: np.ndarray, xs: np.ndarray, patch: int, height: int, width: int) -> np.ndarray:
    """Per pixel, the mean drop over the patches covering it: with R (patches x H) and
    C (patches x W) the row and column memberships, sum = R^T diag(d) C and count = R^T C."""
    rows = _membership(ys, patch, height).astype(np.float64)
    cols = _membership(xs, patch, width).astype(np.float64)
    total = np.einsum("ph,np,pw->nhw", rows, drops, cols)
    return np.asarray(total / (rows.T @ cols), dtype=np.float32)
