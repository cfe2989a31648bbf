"""load_image on PNG/JPEG/.npy: real fixtures, files written here with known values, bad files."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from hstool.data.images import ImageError, load_image
from hstool.errors import InputError

GREY_PNG = "00000001_000.png"
RGB_JPEG = "16747_3_1.jpg"
RGB_PNG = "tbx11k_h0001.png"


def pillow_array(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def test_grey_png_fixture_is_pixels_over_255(data_dir):
    path = data_dir / "xray-fixtures" / GREY_PNG
    image = load_image(path)
    assert image.shape == (512, 512, 1) and image.dtype == np.float32 and image.flags.c_contiguous
    np.testing.assert_array_equal(image[:, :, 0], (pillow_array(path) / 255).astype(np.float32))


def test_rgb_jpeg_fixture(data_dir):
    path = data_dir / "xray-fixtures" / RGB_JPEG
    image = load_image(path)
    assert image.shape == (885, 1036, 3)
    np.testing.assert_array_equal(image, (pillow_array(path) / 255).astype(np.float32))


def test_rgba_png_drops_alpha(data_dir, tmp_path):
    rgb = pillow_array(data_dir / "xray-fixtures" / RGB_PNG)
    alpha = np.random.default_rng(0).integers(0, 256, rgb.shape[:2], dtype=np.uint8)
    Image.fromarray(np.dstack([rgb, alpha]), mode="RGBA").save(tmp_path / "rgba.png")
    image = load_image(tmp_path / "rgba.png")
    assert image.shape == (512, 512, 3)
    np.testing.assert_array_equal(image, (rgb / 255).astype(np.float32))


def test_grey_alpha_palette_and_bilevel_png(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(np.dstack([grey, np.full_like(grey, 7)]), mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(load_image(tmp_path / "la.png")[:, :, 0], (grey / 255).astype(np.float32))

    colours = np.random.default_rng(1).integers(0, 256, (6, 8, 3), dtype=np.uint8)
    palette = Image.fromarray(colours).quantize(colors=16)
    palette.save(tmp_path / "p.png")
    expected = np.asarray(palette.convert("RGB")) / 255
    np.testing.assert_array_equal(load_image(tmp_path / "p.png"), expected.astype(np.float32))

    Image.fromarray(grey > 100).save(tmp_path / "bits.png")
    np.testing.assert_array_equal(load_image(tmp_path / "bits.png")[:, :, 0], (grey > 100).astype(np.float32))


def test_16_bit_png_scaled_by_65535_exactly(tmp_path):
    values = np.array([[0, 1, 255, 256], [32768, 40000, 65534, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    image = load_image(tmp_path / "deep.png")
    assert image.shape == (2, 4, 1)
    np.testing.assert_array_equal(image[:, :, 0], (values / 65535).astype(np.float32))
    assert image[0, 0, 0] == 0.0 and image[1, 3, 0] == 1.0


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, st.tuples(st.integers(1, 12), st.integers(1, 12), st.sampled_from([1, 3]))))
def test_png_round_trip_property(tmp_path_factory, pixels):
    path = tmp_path_factory.mktemp("png") / "x.png"
    Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(path)
    np.testing.assert_array_equal(load_image(path), (pixels / 255).astype(np.float32))


def test_npy_integer_float_and_bool_scaling(tmp_path):
    cases = {
        "u8": (np.array([[0, 128, 255]], np.uint8), np.array([[0, 128 / 255, 1]])),
        "u16": (np.array([[0, 4095, 65535]], np.uint16), np.array([[0, 4095 / 65535, 1]])),
        "i16": (np.array([[-32768, 0, 32767]], np.int16), np.array([[0, 32768 / 65535, 1]])),
        "f32": (np.array([[-0.5, 0.25, 1.5]], np.float32), np.array([[0, 0.25, 1]])),
        "bool": (np.array([[True, False, True]]), np.array([[1, 0, 1]])),
    }
    for name, (array, expected) in cases.items():
        np.save(tmp_path / f"{name}.npy", array)
        image = load_image(tmp_path / f"{name}.npy")
        assert image.shape == (1, 3, 1), name
        np.testing.assert_array_equal(image[:, :, 0], expected.astype(np.float32), err_msg=name)


def test_npy_rgb_and_float_round_trip(tmp_path):
    rgb = np.random.default_rng(2).random((5, 7, 3), dtype=np.float32)
    np.save(tmp_path / "rgb.npy", rgb)
    np.testing.assert_array_equal(load_image(tmp_path / "rgb.npy"), rgb)


@pytest.mark.parametrize(
    "array, reason",
    [
        (np.zeros((3, 4, 5), np.uint8), "unsupported: array shape (3, 4, 5)"),
        (np.zeros((2, 2, 4), np.uint8), "unsupported: array shape (2, 2, 4)"),
        (np.array([[np.nan, 0.0]]), "NaN or infinite"),
        (np.zeros((2, 2), np.complex64), "unsupported: dtype complex64"),
    ],
)
def test_npy_refused(tmp_path, array, reason):
    np.save(tmp_path / "a.npy", array)
    with pytest.raises(ImageError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        load_image(tmp_path / "a.npy")


def test_truncated_npy_is_corrupt(tmp_path):
    np.save(tmp_path / "full.npy", np.zeros((64, 64), np.uint16))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "full.npy").read_bytes()[:-100])
    with pytest.raises(ImageError, match=r"cut\.npy: corrupt"):
        load_image(tmp_path / "cut.npy")


def test_npy_object_array_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ImageError, match="corrupt"):
        load_image(tmp_path / "obj.npy")


def test_missing_folder_and_empty_files(tmp_path):
    with pytest.raises(ImageError, match=r"nope\.png: no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        load_image(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError, match="empty.png: corrupt: the file is empty"):
        load_image(tmp_path / "empty.png")


def test_garbage_with_image_extension_is_corrupt_and_unknown_is_unsupported(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(ImageError, match=r"junk\.png: corrupt: the content is not a PNG file") as info:
        load_image(tmp_path / "junk.png")
    assert isinstance(info.value, InputError) and "\n" not in str(info.value)
    (tmp_path / "notes.txt").write_bytes(b"hello")
    with pytest.raises(ImageError, match="unsupported: not a PNG, JPEG, DICOM or .npy"):
        load_image(tmp_path / "notes.txt")


def test_other_pillow_formats_are_unsupported(tmp_path):
    Image.new("L", (4, 4)).save(tmp_path / "a.gif")
    Image.new("L", (4, 4)).save(tmp_path / "b.png.bmp", format="BMP")
    for name in ("a.gif", "b.png.bmp"):
        with pytest.raises(ImageError, match="unsupported"):
            load_image(tmp_path / name)


def test_truncated_png_and_jpeg_are_corrupt(data_dir, tmp_path):
    for name in (GREY_PNG, RGB_JPEG):
        data = (data_dir / "xray-fixtures" / name).read_bytes()
        cut = tmp_path / f"cut{Path(name).suffix}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(ImageError, match=rf"cut{Path(name).suffix}: corrupt: .*re-export"):
            load_image(cut)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header announces width x height grey pixels, with almost no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_refused_before_decoding(tmp_path):
    # 10^8 pixels announced in 100 bytes: above hs's default cap (8192^2), below Pillow's own.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(10_000, 10_000))
    assert bomb.stat().st_size < 200
    with pytest.raises(
        ImageError, match=r"bomb\.png: too large: 10000x10000 = 100,000,000 pixels exceeds the limit of 67,108,864"
    ):
        load_image(bomb)
    # 10^10 pixels: Pillow refuses it itself while reading the header; still an ImageError.
    bomb.write_bytes(_png_header_only(100_000, 100_000))
    with pytest.raises(ImageError, match=r"bomb\.png: too large: Pillow refuses it"):
        load_image(bomb, max_pixels=10**11)


def test_pixel_cap_is_configurable(tmp_path):
    Image.new("L", (40, 30)).save(tmp_path / "small.png")
    np.save(tmp_path / "small.npy", np.zeros((30, 40), np.uint8))
    for name in ("small.png", "small.npy"):
        assert load_image(tmp_path / name, max_pixels=1200).shape == (30, 40, 1)
        with pytest.raises(ImageError, match="too large: 40x30 = 1,200 pixels exceeds the limit of 1,199"):
            load_image(tmp_path / name, max_pixels=1199)
