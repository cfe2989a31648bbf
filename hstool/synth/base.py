"""The real images `hs synth` plants strata into: a MedMNIST `.npz`, MNIST-style idx files or a
manifest, read into one table (image_id, split, label, carried metadata) plus a way to get each
image's pixels as a grey float64 (H, W) array in [0, 1].

Array files are held in memory (PneumoniaMNIST is 3.5 MB, Fashion-MNIST 55 MB as uint8);
manifest images are decoded one at a time when they are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool.data.build import ArrayPart, read_idx_part, read_npz_parts
from hstool.data.manifest import LABEL, PATH, SPLIT, SPLITS, read_manifest
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.sidecar import file_sha256
from hstool.io.table_format import TableFormat
from hstool.io.tables import KEY

REF = "_ref"  # column: where the row's pixels are (index into BaseImages.parts or .paths)
_SAFE_PART = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


@dataclass(frozen=True)
class BaseSource:
    """Where the base images come from: exactly one of `npz`, `idx` ((split, images, labels)
    pairs) or `manifest`."""

    npz: str | None = None
    idx: tuple[tuple[str | None, str, str], ...] = ()
    manifest: str | None = None
    root: str | None = None
    splits: tuple[str, ...] | None = None
    limit: int | None = None
    class_names: tuple[str, ...] | None = None
    id_col: str = KEY  # --from-manifest: the manifest's id column
    table_format: TableFormat = field(default_factory=TableFormat)

    def __post_init__(self) -> None:
        given = [
            name
            for name, on in (
                (option_ref("npz"), self.npz),
                (option_ref("idx"), self.idx),
                (option_ref("manifest"), self.manifest),
            )
            if on
        ]
        if len(given) != 1:
            raise UsageError(
                f"give one source of base images: {option_ref('npz')} FILE, {option_ref('idx')} [SPLIT=]IMAGES,LABELS or {option_ref('manifest')} FILE"
                + (f" (got {' and '.join(given)})" if given else "")
            )
        if self.root is not None and not self.manifest:
            raise UsageError(f"{option_ref('root')} applies to {option_ref('manifest')} only")
        if self.class_names is not None and self.manifest:
            raise UsageError(
                f"{option_ref('class_names')} applies to {option_ref('npz')} and {option_ref('idx')}; a manifest's labels are used as they are"
            )
        if len(self.idx) > 1:
            splits = [s for s, _, _ in self.idx]
            if None in splits or len(set(splits)) != len(splits):
                raise UsageError(
                    f"several {option_ref('idx')} pairs need one split each, all different: {option_ref('idx')} train=IMAGES,LABELS {option_ref('idx')} test=..."
                )
        if self.idx and self.splits is not None:
            raise UsageError(
                f"{option_ref('splits')} selects splits of an .npz or a manifest; with {option_ref('idx')} name the split of each pair (SPLIT=IMAGES,LABELS)"
            )
        for split in self.splits or ():
            if split not in SPLITS:
                raise OptionError("splits", split, f"choose among {', '.join(SPLITS)}")

    def describe(self) -> dict[str, Any]:
        if self.npz:
            return {
                "kind": "npz",
                "path": self.npz,
                "splits": list(self.splits) if self.splits else None,
                "limit": self.limit,
                "class_names": list(self.class_names) if self.class_names else None,
            }
        if self.idx:
            return {
                "kind": "idx",
                "pairs": [{"split": s, "images": i, "labels": lab} for s, i, lab in self.idx],
                "limit": self.limit,
                "class_names": list(self.class_names) if self.class_names else None,
            }
        return {
            "kind": "manifest",
            "path": self.manifest,
            "root": self.root,
            "splits": list(self.splits) if self.splits else None,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class BaseImages:
    """The base table (image_id, split (null when the source has none), label, metadata...,
    `_ref`) and the pixels behind `_ref`: an (part, index) pair into `parts` for array sources,
    a path for manifests."""

    table: pl.DataFrame
    parts: list[ArrayPart]
    offsets: list[int]  # first _ref of each part
    paths: list[Path]
    inputs: list[dict[str, Any]]  # provenance: path, sha256, rows
    has_splits: bool

    def pixels(self, ref: int, size: tuple[int, int] | None) -> np.ndarray:
        """Grey float64 (H, W) in [0, 1] (RGB becomes BT.601 luma), resized to `size` (H, W)
        when given (bilinear, antialiased: hstool.data.preprocess)."""
        from hstool.data.preprocess import Preprocessing

        if self.paths:
            from hstool.data.images import load_image

            image = load_image(self.paths[ref])
        else:
            part = int(np.searchsorted(self.offsets, ref, side="right")) - 1
            raw = self.parts[part].images[ref - self.offsets[part]]
            image = raw.astype(np.float32) / np.float32(np.iinfo(raw.dtype).max)
        if image.ndim == 2:
            image = image[:, :, None]
        if image.shape[2] == 1 and (size is None or tuple(size) == image.shape[:2]):
            return image[:, :, 0].astype(np.float64)  # already grey at the wanted size
        prep = Preprocessing(size=size or image.shape[:2], channels=1)
        return np.asarray(prep.apply(image)[0], dtype=np.float64)


def read_base(source: BaseSource) -> BaseImages:
    if source.manifest:
        return _from_manifest(source, source.manifest)
    names = list(source.class_names) if source.class_names else None
    if source.npz:
        parts = read_npz_parts(
            source.npz, splits=list(source.splits) if source.splits else None, limit=source.limit, class_names=names
        )
        files = [source.npz]
    else:
        parts = [read_idx_part(i, lab, split=s, limit=source.limit, class_names=names) for s, i, lab in source.idx]
        files = [f for _, i, lab in source.idx for f in (i, lab)]
    total = sum(len(p.labels) for p in parts)
    rows: list[tuple[str, str | None, str, int]] = []
    offsets: list[int] = []
    for part in parts:
        offsets.append(len(rows))
        rows += [(part.image_id(i), part.split, label, len(rows) + i) for i, label in enumerate(part.labels)]
    table = pl.DataFrame(rows, schema={KEY: pl.String, SPLIT: pl.String, LABEL: pl.String, REF: pl.Int64}, orient="row")
    inputs = [{"path": f, "sha256": file_sha256(f), "rows": total} for f in files]
    return BaseImages(table, parts, offsets, [], inputs, has_splits=any(p.split for p in parts))


def _from_manifest(source: BaseSource, path: str) -> BaseImages:
    manifest = read_manifest(path, root=source.root, require_label=True, id_col=source.id_col, fmt=source.table_format)
    manifest.check_files()
    table = manifest.table.with_columns(pl.Series(REF, range(manifest.table.height), dtype=pl.Int64))
    has_splits = SPLIT in table.columns
    if not has_splits:
        table = table.with_columns(pl.lit(None, dtype=pl.String).alias(SPLIT))
    if source.splits:
        if not has_splits:
            raise InputError(
                f"{manifest.source.name}: has no '{SPLIT}' column, so {option_ref('splits')} cannot select rows; drop {option_ref('splits')}"
            )
        table = table.filter(pl.col(SPLIT).is_in(list(source.splits)))
    if source.limit is not None:
        if source.limit < 1:
            raise OptionError("limit", source.limit, "must be at least 1", quoted=False)
        table = table.filter(pl.int_range(pl.len()).over(SPLIT) < source.limit)
    for image_id in table[KEY].to_list():
        check_file_name(image_id, manifest.source.name)
    table = table.drop(PATH).select(
        KEY, SPLIT, LABEL, *[c for c in table.columns if c not in (KEY, SPLIT, LABEL, PATH)]
    )
    return BaseImages(table, [], [], manifest.paths, [manifest.source.provenance()], has_splits)


def check_file_name(image_id: str, where: str) -> None:
    """Ids become `images/<image_id>.png`; `/` makes subfolders (ids from `hs manifest folder`,
    such as `normal/IM-0001`). Every part must be a plain name of letters, digits, `.`, `_`, `-`."""
    parts = image_id.split("/")
    if any(not p or p in (".", "..") or not set(p) <= _SAFE_PART for p in parts):
        raise InputError(
            f"{where}: image_id {image_id!r} cannot be used as a file name; use letters, digits, '.', '_', '-' "
            "(and '/' between folder names)"
        )
