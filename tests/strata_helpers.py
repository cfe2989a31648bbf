"""Small synthetic audit data sets shared by the stratify tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def drain_dataset(n: int = 1200, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Binary task where positives without a 'drain' are much harder (the paper's example)."""
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    drain = y & (rng.random(n) < 0.7)
    sex = rng.choice(["F", "M"], n)
    age = rng.integers(18, 90, n)
    logit = np.where(y, np.where(drain, 2.5, 0.2), -1.0) + rng.normal(0, 1.0, n)
    score = 1 / (1 + np.exp(-logit))
    ids = [f"img{i:05d}" for i in range(n)]
    preds = pl.DataFrame({"image_id": ids, "score": score})
    drain_col = pl.Series("drain", [("yes" if d else "no") if p else None for p, d in zip(y, drain)], dtype=pl.String)
    labels = pl.DataFrame({"image_id": ids, "label": y.astype(int), "sex": sex, "age": age}).with_columns(drain_col)
    return preds, labels


def write(tmp: Path, preds: pl.DataFrame, labels: pl.DataFrame) -> tuple[Path, Path]:
    p, lab = tmp / "preds.csv", tmp / "labels.csv"
    preds.write_csv(p)
    labels.write_csv(lab)
    return p, lab
