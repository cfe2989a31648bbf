"""`hs synth`: plant hidden strata with a known answer into real images (docs/synth.md).

From base images (hstool.data.synth_base) and a `SynthSpec` (hstool.data.synth_spec), in this
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
(without `split`), each with a sidecar. The manifest is written last (the commit point).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hstool.data.build import MANIFEST_NAME, Built, Progress, manifest_meta, prepare_out_dir, save_png, write_manifest
from hstool.data.manifest import LABEL, PATH, SPLIT, SPLITS
from hstool.data.plant import Drain, Lesion
from hstool.data.synth_base import REF, BaseImages, BaseSource, read_base
from hstool.data.synth_spec import CLEAR_CONTRAST, SynthSpec
from hstool.errors import InputError, OutputError, UsageError
from hstool.io.atomic import refuse_overwriting_inputs, write_text
from hstool.io.sidecar import build_sidecar, sidecar_path, write_sidecar
from hstool.io.tables import KEY

SCHEMA = "hs.synth/1"
LABELS_NAME = "labels.csv"
YES, NO = "yes", "no"
# Ground-truth columns (only those a run plants, in this order: ground_truth_columns).
SUBCLASS, LABEL_TRUE, LABEL_NOISY = "subclass", "label_true", "label_noisy"
DRAIN, DRAIN_POS, SUBTLE = "drain", "drain_pos", "subtle"
_BASE, _TRUE = "_base", "_true"  # working columns: the base class, the true (super)class
_ALL = "all"  # the name of the one group of images when the base has no splits


@dataclass(frozen=True)
class Synthesised:
    """What `run_synth` wrote: the manifest (as `Built`), the labels table and the hs.synth/1
    record (also the labels files' sidecar)."""

    built: Built
    labels: pl.DataFrame
    record: dict

    def summary(self) -> list[str]:
        """Lines for the terminal: the manifest's one-liner, then planted counts per split."""
        lines = [self.built.summary()]
        for split, counts in self.record["counts"].items():
            planted = {k: v for k, v in counts.items() if k not in ("images", "classes")}
            if planted:
                lines.append(f"  {split}: " + "; ".join(f"{k} {_brief(v)}" for k, v in planted.items()))
        return lines


def run_synth(source: BaseSource, spec: SynthSpec, out_dir: str, *, force: bool = False, progress: Progress | None = None) -> Synthesised:
    """Read the base images, plant the strata of `spec`, write everything into `out_dir`."""
    folder = Path(out_dir)
    inputs = [source.npz, source.manifest, *[f for _, i, lab in source.idx for f in (i, lab)]]
    refuse_overwriting_inputs([folder / MANIFEST_NAME, folder / LABELS_NAME], inputs)
    base = read_base(source)
    plan = _plan(base, spec)
    _check_classes(plan, spec)
    positive = _positive_class(plan, spec)
    planted: dict[str, dict] = {}
    plan = _sample_per_class(plan, spec)
    plan = _superclasses(plan, spec)
    plan = _rare(plan, spec, planted, base.has_splits)
    plan = _subtle(plan, spec, planted)
    plan = _spurious(plan, spec, planted, positive)
    plan = _noisy(plan, spec, planted, base.has_splits)
    counts = _counts(plan, planted)
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
    _write_images(folder, plan, base, spec, progress)
    _write_labels(folder, labels, record, base.has_splits)
    meta = manifest_meta(manifest_table, parameters=record["parameters"], inputs=base.inputs)
    meta.update({"seed": spec.seed, "positive_class": positive, "counts": counts})
    written = write_manifest(folder / MANIFEST_NAME, manifest_table, meta)
    return Synthesised(Built(manifest_table, meta, written), labels, record)


def ground_truth_columns(spec: SynthSpec) -> list[str]:
    """The columns a run with `spec` adds to the manifest, in order."""
    columns = [SUBCLASS] if spec.superclasses else []
    columns += [LABEL_TRUE, LABEL_NOISY] if spec.noisy else []
    columns += [DRAIN, DRAIN_POS] if spec.spurious else []
    return columns + ([SUBTLE] if spec.subtle else [])


# ------------------------------------------------------------------------------ the plan


def _plan(base: BaseImages, spec: SynthSpec) -> pl.DataFrame:
    """The base table sorted by split (train, val, test) then id, with the working columns
    `_base` (the base class) and `_true` (the true label)."""
    taken = [c for c in ground_truth_columns(spec) if c in base.table.columns]
    if taken:
        raise InputError(f"the base manifest already has a column '{taken[0]}', which this hs synth run writes; rename or drop it")
    present = set(base.table[SPLIT].drop_nulls().to_list())
    named = [("--spurious", spec.spurious.splits_named() if spec.spurious else set()), ("--per-class", set(spec.per_class) - {None})]
    for option, splits in named:
        if splits - present:
            raise UsageError(f"{option} names the split {sorted(splits - present)[0]!r}, which the base images do not have")
    rank = {s: i for i, s in enumerate(SPLITS)}
    return (
        base.table.with_columns(
            pl.col(LABEL).alias(_BASE),
            pl.col(LABEL).alias(_TRUE),
            pl.col(SPLIT).replace_strict(rank, default=len(SPLITS), return_dtype=pl.Int64).alias("_rank"),
        )
        .sort("_rank", KEY)
        .drop("_rank")
    )


def _positive_class(plan: pl.DataFrame, spec: SynthSpec) -> str | None:
    """The positive class when the task (after --superclass) has two classes, else None."""
    classes = sorted(spec.superclasses) if spec.superclasses else sorted(set(plan[LABEL].to_list()))
    if len(classes) != 2:
        if spec.spurious:
            raise UsageError("--spurious needs a two-class task (positives and negatives); use --superclass to make one")
        if spec.positive is not None:
            raise UsageError(f"--positive {spec.positive}: the task has {len(classes)} classes; --positive is for two")
        return None
    if spec.positive is not None:
        if spec.positive not in classes:
            raise UsageError(f"--positive {spec.positive!r}: not a class (classes: {', '.join(classes)})")
        return spec.positive
    if set(classes) == {"0", "1"}:
        return "1"
    raise UsageError(f"the classes are {classes[0]!r} and {classes[1]!r}: pass --positive with the positive one")


def _check_classes(plan: pl.DataFrame, spec: SynthSpec) -> None:
    present = set(plan[LABEL].to_list())
    shown = ", ".join(sorted(present, key=_natural)[:12])
    if spec.superclasses:
        listed = {c for classes in spec.superclasses.values() for c in classes}
        if present - listed:
            raise UsageError(f"--superclass: class {sorted(present - listed, key=_natural)[0]!r} is in no superclass; every class needs one")
        if listed - present:
            raise UsageError(f"--superclass: class {sorted(listed - present, key=_natural)[0]!r} is not in the base images (classes: {shown})")
    named = [("--rare", r.klass) for r in spec.rare] + [("--noisy", n.klass) for n in spec.noisy]
    named += [("--subtle", spec.subtle.klass)] if spec.subtle else []
    for option, klass in named:
        if klass not in present:
            raise UsageError(f"{option} {klass}: no class {klass!r} in the base images (classes: {shown})")


def _sample_per_class(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    if not spec.per_class:
        return plan
    keep = np.ones(plan.height, bool)
    for split, klass, rows in _groups(plan, _BASE):
        wanted = spec.per_class.get(split, spec.per_class.get(None))
        if wanted is None or wanted >= len(rows):
            continue
        keep[rows] = False
        keep[rows[_choose(spec.seed, len(rows), wanted, "per_class", split, klass)]] = True
    return plan.filter(pl.Series(keep))


def _superclasses(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    if not spec.superclasses:
        return plan
    mapping = {c: name for name, classes in spec.superclasses.items() for c in classes}
    return plan.with_columns(pl.col(_BASE).replace_strict(mapping).alias(_TRUE)).with_columns(pl.col(_TRUE).alias(LABEL))


def _rare(plan: pl.DataFrame, spec: SynthSpec, planted: dict, has_splits: bool) -> pl.DataFrame:
    keep = np.ones(plan.height, bool)
    for rare in spec.rare:
        rows = np.flatnonzero(_train(plan, has_splits) & (plan[_BASE] == rare.klass).to_numpy())
        kept = _count(rare.fraction, len(rows))
        keep[rows] = False
        keep[rows[_choose(spec.seed, len(rows), kept, "rare", rare.klass)]] = True
        _add(planted, _train_name(has_splits), "rare", {rare.klass: {"kept": kept, "of": len(rows)}})
    return plan.filter(pl.Series(keep))


def _subtle(plan: pl.DataFrame, spec: SynthSpec, planted: dict) -> pl.DataFrame:
    if spec.subtle is None:
        return plan
    values = np.full(plan.height, None, dtype=object)
    for split, klass, rows in _groups(plan, _BASE):
        if klass != spec.subtle.klass:
            continue
        faint = _count(spec.subtle.fraction, len(rows))
        values[rows] = NO
        values[rows[_choose(spec.seed, len(rows), faint, "subtle", split)]] = YES
        _add(planted, _split_name(split), SUBTLE, {"faint": faint, "of": len(rows)})
    return plan.with_columns(pl.Series(SUBTLE, values.tolist(), dtype=pl.String))


def _spurious(plan: pl.DataFrame, spec: SynthSpec, planted: dict, positive: str | None) -> pl.DataFrame:
    if spec.spurious is None:
        return plan
    drain = np.full(plan.height, NO, dtype=object)
    for split, klass, rows in sorted(_groups(plan, _TRUE), key=lambda g: g[1] != positive):  # pos first
        side = "pos" if klass == positive else "neg"
        chosen = _count(spec.spurious.fraction(split, side), len(rows))
        drain[rows[_choose(spec.seed, len(rows), chosen, spec.spurious.kind, split, side)]] = YES
        _add(planted, _split_name(split), DRAIN, {side: {"planted": chosen, "of": len(rows)}})
    is_pos = (plan[_TRUE] == positive).to_numpy()
    return plan.with_columns(
        pl.Series(DRAIN, drain.tolist(), dtype=pl.String),
        pl.Series(DRAIN_POS, np.where(is_pos, drain, None).tolist(), dtype=pl.String),
    )


def _noisy(plan: pl.DataFrame, spec: SynthSpec, planted: dict, has_splits: bool) -> pl.DataFrame:
    if not spec.noisy:
        return plan
    truth = np.array(plan[_TRUE].to_list(), dtype=object)
    observed = truth.copy()
    classes = sorted(set(truth), key=_natural)
    for noisy in spec.noisy:
        rows = np.flatnonzero(_train(plan, has_splits) & (plan[_BASE] == noisy.klass).to_numpy())
        flipped = rows[_choose(spec.seed, len(rows), _count(noisy.fraction, len(rows)), "noisy", noisy.klass)]
        rng = _rng(spec.seed, "noisy-target", noisy.klass)
        for row in flipped:
            others = [c for c in classes if c != truth[row]]
            observed[row] = others[int(rng.integers(len(others)))]
        _add(planted, _train_name(has_splits), "noisy", {noisy.klass: {"flipped": len(flipped), "of": len(rows)}})
    return plan.with_columns(
        pl.Series(LABEL, observed.tolist(), dtype=pl.String),
        pl.Series(LABEL_NOISY, np.where(observed != truth, YES, NO).tolist(), dtype=pl.String),
    )


def _counts(plan: pl.DataFrame, planted: dict) -> dict:
    """Per split: images, true classes, then what was planted (a split that --rare emptied
    keeps its planted counts with 0 images)."""
    names = [_split_name(s) for s in _split_values(plan)]
    names += [n for n in planted if n not in names]
    out = {}
    for name in names:
        rows = plan.filter(pl.col(SPLIT).is_null() if name == _ALL else pl.col(SPLIT) == name)
        classes = sorted(Counter(rows[_TRUE].to_list()).items(), key=lambda kv: _natural(kv[0]))
        out[name] = {"images": rows.height, "classes": dict(classes), **planted.get(name, {})}
    return out


# --------------------------------------------------------------------------- the tables


def _manifest_table(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    """image_id, path, label (the training label), [split], carried metadata, ground truth."""
    table = _with_truth(plan, spec).with_columns((pl.lit("images/") + pl.col(KEY) + pl.lit(".png")).alias(PATH))
    return table.select(KEY, PATH, LABEL, *_split_column(plan), *_metadata(plan, spec), *ground_truth_columns(spec))


def _labels_table(plan: pl.DataFrame, spec: SynthSpec, positive: str | None) -> pl.DataFrame:
    """image_id, label (the truth: 0/1 for a binary task, else the class), [split], carried
    metadata, ground truth (label_true is `label` here, so it is left out)."""
    label = pl.col(_TRUE)
    if positive is not None:
        label = pl.when(label == positive).then(pl.lit("1")).otherwise(pl.lit("0"))
    truth = [c for c in ground_truth_columns(spec) if c != LABEL_TRUE]
    table = _with_truth(plan, spec).with_columns(label.alias(LABEL))
    return table.select(KEY, LABEL, *_split_column(plan), *_metadata(plan, spec), *truth)


def _with_truth(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    """`subclass` and `label_true` from the working columns, when this run writes them."""
    sources = {SUBCLASS: _BASE, LABEL_TRUE: _TRUE}
    return plan.with_columns(pl.col(sources[c]).alias(c) for c in ground_truth_columns(spec) if c in sources)


def _split_column(plan: pl.DataFrame) -> list[str]:
    return [SPLIT] if plan[SPLIT].null_count() < plan.height else []


def _metadata(plan: pl.DataFrame, spec: SynthSpec) -> list[str]:
    """Columns carried over from a base manifest (sex, age, site...)."""
    working = {KEY, SPLIT, LABEL, REF, _BASE, _TRUE, *ground_truth_columns(spec)}
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


def _write_images(folder: Path, plan: pl.DataFrame, base: BaseImages, spec: SynthSpec, progress: Progress | None) -> None:
    drains = plan[DRAIN].to_list() if DRAIN in plan.columns else [None] * plan.height
    subtle = plan[SUBTLE].to_list() if SUBTLE in plan.columns else [None] * plan.height
    total = plan.height
    for done, (image_id, ref, drain, faint) in enumerate(zip(plan[KEY], plan[REF], drains, subtle), 1):
        pixels = base.pixels(ref, spec.size)
        if faint is not None:  # every image of the --subtle class has a lesion
            contrast = spec.subtle.contrast if faint == YES else CLEAR_CONTRAST  # type: ignore[union-attr]
            pixels = Lesion.random(_rng(spec.seed, "lesion", image_id), *pixels.shape, contrast).apply(pixels)
        if drain == YES:
            pixels = Drain.random(_rng(spec.seed, "drain", image_id), *pixels.shape).apply(pixels)
        target = folder / "images" / f"{image_id}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        save_png(target, np.round(np.clip(pixels, 0.0, 1.0) * 255).astype(np.uint8))
        if progress and (done % 256 == 0 or done == total):
            progress(done, total)


def _write_labels(folder: Path, labels: pl.DataFrame, record: dict, has_splits: bool) -> None:
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
    for name in [LABELS_NAME] + [f"labels_{s}.csv" for s in SPLITS]:
        for path in (folder / name, sidecar_path(folder / name)):
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise OutputError(f"cannot remove {path}: {exc.strerror}") from None


# ---------------------------------------------------------------------------- helpers


def _rng(seed: int, *keys: object) -> np.random.Generator:
    """An independent stream for (seed, keys): stable across runs, machines and row order."""
    digest = hashlib.sha256("\x1f".join(str(k) for k in keys).encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def _choose(seed: int, n: int, k: int, *keys: object) -> np.ndarray:
    """k distinct positions out of n, sorted, drawn from the stream (seed, keys)."""
    return np.sort(_rng(seed, *keys).permutation(n)[:k])


def _count(fraction: float, n: int) -> int:
    """round(fraction * n) with halves up; the epsilon absorbs float error (0.35 * 10 = 3.4999...)."""
    return min(n, int(math.floor(fraction * n + 0.5 + 1e-9)))


def _split_values(plan: pl.DataFrame) -> list[str | None]:
    present = set(plan[SPLIT].to_list())
    return [s for s in (*SPLITS, None) if s in present]


def _split_name(split: str | None) -> str:
    return split or _ALL


def _train(plan: pl.DataFrame, has_splits: bool) -> np.ndarray:
    """Rows that --rare and --noisy act on: the train split, or every row without splits."""
    return (plan[SPLIT] == "train").fill_null(False).to_numpy() if has_splits else np.ones(plan.height, bool)


def _train_name(has_splits: bool) -> str:
    return "train" if has_splits else _ALL


def _groups(plan: pl.DataFrame, column: str):
    """(split, class, row positions) for every split and class, in a fixed order."""
    order = _split_values(plan)
    index: dict[tuple, list[int]] = {}
    for i, key in enumerate(zip(plan[SPLIT].to_list(), plan[column].to_list())):
        index.setdefault(key, []).append(i)
    for split, klass in sorted(index, key=lambda k: (order.index(k[0]), _natural(k[1]))):
        yield split, klass, np.asarray(index[(split, klass)])


def _add(counts: dict, split: str, stratum: str, values: dict) -> None:
    counts.setdefault(split, {}).setdefault(stratum, {}).update(values)


def _natural(value: str) -> tuple:
    """Sort key: integers numerically, then text."""
    try:
        return (0, int(value), "")
    except ValueError:
        return (1, 0, value)


def _brief(value: dict) -> str:
    """`pos 180/200, neg 20/200` or `faint 30/100` for the terminal summary."""
    if "of" in value:
        return f"faint {value['faint']}/{value['of']}"
    return ", ".join(f"{key} {'/'.join(str(v) for v in counts.values())}" for key, counts in value.items())
