"""Decoding one image file into a float32 array (H, W, C) with values in [0, 1].

C is 1 (grey) or 3 (RGB). Supported: PNG and JPEG (8- and 16-bit; grey, grey+alpha, RGB, RGBA,
palette) via Pillow, DICOM via pydicom (see `hstool.data.dicom`), and NumPy `.npy`. The format
is recognised from the file's first bytes, so DICOM files without an extension work; the
extension only decides what a file that matches no signature is reported as.

Every failure is an `ImageError` with a one-line message `PATH: REASON; FIX`, where the reason is
one of: no such file, cannot read, corrupt, unsupported, too large. Messages never contain
DICOM tag values (patient data).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hstool.errors import InputError, first_line

if TYPE_CHECKING:  # Pillow is imported where an image is read
    from PIL import Image

# 8192 x 8192: far above any radiograph or mammogram (about 4k x 5k), far below what would
# exhaust memory (a float32 RGB copy of the cap is 805 MB). Callers may pass their own; for
# PNG/JPEG, Pillow's own hard limit (2 x Image.MAX_IMAGE_PIXELS, about 179 Mpx) still applies.
DEFAULT_MAX_PIXELS = 8192 * 8192

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".dcm", ".dicom", ".npy")

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"
_NPY_MAGIC = b"\x93NUMPY"


class ImageError(InputError):
    """An image file that cannot be turned into pixels: missing, unreadable, corrupt,
    unsupported or too large. The message names the file and the reason."""


def fail(path: str | Path, reason: str) -> ImageError:
    """The error for `path`; `reason` is 'corrupt: ...', 'unsupported: ...' and so on."""
    return ImageError(f"{path}: {reason}")


def check_pixels(path: str | Path, height: int, width: int, max_pixels: int) -> None:
    """Refuse an image whose header announces more pixels than `max_pixels` (before decoding,
    so a small compressed 'decompression bomb' cannot allocate gigabytes)."""
    if height * width > max_pixels:
        raise fail(
            path,
            f"too large: {width}x{height} = {height * width:,} pixels exceeds the limit of "
            f"{max_pixels:,}; downscale the image or raise the pixel limit",
        )


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode `path` into float32 (H, W, C), C = 1 or 3, values in [0, 1]. Raises ImageError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except FileNotFoundError:
        raise fail(path, "no such file; check the path (and the manifest's root)") from None
    except IsADirectoryError:
        raise fail(path, "is a folder, not an image file") from None
    except OSError as exc:
        raise fail(path, f"cannot read: {exc.strerror}") from None
    kind = _kind(path, head)
    if kind == "npy":
        image = _load_npy(path, max_pixels)
    elif kind == "dicom":
        from hstool.data.dicom import load_dicom  # pydicom is imported only for DICOM files

        image = load_dicom(path, max_pixels)
    else:
        image = _load_pillow(path, max_pixels)
    return np.ascontiguousarray(image, dtype=np.float32)


def _kind(path: Path, head: bytes) -> str:
    """'npy', 'dicom' or 'pillow', from the file's signature (then its extension)."""
    suffix = path.suffix.lower()
    if head.startswith(_NPY_MAGIC):
        return "npy"
    if head[128:132] == b"DICM":
        return "dicom"
    if head.startswith(_PNG_MAGIC) or head.startswith(_JPEG_MAGIC):
        return "pillow"
    if suffix in (".dcm", ".dicom"):
        # DICOM files written without the 128-byte preamble exist; let pydicom decide.
        return "dicom"
    if not head:
        raise fail(path, "corrupt: the file is empty")
    if suffix in IMAGE_EXTENSIONS:
        raise fail(path, f"corrupt: the content is not a {suffix[1:].upper()} file (wrong signature)")
    raise fail(path, "unsupported: not a PNG, JPEG, DICOM or .npy file; convert it to PNG")


def _load_npy(path: Path, max_pixels: int) -> np.ndarray:
    """A 2-D (H, W) or (H, W, C) array, C in {1, 3}.

    Unsigned integers are divided by their dtype's maximum (uint8 / 255, uint16 / 65535) and
    signed integers map their dtype's whole range linearly onto [0, 1], so no value is lost
    and the scale never depends on the image's content. Booleans give 0 and 1. Floats are read
    as intensities already on the [0, 1] scale that load_image returns (so saving its output
    round-trips exactly); values outside are clipped, as writing a PNG would. NaN and
    infinity are refused.
    """
    try:
        array = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise fail(path, f"corrupt: not a readable .npy array ({first_line(exc)})") from None
    shape = array.shape
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise fail(
            path,
            f"unsupported: array shape {shape}; expected (H, W), (H, W, 1) or (H, W, 3) (channels last)",
        )
    check_pixels(path, array.shape[0], array.shape[1], max_pixels)
    dtype = array.dtype
    try:
        values = np.asarray(array)
    except (ValueError, OSError) as exc:  # the header promised more data than the file holds
        raise fail(path, f"corrupt: {first_line(exc)}") from None
    if dtype == np.bool_:
        return values.astype(np.float32)
    if np.issubdtype(dtype, np.unsignedinteger):
        return values / np.float64(np.iinfo(dtype).max)
    if np.issubdtype(dtype, np.signedinteger):
        info = np.iinfo(dtype)
        return (values.astype(np.float64) - info.min) / (float(info.max) - info.min)
    if np.issubdtype(dtype, np.floating):
        if not np.isfinite(values).all():
            raise fail(path, "corrupt: the array holds NaN or infinite values")
        clipped: np.ndarray = np.clip(values, 0.0, 1.0)  # numpy's stubs type clip of an ndarray as Any
        return clipped
    raise fail(path, f"unsupported: dtype {dtype}; save integers or floats in [0, 1]")


# Pillow's grey modes and the value that maps to 1.0.
_GREY_MODES = {
    "1": 1,
    "L": 255,
    "I;16": 65535,
    "I;16B": 65535,
    "I;16L": 65535,
    # Pillow before 11 opens 16-bit grey PNGs as 32-bit 'I' holding 0..65535.
    "I": 65535,
}


def _load_pillow(path: Path, max_pixels: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Our own limit (check_pixels) is the one that counts; Pillow's warning for images
            # above its default limit would only duplicate or contradict it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.format not in ("PNG", "JPEG"):
                    raise fail(path, f"unsupported: {im.format} image; convert it to PNG")
                check_pixels(path, im.height, im.width, max_pixels)
                im.load()
                return _pillow_pixels(path, im)
    except Image.DecompressionBombError:
        raise fail(path, "too large: Pillow refuses it as a possible decompression bomb; downscale the image") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        # Truncated files, bad CRCs and broken headers all end here.
        raise fail(path, f"corrupt: {first_line(exc)}; re-export or re-download the file") from None


def _pillow_pixels(path: Path, im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in _GREY_MODES:
        return _scaled(np.asarray(im)[:, :, None], _GREY_MODES[mode])
    # Alpha is dropped, not composited: radiographs carry no meaningful transparency (an alpha
    # band in a medical PNG is an export artefact, usually constant), and blending over a
    # background colour would invent pixel values that were never acquired.
    if mode in ("LA", "La"):
        return _scaled(np.asarray(im)[:, :, :1], 255)
    if mode in ("P", "PA"):
        im = im.convert("RGBA" if mode == "PA" or "transparency" in im.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "RGBX", "RGBa"):
        im = im.convert("RGB")
    if im.mode in ("RGB", "RGBA"):
        return _scaled(np.asarray(im)[:, :, :3], 255)
    raise fail(path, f"unsupported: Pillow image mode {mode!r}; convert it to 8-bit grey or RGB PNG")


def _scaled(values: np.ndarray, maximum: int) -> np.ndarray:
    # Integer pixels (at most 16 bits) divided in float32 give exactly the float32 rounding of
    # the true quotient, at half the cost of float64 (np.asarray(im) itself is a cheap view).
    return values.astype(np.float32) / np.float32(maximum)
