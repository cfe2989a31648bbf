"""`hs saliency MODEL MANIFEST -o DIR`: where the model looks, for every image (or the ids
asked for): occlusion sensitivity through ONNX Runtime, and Grad-CAM when the model's PyTorch
checkpoint is given (hstool.train.gradcam, imported only then). docs/report.md explains how to
read the maps; the folder's contract is in hstool.saliency.index.

Everything is checked before any image is processed (ids, class, patch, checkpoint), and the
folder is built under a temporary name and renamed into place when complete, so a failed or
interrupted run leaves nothing that looks like a result.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool.data.images import DEFAULT_MAX_PIXELS
from hstool.data.manifest import Manifest, read_manifest
from hstool.data.preprocess import load_batch
from hstool.errors import LISTED, InputError, OutputError, UsageError, option_ref
from hstool.infer.runtime import LoadedModel, load_model
from hstool.io.atomic import refuse_overwriting_inputs, write_text
from hstool.io.sidecar import build_sidecar, write_sidecar
from hstool.io.table_format import TableFormat
from hstool.io.tables import KEY, Source, read_table
from hstool.saliency.index import INDEX_NAME, METHODS, SCHEMA, index_table, write_maps
from hstool.saliency.occlusion import Occlusion, occlusion_maps
from hstool.saliency.overlay import grey_of

Progress = Callable[[int, int], None]
# Default size of an occlusion call, in input values: 16 copies of 28 x 28 x 1, one of 224 x 224.
# Measured on the 2-core CPU (docs/benchmarks.md, saliency_speed.py): at 28 x 28 calls of 8 to 32
# copies were never slower than one call per copy, and at 224 x 224 single copies were fastest
# (larger calls push the activations out of the cache). A GPU wants larger calls: pass batch_size.
BATCH_VALUES = 16 * 28 * 28


@dataclass(frozen=True)
class SaliencyOptions:
    """Every knob of `hs saliency` (defaults as on the command line)."""

    methods: tuple[str, ...] | None = None  # None: occlusion, and gradcam too when a checkpoint is given
    checkpoint: str | None = None  # the hs train model.pt, for Grad-CAM
    ids: str | None = None  # a CSV with an image_id column: only these images
    root: str | None = None
    patch: int | None = None  # None: a seventh of the input's shorter side
    stride: int | None = None  # None: half the patch
    fill: str | float = "mean"
    scale: str = "probability"  # occlusion drop in probability or log-odds
    target: str | None = None  # class explained; None: the positive class (binary), the predicted one (multi-class)
    batch_size: int | None = None  # occluded copies per model call; None: BATCH_VALUES input values
    max_patches: int = 4096  # occluded copies per image, above which the run is refused
    max_pixels: int = DEFAULT_MAX_PIXELS  # decoded image size cap
    images_per_step: int = 64  # images decoded and explained together
    device: str = "auto"
    threads: int = 0
    force: bool = False
    id_col: str = KEY  # the id column of the manifest and of the ids file
    table_format: TableFormat = field(default_factory=TableFormat)  # how both tables are written

    def occlusion(self, size: tuple[int, int]) -> Occlusion:
        patch = self.patch if self.patch is not None else max(1, round(min(size) / 7))
        stride = self.stride if self.stride is not None else max(1, patch // 2)
        return Occlusion(patch=patch, stride=stride, fill=self.fill, scale=self.scale)

    def copies_per_call(self, shape: tuple[int, ...]) -> int:
        """Occluded copies per model call for inputs of `shape` (C, H, W)."""
        if self.batch_size is not None:
            return self.batch_size
        return max(1, BATCH_VALUES // int(np.prod(shape)))

    def chosen_methods(self) -> tuple[str, ...]:
        methods = self.methods or (("occlusion", "gradcam") if self.checkpoint else ("occlusion",))
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods or len(set(methods)) != len(methods):
            raise UsageError(f"method {','.join(methods)!r}: choose occlusion, gradcam or both, each once")
        if "gradcam" in methods and not self.checkpoint:
            raise UsageError(
                "Grad-CAM needs the model's PyTorch checkpoint: pass the model.pt hs train wrote next to model.onnx"
            )
        return tuple(m for m in METHODS if m in methods)


@dataclass(frozen=True)
class SaliencyResult:
    folder: Path
    rows: int
    images: int
    methods: tuple[str, ...]
    occlusion: Occlusion

    def summary(self) -> str:
        o = self.occlusion
        how = f" (patch {o.patch}, stride {o.stride}, fill {o.fill}, {o.scale})" if "occlusion" in self.methods else ""
        return f"{self.images} images, {', '.join(self.methods)}{how}; wrote {self.folder}/{INDEX_NAME}"


def run_saliency(
    model_path: str, manifest_path: str, out_dir: str, options: SaliencyOptions, *, progress: Progress | None = None
) -> SaliencyResult:
    methods = options.chosen_methods()
    if (
        (options.batch_size is not None and options.batch_size < 1)
        or options.images_per_step < 1
        or options.max_patches < 1
    ):
        raise UsageError("the batch size, images per step and the patch cap must be 1 or more")
    refuse_overwriting_inputs([out_dir], [model_path, manifest_path, options.ids, options.checkpoint])
    folder = _check_out_dir(out_dir, options.force)
    model = load_model(model_path, device=options.device, threads=options.threads)
    info = model.info
    occlusion = options.occlusion(info.preprocessing.size)
    n_patches = len(occlusion.grid(*info.preprocessing.size)[0]) if "occlusion" in methods else 0
    if n_patches > options.max_patches:
        h, w = info.preprocessing.size
        raise UsageError(
            f"patch {occlusion.patch} with stride {occlusion.stride} on the model's {h}x{w} input makes {n_patches:,} "
            f"occluded copies per image, above the cap of {options.max_patches:,}; use a larger stride or patch"
        )
    target = _target_index(info.class_names, info.task, info.positive_class, options.target)
    manifest = read_manifest(manifest_path, root=options.root, id_col=options.id_col, fmt=options.table_format)
    manifest, ids_source = _selected(manifest, options.ids, options)
    manifest.check_files()
    gradcam = _gradcam(options.checkpoint, info) if options.checkpoint and "gradcam" in methods else None

    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".partial", dir=folder.parent))
    try:
        rows = _compute(model, manifest, methods, occlusion, target, gradcam, options, tmp, progress)
        table = index_table(rows)
        write_text(tmp / INDEX_NAME, table.write_csv())
        meta = build_sidecar(
            schema=SCHEMA,
            parameters={
                "methods": list(methods),
                "occlusion": occlusion.describe() if "occlusion" in methods else None,
                "target": options.target,
                "checkpoint": options.checkpoint,
                "ids": options.ids,
                "root": options.root,
                "id_col": options.id_col,
                "table_format": asdict(options.table_format),
                "batch_size": options.copies_per_call((info.preprocessing.channels, *info.preprocessing.size)),
            },
            inputs=_inputs(model, manifest, ids_source, options),
            rows=table.height,
            extra={"model": info.describe(), "provider": model.provider, "images": manifest.table.height},
        )
        write_sidecar(tmp / INDEX_NAME, meta)
        if folder.exists():  # empty, or an earlier saliency folder with --force
            shutil.rmtree(folder)
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return SaliencyResult(folder, table.height, manifest.table.height, methods, occlusion)


def _compute(
    model: LoadedModel,
    manifest: Manifest,
    methods: tuple[str, ...],
    occlusion: Occlusion,
    target: int | None,
    gradcam: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None,
    options: SaliencyOptions,
    tmp: Path,
    progress: Progress | None,
) -> list[dict[str, Any]]:
    info = model.info
    batch = options.copies_per_call((info.preprocessing.channels, *info.preprocessing.size))
    rows: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    ids, total = manifest.ids, manifest.table.height
    step = options.images_per_step
    for start in range(0, total, step):
        chunk_ids = ids[start : start + step]
        images = load_batch(manifest.paths[start : start + step], info.preprocessing, max_pixels=options.max_pixels)
        probs = model.run(images)[0]
        targets = np.full(len(images), target) if target is not None else np.argmax(probs, axis=1)
        classes = [info.class_names[t] for t in targets]
        greys = np.stack([grey_of(image) for image in images])
        if gradcam is not None:
            maps, torch_probs = gradcam(images, targets)
            if start == 0:
                from hstool.train.gradcam import check_parity

                check_parity(str(options.checkpoint), info.path, torch_probs, probs)
            scores = probs[np.arange(len(images)), targets]
            rows["gradcam"] += write_maps(tmp, "gradcam", chunk_ids, greys, maps, classes, scores)
        if "occlusion" in methods:
            maps, scores = occlusion_maps(
                lambda x: model.run(x)[0], images, targets, occlusion, batch=batch, probs=probs
            )
            rows["occlusion"] += write_maps(tmp, "occlusion", chunk_ids, greys, maps, classes, scores)
        if progress:
            progress(min(start + step, total), total)
    return [r for m in methods for r in rows[m]]


def _gradcam(checkpoint: str, info: Any) -> Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Grad-CAM on the checkpoint (torch is imported only here), checked before any work."""
    from hstool.train.gradcam import GradCam

    return GradCam.open(
        checkpoint, architecture=info.architecture, n_classes=len(info.class_names), preprocessing=info.preprocessing
    )


def _target_index(class_names: tuple[str, ...], task: str, positive: str | None, wanted: str | None) -> int | None:
    """The class every map explains; None: each image's predicted class (multi-class default)."""
    if wanted is not None:
        if wanted not in class_names:
            raise UsageError(f"class {wanted!r}: the model's classes are {', '.join(class_names)}")
        return list(class_names).index(wanted)
    if task == "binary":
        return 1  # the positive class: probabilities[:, 1] is the score hs predict writes
    return None


def _selected(manifest: Manifest, ids_path: str | None, options: SaliencyOptions) -> tuple[Manifest, Source | None]:
    """The manifest's rows whose ids the ids file lists (in manifest order; every listed id must
    exist), and the ids file as read."""
    if ids_path is None:
        return manifest, None
    ids, source = read_table(ids_path, role="ids", fmt=options.table_format, columns={KEY: options.id_col})
    wanted, present = set(ids[KEY].to_list()), set(manifest.ids)
    missing = [i for i in ids[KEY].to_list() if i not in present]
    if missing:
        shown = ", ".join(repr(i) for i in missing[:LISTED])
        raise InputError(
            f"{source.name}, column '{source.file_column(KEY)}': {len(missing)} id(s) are not in {manifest.source.name} (first: {shown}"
            f"{', ...' if len(missing) > LISTED else ''}); list only ids of the manifest"
        )
    keep = [i in wanted for i in manifest.ids]
    selected = Manifest(
        table=manifest.table.filter(pl.Series(keep)),
        paths=[p for p, k in zip(manifest.paths, keep) if k],
        root=manifest.root,
        source=manifest.source,
    )
    return selected, source


def _check_out_dir(out_dir: str, force: bool) -> Path:
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"-o {out_dir}: is a file; give a folder for the maps")
    if folder.is_dir() and any(folder.iterdir()):
        if not force:
            raise OutputError(
                f"-o {out_dir}: is not empty; choose a new folder, or {option_ref('force')} to replace an earlier saliency folder"
            )
        if not (folder / INDEX_NAME).is_file():
            raise OutputError(
                f"-o {out_dir}: {option_ref('force')} replaces only a saliency folder (with {INDEX_NAME}), and this is not one"
            )
    if not folder.resolve().parent.is_dir():
        raise OutputError(f"-o {out_dir}: its parent folder does not exist; create it first")
    return folder


def _inputs(
    model: LoadedModel, manifest: Manifest, ids: Source | None, options: SaliencyOptions
) -> list[dict[str, Any]]:
    from hstool.io.sidecar import file_sha256

    items: list[dict[str, Any]] = [
        {"path": model.info.path, "sha256": model.info.sha256},
        manifest.source.provenance(),  # path, sha256, rows, and the renamed id column
    ]
    if ids is not None:  # hashed when it was read
        items.append(ids.provenance())
    if options.checkpoint:
        items.append({"path": options.checkpoint, "sha256": file_sha256(options.checkpoint)})
    return items
