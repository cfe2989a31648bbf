"""Thumbnails from real image files (PNG, JPEG, DICOM MONOCHROME1/2) through the manifest:
embedded as data URIs, in parallel or not with the same result, unreadable files as
placeholders, no DICOM patient tag in the report, manifest paths shown as written."""

from __future__ import annotations

import base64
import io
import re
import shutil

import numpy as np
import polars as pl
import pydicom
import pytest
from PIL import Image

from hstool.report import thumbs
from hstool.report.build import ReportInputs, build_report
from hstool.report.context import ReportOptions

DICOM = "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm"
FILES = ["00000001_000.png", "16747_3_1.jpg", "tbx11k_h0001.png", DICOM, "Fake_MONOHR1.dcm"]


@pytest.fixture
def study(tmp_path, data_dir):
    """Every fixture image is a missed positive (so each appears in the FN gallery), plus a
    missing and a corrupt file."""
    images = tmp_path / "images"
    images.mkdir()
    for name in FILES:
        shutil.copy(data_dir / "xray-fixtures" / name, images / name)
    (images / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really a png")
    names = FILES + ["missing.png", "corrupt.png"]
    ids = [f"case{i}" for i in range(len(names))] + [f"neg{i}" for i in range(12)]
    pl.DataFrame(
        {"image_id": ids, "path": [f"images/{n}" for n in names] + ["images/00000001_000.png"] * 12}
    ).write_csv(tmp_path / "manifest.csv")
    pl.DataFrame({"image_id": ids, "score": [0.1] * len(names) + [0.2] * 12}).write_csv(tmp_path / "preds.csv")
    pl.DataFrame({"image_id": ids, "label": [1] * len(names) + [0] * 12}).write_csv(tmp_path / "labels.csv")
    return ReportInputs(
        preds=str(tmp_path / "preds.csv"), labels=str(tmp_path / "labels.csv"), manifest=str(tmp_path / "manifest.csv")
    )


def symbols(html: str) -> dict[str, str]:
    return dict(re.findall(r'<symbol id="(t\d+)"[^>]*>(.*?)</symbol>', html))


def decoded(symbol: str) -> np.ndarray:
    uri = re.search(r'href="data:image/(?:png|jpeg);base64,([^"]+)"', symbol).group(1)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri))).convert("L"), dtype=float)


def test_images_are_embedded_with_placeholders_for_unreadable_files(study, tmp_path):
    report = build_report(study, ReportOptions(gallery_size=50))
    html = report.html
    slots = symbols(html)
    assert len(slots) == len(FILES) + 2  # the negatives are not errors
    assert sum('href="data:image/' in s for s in slots.values()) == len(FILES)
    assert sum("image unavailable" in s for s in slots.values()) == 2
    assert "no such file" in html.lower() or "not found" in html.lower() or "does not exist" in html.lower()
    assert "2 image(s) could not be read" in html
    assert str(tmp_path) not in html  # manifest paths as written, never absolute
    assert "images/" + DICOM in html and "images/missing.png" in html


def test_no_dicom_patient_tag_reaches_the_report(study, data_dir):
    html = build_report(study, ReportOptions(gallery_size=50)).html
    dataset = pydicom.dcmread(data_dir / "xray-fixtures" / DICOM, stop_before_pixels=True)
    values = [
        str(dataset.get(tag, ""))
        for tag in (
            "PatientName",
            "PatientID",
            "PatientBirthDate",
            "StudyDate",
            "InstitutionName",
            "ReferringPhysicianName",
            "StudyInstanceUID",
        )
    ]
    values = [v for v in values if len(v) >= 4]
    assert values, "the fixture should carry patient tags for this test to mean something"
    for value in values:
        assert value not in html


def test_monochrome1_is_shown_inverted(study):
    """Fake_MONOHR1.dcm holds the same pixels as the MONOCHROME2 file, marked MONOCHROME1: its
    thumbnail must be the negative of the other's."""
    html = build_report(study, ReportOptions(gallery_size=50)).html
    slots = symbols(html)
    slot_of = dict(re.findall(r'<title>images/([^<]+)</title><use href="#(t\d+)"', html))
    mono2, mono1 = decoded(slots[slot_of[DICOM]]), decoded(slots[slot_of["Fake_MONOHR1.dcm"]])
    assert mono2.shape == mono1.shape == (128, 128)
    assert np.corrcoef(mono2.ravel(), mono1.ravel())[0, 1] < -0.95


def test_parallel_and_serial_rendering_agree(study, tmp_path, monkeypatch):
    paths = [tmp_path / "images" / n for n in FILES] * 8 + [tmp_path / "images" / "missing.png", None]
    serial = thumbs.render_thumbnails(paths, 96, workers=1)
    monkeypatch.setattr(thumbs, "WORKER_START_S", 0.0)  # force the worker processes
    parallel = thumbs.render_thumbnails(paths, 96, workers=2)
    assert parallel == serial
    assert serial[-1].reason == "not in the manifest" and serial[-2].uri is None and serial[-2].reason


def test_audit_sheet_shows_the_images_and_their_paths(study, tmp_path):
    from hstool.audit.strata_table import StratifyOptions
    from hstool.report.audit_sheet import AuditInputs, AuditOptions, build_audit_sheet

    sheet = build_audit_sheet(
        AuditInputs(study.preds, study.labels, manifest=study.manifest),
        AuditOptions(stratify=StratifyOptions(by=[]), per_group=50, controls=0),
    )
    assert sheet.table["path"].to_list() == [f"images/{n}" for n in FILES] + [
        "images/missing.png",
        "images/corrupt.png",
    ]
    assert sheet.html.count('href="data:image/') == len(FILES)
    assert str(tmp_path) not in sheet.html
