"""The files of a training run in its output folder (no torch here):

    OUT/model.onnx (+ .meta.json)        the exported model, written last (hs.model/1)
    OUT/model.pt                          best weights (state dict)
    OUT/train_log.csv (+ .meta.json)      one row per epoch (hs.train-log/1)
    OUT/affected.csv (+ .meta.json)       rows touched by --subsample/--label-noise (hs.train-affected/1)
    OUT/checkpoints/last.pt, epoch_NNN.pt resume state and per-epoch weights

A new run refuses a folder that holds an earlier run unless `--force` (which deletes those files
first) or `--resume`. Both remove an old model.onnx before training, so a folder never shows a
finished model next to the checkpoints of a run still in progress or dead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from hstool.errors import OutputError, option_ref
from hstool.io.atomic import refuse_overwriting_inputs, write_text
from hstool.io.sidecar import sidecar_path, write_sidecar
from hstool.io.tables import KEY
from hstool.train.checkpoints import FOLDER, MODEL
from hstool.train.experiments import LABEL_NOISE
from hstool.train.plan import TrainPlan

ONNX = "model.onnx"
LOG = "train_log.csv"
AFFECTED = "affected.csv"
LOG_SCHEMA = "hs.train-log/1"
AFFECTED_SCHEMA = "hs.train-affected/1"
LOG_COLUMNS = ("epoch", "lr", "train_loss", "val_loss", "val_accuracy", "val_auc", "best")
_RUN_FILES = (ONNX, MODEL, LOG, AFFECTED)


def check_out_dir(out_dir: str, *, resume: bool, force: bool, inputs: list[str | None]) -> Path:
    """Fail early, in every process, when the folder cannot take this run: create it if
    needed and create (and delete) a probe file in it, which also catches read-only file
    systems and runs as root, where permission bits say nothing. No run file is touched."""
    folder = Path(out_dir)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"-o {out_dir}: is a file; give a folder for the model, log and checkpoints")
    refuse_overwriting_inputs([folder / name for name in _RUN_FILES], inputs)
    try:
        (folder / FOLDER).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise OutputError(f"-o {out_dir}: cannot write there ({exc.strerror}); choose another output folder") from None
    previous = any((folder / n).exists() for n in _RUN_FILES) or any((folder / FOLDER).glob("*.pt"))
    if previous and not (resume or force):
        raise OutputError(
            f"-o {out_dir}: holds an earlier run; pass {option_ref('resume')} to continue it, {option_ref('force')} to start again, or choose a new folder"
        )
    return folder


def prepare_out_dir(folder: Path, *, resume: bool) -> None:
    """Main process only: remove the old model.onnx; with a fresh start also every file of the
    earlier run."""
    for old in (folder / ONNX, sidecar_path(folder / ONNX)):
        old.unlink(missing_ok=True)
    if not resume:
        for name in _RUN_FILES:
            for old in (folder / name, sidecar_path(folder / name)):
                old.unlink(missing_ok=True)
        for old in (folder / FOLDER).glob("*.pt"):
            old.unlink()


def write_log(folder: Path, history: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    table = pl.DataFrame(
        [{c: row.get(c) for c in LOG_COLUMNS} for row in history],
        schema={
            "epoch": pl.Int64,
            "lr": pl.Float64,
            "train_loss": pl.Float64,
            "val_loss": pl.Float64,
            "val_accuracy": pl.Float64,
            "val_auc": pl.Float64,
            "best": pl.Boolean,
        },
    )
    write_text(folder / LOG, table.write_csv(float_precision=6))
    write_sidecar(folder / LOG, meta)


def write_affected(folder: Path, plan: TrainPlan, meta: dict[str, Any]) -> int:
    """One row per (flag, affected image): image_id, experiment, column, value, label (from
    the manifest) and new_label (the wrong label given; empty for subsample). Returns rows."""
    ids = plan.manifest.table[KEY].to_list()
    labels = [v.strip() for v in plan.manifest.required_labels()]
    rows = []
    for outcome in plan.experiments:
        spec = outcome.spec
        for i in outcome.affected.tolist():
            new = plan.class_names[int(plan.targets[i])] if spec.kind == LABEL_NOISE else None
            rows.append(
                {
                    KEY: ids[i],
                    "experiment": spec.kind,
                    "column": spec.column,
                    "value": spec.value,
                    "label": labels[i],
                    "new_label": new,
                }
            )
    columns = (KEY, "experiment", "column", "value", "label", "new_label")
    table = pl.DataFrame(rows, schema={c: pl.String for c in columns})
    write_text(folder / AFFECTED, table.write_csv())
    write_sidecar(folder / AFFECTED, {**meta, "rows": table.height})
    return table.height
