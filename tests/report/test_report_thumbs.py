"""Thumbnails from image arrays: format, size, pixels, and what cannot be encoded."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from hstool.report.thumbs import thumbnail


def decode(uri: str) -> tuple[str, Image.Image]:
    head, data = uri.split(",", 1)
    assert head.startswith("data:image/") and head.endswith(";base64")
    picture = Image.open(io.BytesIO(base64.b64decode(data)))
    picture.load()
    return head[5:-7], picture


def test_small_grey_image_keeps_its_exact_pixels_as_png():
    image = (np.arange(28 * 28, dtype=np.float32).reshape(28, 28, 1) % 256) / 255.0
    thumb = thumbnail(image, 128)
    mime, picture = decode(thumb.uri)
    assert mime == "image/png" and (thumb.width, thumb.height) == (28, 28)
    assert np.array_equal(np.asarray(picture), (image[:, :, 0] * 255 + 0.5).astype(np.uint8))
    assert picture.info.get("dpi") is None and not picture.text  # pixels only, no metadata chunks


def test_large_rgb_image_is_downscaled_to_the_box_as_jpeg():
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(0.5, 0.1, (600, 300, 3)), 0, 1).astype(np.float32)
    image[:300, :, 0] = 1.0  # top half reddish: the downscaled thumbnail keeps it
    thumb = thumbnail(image, 128)
    mime, picture = decode(thumb.uri)
    assert mime == "image/jpeg" and picture.mode == "RGB"
    assert (thumb.width, thumb.height) == (64, 128) == picture.size
    pixels = np.asarray(picture, dtype=float)
    assert pixels[:64, :, 0].mean() > 230 and pixels[64:, :, 0].mean() < 170
    assert "exif" not in picture.info


def test_values_outside_the_unit_range_are_clipped():
    thumb = thumbnail(np.array([[[-1.0], [2.0]], [[np.nan], [0.5]]], dtype=np.float32), 64)
    _, picture = decode(thumb.uri)
    assert np.asarray(picture).tolist() == [[0, 255], [0, 128]]


@pytest.mark.parametrize("shape", [(4, 4, 2), (4,), (0, 4, 1), (2, 2, 2, 2)])
def test_unexpected_shapes_become_placeholders(shape):
    thumb = thumbnail(np.zeros(shape, np.float32), 64)
    assert thumb.uri is None and "unexpected image shape" in thumb.reason


def test_an_image_reduced_to_exactly_the_box_is_still_stored_as_jpeg():
    thumb = thumbnail(np.full((512, 256, 1), 0.5, np.float32), 128)  # reduced by 4 to exactly 128 x 64
    mime, picture = decode(thumb.uri)
    assert mime == "image/jpeg" and picture.size == (64, 128)
    assert np.abs(np.asarray(picture, float) - 128).max() <= 1
