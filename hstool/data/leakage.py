"""Patient leakage between splits: group values (e.g. `patient_key`) found in more than one of
train/val/test. A model evaluated on a patient it was trained on looks better than it is, and
reviews of medical AI ask for patient-disjoint partitions."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from hstool.data.manifest import SPLIT, SPLITS, Manifest
from hstool.errors import InputError

SCHEMA = "hs.split-overlap/1"


@dataclass(frozen=True)
class Overlap:
    """One row per group value present in more than one split: `<group_col>, splits, n,
    n_train, n_val, n_test` (images of that group in each split), sorted by the group value."""

    table: pl.DataFrame
    source: str  # the manifest's name, for messages
    group_col: str
    groups: int  # distinct non-empty group values
    missing: int  # rows with an empty group value (not checked)

    def summary(self) -> str:
        missing = f"; {self.missing} rows without a {self.group_col} not checked" if self.missing else ""
        return (
            f"{self.table.height} of {self.groups} {self.group_col} values in more than one split "
            f"({', '.join(SPLITS)}){missing}"
        )


def split_overlap(manifest: Manifest, group_col: str) -> Overlap:
    """The groups of `group_col` whose rows fall in more than one split."""
    name = manifest.source.name
    table = manifest.table
    if SPLIT not in table.columns:
        raise InputError(f"{name}: has no '{SPLIT}' column; add one (train/val/test) to check patients across splits")
    if group_col not in table.columns:
        found = ", ".join(table.columns)
        raise InputError(f"{name}: has no column '{group_col}' to group by (found: {found}); choose another column")
    group = pl.col(group_col).cast(pl.String).str.strip_chars()
    rows = table.select(group.alias(group_col), pl.col(SPLIT))
    present = rows.filter(pl.col(group_col).is_not_null() & (pl.col(group_col) != ""))
    counts = present.group_by(group_col).agg(
        pl.len().cast(pl.Int64).alias("n"),
        *[(pl.col(SPLIT) == s).sum().cast(pl.Int64).alias(f"n_{s}") for s in SPLITS],
    )
    named = pl.concat_str(
        [pl.when(pl.col(f"n_{s}") > 0).then(pl.lit(s)) for s in SPLITS], separator=";", ignore_nulls=True
    )
    counts = counts.select(group_col, named.alias("splits"), "n", *[f"n_{s}" for s in SPLITS])
    several = counts.filter(pl.sum_horizontal([(pl.col(f"n_{s}") > 0).cast(pl.Int64) for s in SPLITS]) > 1)
    return Overlap(
        table=several.sort(group_col),
        source=name,
        group_col=group_col,
        groups=counts.height,
        missing=rows.height - present.height,
    )
