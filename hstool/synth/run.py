"""`hs synth`: plant hidden strata with a known answer into real images (docs/synth.md).

From base images (hstool.synth.base) and a `SynthSpec` (hstool.synth.spec), in this
order, each step seeded by (seed, step, split, class) so that adding one stratum never
reshuffles another:

1. `--per-class`: a seeded sample of at most N images of each class in each split;
2. `--superclass`: labels become superclasses, the original class goes to `subclass`;
3. `--rare`: in the train split, keep a fraction of a class (the others are dropped);
4. `--subtle`: every image of a class gets a lesion, a fraction of them (per split) faint;
5. `--spurious drain`: a drain in a fraction of the positives and of the negatives, per split;
6. `--noisy`: in the train split, the label of a fraction of a class is flipped to another
   class (the other class for a binary task, else one drawn uniformly from the others).

Counts are exact: a fraction F of n images is round(F * n) images (halves up). Fractions refer
to the true labels. Without a split column, "the train split" means every image.

Outputs (in `out_dir`): `images/<image_id>.png` (8-bit grey), `manifest.csv` (`label` is what a
model is trained on, i.e. the noisy label; ground-truth columns as metadata), `labels.csv`
(every image, true labels, ground-truth columns and `split`) and `labels_<split>.csv` per split
(without `split`), each with a sidecar; with a drain, `regions.csv` and `regions/<image_id>.png`
(where each drain lies, hstool.synth.regions). The manifest is written last (the commit point).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool.data.build import MANIFEST_NAME, Built, Progress, manifest_meta, prepare_out_dir, save_png, write_manifest
from hstool.data.manifest import LABEL, PATH, SPLIT, SPLITS
from hstool.errors import OutputError
from hstool.io.atomic import refuse_overwriting_inputs, write_text
from hstool.io.sidecar import build_sidecar, sidecar_path, write_sidecar
from hstool.io.tables import KEY
from hstool.synth.base import REF, BaseImages, BaseSource, read_base
from hstool.synth.plan import (
    BASE_CLASS,
    DRAIN,
    DRAIN_POS,
    LABEL_NOISY,
    LABEL_TRUE,
    SUBCLASS,
    SUBTLE,
    TRUE_CLASS,
    YES,
    apply_superclasses,
    check_classes,
    count_planted,
    ground_truth_columns,
    plan_images,
    plant_noisy,
    plant_rare,
    plant_spurious,
    plant_subtle,
    positive_class,
    sample_per_class,
    seeded_rng,
)
from hstool.synth.plant import Drain, Lesion, brighten
from hstool.synth.regions import REGIONS_NAME, Region, save_region, write_regions
from hstool.synth.spec import CLEAR_CONTRAST, SynthSpec

SCHEMA = "hs.synth/1"
LABELS_NAME = "labels.csv"


@dataclass(frozen=True)
class Synthesised:
    """What `run_synth` wrote: the manifest (as `Built`), the labels table and the hs.synth/1
    record (also the labels files' sidecar)."""

    built: Built
    labels: pl.DataFrame
    record: dict[str, Any]

    def summary(self) -> list[str]:
        """Lines for the terminal: the manifest's one-liner, then planted counts per split."""
        lines = [self.built.summary()]
        for split, counts in self.record["counts"].items():
            planted = {k: v for k, v in counts.items() if k not in ("images", "classes")}
            if planted:
                lines.append(f"  {split}: " + "; ".join(f"{k} {_brief(v)}" for k, v in planted.items()))
        return lines


def run_synth(
    source: BaseSource, spec: SynthSpec, out_dir: str, *, force: bool = False, progress: Progress | None = None
) -> Synthesised:
    """Read the base images, plant the strata of `spec`, write everything into `out_dir`."""
    folder = Path(out_dir)
    inputs = [source.npz, source.manifest, *[f for _, i, lab in source.idx for f in (i, lab)]]
    refuse_overwriting_inputs([folder / MANIFEST_NAME, folder / LABELS_NAME], inputs)
    base = read_base(source)
    plan = plan_images(base, spec)
    check_classes(plan, spec)
    positive = positive_class(plan, spec)
    planted: dict[str, dict[str, Any]] = {}
    plan = sample_per_class(plan, spec)
    plan = apply_superclasses(plan, spec)
    plan = plant_rare(plan, spec, planted, base.has_splits)
    plan = plant_subtle(plan, spec, planted)
    plan = plant_spurious(plan, spec, planted, positive)
    plan = plant_noisy(plan, spec, planted, base.has_splits)
    counts = count_planted(plan, planted)
    manifest_table = _manifest_table(plan, spec)
    labels = _labels_table(plan, spec, positive)
    record = build_sidecar(
        schema=SCHEMA,
        parameters={"source": source.describe(), **spec.parameters()},
        inputs=base.inputs,
        rows=labels.height,
        seed=spec.seed,
        extra={"positive_class": positive, "columns": _column_notes(labels.columns, positive), "counts": counts},
    )
    folder = prepare_out_dir(out_dir, force=force)
    _remove_stale_labels(folder, force)
    regions = _write_images(folder, plan, base, spec, progress)
    _write_labels(folder, labels, record, base.has_splits)
    if spec.spurious:
        write_regions(folder, regions, record)
    meta = manifest_meta(manifest_table, parameters=record["parameters"], inputs=base.inputs)
    meta.update({"seed": spec.seed, "positive_class": positive, "counts": counts})
    written = write_manifest(folder / MANIFEST_NAME, manifest_table, meta)
    return Synthesised(Built(manifest_table, meta, written), labels, record)


# --------------------------------------------------------------------------- the tables


def _manifest_table(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    """image_id, path, label (the training label), [split], carried metadata, ground truth."""
    table = _with_truth(plan, spec).with_columns((pl.lit("images/") + pl.col(KEY) + pl.lit(".png")).alias(PATH))
    return table.select(KEY, PATH, LABEL, *_split_column(plan), *_metadata(plan, spec), *ground_truth_columns(spec))


def _labels_table(plan: pl.DataFrame, spec: SynthSpec, positive: str | None) -> pl.DataFrame:
    """image_id, label (the truth: 0/1 for a binary task, else the class), [split], carried
    metadata, ground truth (label_true is `label` here, so it is left out)."""
    label = pl.col(TRUE_CLASS)
    if positive is not None:
        label = pl.when(label == positive).then(pl.lit("1")).otherwise(pl.lit("0"))
    truth = [c for c in ground_truth_columns(spec) if c != LABEL_TRUE]
    table = _with_truth(plan, spec).with_columns(label.alias(LABEL))
    return table.select(KEY, LABEL, *_split_column(plan), *_metadata(plan, spec), *truth)


def _with_truth(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    """`subclass` and `label_true` from the working columns, when this run writes them."""
    sources = {SUBCLASS: BASE_CLASS, LABEL_TRUE: TRUE_CLASS}
    return plan.with_columns(pl.col(sources[c]).alias(c) for c in ground_truth_columns(spec) if c in sources)


def _split_column(plan: pl.DataFrame) -> list[str]:
    return [SPLIT] if plan[SPLIT].null_count() < plan.height else []


def _metadata(plan: pl.DataFrame, spec: SynthSpec) -> list[str]:
    """Columns carried over from a base manifest (sex, age, site...)."""
    working = {KEY, SPLIT, LABEL, REF, BASE_CLASS, TRUE_CLASS, *ground_truth_columns(spec)}
    return [c for c in plan.columns if c not in working]


def _column_notes(columns: list[str], positive: str | None) -> dict[str, str]:
    notes = {
        LABEL: "the true label" + (f" (1 = class {positive!r})" if positive is not None else ""),
        SPLIT: "train, val or test",
        SUBCLASS: "the class in the base images (before --superclass)",
        LABEL_NOISY: "yes when the manifest's label (the training label) was flipped by --noisy",
        DRAIN: "yes when the image has a planted drain (every image)",
        DRAIN_POS: "drain among positives only (empty for negatives): positives with/without drain vs all negatives",
        SUBTLE: f"lesion class only: yes = faint lesion, no = clear lesion (contrast {CLEAR_CONTRAST})",
    }
    return {c: notes[c] for c in columns if c in notes}


# ---------------------------------------------------------------------------- writing


def _write_images(
    folder: Path, plan: pl.DataFrame, base: BaseImages, spec: SynthSpec, progress: Progress | None
) -> list[Region]:
    """Write every image; return where each drain was planted (in plan order)."""
    regions = []
    drains = plan[DRAIN].to_list() if DRAIN in plan.columns else [None] * plan.height
    subtle = plan[SUBTLE].to_list() if SUBTLE in plan.columns else [None] * plan.height
    total = plan.height
    for done, (image_id, ref, drain, faint) in enumerate(zip(plan[KEY], plan[REF], drains, subtle), 1):
        pixels = base.pixels(ref, spec.size)
        height, width = pixels.shape
        if faint is not None:  # every image of the --subtle class has a lesion
            assert spec.subtle is not None  # the column is planted only for a --subtle class
            contrast = spec.subtle.contrast if faint == YES else CLEAR_CONTRAST
            pixels = Lesion.random(seeded_rng(spec.seed, "lesion", image_id), height, width, contrast).apply(pixels)
        if drain == YES:
            tube = Drain.random(seeded_rng(spec.seed, "drain", image_id), *pixels.shape)
            coverage = tube.coverage(*pixels.shape)
            pixels = brighten(pixels, coverage, tube.strength)
            regions.append(save_region(folder, image_id, DRAIN, coverage))
        target = folder / "images" / f"{image_id}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        save_png(target, np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8))
        if progress and (done % 256 == 0 or done == total):
            progress(done, total)
    return regions


def _write_labels(folder: Path, labels: pl.DataFrame, record: dict[str, Any], has_splits: bool) -> None:
    files = [(folder / LABELS_NAME, labels)]
    if has_splits:
        for split in SPLITS:
            part = labels.filter(pl.col(SPLIT) == split)
            if part.height:
                files.append((folder / f"labels_{split}.csv", part.drop(SPLIT)))
    for path, table in files:
        write_text(path, table.write_csv())
        write_sidecar(path, {**record, "rows": table.height})


def _remove_stale_labels(folder: Path, force: bool) -> None:
    """With --force, labels files of an earlier run go (a split it had may be absent now)."""
    if not force:
        return
    for name in [LABELS_NAME, REGIONS_NAME] + [f"labels_{s}.csv" for s in SPLITS]:
        for path in (folder / name, sidecar_path(folder / name)):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot remove {path}: {exc.strerror}") from None


# ---------------------------------------------------------------------------- helpers


def _brief(value: dict[str, Any]) -> str:
    """`pos 180/200, neg 20/200` or `faint 30/100` for the terminal summary."""
    if "of" in value:
        return f"faint {value['faint']}/{value['of']}"
    return ", ".join(f"{key} {'/'.join(str(v) for v in counts.values())}" for key, counts in value.items())
