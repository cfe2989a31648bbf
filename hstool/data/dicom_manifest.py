"""A manifest and a metadata table from a DICOM archive (`hs manifest dicom`).

The archive is walked recursively (hidden files and folders skipped); every file is opened and
recognised by its content (hstool.data.dicom_headers), so files without an extension, nested by
patient, study and series, are found. Headers are read in parallel worker processes, without
the pixel data. Each single-frame image becomes one row: `image_id` (the SOP Instance UID, or
the path), `path`, and the metadata columns; multi-frame images, objects without pixel data
(structured reports, presentation states) and unreadable files are errors, or skipped and
listed with `on_error="skip"`. Rows are sorted by path, so the result never depends on the
order the file system lists files in.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from hstool.data.build import Built, manifest_meta
from hstool.data.dicom_headers import (
    AGE,
    DEFAULT_TAGS,
    DICOM_EXTENSIONS,
    KEY_HEX,
    KEY_PREFIX,
    MIN_KEY_BYTES,
    PATIENT_KEY,
    SPACING,
    Header,
    HeaderJob,
    key_id,
    read_header,
)
from hstool.data.folder import tree_inside, walk_files
from hstool.data.manifest import PATH
from hstool.errors import InputError, UsageError, option_ref, require_choice
from hstool.io.atomic import check_writable, write_text
from hstool.io.render import emit
from hstool.io.sidecar import build_sidecar, errors_path_for, sidecar_path
from hstool.io.tables import KEY

ON_ERROR = ("fail", "skip")
IMAGE_IDS = ("uid", "path")
METADATA_SCHEMA = "hs.dicom-metadata/1"
REASON = "reason"
# Below this many files per worker, the pool is not started: on the loaded 2-core development
# machine it never beat reading in this process (docs/benchmarks.md); it is meant for many
# cores and slow (network) storage, where waiting on files dominates.
_FILES_PER_WORKER = 2000
_TYPES = {AGE: pl.Float64, SPACING: pl.Float64, "BitsStored": pl.Int64, "Rows": pl.Int64, "Columns": pl.Int64}
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DicomOptions:
    """Every knob of `hs manifest dicom` (defaults as on the command line)."""

    tags: tuple[str, ...] = ()  # extra keywords, checked with dicom_headers.check_tags
    patient_key: bool = False
    key_file: str | None = None  # None: a random key, used once and never written
    on_error: str = "fail"  # fail | skip
    image_id: str = "uid"  # uid (SOP Instance UID) | path (relative path, DICOM extension removed)
    workers: int | None = None  # header-reading processes; None: automatic; 0: in this process

    def __post_init__(self) -> None:
        require_choice("on_error", self.on_error, ON_ERROR)
        require_choice("image_id", self.image_id, IMAGE_IDS)


@dataclass(frozen=True)
class DicomBuilt:
    """The manifest (`image_id,path,<metadata>`), the same metadata as a labels table
    (`image_id,<metadata>`), and the skipped files (`path,reason`)."""

    manifest: Built
    metadata: pl.DataFrame
    metadata_meta: dict[str, Any]
    errors: pl.DataFrame

    def summary(self) -> str:
        """'5 DICOM images, 1 skipped, 1 DICOMDIR and 2 non-DICOM files ignored'."""
        files = self.manifest.meta["dicom"]["files"]
        skipped = f", {files['skipped']} skipped" if files["skipped"] else ""
        ignored = [f"{files['dicomdir']} DICOMDIR"] if files["dicomdir"] else []
        ignored += [f"{files['not_dicom']} non-DICOM"] if files["not_dicom"] else []
        return f"{files['images']} DICOM images{skipped}" + (
            f", {' and '.join(ignored)} files ignored" if ignored else ""
        )


def read_key(key_file: str) -> bytes:
    """The HMAC key: the file's bytes without surrounding white space, at least 16 of them."""
    try:
        key = Path(key_file).read_bytes().strip()
    except OSError as exc:
        raise InputError(f"{key_file}: cannot read the key file ({exc.strerror}); check the path") from None
    if len(key) < MIN_KEY_BYTES:
        raise InputError(
            f"{key_file}: the key file holds {len(key)} bytes; a patient key needs a secret of at least "
            f"{MIN_KEY_BYTES} bytes (Patient IDs are guessable, only the key protects them): "
            "python -c 'import secrets; print(secrets.token_hex(32))' > KEYFILE"
        )
    return key


def manifest_from_dicom(
    directory: str,
    *,
    manifest_dir: str | Path,
    options: DicomOptions,
    outputs: tuple[str | None, ...] = (),
    progress: Progress | None = None,
) -> DicomBuilt:
    """Read every DICOM header under `directory`; paths relative to `manifest_dir`. `outputs`
    (files to be written; None or '-' for none) are checked before any work."""
    files_out = [o for o in outputs if o is not None and o != "-"]
    if len(set(files_out)) < len(files_out):
        raise UsageError("the manifest and the metadata table must be different files")
    for target in files_out:
        check_writable(target)
    real_top, base = tree_inside(directory, manifest_dir)
    # hs's own outputs from an earlier run (manifest, sidecars, errors list) are not archive files.
    own = {os.path.realpath(p) for o in files_out for p in (o, sidecar_path(o), errors_path_for(o))}
    files = sorted(f for f in walk_files(real_top, base, lambda name: True) if os.path.join(real_top, f) not in own)
    if not files:
        raise InputError(f"{directory}: no files found; pass the folder that holds the DICOM archive")
    key, key_source = None, None
    if options.patient_key:
        key = read_key(options.key_file) if options.key_file else secrets.token_bytes(32)
        key_source = "key file" if options.key_file else "random, used once and never written"
    job = HeaderJob(tags=options.tags, key=key)
    headers = read_headers([os.path.join(real_top, f) for f in files], job, options.workers, progress)
    paths = [Path(os.path.relpath(os.path.join(real_top, f), base)).as_posix() for f in files]
    rows, skipped, not_dicom, directories = [], [], 0, 0
    for rel, path, header in zip(files, paths, headers):
        if header.directory:
            directories += 1
            continue
        if header.row is None and header.reason is None:
            not_dicom += 1
            continue
        reason = header.reason
        image_id = header.sop_instance_uid if options.image_id == "uid" else _path_id(rel)
        if reason is None and image_id is None:
            reason = "corrupt: no SOP Instance UID; use path-based image ids (--image-id path)"
        if reason is not None:
            if options.on_error == "fail":
                shown = Path(directory, rel).as_posix()  # as the user names it, not relative to the manifest
                raise InputError(
                    f"{shown}: {reason}; or pass {option_ref('on_error')} skip to list such files and go on"
                )
            skipped.append({PATH: path, REASON: reason})
            continue
        rows.append({KEY: image_id, PATH: path, **(header.row or {})})
    if not rows:
        raise InputError(
            f"{directory}: no single-frame DICOM image among {len(files)} files "
            f"({len(skipped)} skipped, {not_dicom} not DICOM); check the folder"
        )
    columns = [*DEFAULT_TAGS, *options.tags] + ([PATIENT_KEY] if options.patient_key else [])
    schema = {KEY: pl.String, PATH: pl.String, **{c: _TYPES.get(c, pl.String) for c in columns}}
    table = pl.DataFrame(rows, schema=schema, orient="row")
    _check_unique(table)
    errors = pl.DataFrame(skipped, schema={PATH: pl.String, REASON: pl.String})
    dicom = {
        "image_id": "SOPInstanceUID" if options.image_id == "uid" else "path",
        "exported_tags": list(DEFAULT_TAGS + options.tags),
        "patient_key": _key_info(key, key_source),
        "files": {
            "seen": len(files),
            "images": table.height,
            "skipped": len(skipped),
            "dicomdir": directories,
            "not_dicom": not_dicom,
        },
    }
    parameters = {
        "source": "dicom",
        "tags": list(options.tags),
        "patient_key": options.patient_key,
        "key_file": options.key_file,
        "on_error": options.on_error,
        "image_id": options.image_id,
    }
    inputs = [{"path": directory, "files": len(files)}]
    meta = manifest_meta(table, parameters=parameters, inputs=inputs)
    meta["dicom"] = dicom
    metadata = table.drop(PATH)
    metadata_meta = build_sidecar(
        schema=METADATA_SCHEMA, parameters=parameters, inputs=inputs, rows=metadata.height, extra={"dicom": dicom}
    )
    return DicomBuilt(Built(table=table, meta=meta), metadata, metadata_meta, errors)


def write_dicom_outputs(built: DicomBuilt, *, output: str | None, labels_out: str | None) -> None:
    """The metadata table (when asked for) and the errors list (next to a manifest file, when
    files were skipped or may be), then the manifest, each atomically with its sidecar."""
    if labels_out is not None:
        emit(built.metadata, fmt=None, output=labels_out, meta=built.metadata_meta)
    if output is not None and output != "-" and built.manifest.meta["parameters"]["on_error"] == "skip":
        write_text(errors_path_for(output), built.errors.write_csv())
    emit(built.manifest.table, fmt="csv", output=output, meta=built.manifest.meta)


def read_headers(paths: list[str], job: HeaderJob, workers: int | None, progress: Progress | None) -> list[Header]:
    """`read_header` of every path, in order, in `workers` processes (0: in this process;
    None: min(CPUs, 8), and none for fewer than 2000 files per worker).

    Workers are forked from a fresh server process that has imported only the header reader
    (`forkserver`): never a fork of this process, which may hold polars' threads, and cheaper
    than `spawn`, which would re-import the command line in every worker. Each header is small,
    so results travel pickled.
    """
    from hstool.workers import default_workers

    total = len(paths)
    if workers is None:  # automatic: a pool only when it pays
        n_workers = min(default_workers(), total // _FILES_PER_WORKER)
        n_workers = n_workers if n_workers > 1 else 0
    else:
        n_workers = min(workers, total)
    out: list[Header] = []

    def done(header: Header) -> None:
        out.append(header)
        if progress and (len(out) % 256 == 0 or len(out) == total):
            progress(len(out), total)

    if n_workers == 0:
        for path in paths:
            done(read_header(path, job))
        return out
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    chunk = max(1, min(256, total // (n_workers * 8)))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([read_header.__module__])
    with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
        for header in pool.map(read_header, paths, itertools.repeat(job), chunksize=chunk):
            done(header)
    return out


def _path_id(rel: str) -> str:
    """The path below the archive folder, without a DICOM extension (`1.2.840.1` keeps its dots)."""
    stem, dot, ext = rel.rpartition(".")
    return stem if dot and f".{ext.lower()}" in DICOM_EXTENSIONS and "/" not in ext else rel


def _check_unique(table: pl.DataFrame) -> None:
    duplicated = table[KEY].is_duplicated()
    if duplicated.any():
        same = table.filter(table[KEY] == table[KEY][int(duplicated.arg_true()[0])])[PATH].to_list()
        raise InputError(
            f"{same[0]} and {same[1]} hold the same image (same image id): a copy of the file? "
            f"remove one, or use path-based image ids ({option_ref('image_id')} path)"
        )


def _key_info(key: bytes | None, source: str | None) -> dict[str, Any] | None:
    if key is None:
        return None
    return {
        "column": PATIENT_KEY,
        "method": "HMAC-SHA256 of PatientID",
        "format": f"'{KEY_PREFIX}' + {KEY_HEX} hex digits",
        "key": source,
        "key_id": key_id(key),
    }
