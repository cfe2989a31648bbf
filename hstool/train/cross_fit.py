"""`hs train --cross-fit K`: out-of-fold probabilities for every training image.

The training images (the manifest's `train` and `val` rows, or every row without a `split`
column; `test` rows are left out) are split into K folds, stratified by label with a seeded
shuffle (each class's images dealt round-robin over the folds). For each fold, an ordinary
`hs train` run learns from the other K - 1 folds (its own validation rows drawn from them by
`--val-frac`, so the held-out fold never picks an epoch), and its exported model.onnx predicts
the held-out fold with ONNX Runtime, exactly as `hs predict` would. The K held-out predictions
together give every training image a probability from a model that never saw it:

    OUT/preds_oof.csv (+ .meta.json)   preds.csv format, manifest order (hs.preds/1, out_of_sample: true)
    OUT/fold_<i>/                       an hs train output folder (model.onnx, train_log.csv, ...)
    OUT/fold_<i>/manifest.csv           the run's manifest: split = train (other folds) or test (fold i);
                                        paths relative to the manifest's root (its folder or --root)
    OUT/fold_<i>/heldout.csv            fold i's images; heldout_preds.csv their predictions

These are what confident learning needs (`hs label-issues`, docs/label_issues.md). Label noise
to be found must be in the manifest's labels (`hs synth --noisy`), so `--subsample` and
`--label-noise` are refused here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hstool.data.manifest import LABEL, SPLIT, Manifest, read_manifest
from hstool.errors import InputError, OptionError, OutputError, UsageError, option_ref
from hstool.infer.inference import InferenceOptions, Targets, run_inference
from hstool.infer.preds_format import PREDS_SCHEMA
from hstool.io.atomic import refuse_overwriting_inputs, write_text
from hstool.io.sidecar import build_sidecar, file_sha256, read_sidecar, write_sidecar
from hstool.io.table_format import TableFormat
from hstool.io.tables import KEY
from hstool.train.config import TrainConfig
from hstool.train.training import Progress, Report, train

OOF_PREDS = "preds_oof.csv"
FOLD_MANIFEST = "manifest.csv"
HELDOUT = "heldout.csv"
HELDOUT_PREDS = "heldout_preds.csv"
TRAINING_SPLITS = ("train", "val")
_FOLD_SALT = 0xF01D  # the fold shuffle's own random stream


@dataclass(frozen=True)
class CrossFitResult:
    preds: Path  # OUT/preds_oof.csv
    folds: list[Path]  # OUT/fold_<i>
    fold_sizes: list[int]


def fold_dir(out_dir: str | Path, fold: int) -> Path:
    return Path(out_dir) / f"fold_{fold}"


def assign_folds(labels: list[str], folds: int, seed: int) -> np.ndarray:
    """Fold index (0..folds-1) of every row: within each class a seeded shuffle dealt
    round-robin, so every fold gets floor or ceil of n_class / folds of each class."""
    rng = np.random.default_rng([seed, _FOLD_SALT])
    values = np.asarray(labels, dtype=object)
    fold = np.empty(len(values), dtype=np.int64)
    offset = 0
    for klass in sorted(set(labels)):
        members = np.flatnonzero(values == klass)
        shuffled = members[rng.permutation(len(members))]
        # Continue the deal where the last class stopped, so that small classes do not all
        # land in fold 0 and the fold sizes stay within one image of each other.
        fold[shuffled] = (np.arange(len(shuffled)) + offset) % folds
        offset = (offset + len(shuffled)) % folds
    return fold


def cross_fit(
    config: TrainConfig, folds: int, *, progress: Progress | None = None, report: Report | None = None
) -> CrossFitResult:
    """Train `folds` models as `config` says, each on all folds but one, and write the
    out-of-fold predictions (module docstring)."""
    say = report or (lambda line: None)
    _check_options(config, folds)
    manifest = read_manifest(
        config.manifest, root=config.root, require_label=True, id_col=config.id_col, fmt=config.table_format
    )
    manifest.check_files()
    rows = _training_rows(manifest)
    labels = [str(v).strip() for v in manifest.table[LABEL].gather(rows).to_list()]
    _check_classes(manifest, labels, folds)
    out = _check_out_dir(config, folds)
    fold_of = assign_folds(labels, folds, config.seed)
    # Paths as the manifest writes them, relative to its root: each fold's run reads its
    # manifest with that root (pass `--root` the same way to reuse a fold manifest).
    table = manifest.table[rows]
    root = str(manifest.root)
    models, sizes = [], []
    for i in range(folds):
        folder = fold_dir(out, i)
        folder.mkdir(parents=True, exist_ok=True)
        split = np.where(fold_of == i, "test", "train")
        write_text(
            folder / FOLD_MANIFEST, table.drop(SPLIT, strict=False).with_columns(pl.Series(SPLIT, split)).write_csv()
        )
        write_text(folder / HELDOUT, table.filter(pl.Series(fold_of == i)).drop(SPLIT, strict=False).write_csv())
        say(
            f"fold {i + 1}/{folds}: training on {int((fold_of != i).sum())} images, {int((fold_of == i).sum())} held out"
        )
        result = train(
            dataclasses.replace(
                config,
                manifest=str(folder / FOLD_MANIFEST),
                out_dir=str(folder),
                root=root,
                force=True,
                # hs writes the fold manifests: image_id, comma-separated, whatever the user's file was.
                id_col=KEY,
                table_format=TableFormat(),
            ),
            progress=progress,
            report=report,
        )
        model = str(result.model)  # export is on (_check_options)
        run_inference(
            model,
            str(folder / HELDOUT),
            Targets(preds=str(folder / HELDOUT_PREDS)),
            InferenceOptions(device="cpu" if config.device == "cpu" else "auto", root=root, workers=config.workers),
        )
        models.append(model)
        sizes.append(int((fold_of == i).sum()))
    preds = _combine(out, manifest, rows, folds, models, sizes, config)
    say(f"out-of-fold predictions: {preds} ({len(rows)} images, {folds} folds)")
    return CrossFitResult(preds=preds, folds=[fold_dir(out, i) for i in range(folds)], fold_sizes=sizes)


def _check_options(config: TrainConfig, folds: int) -> None:
    if folds < 2:
        raise OptionError("cross_fit", folds, "needs at least 2 folds")
    if config.subsample or config.label_noise:
        raise UsageError(
            f"{option_ref('cross_fit')} with {option_ref('subsample')}/{option_ref('label_noise')}: put the label noise to be found into the manifest's labels "
            "(hs synth --noisy) and cross-fit that manifest"
        )
    if config.resume:
        raise UsageError(
            f"{option_ref('cross_fit')} cannot {option_ref('resume')}; start again with {option_ref('force')}"
        )
    if not config.export:
        raise UsageError("cross-fitting needs each fold's exported model; leave the export on")
    if config.manifest == "-":
        raise UsageError(f"{option_ref('cross_fit')} reads the manifest once per fold: give a file, not '-'")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # Every process would write the same fold files and predictions.
        raise UsageError(f"{option_ref('cross_fit')} runs in one process: start it without torchrun")


def _training_rows(manifest: Manifest) -> np.ndarray:
    if SPLIT not in manifest.table.columns:
        return np.arange(manifest.table.height, dtype=np.int64)
    split = manifest.table[SPLIT].to_numpy()
    rows = np.flatnonzero(np.isin(split, TRAINING_SPLITS)).astype(np.int64)
    if len(rows) == 0:
        raise InputError(
            f"{manifest.source.name}: no rows have split 'train' or 'val'; cross-fitting covers the training images"
        )
    return rows


def _check_classes(manifest: Manifest, labels: list[str], folds: int) -> None:
    classes, counts = np.unique(np.asarray(labels, dtype=object), return_counts=True)
    if len(classes) < 2:
        raise InputError(
            f"{manifest.source.name}: every training image has the label {classes[0]!r}; training needs two classes"
        )
    small = [f"{c!r} ({n})" for c, n in zip(classes, counts) if n < folds]
    if small:
        raise InputError(
            f"{manifest.source.name}: class {', '.join(small)} has fewer training images than {option_ref('cross_fit')} {folds} folds; "
            f"every fold's training part needs every class: lower {option_ref('cross_fit')} or add images"
        )


def _check_out_dir(config: TrainConfig, folds: int) -> Path:
    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"-o {config.out_dir}: is a file; give a folder for the fold runs and the predictions")
    refuse_overwriting_inputs([out / OOF_PREDS], [config.manifest])
    earlier = out.exists() and ((out / OOF_PREDS).exists() or any(out.glob("fold_*")))
    if earlier and not config.force:
        raise OutputError(
            f"-o {config.out_dir}: holds an earlier cross-fit; pass {option_ref('force')} to start again, or choose a new folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / OOF_PREDS).unlink(missing_ok=True)  # no stale result next to a run in progress
    return out


def _combine(
    out: Path,
    manifest: Manifest,
    rows: np.ndarray,
    folds: int,
    models: list[str],
    sizes: list[int],
    config: TrainConfig,
) -> Path:
    """The folds' held-out predictions, as text (each row's numbers exactly as hs predict wrote
    them), put back in manifest order."""
    parts = [pl.read_csv(fold_dir(out, i) / HELDOUT_PREDS, infer_schema=False) for i in range(folds)]
    position = {image_id: n for n, image_id in enumerate(manifest.table[KEY].gather(rows).to_list())}
    combined = pl.concat(parts)
    combined = combined.sort(pl.col(KEY).replace_strict(position, return_dtype=pl.Int64))
    target = out / OOF_PREDS
    write_text(target, combined.write_csv())
    first = read_sidecar(fold_dir(out, 0) / HELDOUT_PREDS) or {}
    model = {k: v for k, v in first.get("model", {}).items() if k != "sha256"}
    write_sidecar(
        target,
        build_sidecar(
            schema=PREDS_SCHEMA,
            parameters={**config.parameters(), "cross_fit": folds},
            inputs=[
                manifest.source.provenance(),
                *({"path": m, "sha256": file_sha256(m), "rows": None} for m in models),
            ],
            rows=combined.height,
            seed=config.seed,
            extra={
                "out_of_sample": True,
                "cross_fit": {
                    "folds": folds,
                    "fold_sizes": sizes,
                    "rows": "the manifest's train and val rows (every row without a split column)",
                    "method": "each row predicted by the model trained on the other folds",
                },
                "model": model,
            },
        ),
    )
    return target
