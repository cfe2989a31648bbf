"""Turning a decoded image into the model's input: channels, size, and (separately) normalisation.

`Preprocessing.apply` gives float32 (C, H, W) with values in [0, 1]: the `image` input of
model.onnx (docs/formats.md). Normalisation with mean/std is NOT part of `apply`: it lives
inside the ONNX graph, so every consumer of the model feeds the same [0, 1] pixels and cannot
forget or double it. `normalise` does the same arithmetic for PyTorch-side code (training).

Channel conversion: grey -> 3 channels repeats the plane; RGB -> grey is ITU-R BT.601 luma
(0.299 R + 0.587 G + 0.114 B, what Pillow's convert('L') uses). Resizing is Pillow's BILINEAR
filter on float32 planes: deterministic, and antialiased when shrinking (its support widens
with the scale factor, like torchvision's antialias=True), so 1024 px radiographs reduced to
28 px do not alias. Resize modes:

- `stretch`: scale each axis to (H, W), ignoring the aspect ratio;
- `pad`: keep the aspect ratio, fit inside (H, W), centre (an odd margin leaves its extra pixel at
  the bottom/right), and fill the borders with 0 (black);
- `crop`: keep the aspect ratio, cut the largest centred box of the target's shape (whole pixels),
  then resize it to (H, W).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Self, TypeVar, overload

import numpy as np

from hstool.data.images import DEFAULT_MAX_PIXELS, load_image
from hstool.errors import InputError, UsageError

if TYPE_CHECKING:  # Pillow is imported where an image is resized
    from PIL import Image as PILImage

RESIZE_MODES = ("stretch", "pad", "crop")
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# ONNX metadata_props keys (docs/formats.md, "model.onnx"); values are strings, JSON where structured.
_KEYS = ("hs.input_size", "hs.channels", "hs.resize", "hs.mean", "hs.std")


class TensorLike(Protocol):
    """What `Preprocessing.normalise` uses of a torch tensor: this room may not import torch
    (tests/core/test_import_rules.py), so the tensor is described by its methods."""

    @property
    def shape(self) -> tuple[int, ...]: ...
    def new_tensor(self, data: tuple[float, ...], /) -> Self: ...
    def reshape(self, shape: tuple[int, ...], /) -> Self: ...
    def __sub__(self, other: Self, /) -> Self: ...
    def __truediv__(self, other: Self, /) -> Self: ...


Tensor = TypeVar("Tensor", bound=TensorLike)


@dataclass(frozen=True)
class Preprocessing:
    """How images become model inputs. `mean`/`std` have one value per channel; left empty they
    default to 0 and 1 (no normalisation)."""

    size: tuple[int, int]  # (H, W)
    channels: int = 1
    resize: str = "stretch"
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        size = () if isinstance(self.size, (str, bytes)) else tuple(int(v) for v in self.size if int(v) == v)
        if len(size) != 2 or min(size) < 1:
            raise UsageError(
                f"input size {self.size!r}: expected two positive integers (height, width); see parse_size"
            )
        if self.channels not in (1, 3):
            raise UsageError(f"channels {self.channels!r}: must be 1 (grey) or 3 (RGB)")
        if self.resize not in RESIZE_MODES:
            raise UsageError(f"resize {self.resize!r}: choose one of {', '.join(RESIZE_MODES)}")
        mean = tuple(float(v) for v in self.mean) or (0.0,) * self.channels
        std = tuple(float(v) for v in self.std) or (1.0,) * self.channels
        if len(mean) != self.channels or len(std) != self.channels:
            raise UsageError(
                f"mean and std need {self.channels} value(s) each (one per channel), got {len(mean)} and {len(std)}"
            )
        if not all(np.isfinite(mean)) or not all(np.isfinite(s) and s > 0 for s in std):
            raise UsageError("mean must be finite and std positive")
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    def apply(self, image: np.ndarray) -> np.ndarray:
        """(H, W), (H, W, 1) or (H, W, 3) in [0, 1] -> float32 (channels, H, W) in [0, 1]."""
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3 or image.shape[2] not in (1, 3):
            raise ValueError(f"expected an image of shape (H, W[, 1 or 3]), got {image.shape}")
        # Convert to grey before resizing (one plane to resize, not three) and repeat grey after
        # (same reason); resizing is linear, so the order does not change the result.
        if image.shape[2] == 3 and self.channels == 1:
            image = (image @ _LUMA)[:, :, None]
        planes = [self._resize(image[:, :, c]) for c in range(image.shape[2])]
        if self.channels == 3 and len(planes) == 1:
            planes *= 3
        clipped: np.ndarray = np.clip(np.stack(planes), 0.0, 1.0)  # numpy's stubs type clip of an ndarray as Any
        return clipped

    @overload
    def normalise(self, batch: np.ndarray) -> np.ndarray: ...
    @overload
    def normalise(self, batch: Tensor) -> Tensor: ...
    def normalise(self, batch: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """(x - mean) / std per channel, for a (N, C, H, W) or (C, H, W) NumPy array or torch
        tensor (the same arithmetic model.onnx performs inside its graph)."""
        if batch.shape[-3] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s) on axis -3, got shape {tuple(batch.shape)}")
        shape = (self.channels, 1, 1)
        if isinstance(batch, np.ndarray):
            mean = np.asarray(self.mean, dtype=np.float32).reshape(shape)
            std = np.asarray(self.std, dtype=np.float32).reshape(shape)
            return (batch.astype(np.float32, copy=False) - mean) / std
        # A torch tensor, duck-typed so that this module never imports torch.
        return (batch - batch.new_tensor(self.mean).reshape(shape)) / batch.new_tensor(self.std).reshape(shape)

    def to_metadata(self) -> dict[str, str]:
        """The `hs.*` metadata_props of model.onnx that describe the input."""
        return {
            "hs.input_size": json.dumps(list(self.size)),
            "hs.channels": str(self.channels),
            "hs.resize": self.resize,
            "hs.mean": json.dumps(list(self.mean)),
            "hs.std": json.dumps(list(self.std)),
        }

    @classmethod
    def from_metadata(cls, props: dict[str, str], *, source: str = "model metadata") -> Preprocessing:
        """Inverse of to_metadata; InputError naming `source` when keys are missing or invalid."""
        missing = [k for k in _KEYS if k not in props]
        if missing:
            raise InputError(
                f"{source}: metadata lacks {', '.join(missing)}; the model was not exported by hs train "
                "(or by an older version): re-export it"
            )
        try:
            return cls(
                size=tuple(json.loads(props["hs.input_size"])),
                channels=int(props["hs.channels"]),
                resize=props["hs.resize"],
                mean=tuple(json.loads(props["hs.mean"])),
                std=tuple(json.loads(props["hs.std"])),
            )
        except (ValueError, TypeError, UsageError) as exc:
            raise InputError(f"{source}: invalid preprocessing metadata ({exc}); re-export the model") from None

    def _resize(self, plane: np.ndarray) -> np.ndarray:
        from PIL import Image

        height, width = self.size
        h, w = plane.shape
        im = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32))
        if self.resize == "stretch":
            return _as_array(im.resize((width, height), Image.Resampling.BILINEAR))
        if self.resize == "crop":
            # Cut the largest centred box with the target's aspect ratio (whole pixels; an odd
            # margin leaves its extra pixel at the bottom/right), then resize only what is kept.
            box_w = max(1, min(w, round(h * width / height)))
            box_h = max(1, min(h, round(w * height / width)))
            left, top = (w - box_w) // 2, (h - box_h) // 2
            im = im.crop((left, top, left + box_w, top + box_h))
            return _as_array(im.resize((width, height), Image.Resampling.BILINEAR))
        scale = min(height / h, width / w)
        new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
        canvas = np.zeros((height, width), dtype=np.float32)
        top, left = (height - new_h) // 2, (width - new_w) // 2
        canvas[top : top + new_h, left : left + new_w] = _as_array(im.resize((new_w, new_h), Image.Resampling.BILINEAR))
        return canvas


def _as_array(im: PILImage.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.float32)


def parse_size(text: str) -> tuple[int, int]:
    """'28' -> (28, 28); '224x192' or '224,192' -> (224, 192) as (H, W). For command options."""
    parts = text.lower().replace("x", ",").split(",")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) == 1:
        numbers *= 2
    if len(numbers) != 2 or min(numbers) < 1:
        raise UsageError(f"size {text!r}: expected N or HxW with positive integers, e.g. 28 or 224x224")
    return numbers[0], numbers[1]


def load_batch(
    paths: Sequence[str | Path], preprocessing: Preprocessing, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode and preprocess `paths` into float32 (N, C, H, W) in [0, 1]; raises ImageError."""
    height, width = preprocessing.size
    batch = np.empty((len(paths), preprocessing.channels, height, width), dtype=np.float32)
    for i, path in enumerate(paths):
        batch[i] = preprocessing.apply(load_image(path, max_pixels=max_pixels))
    return batch
