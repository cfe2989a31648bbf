"""Training-time augmentation for radiographs: a small random rotation, translation and zoom
(one affine warp per image, bilinear, borders filled with 0 = black), horizontal flips only
when asked (left and right are not interchangeable on a chest X-ray: the heart is on the left).

The parameters of image i in epoch e are a function of (seed, epoch, i) only, drawn for the
whole training set at the start of the epoch: the result does not depend on batch order,
worker processes or how many GPUs share the work, and a resumed run replays it exactly. The
warp runs on the batch, on the training device (one `affine_grid` + `grid_sample` call).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

_SALT = 0xA06


@dataclass(frozen=True)
class Augmentation:
    rotation: float = 10.0  # degrees, uniform in [-rotation, rotation]
    translation: float = 0.05  # fraction of the width/height, uniform in [-t, t] on each axis
    zoom: float = 0.1  # scale uniform in [1 - zoom, 1 + zoom]
    hflip: bool = False

    def epoch_parameters(self, n: int, *, seed: int, epoch: int) -> torch.Tensor:
        """(n, 5) float64: angle (radians), shift x, shift y (fractions), scale, flip (0/1)."""
        rng = np.random.default_rng([seed, _SALT, epoch])
        u = rng.uniform(-1.0, 1.0, size=(n, 4))
        flip = (rng.random(n) < 0.5) if self.hflip else np.zeros(n, dtype=bool)
        return torch.from_numpy(
            np.column_stack(
                [
                    u[:, 0] * math.radians(self.rotation),
                    u[:, 1] * self.translation,
                    u[:, 2] * self.translation,
                    1.0 + u[:, 3] * self.zoom,
                    flip.astype(np.float64),
                ]
            )
        )

    def apply(self, images: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Warp a float batch (N, C, H, W) with the rows of `params` that belong to it."""
        return F.grid_sample(
            images, self._grid(params, images), mode="bilinear", padding_mode="zeros", align_corners=False
        )

    @staticmethod
    def _grid(params: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        # The output pixel p (centred pixel coordinates) samples the input at
        # A^-1 (p - shift), with A = scale * rotation (then a mirror when flipped). affine_grid
        # works in coordinates normalised to [-1, 1] per axis, so for a non-square image the
        # off-diagonal terms are rescaled by the aspect ratio (else rotations would shear).
        n, _, h, w = images.shape
        angle, sx, sy, scale, flip = params.to(torch.float64).unbind(1)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        mirror = 1.0 - 2.0 * flip
        a00, a01, a10, a11 = cos * mirror, sin, -sin * mirror, cos
        theta = torch.stack(
            [
                torch.stack([a00, a01 * h / w, -(a00 * sx * 2 + a01 * sy * 2 * h / w)], 1),
                torch.stack([a10 * w / h, a11, -(a10 * sx * 2 * w / h + a11 * sy * 2)], 1),
            ],
            1,
        )
        return F.affine_grid(theta.to(images.dtype).to(images.device), [n, 1, h, w], align_corners=False)
