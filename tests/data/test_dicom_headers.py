"""Reading one DICOM header (hstool.data.dicom_headers): ages, keywords, the patient key."""

from __future__ import annotations

import hashlib

import pytest
from dicom_archive import BASIC_TEXT_SR, small_dicom
from hypothesis import given
from hypothesis import strategies as st

from hstool.data.dicom_headers import (
    AGE,
    PATIENT_KEY,
    HeaderJob,
    TagError,
    age_years,
    check_tags,
    key_id,
    patient_key,
    read_header,
)


@pytest.mark.parametrize(
    ("text", "years"),
    [
        ("062Y", 62.0),
        ("006M", 0.5),
        ("018M", 1.5),
        ("010W", round(70 / 365.25, 4)),  # 0.1916
        ("003D", round(3 / 365.25, 4)),  # 0.0082
        ("000D", 0.0),
        (" 45Y ", 45.0),
        ("062y", 62.0),
        ("62", 62.0),  # bare number, as the SIIM-ACR fixture writes it: years
        ("", None),
        (None, None),
        ("62 years", None),
        ("Y", None),
        ("1234Y", None),
        ("-5Y", None),
    ],
)
def test_age_strings(text, years):
    assert age_years(text) == years


@given(st.integers(0, 999), st.sampled_from("YMWD"))
def test_age_is_the_count_times_the_unit(n, unit):
    days = {"Y": 365.25, "M": 365.25 / 12, "W": 7, "D": 1}[unit]
    assert age_years(f"{n:03d}{unit}") == pytest.approx(n * days / 365.25, abs=5e-5)


def test_patient_key_is_hmac_sha256_rfc4231():
    # RFC 4231, test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert patient_key(b"Jefe", "what do ya want for nothing?") == "pk" + expected[:16]
    assert patient_key(b"Jefe", "  what do ya want for nothing?\n") == "pk" + expected[:16]  # padding is not the ID
    assert patient_key(b"Jefe", "") is None and patient_key(b"Jefe", None) is None


def _hmac_by_hand(key: bytes, message: bytes) -> str:
    """RFC 2104 built from hashlib alone (keys up to the 64-byte block)."""
    block = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in block) + inner).hexdigest()


@given(st.binary(min_size=16, max_size=64), st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s))
def test_patient_key_matches_rfc2104_by_hand(key, patient_id):
    assert patient_key(key, patient_id) == "pk" + _hmac_by_hand(key, patient_id.encode("utf-8"))[:16]


def test_keys_differ_between_keys_and_the_key_id_is_not_a_patient_key():
    a, b = b"a" * 32, b"b" * 32
    assert patient_key(a, "PID1") != patient_key(b, "PID1")
    assert key_id(a) != key_id(b) and len(key_id(a)) == 8


@pytest.mark.parametrize(
    ("keyword", "reason"),
    [
        ("PatientName", "a person's name"),
        ("PatientID", "an identifier"),
        ("AccessionNumber", "an identifier"),
        ("StudyDate", "a date"),
        ("AcquisitionDateTime", "a date and time"),
        ("StudyTime", "a time"),
        ("StudyInstanceUID", "a UID"),
        ("ImageComments", "free text"),
        ("ReferencedImageSequence", "is a sequence"),
        ("PixelData", "binary data"),
        ("NotAKeyword", "is not a DICOM keyword"),
    ],
)
def test_refused_tags(keyword, reason):
    with pytest.raises(TagError, match=reason):
        check_tags([keyword])


def test_extra_tags_keep_their_order_without_repeats():
    assert check_tags(["KVP", "ImagerPixelSpacing", "KVP", "Manufacturer", "InstitutionName"]) == (
        "KVP",
        "ImagerPixelSpacing",
        "InstitutionName",
    )


def test_read_header_of_each_kind_of_file(tmp_path):
    image = small_dicom(tmp_path / "img", 1, "p1", PatientAge="070Y", ImagerPixelSpacing=["0.1", "0.2"], KVP="110")
    header = read_header(str(image), HeaderJob(tags=("ImagerPixelSpacing", "KVP"), key=b"k" * 16))
    assert header.reason is None and header.sop_instance_uid is not None
    assert header.row is not None
    assert header.row[AGE] == 70.0 and header.row["PixelSpacing"] == 0.143 and header.row["Rows"] == 64
    assert header.row["ImagerPixelSpacing"] == "0.1\\0.2" and header.row["KVP"] == "110"
    assert header.row[PATIENT_KEY] == patient_key(b"k" * 16, "PID-p1-7731")
    bare = small_dicom(tmp_path / "bare", 2, "p1", preamble=False)
    assert read_header(str(bare), HeaderJob()).row is not None  # no preamble: recognised by its first element
    cases = {
        small_dicom(tmp_path / "mf", 3, "p1", frames=2): "unsupported: multi-frame image (2 frames)",
        small_dicom(
            tmp_path / "sr", 4, "p1", pixels=False, sop_class=BASIC_TEXT_SR
        ): "unsupported: no pixel data (Basic Text SR Storage)",
    }
    truncated = tmp_path / "cut.dcm"
    truncated.write_bytes(image.read_bytes()[:300])
    cases[truncated] = "corrupt: the file ends inside a DICOM element"
    text = tmp_path / "notes.dcm"
    text.write_text("not a DICOM file")
    cases[text] = "corrupt: not a DICOM file"
    for path, reason in cases.items():
        got = read_header(str(path), HeaderJob())
        assert got.row is None and got.reason is not None and got.reason.startswith(reason), (path, got)
    other = tmp_path / "README.txt"
    other.write_text("a README next to the images")
    assert read_header(str(other), HeaderJob()) == read_header(str(other), HeaderJob()).__class__()  # ignored
    assert read_header(str(tmp_path / "gone"), HeaderJob()).reason.startswith("cannot read")


def test_invalid_values_do_not_leak_through_warnings(tmp_path, recwarn):
    with pytest.warns(UserWarning):  # the writer warns: the values below break their VRs
        path = small_dicom(tmp_path / "bad", 1, "p1", PatientID="SECRET\\ID" * 10, PatientAge="SECRETAGE")
    recwarn.clear()
    header = read_header(str(path), HeaderJob(key=b"k" * 16))
    assert header.row is not None and header.row[AGE] is None
    assert header.row[PATIENT_KEY] == patient_key(b"k" * 16, "SECRET\\ID" * 10)
    assert not recwarn.list
