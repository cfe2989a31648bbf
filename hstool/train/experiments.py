"""The paper's controlled experiments on the training set: `--subsample COL=VALUE:FRAC` drops
that fraction of a subclass (low prevalence), `--label-noise COL=VALUE:FRAC` gives that fraction
a random wrong label (poor label quality). Both are seeded and exact.

How many rows are affected: FRAC x (training rows with COL == VALUE), rounded to the nearest
integer, halves up (0.75 of 10 rows = 8). Which rows: a seeded permutation of the matching rows,
with one random stream per flag, so adding a label-noise flag never changes which rows a
subsample flag dropped. Subsampling is applied first (all flags), then label noise on the rows
that remain; matching always uses the manifest's original values. A wrong label is drawn
uniformly among the other classes. No torch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import polars as pl

from hstool.errors import InputError, UsageError, option_ref

SUBSAMPLE = "subsample"
LABEL_NOISE = "label_noise"
_FLAGS = {SUBSAMPLE: option_ref(SUBSAMPLE), LABEL_NOISE: option_ref(LABEL_NOISE)}
# Salts that give each experiment kind its own random streams (any fixed distinct integers).
_SALT = {SUBSAMPLE: 0x5B5A, LABEL_NOISE: 0x1ABE}


@dataclass(frozen=True)
class Spec:
    """One flag, parsed: `subclass=drain:0.75`."""

    kind: str  # SUBSAMPLE or LABEL_NOISE
    column: str
    value: str
    fraction: float

    @property
    def text(self) -> str:
        return f"{self.column}={self.value}:{self.fraction:g}"


class OutcomeSummary(TypedDict):
    """One flag in the model's sidecar (`experiments`)."""

    experiment: str
    spec: str
    column: str
    value: str
    fraction: float
    matching: int
    affected: int


@dataclass(frozen=True)
class Outcome:
    """What one flag did: how many training rows matched and which were affected."""

    spec: Spec
    matching: int
    affected: np.ndarray  # row indices into the manifest, sorted

    def summary(self) -> OutcomeSummary:
        return {
            "experiment": self.spec.kind,
            "spec": self.spec.text,
            "column": self.spec.column,
            "value": self.spec.value,
            "fraction": self.spec.fraction,
            "matching": self.matching,
            "affected": int(len(self.affected)),
        }


def parse_spec(kind: str, text: str) -> Spec:
    """'COL=VALUE:FRAC' -> Spec. VALUE may itself contain '=' or ':' (split at the first '='
    and the last ':'); FRAC is in (0, 1]."""
    flag = _FLAGS[kind]
    column, eq, rest = text.partition("=")
    value, colon, frac_text = rest.rpartition(":")
    try:
        fraction = float(frac_text)
    except ValueError:
        fraction = math.nan
    if not eq or not colon or not column.strip() or not value or not 0 < fraction <= 1:
        raise UsageError(
            f"{flag} {text!r}: expected COL=VALUE:FRAC with FRAC in (0, 1], e.g. {flag} subclass=drain:0.75"
        )
    return Spec(kind=kind, column=column.strip(), value=value, fraction=fraction)


def affected_count(fraction: float, matching: int) -> int:
    """FRAC x matching rows, rounded to the nearest integer with halves up."""
    return min(matching, math.floor(fraction * matching + 0.5))


def apply_experiments(
    table: pl.DataFrame,
    train_rows: np.ndarray,
    targets: np.ndarray,
    n_classes: int,
    *,
    subsample: list[Spec],
    label_noise: list[Spec],
    seed: int,
    source: str,
) -> tuple[np.ndarray, np.ndarray, list[Outcome]]:
    """Apply the flags to the training rows.

    `train_rows` are manifest row indices, `targets` the class index of every manifest row.
    Returns the training rows that remain, a copy of `targets` with noisy labels on the
    affected rows, and one Outcome per flag (subsample flags first, in the order given).
    """
    outcomes = []
    kept = np.asarray(train_rows, dtype=np.int64)
    for i, spec in enumerate(subsample):
        matching = _matching(table, kept, spec, source)
        drop = _choose(matching, spec, seed, i)
        outcomes.append(Outcome(spec, len(matching), drop))
        kept = np.setdiff1d(kept, drop, assume_unique=True)
    noisy = np.array(targets, dtype=np.int64, copy=True)
    for i, spec in enumerate(label_noise):
        matching = _matching(table, kept, spec, source)
        flip = _choose(matching, spec, seed, i)
        # Shift each label by 1..K-1 (mod K): uniform over the other classes, never the same.
        rng = np.random.default_rng([seed, _SALT[LABEL_NOISE], i, 1])
        shift = rng.integers(1, n_classes, size=len(flip)) if n_classes > 1 else 0
        noisy[flip] = (targets[flip] + shift) % n_classes
        outcomes.append(Outcome(spec, len(matching), flip))
    return kept, noisy, outcomes


def _matching(table: pl.DataFrame, rows: np.ndarray, spec: Spec, source: str) -> np.ndarray:
    if spec.column not in table.columns:
        columns = ", ".join(table.columns)
        raise InputError(
            f"{_FLAGS[spec.kind]} {spec.text}: {source} has no column {spec.column!r} (columns: {columns})"
        )
    values = table[spec.column].cast(pl.String).to_numpy()[rows]
    matching: np.ndarray = rows[values == spec.value]  # polars' to_numpy is typed Any
    if len(matching) == 0:
        raise InputError(
            f"{_FLAGS[spec.kind]} {spec.text}: no training rows of {source} have {spec.column} = {spec.value!r}; "
            "check the value (matched as text, case-sensitive)"
        )
    return matching


def _choose(matching: np.ndarray, spec: Spec, seed: int, index: int) -> np.ndarray:
    rng = np.random.default_rng([seed, _SALT[spec.kind], index])
    k = affected_count(spec.fraction, len(matching))
    return np.sort(matching[rng.permutation(len(matching))[:k]])
