"""Making manifests from array files (MedMNIST .npz, MNIST idx) whose images are written out as
PNG files, and what every manifest writer shares (`Built`, `write_manifest`, `prepare_out_dir`,
`save_png`). `read_npz_parts` / `read_idx_part` give the arrays without writing anything.

Array imports write into an output folder: `images/<image_id>.png` and `manifest.csv` (with its
`hs.manifest/1` sidecar). The manifest is written last and atomically: it is the commit point,
so an interrupted run leaves no manifest (and with --force an older manifest is removed before
any image is written). PNG files are written with fixed settings and no timestamp, so the same
input gives byte-identical files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool.data.manifest import LABEL, PATH, SPLIT, SPLITS, describe
from hstool.errors import InputError, OptionError, OutputError, option_ref
from hstool.io.atomic import refuse_overwriting_inputs, write_text
from hstool.io.sidecar import build_sidecar, file_sha256, sidecar_path, write_sidecar
from hstool.io.tables import KEY

SCHEMA = "hs.manifest/1"
MANIFEST_NAME = "manifest.csv"
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class Built:
    """What a manifest builder made: the table, its sidecar, and where it went (None: not
    written, e.g. for stdout)."""

    table: pl.DataFrame
    meta: dict[str, Any]
    manifest: Path | None = None

    def summary(self) -> str:
        """One line for the terminal: rows, and images per class and split."""
        return describe(self.table) + (f" -> {self.manifest}" if self.manifest else "")


def manifest_from_npz(
    npz: str,
    out_dir: str,
    *,
    splits: list[str] | None = None,
    limit: int | None = None,
    class_names: list[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Built:
    """MedMNIST-style `.npz` (`<split>_images`, `<split>_labels` for train/val/test) to PNGs and
    a manifest with a split column. `splits` defaults to every split in the file; `limit`
    takes the first N images of each split. image_id is `<split>_<index>` (index in the file,
    five digits), so ids do not depend on `limit`."""
    parts = read_npz_parts(npz, splits=splits, limit=limit, class_names=class_names)
    return _write_images(
        parts,
        out_dir,
        sources=[npz],
        force=force,
        progress=progress,
        parameters={
            "source": "npz",
            "splits": ",".join(p.split for p in parts if p.split is not None),  # an .npz names every split
            "limit": limit,
            "class_names": class_names,
        },
    )


def manifest_from_idx(
    images: str,
    labels: str,
    out_dir: str,
    *,
    split: str | None = None,
    limit: int | None = None,
    class_names: list[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> Built:
    """MNIST-style idx image and label files (gzip or not) to PNGs and a manifest. image_id is
    `<split>_<index>` (`img_<index>` without a split)."""
    part = read_idx_part(images, labels, split=split, limit=limit, class_names=class_names)
    return _write_images(
        [part],
        out_dir,
        sources=[images, labels],
        force=force,
        progress=progress,
        parameters={"source": "idx", "split": split, "limit": limit, "class_names": class_names},
    )


@dataclass(frozen=True)
class ArrayPart:
    """Images of one split read from an array file: pixels (N, H, W[, C]) uint8/uint16 and one
    label (text) per image; image i is the file's image i (`--limit` keeps the first N), and
    its id keeps that index."""

    split: str | None
    images: np.ndarray
    labels: list[str]

    def image_id(self, index: int) -> str:
        """`<split>_<index>` (`img_<index>` without a split), five digits at least."""
        return f"{self.split or 'img'}_{index:05d}"


def read_npz_parts(
    npz: str, *, splits: list[str] | None = None, limit: int | None = None, class_names: list[str] | None = None
) -> list[ArrayPart]:
    """The splits of a MedMNIST-style `.npz` (`<split>_images`, `<split>_labels`), every split in
    the file by default, the first `limit` images of each."""
    _check_limit(limit)
    arrays = _load_npz(npz)
    available = [s for s in SPLITS if f"{s}_images" in arrays]
    wanted = splits or available
    for split in wanted:
        if split not in SPLITS:
            raise OptionError("splits", split, f"choose among {', '.join(SPLITS)}")
        if f"{split}_images" not in arrays or f"{split}_labels" not in arrays:
            found = ", ".join(sorted(arrays)) or "none"
            raise InputError(
                f"{npz}: no {split}_images/{split}_labels arrays (found: {found}); choose other {option_ref('splits')}"
            )
    parts = []
    for split in wanted:
        images = arrays[f"{split}_images"][:limit]
        labels = _labels(arrays[f"{split}_labels"][:limit], f"{npz}, array {split}_labels", class_names)
        _check_counts(images, labels, f"{npz}, {split}_images and {split}_labels")
        parts.append(ArrayPart(split, images, labels))
    return parts


def read_idx_part(
    images: str,
    labels: str,
    *,
    split: str | None = None,
    limit: int | None = None,
    class_names: list[str] | None = None,
) -> ArrayPart:
    """MNIST-style idx image and label files (gzip or not), the first `limit` images."""
    from hstool.data.idx import read_idx

    _check_limit(limit)
    if split is not None and split not in SPLITS:
        raise OptionError("split", split, f"choose one of {', '.join(SPLITS)}")
    pixels = read_idx(images, limit=limit)
    values = _labels(read_idx(labels, limit=limit), labels, class_names)
    _check_counts(pixels, values, f"{images} and {labels}")
    return ArrayPart(split, pixels, values)


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise OptionError("limit", limit, "must be at least 1", quoted=False)


def _load_npz(npz: str) -> dict[str, np.ndarray]:
    if not Path(npz).is_file():
        raise InputError(f"{npz}: no such .npz file; pass a MedMNIST-style file (train_images, train_labels, ...)")
    try:
        with np.load(npz, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError) as exc:
        raise InputError(f"{npz}: not a readable .npz archive ({exc}); re-download the file") from None


def _labels(array: np.ndarray, where: str, class_names: list[str] | None) -> list[str]:
    """Integer class indices, (N,) or (N, 1), as text: the index, or its name."""
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InputError(f"{where}: labels of shape {array.shape} (multi-label?); expected one class index per image")
    if not np.issubdtype(array.dtype, np.integer):
        raise InputError(f"{where}: labels of type {array.dtype}; expected integer class indices")
    if class_names is None:
        return [str(int(v)) for v in array]
    bad = (array < 0) | (array >= len(class_names))
    if bad.any():
        raise InputError(
            f"{where}: class index {int(array[bad][0])} has no name ({len(class_names)} {option_ref('class_names')} given); "
            "give one name per class, in index order"
        )
    return [class_names[int(v)] for v in array]


def _check_counts(images: np.ndarray, labels: list[str], what: str) -> None:
    if len(images) != len(labels):
        raise InputError(f"{what}: {len(images)} images but {len(labels)} labels; they must come from the same dataset")
    if images.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{what}: images of type {images.dtype}; expected uint8 or uint16 pixels")
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] in (1, 3))):
        raise InputError(f"{what}: images of shape {images.shape}; expected (N, H, W) or (N, H, W, 1 or 3)")
    if images.dtype == np.uint16 and images.ndim == 4 and images.shape[3] == 3:
        raise InputError(f"{what}: 16-bit colour images cannot be written as PNG by Pillow; convert them to 8 bits")


def prepare_out_dir(out_dir: str, *, force: bool) -> Path:
    """Create `out_dir`, refusing a non-empty one unless `force`. With `force`, the old
    manifest and its sidecar go first, so an interrupted run never leaves a manifest that
    points at a mix of old and new images."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{option_ref('out_dir')} {out_dir}: is a file; give a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not force:
            raise OutputError(
                f"{option_ref('out_dir')} {out_dir}: is not empty; choose a new folder, or pass {option_ref('force')} to write into it"
            )
        for old in (folder / MANIFEST_NAME, sidecar_path(folder / MANIFEST_NAME)):
            old.unlink(missing_ok=True)
    try:
        (folder / "images").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"{option_ref('out_dir')} {out_dir}: cannot create it ({exc.strerror})") from None
    return folder


def _write_images(
    parts: list[ArrayPart],
    out_dir: str,
    *,
    sources: list[str],
    force: bool,
    progress: Progress | None,
    parameters: dict[str, Any],
) -> Built:
    folder = Path(out_dir)
    refuse_overwriting_inputs([folder / MANIFEST_NAME], sources)
    total = sum(len(part.images) for part in parts)
    # Each input file supplied `total` items (the npz all splits; idx images and labels each).
    inputs = [{"path": s, "sha256": file_sha256(s), "rows": total} for s in sources]
    folder = prepare_out_dir(out_dir, force=force)
    rows, done = [], 0
    for part in parts:
        for i, (pixels, label) in enumerate(zip(part.images, part.labels)):
            image_id = part.image_id(i)
            rel = f"images/{image_id}.png"
            save_png(folder / rel, pixels)
            rows.append({KEY: image_id, PATH: rel, LABEL: label, SPLIT: part.split})
            done += 1
            if progress and (done % 256 == 0 or done == total):
                progress(done, total)
    table = pl.DataFrame(rows, schema={KEY: pl.String, PATH: pl.String, LABEL: pl.String, SPLIT: pl.String})
    if all(part.split is None for part in parts):
        table = table.drop(SPLIT)
    meta = manifest_meta(table, parameters=parameters, inputs=inputs)
    manifest = write_manifest(folder / MANIFEST_NAME, table, meta)
    return Built(table=table, meta=meta, manifest=manifest)


def write_manifest(path: str | Path, table: pl.DataFrame, meta: dict[str, Any]) -> Path:
    """Write a manifest CSV atomically, then its `.meta.json` sidecar (meta from `manifest_meta`)."""
    write_text(path, table.write_csv())
    write_sidecar(path, meta)
    return Path(path)


def manifest_meta(table: pl.DataFrame, *, parameters: dict[str, Any], inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """The `hs.manifest/1` sidecar: provenance plus image counts per class and split."""
    return build_sidecar(schema=SCHEMA, parameters=parameters, inputs=inputs, rows=table.height, extra=_counts(table))


def _counts(table: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Images per class and per split, for the sidecar (sorted, so reruns are identical)."""
    out: dict[str, dict[str, int]] = {}
    for column, key in ((LABEL, "classes"), (SPLIT, "splits")):
        if column in table.columns:
            out[key] = dict(sorted(Counter(table[column].to_list()).items()))
    return out


def save_png(path: str | Path, pixels: np.ndarray) -> None:
    """Write uint8/uint16 pixels (H, W), (H, W, 1) or (H, W, 3) as PNG with fixed settings and no
    metadata chunks (no time stamp), so the same pixels always give the same bytes."""
    from PIL import Image

    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    Image.fromarray(np.ascontiguousarray(pixels)).save(path, format="PNG", compress_level=6)
