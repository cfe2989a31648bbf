"""A small synthetic study for the report and audit tests: a binary task whose positives have a
hidden subclass (`drain`): positives without a drain score lower, so they are missed more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

HOSTILE = "<script>alert(1)</script>"


def write_study(folder: Path, n: int = 400, seed: int = 0, hostile: bool = False) -> dict[str, Path]:
    rng = np.random.default_rng(seed)
    ids = [f"img{i:04d}" for i in range(n)]
    if hostile:
        ids[0] = '<img src=x onerror="alert(2)">'
    y = rng.random(n) < 0.4
    drain = y & (rng.random(n) < 0.5)
    sex = rng.choice([HOSTILE if hostile else "X", "F", "M"], n)
    noise = rng.normal(0, 0.15, n)
    score = np.clip(np.where(y, np.where(drain, 0.8, 0.45), 0.3) + noise, 0, 1).round(4)
    if hostile:  # the hostile id is a missed positive, so it appears in the error galleries
        y[0], drain[0], score[0] = True, False, 0.01
    pl.DataFrame({"image_id": ids, "score": score}).write_csv(folder / "preds.csv")
    drain_text = pl.Series([("yes" if d else "no") if a else None for a, d in zip(y, drain)], dtype=pl.String)
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "drain": drain_text, "sex": sex}).write_csv(
        folder / "labels.csv"
    )
    cluster = [f"{int(a)}/k2/c{int(d)}" + ("<b>" if hostile else "") for a, d in zip(y, drain)]
    role = np.where(y, np.where(drain, "low_error", "high_error"), "")
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "cluster": cluster, "role": role}).write_csv(
        folder / "clusters.csv"
    )
    return {
        "preds": folder / "preds.csv",
        "labels": folder / "labels.csv",
        "clusters": folder / "clusters.csv",
        "drain": drain,
        "y": y,
    }
