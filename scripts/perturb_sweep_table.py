#!/usr/bin/env python3
"""Tabulate `make perturb-sweep`: AUC (and sensitivity, specificity) against the perturbation.

  python scripts/perturb_sweep_table.py OUT

reads every OUT/<run>/strata.csv written by `hs stratify` (one run per perturbation value, plus
OUT/original for the unperturbed images), takes the perturbation of each run from the sidecar
of OUT/<run>/manifest.csv (written by `hs perturb`; runs without one are the original images),
and writes OUT/auc_by_value.csv (every stratify row, with kind and value) and
OUT/auc_by_value.md (the overall rows, sorted by value).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import polars as pl

COLUMNS = ["stratifier", "group", "n", "auc", "auc_ci_low", "auc_ci_high", "sensitivity", "specificity", "status"]


def perturbation_of(run: Path) -> tuple[str, float | None]:
    sidecar = run / "manifest.csv.meta.json"
    if not sidecar.exists():
        return "original", None
    p = json.loads(sidecar.read_text(encoding="utf-8"))["perturbation"]
    return p["kind"], float(p["value"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    frames = []
    for strata in sorted(args.out.glob("*/strata.csv")):
        kind, value = perturbation_of(strata.parent)
        table = pl.read_csv(strata, schema_overrides={"group": pl.String}).select(COLUMNS)
        frames.append(
            table.with_columns(
                pl.lit(strata.parent.name).alias("run"),
                pl.lit(kind).alias("kind"),
                pl.lit(value, dtype=pl.Float64).alias("value"),
            )
        )
    if not frames:
        sys.exit(f"{args.out}: no */strata.csv found; run make perturb-sweep first")
    table = pl.concat(frames).select(["run", "kind", "value"] + COLUMNS)
    # The original images first, then each kind by increasing value; rows within a run keep stratify's order.
    table = table.sort([pl.col("kind") != "original", "kind", "value", "run"], maintain_order=True)
    table.write_csv(args.out / "auc_by_value.csv")
    overall = table.filter(pl.col("stratifier") == "(all)")
    lines = [
        "| run | perturbation | value | n | AUC [95% CI] | sensitivity | specificity |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in overall.iter_rows(named=True):
        auc = "-" if r["auc"] is None else f"{r['auc']:.3f} [{r['auc_ci_low']:.3f}, {r['auc_ci_high']:.3f}]"
        value = "" if r["value"] is None else f"{r['value']:g}"
        sens = "-" if r["sensitivity"] is None else f"{r['sensitivity']:.3f}"
        spec = "-" if r["specificity"] is None else f"{r['specificity']:.3f}"
        lines.append(f"| {r['run']} | {r['kind']} | {value} | {r['n']} | {auc} | {sens} | {spec} |")
    (args.out / "auc_by_value.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'auc_by_value.csv'} and {args.out / 'auc_by_value.md'}", file=sys.stderr)


if __name__ == "__main__":
    main()
