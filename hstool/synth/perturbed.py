"""`hs perturb MANIFEST -o DIR`: perturbed copies of a manifest's images and a new manifest.

Every image is decoded (`hstool.data.images.load_image`, floats in [0, 1]), perturbed
(`hstool.synth.perturb`) and written to `DIR/images/<image_id>.png`; `DIR/manifest.csv` keeps
every row and column of the input manifest, in the same order and with the same ids, with
`path` pointing at the new file and a `perturbation` column naming what was done (appended
with `+` when the input already has one, so perturbations can be chained).

PNG files: grey images as 16-bit (`--bits 16`, the default: a filtered image has more levels
than 8 bits hold, and 8-bit inputs survive exactly, k/255 = 257k/65535) or 8-bit (`--bits 8`);
RGB images always as 8-bit per channel (Pillow cannot write 16-bit colour PNGs). Values are
rounded to the nearest level. Fixed encoder settings and no metadata chunks, so the same input
and seed give byte-identical files. Images are processed in `workers` processes; the noise of
each image is seeded by (seed, image_id), so results do not depend on order or workers.
"""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from hstool.data.build import MANIFEST_NAME, Built, Progress, manifest_meta, prepare_out_dir, write_manifest
from hstool.data.images import load_image
from hstool.data.manifest import PATH, read_manifest
from hstool.errors import OptionError, OutputError
from hstool.io.atomic import atomic_path, refuse_overwriting_inputs
from hstool.io.table_format import KEY, TableFormat
from hstool.synth.perturb import Perturbation

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

COLUMN = "perturbation"
BITS = (8, 16)
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,150}")


def file_name(image_id: str) -> str:
    """`<image_id>.png` when the id is a safe file name, else a cleaned id plus a hash of it
    (ids such as `a/b` or `..` must not become paths)."""
    if _SAFE.fullmatch(image_id):
        return f"{image_id}.png"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id).strip("._")[:100]
    digest = hashlib.sha256(image_id.encode("utf-8")).hexdigest()[:12]
    return f"{cleaned}_{digest}.png" if cleaned else f"{digest}.png"


def encode_png(image: np.ndarray, bits: int) -> PILImage:
    """A Pillow image: grey as 16- or 8-bit, RGB as 8-bit; values rounded to the nearest level."""
    from PIL import Image

    x = np.clip(np.asarray(image, dtype=np.float64), 0.0, 1.0)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim == 2 and bits == 16:
        return Image.fromarray(np.round(x * 65535).astype(np.uint16))
    return Image.fromarray(np.round(x * 255).astype(np.uint8))


def _perturb_one(task: tuple[Any, ...]) -> None:
    source, target, image_id, perturbation, seed, bits = task
    out = perturbation.apply(load_image(source), image_id, seed)
    with atomic_path(target) as tmp:
        encode_png(out, bits).save(tmp, format="PNG", compress_level=6)


def run_perturb(
    manifest_path: str,
    out_dir: str,
    perturbation: Perturbation,
    *,
    seed: int = 0,
    root: str | None = None,
    bits: int = 16,
    workers: int = 1,
    force: bool = False,
    progress: Progress | None = None,
    id_col: str = KEY,
    fmt: TableFormat = TableFormat(),
) -> Built:
    if bits not in BITS:
        raise OptionError("bits", bits, "choose 8 or 16", quoted=False)
    if workers < 1:
        raise OptionError("workers", workers, "must be at least 1", quoted=False)
    manifest = read_manifest(manifest_path, root=root, id_col=id_col, fmt=fmt)
    manifest.check_files()
    folder = Path(out_dir)
    refuse_overwriting_inputs([folder / MANIFEST_NAME], [manifest_path])
    names = [file_name(i) for i in manifest.ids]
    if len(set(names)) != len(names):  # only possible for ids that needed cleaning
        raise OutputError(f"{manifest.source.name}: two image_ids map to the same file name; rename them")
    targets = [folder / "images" / n for n in names]
    inputs = {os.path.realpath(p) for p in manifest.paths}
    clash = next((t for t in targets if os.path.realpath(t) in inputs), None)
    if clash is not None:
        raise OutputError(f"refusing to write {clash}: it is one of the input images; choose another -o folder")
    folder = prepare_out_dir(out_dir, force=force)
    tasks = [(src, dst, i, perturbation, seed, bits) for src, dst, i in zip(manifest.paths, targets, manifest.ids)]
    _run(tasks, workers, progress)
    table = manifest.table.with_columns(pl.Series(PATH, [f"images/{n}" for n in names], dtype=pl.String))
    table = table.with_columns(_perturbation_column(table, perturbation.name))
    parameters = {"perturbation": asdict(perturbation), "seed": seed, "bits": bits, "root": root}
    meta = manifest_meta(table, parameters=parameters, inputs=[manifest.source.provenance()])
    meta.update({"seed": seed, "perturbation": {**asdict(perturbation), "name": perturbation.name}})
    meta.update({"png_bits": {"grey": bits, "rgb": 8}})
    written = write_manifest(folder / MANIFEST_NAME, table, meta)
    return Built(table=table, meta=meta, manifest=written)


def _perturbation_column(table: pl.DataFrame, name: str) -> pl.Series:
    if COLUMN not in table.columns:
        return pl.Series(COLUMN, [name] * table.height, dtype=pl.String)
    before = table[COLUMN].cast(pl.String).to_list()
    return pl.Series(COLUMN, [f"{b}+{name}" if b else name for b in before], dtype=pl.String)


def _run(tasks: list[tuple[Any, ...]], workers: int, progress: Progress | None) -> None:
    total = len(tasks)
    if workers == 1 or total < 2:
        for done, task in enumerate(tasks, 1):
            _perturb_one(task)
            _report(progress, done, total)
        return
    with ProcessPoolExecutor(max_workers=min(workers, total)) as pool:
        for done, _ in enumerate(pool.map(_perturb_one, tasks, chunksize=8), 1):
            _report(progress, done, total)


def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress and (done % 64 == 0 or done == total):
        progress(done, total)
