"""The plan of an `hs synth` run: which base images are kept, and which get which stratum.

Each step takes the plan (one row per image, with the working columns `_base` and `_true`) and
returns it with its ground-truth columns filled in; `hstool.synth.run` runs the steps in order
and writes the files. Every random choice is seeded by (seed, step, split, class), or by
(seed, image_id) for drawings, so adding one stratum never reshuffles another.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from hstool.data.manifest import LABEL, SPLIT, SPLITS
from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.tables import KEY
from hstool.synth.base import BaseImages
from hstool.synth.spec import SynthSpec

YES, NO = "yes", "no"
# Ground-truth columns (only those a run plants, in this order: ground_truth_columns).
SUBCLASS, LABEL_TRUE, LABEL_NOISY = "subclass", "label_true", "label_noisy"
DRAIN, DRAIN_POS, SUBTLE = "drain", "drain_pos", "subtle"
BASE_CLASS, TRUE_CLASS = "_base", "_true"  # working columns: the base class, the true (super)class
_ALL = "all"  # the name of the one group of images when the base has no splits


def ground_truth_columns(spec: SynthSpec) -> list[str]:
    """The columns a run with `spec` adds to the manifest, in order."""
    columns = [SUBCLASS] if spec.superclasses else []
    columns += [LABEL_TRUE, LABEL_NOISY] if spec.noisy else []
    columns += [DRAIN, DRAIN_POS] if spec.spurious else []
    return columns + ([SUBTLE] if spec.subtle else [])


def plan_images(base: BaseImages, spec: SynthSpec) -> pl.DataFrame:
    """The base table sorted by split (train, val, test) then id, with the working columns
    `_base` (the base class) and `_true` (the true label)."""
    taken = [c for c in ground_truth_columns(spec) if c in base.table.columns]
    if taken:
        raise InputError(
            f"the base manifest already has a column '{taken[0]}', which this hs synth run writes; rename or drop it"
        )
    present = set(base.table[SPLIT].drop_nulls().to_list())
    named: list[tuple[str, set[str]]] = [
        (option_ref("spurious"), spec.spurious.splits_named() if spec.spurious else set()),
        (option_ref("per_class"), {s for s in spec.per_class if s is not None}),
    ]
    for option, splits in named:
        if splits - present:
            raise UsageError(
                f"{option} names the split {sorted(splits - present)[0]!r}, which the base images do not have"
            )
    rank = {s: i for i, s in enumerate(SPLITS)}
    return (
        base.table.with_columns(
            pl.col(LABEL).alias(BASE_CLASS),
            pl.col(LABEL).alias(TRUE_CLASS),
            pl.col(SPLIT).replace_strict(rank, default=len(SPLITS), return_dtype=pl.Int64).alias("_rank"),
        )
        .sort("_rank", KEY)
        .drop("_rank")
    )


def positive_class(plan: pl.DataFrame, spec: SynthSpec) -> str | None:
    """The positive class when the task (after --superclass) has two classes, else None."""
    classes = sorted(spec.superclasses) if spec.superclasses else sorted(set(plan[LABEL].to_list()))
    if len(classes) != 2:
        if spec.spurious:
            raise UsageError(
                f"{option_ref('spurious')} needs a two-class task (positives and negatives); use {option_ref('superclass')} to make one"
            )
        if spec.positive is not None:
            raise OptionError(
                "positive",
                spec.positive,
                f"the task has {len(classes)} classes; a positive class is for two",
                quoted=False,
            )
        return None
    if spec.positive is not None:
        if spec.positive not in classes:
            raise OptionError("positive", spec.positive, f"not a class (classes: {', '.join(classes)})")
        return spec.positive
    if set(classes) == {"0", "1"}:
        return "1"
    raise UsageError(
        f"the classes are {classes[0]!r} and {classes[1]!r}: pass {option_ref('positive')} with the positive one"
    )


def check_classes(plan: pl.DataFrame, spec: SynthSpec) -> None:
    present = set(plan[LABEL].to_list())
    shown = ", ".join(sorted(present, key=_natural)[:12])
    if spec.superclasses:
        listed = {c for classes in spec.superclasses.values() for c in classes}
        if present - listed:
            raise UsageError(
                f"{option_ref('superclass')}: class {sorted(present - listed, key=_natural)[0]!r} is in no superclass; every class needs one"
            )
        if listed - present:
            raise UsageError(
                f"{option_ref('superclass')}: class {sorted(listed - present, key=_natural)[0]!r} is not in the base images (classes: {shown})"
            )
    named = [(option_ref("rare"), r.klass) for r in spec.rare] + [(option_ref("noisy"), n.klass) for n in spec.noisy]
    named += [(option_ref("subtle"), spec.subtle.klass)] if spec.subtle else []
    for option, klass in named:
        if klass not in present:
            raise UsageError(f"{option} {klass}: no class {klass!r} in the base images (classes: {shown})")


def sample_per_class(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    if not spec.per_class:
        return plan
    keep = np.ones(plan.height, bool)
    for split, klass, rows in _groups(plan, BASE_CLASS):
        wanted = spec.per_class.get(split, spec.per_class.get(None))
        if wanted is None or wanted >= len(rows):
            continue
        keep[rows] = False
        keep[rows[_choose(spec.seed, len(rows), wanted, "per_class", split, klass)]] = True
    return plan.filter(pl.Series(keep))


def apply_superclasses(plan: pl.DataFrame, spec: SynthSpec) -> pl.DataFrame:
    if not spec.superclasses:
        return plan
    mapping = {c: name for name, classes in spec.superclasses.items() for c in classes}
    return plan.with_columns(pl.col(BASE_CLASS).replace_strict(mapping).alias(TRUE_CLASS)).with_columns(
        pl.col(TRUE_CLASS).alias(LABEL)
    )


def plant_rare(plan: pl.DataFrame, spec: SynthSpec, planted: dict[str, Any], has_splits: bool) -> pl.DataFrame:
    keep = np.ones(plan.height, bool)
    for rare in spec.rare:
        rows = np.flatnonzero(_train(plan, has_splits) & (plan[BASE_CLASS] == rare.klass).to_numpy())
        kept = _count(rare.fraction, len(rows))
        keep[rows] = False
        keep[rows[_choose(spec.seed, len(rows), kept, "rare", rare.klass)]] = True
        _add(planted, _train_name(has_splits), "rare", {rare.klass: {"kept": kept, "of": len(rows)}})
    return plan.filter(pl.Series(keep))


def plant_subtle(plan: pl.DataFrame, spec: SynthSpec, planted: dict[str, Any]) -> pl.DataFrame:
    if spec.subtle is None:
        return plan
    values = np.full(plan.height, None, dtype=object)
    for split, klass, rows in _groups(plan, BASE_CLASS):
        if klass != spec.subtle.klass:
            continue
        faint = _count(spec.subtle.fraction, len(rows))
        values[rows] = NO
        values[rows[_choose(spec.seed, len(rows), faint, "subtle", split)]] = YES
        _add(planted, _split_name(split), SUBTLE, {"faint": faint, "of": len(rows)})
    return plan.with_columns(pl.Series(SUBTLE, values.tolist(), dtype=pl.String))


def plant_spurious(plan: pl.DataFrame, spec: SynthSpec, planted: dict[str, Any], positive: str | None) -> pl.DataFrame:
    if spec.spurious is None:
        return plan
    drain = np.full(plan.height, NO, dtype=object)
    for split, klass, rows in sorted(_groups(plan, TRUE_CLASS), key=lambda g: g[1] != positive):  # pos first
        side = "pos" if klass == positive else "neg"
        chosen = _count(spec.spurious.fraction(split, side), len(rows))
        drain[rows[_choose(spec.seed, len(rows), chosen, spec.spurious.kind, split, side)]] = YES
        _add(planted, _split_name(split), DRAIN, {side: {"planted": chosen, "of": len(rows)}})
    is_pos = (plan[TRUE_CLASS] == positive).to_numpy()
    return plan.with_columns(
        pl.Series(DRAIN, drain.tolist(), dtype=pl.String),
        pl.Series(DRAIN_POS, [d if p else None for d, p in zip(drain, is_pos)], dtype=pl.String),
    )


def plant_noisy(plan: pl.DataFrame, spec: SynthSpec, planted: dict[str, Any], has_splits: bool) -> pl.DataFrame:
    if not spec.noisy:
        return plan
    truth = np.array(plan[TRUE_CLASS].to_list(), dtype=object)
    observed = truth.copy()
    classes = sorted(set(truth), key=_natural)
    for noisy in spec.noisy:
        rows = np.flatnonzero(_train(plan, has_splits) & (plan[BASE_CLASS] == noisy.klass).to_numpy())
        flipped = rows[_choose(spec.seed, len(rows), _count(noisy.fraction, len(rows)), "noisy", noisy.klass)]
        rng = seeded_rng(spec.seed, "noisy-target", noisy.klass)
        for row in flipped:
            others = [c for c in classes if c != truth[row]]
            observed[row] = others[int(rng.integers(len(others)))]
        _add(planted, _train_name(has_splits), "noisy", {noisy.klass: {"flipped": len(flipped), "of": len(rows)}})
    return plan.with_columns(
        pl.Series(LABEL, observed.tolist(), dtype=pl.String),
        pl.Series(LABEL_NOISY, np.where(observed != truth, YES, NO).tolist(), dtype=pl.String),
    )


def count_planted(plan: pl.DataFrame, planted: dict[str, Any]) -> dict[str, Any]:
    """Per split: images, true classes, then what was planted (a split that --rare emptied
    keeps its planted counts with 0 images)."""
    names = [_split_name(s) for s in _split_values(plan)]
    names += [n for n in planted if n not in names]
    out = {}
    for name in names:
        rows = plan.filter(pl.col(SPLIT).is_null() if name == _ALL else pl.col(SPLIT) == name)
        classes = sorted(Counter(rows[TRUE_CLASS].to_list()).items(), key=lambda kv: _natural(kv[0]))
        out[name] = {"images": rows.height, "classes": dict(classes), **planted.get(name, {})}
    return out


def seeded_rng(seed: int, *keys: object) -> np.random.Generator:
    """An independent stream for (seed, keys): stable across runs, machines and row order."""
    digest = hashlib.sha256("\x1f".join(str(k) for k in keys).encode("utf-8")).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def _choose(seed: int, n: int, k: int, *keys: object) -> np.ndarray:
    """k distinct positions out of n, sorted, drawn from the stream (seed, keys)."""
    return np.sort(seeded_rng(seed, *keys).permutation(n)[:k])


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


def _groups(plan: pl.DataFrame, column: str) -> Iterator[tuple[Any, Any, np.ndarray]]:
    """(split, class, row positions) for every split and class, in a fixed order."""
    order = _split_values(plan)
    index: dict[tuple[Any, ...], list[int]] = {}
    for i, key in enumerate(zip(plan[SPLIT].to_list(), plan[column].to_list())):
        index.setdefault(key, []).append(i)
    for split, klass in sorted(index, key=lambda k: (order.index(k[0]), _natural(k[1]))):
        yield split, klass, np.asarray(index[(split, klass)])


def _add(counts: dict[str, Any], split: str, stratum: str, values: dict[str, Any]) -> None:
    counts.setdefault(split, {}).setdefault(stratum, {}).update(values)


def _natural(value: str) -> tuple[Any, ...]:
    """Sort key: integers numerically, then text."""
    try:
        return (0, int(value), "")
    except ValueError:
        return (1, 0, value)
