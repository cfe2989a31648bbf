"""DICOM files for the tests of `hs manifest dicom` (and its benchmark), written with pydicom.

`fixture_copy` re-tags a real DICOM (the SIIM-ACR fixture in ../shared/data/xray-fixtures);
`small_dicom` writes a small uncompressed image (fast to decode for `hs predict`): seeded
noise, or the pixels of a real image (the sample workspace's archive/). Every file
carries identifiers (name, Patient ID, dates, accession number, study and series UIDs) so that
the tests can check that none of them reaches an output.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

DX = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
STUDY_DATE = "20190314"
BIRTH_DATE = "19570102"


def uid(name: str) -> str:
    """A valid, deterministic UID for `name` (so reruns give the same files)."""
    return generate_uid(entropy_srcs=[name])


def identifiers(i: int, patient: str) -> dict[str, str]:
    """The identifying tags of image `i` of `patient` (values the outputs must never contain)."""
    return {
        "PatientName": f"Doe^Jane{patient}",
        "PatientID": f"PID-{patient}-7731",
        "PatientBirthDate": BIRTH_DATE,
        "StudyDate": STUDY_DATE,
        "AccessionNumber": f"ACC{i:05d}X",
        "StudyInstanceUID": uid(f"study-{patient}"),
        "SeriesInstanceUID": uid(f"series-{patient}-{i}"),
    }


def _tag(ds: Dataset, tags: dict[str, object]) -> Dataset:
    for keyword, value in tags.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    return ds


def fixture_copy(source: Path, target: Path, i: int, patient: str, **tags: object) -> Path:
    """The real DICOM `source` with new identifiers, a new SOP Instance UID and `tags`."""
    ds = pydicom.dcmread(source)
    _tag(ds, {**identifiers(i, patient), "SOPInstanceUID": uid(f"image-{i}"), **tags})
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target, enforce_file_format=True)
    return target


def small_dicom(
    target: Path,
    i: int,
    patient: str,
    *,
    size: int = 64,
    frames: int = 1,
    pixels: bool = True,
    sop_class: str = DX,
    preamble: bool = True,
    image: np.ndarray | None = None,
    **tags: object,
) -> Path:
    """An uncompressed 8-bit MONOCHROME2 image (`frames` frames), or without pixel data.
    `image` (uint8, rows x columns): these pixels in every frame instead of `size` x `size` noise."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = uid(f"image-{i}")
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, uid(f"image-{i}")
    ds.Modality = "DX"
    if pixels:
        if image is None:
            stack = np.random.default_rng(i).integers(0, 256, (frames, size, size), dtype=np.uint8)
        else:
            stack = np.repeat(np.asarray(image, dtype=np.uint8)[None], frames, axis=0)
        ds.Rows, ds.Columns = stack.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelSpacing = [0.143, 0.139]
        if frames > 1:
            ds.NumberOfFrames = frames
        ds.PixelData = stack.tobytes()
    _tag(ds, {**identifiers(i, patient), **tags})
    target.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        ds.save_as(target, enforce_file_format=True)
    else:
        del ds.file_meta  # a bare data set (implicit VR), as old archives hold: no preamble, no DICM
        ds.save_as(target, implicit_vr=True, little_endian=True)
    return target
