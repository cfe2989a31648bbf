"""Synthetic audit data for the stratify benchmark: N rows, stratifiers of 2, 5 and 20 levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

LEVELS = {"site": 2, "device": 5, "region": 20}


def make(folder: Path, n: int, seed: int = 0, *, shuffled: bool = False) -> tuple[Path, Path]:
    """preds.csv and labels.csv in `folder`; `shuffled` writes the labels rows in a random order."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.3
    columns = {name: rng.integers(0, k, n) for name, k in LEVELS.items()}
    # A few groups are harder, so the audit has something to find.
    difficulty = 1.5 - 0.6 * (columns["device"] == 3) - 0.8 * (columns["region"] == 7)
    score = 1 / (1 + np.exp(-(rng.normal(size=n) + difficulty * (2 * y - 1))))
    ids = pl.Series("image_id", np.char.add("img", np.arange(n).astype(str)))
    folder.mkdir(parents=True, exist_ok=True)
    preds, labels = folder / "preds.csv", folder / "labels.csv"
    pl.DataFrame([ids, pl.Series("score", score.round(6))]).write_csv(preds)
    table = pl.DataFrame(
        [ids, pl.Series("label", y.astype(np.int8))]
        + [pl.Series(k, np.char.add(k[0], v.astype(str))) for k, v in columns.items()]
    )
    (table.sample(fraction=1.0, shuffle=True, seed=seed) if shuffled else table).write_csv(labels)
    return preds, labels
