"""Benchmark: reading a hospital-style labels export as hs reads it (cells as text, then the
used columns parsed over the whole file), against polars reading it with types inferred.

The file has N rows (default 160,000): image_id, label (0/1), a score, sex, a 3-spelling site
code, an age, a device string and a patient id that is an integer for every row but the last,
which has 40 digits (what broke the reader before: a type guessed from the first rows).

Measured in one process, on the same bytes, best of --repeat runs:
  infer-100   polars.read_csv with its default inference (first 100 rows): fails on the last row
  infer-all   polars.read_csv inferring from every row (hs's fallback before): fails too (i128)
  typed       polars.read_csv inferring from every row, patient_id given as text: the baseline,
              what someone who knows the file would write
  hs          hstool.io.tables.read_table (text) + the score parsed as probabilities, the label
              decoded, and the sex/site/age stratifiers built: what hs stratify does to read

Usage: python benchmarks/table_read_speed.py [--rows 160000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from hstool.audit.groups import build_stratifiers
from hstool.io.columns import probabilities
from hstool.io.label_coding import binary_labels
from hstool.io.tables import read_table


def make(path: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    patient = [str(v) for v in rng.integers(1, 10**9, n - 1)] + ["1" * 40]
    pl.DataFrame(
        {
            "image_id": [f"img{i:07d}" for i in range(n)],
            "label": rng.integers(0, 2, n),
            "score": rng.random(n).round(6),
            "sex": rng.choice(["F", "M", "nan"], n),
            "site": rng.choice(["01", "1", "001"], n),
            "age": rng.integers(18, 95, n),
            "device": rng.choice(["drain", "line", ""], n),
            "patient_id": patient,
        }
    ).write_csv(path)


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def hs_read(path: str) -> None:
    df, source = read_table(path, role="labels", required=("image_id", "label"))
    probabilities(df, "score", source)
    binary_labels(df, "label", source)
    build_stratifiers(df, by=["sex", "site", "age"], crosses=[], bins={}, max_levels=20, source_name=source.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=160_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        make(path, args.rows)
        data = path.read_bytes()
        for name, length in (("infer-100", 100), ("infer-all", None)):
            try:
                pl.read_csv(io.BytesIO(data), infer_schema_length=length)
                print(f"{name:10s} reads")
            except pl.exceptions.PolarsError as exc:
                print(f"{name:10s} fails: {str(exc).splitlines()[0][:90]}")
        overrides = {"patient_id": pl.String}
        baseline = best(
            lambda: pl.read_csv(io.BytesIO(data), infer_schema_length=None, schema_overrides=overrides), args.repeat
        )
        hs = best(lambda: hs_read(str(path)), args.repeat)
    print(f"rows {args.rows:,}, {len(data) / 2**20:.1f} MiB, best of {args.repeat}")
    print(f"typed      {baseline:.3f} s")
    print(f"hs         {hs:.3f} s  ({hs / baseline:.2f}x typed)")


if __name__ == "__main__":
    sys.exit(main())
