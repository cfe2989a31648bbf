"""DICOM decoding: the real JPEG-compressed fixtures, and files built here from their pixels with
rescale, window, VOI LUT, signedness and colour set to known values (expected results computed
by hand from the DICOM standard's formulas, not by pydicom)."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_frames
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, SecondaryCaptureImageStorage, generate_uid

from hstool.data.images import ImageError, load_image

MONO2 = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
MONO1 = "Fake_MONOHR1.dcm"


@pytest.fixture(scope="module")
def fixture_pixels(data_dir) -> np.ndarray:
    """The stored pixels of the real DICOM, decoded by Pillow straight from its JPEG stream."""
    ds = pydicom.dcmread(data_dir / "xray-fixtures" / MONO2)
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    with Image.open(io.BytesIO(frame)) as im:
        return np.asarray(im)[::8, ::8].copy()  # 128 x 128 keeps the tests fast


def write_dicom(path: Path, pixels: np.ndarray, **attributes) -> Path:
    """An uncompressed single-frame DICOM with the given pixel array and attributes."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID = "Doe^Jane", "PATIENT-4711"
    ds.Rows, ds.Columns = pixels.shape[:2]
    ds.SamplesPerPixel = 3 if pixels.ndim == 3 else 1
    ds.PhotometricInterpretation = "RGB" if pixels.ndim == 3 else "MONOCHROME2"
    if pixels.ndim == 3:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(pixels.dtype, np.signedinteger))
    for key, value in attributes.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def test_jpeg_baseline_fixture_decodes_through_pillow(data_dir):
    path = data_dir / "xray-fixtures" / MONO2
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == JPEGBaseline8Bit and ds.BitsStored == 8
    frame = next(generate_frames(ds.PixelData, number_of_frames=1))
    with Image.open(io.BytesIO(frame)) as im:
        stored = np.asarray(im)
    image = load_image(path)
    assert image.shape == (1024, 1024, 1) and image.dtype == np.float32
    # No rescale and no window: the 8-bit stored range maps onto [0, 1], as for an 8-bit PNG.
    np.testing.assert_array_equal(image[:, :, 0], (stored / 255).astype(np.float32))


def test_monochrome1_copy_is_the_inverse_of_monochrome2(data_dir):
    mono2 = load_image(data_dir / "xray-fixtures" / MONO2)
    mono1 = load_image(data_dir / "xray-fixtures" / MONO1)
    # The files differ only in Photometric Interpretation: after inversion MONOCHROME1 must
    # give 1 - MONOCHROME2. The only difference is float32 rounding of 1 - x, at most one unit
    # in the last place near 1 (2^-24).
    difference = np.abs(mono1.astype(np.float64) - (1.0 - mono2.astype(np.float64)))
    assert difference.max() <= 2.0**-24
    assert np.corrcoef(mono1.ravel(), mono2.ravel())[0, 1] < -0.999999


def test_rescale_and_linear_window(tmp_path, fixture_pixels):
    stored = fixture_pixels.astype(np.uint16) * 16  # a 12-bit range in 16-bit words
    path = write_dicom(
        tmp_path / "w.dcm",
        stored,
        BitsStored=12,
        HighBit=11,
        RescaleSlope=2,
        RescaleIntercept=-1000,
        WindowCenter=2000,
        WindowWidth=3001,
    )
    physical = stored * 2.0 - 1000
    # DICOM PS3.3 C.11.2.1.2.1 (LINEAR): (x - (c - 0.5)) / (w - 1) + 0.5, clipped to [0, 1].
    expected = np.clip((physical - 1999.5) / 3000 + 0.5, 0, 1)
    image = load_image(path)
    np.testing.assert_allclose(image[:, :, 0], expected, rtol=0, atol=1e-6)
    assert image.min() == 0.0 and image.max() == 1.0  # the window clips both ends of this image


def test_sigmoid_window_and_monochrome1(tmp_path, fixture_pixels):
    stored = fixture_pixels.astype(np.uint16)
    path = write_dicom(
        tmp_path / "s.dcm",
        stored,
        BitsStored=8,
        HighBit=7,
        WindowCenter=100,
        WindowWidth=80,
        VOILUTFunction="SIGMOID",
        PhotometricInterpretation="MONOCHROME1",
    )
    # PS3.3 C.11.2.1.3.1 (SIGMOID), then inverted for MONOCHROME1.
    expected = 1 - 1 / (1 + np.exp(-4 * (stored - 100.0) / 80))
    np.testing.assert_allclose(load_image(path)[:, :, 0], expected, rtol=0, atol=1e-6)


def test_voi_lut_sequence_is_preferred_to_the_window(tmp_path, fixture_pixels):
    stored = fixture_pixels.astype(np.uint16) * 16
    table = np.round(4095 * (np.arange(4096) / 4095) ** 0.5).astype(np.uint16)  # a gamma curve, max 4095
    item = Dataset()
    item.add_new(0x00283002, "US", [4096, 0, 16])  # LUT Descriptor: claims 16 bits, stops at 4095 (common)
    item.add_new(0x00283006, "OW", table.astype("<u2").tobytes())  # LUT Data
    path = write_dicom(
        tmp_path / "lut.dcm",
        stored,
        BitsStored=12,
        HighBit=11,
        VOILUTSequence=Sequence([item]),
        WindowCenter=10,
        WindowWidth=2,
    )
    expected = table[stored] / 4095  # scaled by the table's own range, not 2^16 - 1
    np.testing.assert_allclose(load_image(path)[:, :, 0], expected, rtol=0, atol=1e-6)


def test_without_voi_the_stored_range_maps_to_0_1(tmp_path, fixture_pixels):
    unsigned = fixture_pixels.astype(np.uint16) * 16
    path = write_dicom(tmp_path / "u.dcm", unsigned, BitsStored=12, HighBit=11)
    np.testing.assert_allclose(load_image(path)[:, :, 0], unsigned / 4095, rtol=0, atol=1e-7)
    signed = fixture_pixels.astype(np.int16) * 16 - 2048  # [-2048, 2032] in a signed 12-bit range
    path = write_dicom(tmp_path / "i.dcm", signed, BitsStored=12, HighBit=11, RescaleSlope=0.5, RescaleIntercept=10)
    low, high = -2048 * 0.5 + 10, 2047 * 0.5 + 10
    np.testing.assert_allclose(load_image(path)[:, :, 0], (signed * 0.5 + 10 - low) / (high - low), rtol=0, atol=1e-6)


def test_rgb_dicom(tmp_path, fixture_pixels):
    rgb = np.dstack([fixture_pixels, 255 - fixture_pixels, fixture_pixels // 2])
    image = load_image(write_dicom(tmp_path / "rgb.dcm", rgb))
    assert image.shape == (128, 128, 3)
    np.testing.assert_array_equal(image, (rgb / 255).astype(np.float32))


def test_dicom_without_extension_or_preamble_is_recognised(tmp_path, data_dir):
    plain = tmp_path / "IM0001"
    plain.write_bytes((data_dir / "xray-fixtures" / MONO2).read_bytes())
    assert load_image(plain).shape == (1024, 1024, 1)


def test_refusals_never_show_patient_tags(tmp_path, fixture_pixels):
    stored = fixture_pixels.astype(np.uint16)
    cases = {
        "frames.dcm": ({"NumberOfFrames": 2}, "unsupported: multi-frame DICOM"),
        "palette.dcm": ({"PhotometricInterpretation": "PALETTE COLOR"}, "unsupported: photometric interpretation"),
        "big.dcm": ({"Rows": 60000, "Columns": 60000}, "too large: 60000x60000"),
        "window.dcm": ({"WindowCenter": 10, "WindowWidth": 0}, "corrupt: invalid modality or VOI LUT"),
    }
    for name, (attributes, reason) in cases.items():
        path = write_dicom(tmp_path / name, stored, **attributes)
        with pytest.raises(ImageError, match=reason) as info:
            load_image(path)
        assert "Doe" not in str(info.value) and "4711" not in str(info.value)
    truncated = tmp_path / "truncated.dcm"
    data = write_dicom(tmp_path / "whole.dcm", stored).read_bytes()
    truncated.write_bytes(data[: len(data) - 5000])
    with pytest.raises(ImageError, match="truncated.dcm: corrupt") as info:
        load_image(truncated)
    assert "Doe" not in str(info.value) and "4711" not in str(info.value)


def relabel(source: Path, target: Path, transfer_syntax) -> Path:
    ds = pydicom.dcmread(source)
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    ds.save_as(target)
    return target


def test_transfer_syntax_without_decoder_is_unsupported(tmp_path, data_dir):
    from pydicom.uid import JPEGLosslessSV1

    if importlib.util.find_spec("pylibjpeg") or importlib.util.find_spec("gdcm"):
        pytest.skip("a JPEG Lossless decoder is installed here")
    path = relabel(data_dir / "xray-fixtures" / MONO2, tmp_path / "lossless.dcm", JPEGLosslessSV1)
    with pytest.raises(
        ImageError, match="unsupported: no decoder for the transfer syntax JPEG Lossless.*install pylibjpeg"
    ):
        load_image(path)


def test_pixel_data_that_does_not_decode_is_corrupt(tmp_path, data_dir):
    from pydicom.uid import RLELossless

    # A JPEG stream labelled RLE: pydicom's own RLE decoder rejects it.
    path = relabel(data_dir / "xray-fixtures" / MONO2, tmp_path / "rle.dcm", RLELossless)
    with pytest.raises(ImageError, match="corrupt: the RLE Lossless pixel data cannot be decoded"):
        load_image(path)


def test_not_a_dicom_and_no_pixel_data(tmp_path, fixture_pixels):
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 300)
    with pytest.raises(ImageError, match="junk.dcm: corrupt"):
        load_image(tmp_path / "junk.dcm")
    path = write_dicom(tmp_path / "nopix.dcm", fixture_pixels.astype(np.uint16))
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(ImageError, match="nopix.dcm: unsupported: the DICOM file has no"):
        load_image(path)
