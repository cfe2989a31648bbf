"""DICOM pixels to display intensities in [0, 1], following the DICOM grey-scale pipeline.

1. Decode the stored values (pydicom; compressed transfer syntaxes through its plugins: JPEG
   Baseline/Extended and JPEG 2000 go through Pillow, which hs already needs; JPEG Lossless,
   JPEG-LS and HTJ2K need the optional pylibjpeg plugins).
2. Modality LUT: Rescale Slope/Intercept (or a Modality LUT Sequence) turns stored values into
   physical units (e.g. Hounsfield units).
3. VOI LUT: a VOI LUT Sequence when present (preferred, as DICOM viewers do), else Window
   Centre/Width (LINEAR, LINEAR_EXACT or SIGMOID), which is the contrast the acquiring
   site chose for reading. The output is scaled by the VOI's own output range: for a window,
   its [y_min, y_max]; for a LUT, the smallest and largest entries of the table (descriptors
   often claim 16 bits for tables that stop at 4095, and the nominal range would make such
   images nearly black).
4. Without a VOI, the whole range the stored values can take (Bits Stored, signed or not,
   through the modality LUT) maps onto [0, 1]: the scale is the same for every image of a
   series and does not depend on the image's content, and an 8-bit DICOM gives exactly the
   values of the same pixels saved as an 8-bit PNG.
5. MONOCHROME1 (minimum value shown white) is inverted so that, as for MONOCHROME2, 1 is
   white. Presentation LUT Shape is not applied: for MONOCHROME1 it is INVERSE by definition,
   which is the inversion above.

Colour DICOM (RGB, or YBR converted to RGB by pydicom) is scaled by Bits Stored. Multi-frame
images and PALETTE COLOR are refused. No message ever contains a tag value: tags hold
patient data.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hstool.data.images import check_pixels, fail

if TYPE_CHECKING:  # pydicom is imported where a DICOM is read
    from pydicom.dataset import Dataset

_GREY = ("MONOCHROME1", "MONOCHROME2")
_COLOUR = ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT", "YBR_PARTIAL_420")


def load_dicom(path: Path, max_pixels: int) -> np.ndarray:
    """float64 (H, W, C) in [0, 1] from a single-frame DICOM file; raises ImageError."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise fail(path, "corrupt: not a DICOM file (no DICM marker); check the file") from None
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise fail(path, f"corrupt: cannot parse the DICOM header ({type(exc).__name__})") from None
    if "PixelData" not in ds:
        raise fail(path, "unsupported: the DICOM file has no (integer) pixel data; is it an image?")
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        photometric = str(ds.PhotometricInterpretation).strip().upper()
        bits = int(ds.BitsStored)
        signed = int(ds.get("PixelRepresentation", 0)) == 1
    except (AttributeError, TypeError, ValueError):
        raise fail(
            path, "corrupt: the DICOM header lacks Rows, Columns, Bits Stored or Photometric Interpretation"
        ) from None
    if frames > 1:
        raise fail(path, f"unsupported: multi-frame DICOM ({frames} frames); export the frame to use as its own file")
    check_pixels(path, rows, columns, max_pixels)
    if photometric not in _GREY + _COLOUR:
        raise fail(path, f"unsupported: photometric interpretation {photometric}; convert the image to grey or RGB")
    stored = _decode(path, ds)
    if photometric in _COLOUR:
        top: int = 2**bits - 1  # typeshed types int ** int as Any (a negative power is a float)
        return stored.astype(np.float64) / top
    image = _grey(path, ds, stored, bits, signed)
    if photometric == "MONOCHROME1":
        image = 1.0 - image
    return image[:, :, None]


def _decode(path: Path, ds: Dataset) -> np.ndarray:
    syntax = ds.file_meta.get("TransferSyntaxUID")
    name = getattr(syntax, "name", str(syntax))
    try:
        return ds.pixel_array
    except (NotImplementedError, RuntimeError, ImportError) as exc:
        # pydicom says 'all plugins are missing dependencies' when nothing installed can decode
        # the transfer syntax; any other failure means the data itself is bad.
        if "missing dependencies" in str(exc) or isinstance(exc, (NotImplementedError, ImportError)):
            raise fail(
                path,
                f"unsupported: no decoder for the transfer syntax {name}; pip install pylibjpeg "
                "pylibjpeg-libjpeg pylibjpeg-openjpeg, or decompress the file (e.g. dcmdjpeg)",
            ) from None
        raise fail(path, f"corrupt: the {name} pixel data cannot be decoded ({type(exc).__name__})") from None
    except (ValueError, OSError, EOFError, TypeError, AttributeError, KeyError) as exc:
        raise fail(path, f"corrupt: the {name} pixel data cannot be decoded ({type(exc).__name__})") from None


def _grey(path: Path, ds: Dataset, stored: np.ndarray, bits: int, signed: bool) -> np.ndarray:
    from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing

    try:
        values = apply_modality_lut(stored, ds)
        if _has_voi_lut(ds):
            descriptor = ds.VOILUTSequence[0].LUTDescriptor
            entries = int(descriptor[0]) or 2**16
            first = int(descriptor[1])
            out = apply_voi(np.rint(values).astype(np.int64), ds)
            table = apply_voi(np.arange(first, first + entries, dtype=np.int64), ds)
            low, high = float(table.min()), float(table.max())
        elif "WindowCenter" in ds and "WindowWidth" in ds:
            out = apply_windowing(values, ds)
            # A window sends everything below it to y_min and above it to y_max; probing with
            # -inf and +inf reads that output range from pydicom instead of re-deriving it.
            low, high = apply_windowing(np.array([-np.inf, np.inf]), ds)
        else:
            out = values
            extremes = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
            low, high = sorted(float(v) for v in apply_modality_lut(np.array(extremes), ds))
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, NotImplementedError) as exc:
        raise fail(path, f"corrupt: invalid modality or VOI LUT / window attributes ({type(exc).__name__})") from None
    if high == low:
        raise fail(path, "corrupt: the VOI LUT or window maps every value to one grey level")
    return np.clip((np.asarray(out, dtype=np.float64) - low) / (high - low), 0.0, 1.0)


def _has_voi_lut(ds: Dataset) -> bool:
    sequence = ds.get("VOILUTSequence")
    return bool(sequence) and "LUTDescriptor" in sequence[0] and "LUTData" in sequence[0]
