"""Reading the header of one DICOM file, without its pixels, into metadata that is safe to share.

`read_header(path)` runs in the worker processes of `hs manifest dicom` (hstool.data.dicom_manifest),
so this module imports only the standard library and pydicom. A file is recognised by its
content, not its name: the `DICM` marker at byte 128, or, for files written without the
128-byte preamble, a first element in group 0002 or 0008. Parsing stops at the pixel data
element (nothing is decoded or even read from it), which also says whether the file holds an
image.

Identifiers never leave this module: no names, IDs, dates, times, accession numbers, UIDs
(other than the SOP Instance UID, which is the image id) or free text are exported, and a
patient is represented only by a keyed hash of Patient ID (HMAC-SHA256), computed here.
Messages name the file and the reason, never a tag value.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import io
import re
import warnings
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from hstool.errors import option_ref

AGE = "PatientAge"
SPACING = "PixelSpacing"
PATIENT_KEY = "patient_key"
# The metadata columns of every DICOM manifest, in this order (docs/data.md).
DEFAULT_TAGS = (
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "ViewPosition",
    "BodyPartExamined",
    "PatientSex",
    AGE,
    "PhotometricInterpretation",
    "BitsStored",
    "Rows",
    "Columns",
    SPACING,
)
DICOM_EXTENSIONS = (".dcm", ".dicom", ".dic")
MULTI_VALUE_SEPARATOR = "\\"  # DICOM's own delimiter between the values of one element
KEY_HEX = 16  # patient_key: the first 64 bits of the HMAC, in hex...
# ...after a prefix, so that no reader takes a key for a number: `0123...` would lose its zero,
# and `1234e567...` parses as a float, which could make two patients one.
KEY_PREFIX = "pk"
MIN_KEY_BYTES = 16

# Value representations that hold people, dates, identifiers or free text (PS3.5 6.2).
_REFUSED_VRS = {
    "PN": "a person's name",
    "DA": "a date",
    "DT": "a date and time",
    "TM": "a time",
    "UI": "a UID (an identifier)",
    "LT": "free text",
    "ST": "free text",
    "UT": "free text",
}
_BINARY_VRS = ("OB", "OD", "OF", "OL", "OV", "OW", "UN")
# Identifiers whose VR (LO, SH, CS...) does not say so (PS3.15 Annex E, basic profile).
_IDENTIFIERS = frozenset(
    {
        "PatientID",
        "OtherPatientIDs",
        "IssuerOfPatientID",
        "AccessionNumber",
        "StudyID",
        "AdmissionID",
        "MedicalRecordLocator",
        "PatientAddress",
        "PatientTelephoneNumbers",
        "MilitaryRank",
        "RegionOfResidence",
        "DeviceSerialNumber",
        "PerformedProcedureStepID",
        "RequestedProcedureID",
        "ScheduledProcedureStepID",
        "FillerOrderNumberImagingServiceRequest",
        "PlacerOrderNumberImagingServiceRequest",
        "StationName",
        "PatientInsurancePlanCodeSequence",
    }
)
# Read but not exported (the patient key is a hash of PatientID, computed here).
_NEEDED = ("SpecificCharacterSet", "SOPClassUID", "SOPInstanceUID", "NumberOfFrames", "PatientID")
_AGE_UNITS = {"Y": 1.0, "M": 1 / 12, "W": 7 / 365.25, "D": 1 / 365.25}
_AGE = re.compile(r"(\d{1,3})([DWMY]?)")
_DICOMDIR = "1.2.840.10008.1.3.10"  # Media Storage Directory Storage
_PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA = 0x7FE00010, 0x7FE00008, 0x7FE00009


class TagError(ValueError):
    """A keyword that is not a DICOM keyword, or that hs refuses to export (why, in words)."""


def check_tags(keywords: list[str]) -> tuple[str, ...]:
    """The extra keywords of `--tags`, validated against the DICOM dictionary; raises TagError
    for unknown keywords, sequences, binary values and identifiers."""
    from pydicom.datadict import dictionary_VR, tag_for_keyword

    out: list[str] = []
    for keyword in keywords:
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise TagError(f"{keyword!r} is not a DICOM keyword (spelled as in PS3.6, e.g. ImagerPixelSpacing)")
        vr = dictionary_VR(tag)
        if vr == "SQ":
            raise TagError(
                f"{keyword} is a sequence, whose items cannot be one table cell; choose an element inside it"
            )
        if any(v in _BINARY_VRS for v in vr.split(" or ")):  # the dictionary writes 'OB or OW'
            raise TagError(f"{keyword} holds binary data ({vr}), not a value a table can show")
        if vr in _REFUSED_VRS or keyword in _IDENTIFIERS:
            what = _REFUSED_VRS.get(vr, "an identifier")
            raise TagError(
                f"{keyword} holds {what}, which hs never exports; use {option_ref('patient_key')} for patient-level grouping"
            )
        if keyword not in DEFAULT_TAGS and keyword not in out:
            out.append(keyword)
    return tuple(out)


def age_years(text: str | None) -> float | None:
    """A DICOM age string (`062Y`, `006M`, `010W`, `003D`) in years; None when empty or not an
    age. A bare number (`62`, written by some anonymisers instead of `062Y`) is read as years."""
    if text is None:
        return None
    match = _AGE.fullmatch(str(text).strip().upper())
    if match is None:
        return None
    return round(int(match[1]) * _AGE_UNITS[match[2] or "Y"], 4)


def patient_key(key: bytes, patient_id: str | None) -> str | None:
    """`pk` + HMAC-SHA256 of the Patient ID under `key`, first 64 bits in hex; None without an ID."""
    if patient_id is None or not str(patient_id).strip():
        return None
    digest = hmac.new(key, str(patient_id).strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return KEY_PREFIX + digest[:KEY_HEX]


def key_id(key: bytes) -> str:
    """A fingerprint of the key (not of any patient): equal ids mean comparable patient keys."""
    return hmac.new(key, b"hs patient key id", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class HeaderJob:
    """What every worker needs: the extra keywords, and the patient-key key (None: no key)."""

    tags: tuple[str, ...] = ()
    key: bytes | None = None


@dataclass(frozen=True)
class Header:
    """The outcome for one file: `row` (tag keyword -> value) for an image, else `reason` (a
    skip: `corrupt: ...`, `unsupported: ...`, `cannot read: ...`), or neither when the file is
    not DICOM and does not claim to be (a README next to the images)."""

    row: dict[str, Any] | None = None
    reason: str | None = None
    sop_instance_uid: str | None = None
    directory: bool = False  # a DICOMDIR: the archive's index, neither an image nor a problem


def read_header(path: str, job: HeaderJob) -> Header:
    """The metadata of one file; never raises for a bad file (its reason is returned).

    pydicom's warnings about invalid values are silenced: they quote the value (`Invalid value
    for VR AS: '...'`), which may be a Patient ID, and must not reach the terminal or a log."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read_header(path, job)


def _read_header(path: str, job: HeaderJob) -> Header:
    from pydicom.errors import InvalidDicomError
    from pydicom.filereader import read_partial

    try:
        with _Watched(io.FileIO(path, "rb")) as fp:
            head = fp.read(132)
            if not _looks_like_dicom(head):
                if path.lower().endswith(DICOM_EXTENSIONS):
                    return Header(reason="corrupt: not a DICOM file (no DICM marker, no DICOM elements)")
                return Header()
            fp.seek(0)
            fp.short = False
            stop = _StopAtPixels()
            ds = read_partial(fp, stop_when=stop, force=True, specific_tags=_wanted(job.tags))
            if fp.short:
                return Header(reason="corrupt: the file ends inside a DICOM element (truncated)")
    except OSError as exc:
        return Header(reason=f"cannot read: {exc.strerror or type(exc).__name__}")
    except (InvalidDicomError, EOFError, ValueError, KeyError, TypeError, IndexError, NotImplementedError) as exc:
        return Header(reason=f"corrupt: cannot parse the DICOM header ({type(exc).__name__})")
    try:
        return _image_header(ds, stop.tag, job)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError, LookupError) as exc:
        return Header(reason=f"corrupt: invalid header values ({type(exc).__name__})")


@functools.cache
def _wanted(extra: tuple[str, ...]) -> list[int]:
    """The only elements parsed: the exported ones and those needed to judge the file. Every
    other value (names, dates, other UIDs...) is skipped unread, which is also faster."""
    from pydicom.datadict import tag_for_keyword

    keywords = DEFAULT_TAGS + extra + _NEEDED
    return [int(t) for t in (tag_for_keyword(k) for k in keywords) if t is not None]


def _looks_like_dicom(head: bytes) -> bool:
    """`DICM` at byte 128, or (no preamble) a first element in group 0002 or 0008, little endian."""
    return head[128:132] == b"DICM" or head[:2] in (b"\x02\x00", b"\x08\x00")


class _Watched(io.BufferedReader):
    """A file that notices a short read: pydicom reads a value cut off by the end of the file
    without complaint, so a truncated header would otherwise pass for a complete one. Only a
    clean end of file, where the next element would start (8 bytes asked, none left), is not
    short."""

    short = False

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        if size is not None and 0 <= len(data) < size and not (len(data) == 0 and size == 8):
            self.short = True
        return data


class _StopAtPixels:
    """Stops the parser at the first pixel data element and remembers which one it was."""

    tag: int | None = None

    def __call__(self, tag: int, vr: str | None, length: int) -> bool:
        if tag in (_PIXEL_DATA, _FLOAT_PIXEL_DATA, _DOUBLE_PIXEL_DATA):
            self.tag = int(tag)
            return True
        return False


def _image_header(ds: Dataset, pixel_tag: int | None, job: HeaderJob) -> Header:
    if pixel_tag is None:
        if _sop_class_uid(ds) == _DICOMDIR:
            return Header(directory=True)
        return Header(reason=f"unsupported: no pixel data ({_sop_class(ds)}); not an image")
    if pixel_tag != _PIXEL_DATA:
        return Header(reason="unsupported: floating-point pixel data (a parametric map?), not an integer image")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        return Header(reason=f"unsupported: multi-frame image ({frames} frames); export the frame to use")
    row: dict[str, Any] = {keyword: _text(ds.get(keyword)) for keyword in DEFAULT_TAGS + job.tags}
    row[AGE] = age_years(row[AGE])
    row[SPACING] = _row_spacing(ds.get(SPACING))
    for keyword in ("BitsStored", "Rows", "Columns"):
        row[keyword] = None if ds.get(keyword) is None else int(ds.get(keyword))
    if job.key is not None:
        row[PATIENT_KEY] = patient_key(job.key, _text(ds.get("PatientID")))
    uid = _text(ds.get("SOPInstanceUID"))
    return Header(row=row, sop_instance_uid=uid)


def _text(value: Any) -> str | None:
    """A tag value as text: multi-valued elements joined with a backslash; None when empty."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, MultiValue)):
        text = MULTI_VALUE_SEPARATOR.join(str(v).strip() for v in value)
    else:
        text = str(value).strip()
    return text or None


def _row_spacing(value: Any) -> float | None:
    """Pixel Spacing is `row spacing\\column spacing` in mm; the first is kept."""
    if value is None or value == "":
        return None
    first = value[0] if isinstance(value, (list, tuple, MultiValue)) else value
    return float(first)


def _sop_class_uid(ds: Dataset) -> str | None:
    """SOP Class UID, from the data set or else the file meta information."""
    uid = ds.get("SOPClassUID") or getattr(ds, "file_meta", Dataset()).get("MediaStorageSOPClassUID")
    return str(uid) if uid else None


def _sop_class(ds: Dataset) -> str:
    """The SOP class in words (a standard name, never patient data)."""
    from pydicom.uid import UID

    uid = _sop_class_uid(ds)
    name = UID(uid).name if uid else ""
    return name if name and name != uid else "unknown SOP class"
