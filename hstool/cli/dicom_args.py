"""Turning `hs manifest dicom` option strings into DicomOptions (usage errors exit 2)."""

from __future__ import annotations

from hstool.data.dicom_headers import TagError, check_tags
from hstool.data.dicom_manifest import DicomOptions
from hstool.errors import UsageError


def dicom_options(
    *,
    tags: str | None,
    patient_key: bool,
    key_file: str | None,
    on_error: str,
    image_id: str,
    workers: int | None,
    output: str | None,
    labels_out: str | None,
) -> DicomOptions:
    try:
        extra = check_tags([t.strip() for t in (tags or "").split(",") if t.strip()])
    except TagError as exc:
        raise UsageError(f"--tags: {exc}") from None
    if key_file is not None and not patient_key:
        raise UsageError("--key-file is the key of --patient-key; add --patient-key")
    if workers is not None and workers < 0:
        raise UsageError(f"--workers {workers}: give 0 (read in this process) or more")
    if labels_out == "-":
        raise UsageError("--labels-out needs a file name (stdout carries the manifest)")
    if on_error == "skip" and (output is None or output == "-"):
        raise UsageError(
            "--on-error skip lists the skipped files in OUTPUT.errors.csv: give the manifest a file, -o FILE"
        )
    return DicomOptions(
        tags=extra, patient_key=patient_key, key_file=key_file, on_error=on_error, image_id=image_id, workers=workers
    )
