"""Which groups does `hs stratify` flag on a real label set when the model is equally good in
every group? The flag rule (issue 16) on the NIH ChestX-ray14 metadata.

Labels: the 112,120 images of Data_Entry_2017_v2020.csv.gz (NIH Clinical Center), one finding as
the label (default Effusion), stratifiers sex (Patient Gender), view (View Position) and age
(Patient Age in bands 0-17, 18-39, 40-59, 60-74, 75+). The prevalence of the finding differs
between these groups, as it does in hospital data.

Scores: simulated from one binormal model for every image, negatives N(0, 1) and positives
N(d, 1) (d = --separation), mapped to (0, 1) by a logistic so that the default threshold 0.5
falls at d/2: the same AUC, sensitivity and specificity in every group, so no group is truly
worse. The planted data sets (--plant, default `age=75+:0.6,sex=M:0.1`) lower the separation
of the positives of named groups by the given amount: a real deficit in AUC and sensitivity
(specificity unchanged), by default a large one in a small group (age 75+: AUC about 0.10 lower,
sensitivity about 0.2) and a small one in a large group (men: AUC about 0.013 lower,
sensitivity about 0.028), below the margins of the third run. Each seed is run twice: without
any planted deficit (every flag is a false alarm), and with them.

Each data set is written to a temporary folder as preds.csv and labels.csv, and `hs stratify`
(the library, with options parsed as the command line parses them) runs three ways:
  old      --flag-on auc,sensitivity,specificity,ppv,npv   (PPV and NPV may flag, as before)
  default  (flags on AUC, sensitivity, specificity and calibration only)
  margin   --margin auc=0.02,sensitivity=0.05,specificity=0.05
Usage:
  python benchmarks/flag_rule_nih.py [--seeds 0,1,2,3,4] [--finding Effusion] [--separation 1.8]
                                     [--plant age=75+:0.6,sex=M:0.1] [--no-plant]
                                     [--metadata PATH] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.stratify import run_stratify
from hstool.cli.stratify_args import stratify_options

METADATA = Path(os.environ.get("HS_DATA_DIR", "../shared/data")) / "nih-cxr14" / "Data_Entry_2017_v2020.csv.gz"
AGE_EDGES = (18, 40, 60, 75)
AGE_BANDS = ("0-17", "18-39", "40-59", "60-74", "75+")
RUNS: dict[str, dict[str, Any]] = {
    "old": {"flag_on": "auc,sensitivity,specificity,ppv,npv"},
    "default": {},
    "margin": {"margin": ["auc=0.02,sensitivity=0.05,specificity=0.05"]},
}
COMMANDS = {
    "old": "hs stratify preds.csv labels.csv --flag-on auc,sensitivity,specificity,ppv,npv",
    "default": "hs stratify preds.csv labels.csv",
    "margin": "hs stratify preds.csv labels.csv --margin auc=0.02,sensitivity=0.05,specificity=0.05",
}


def read_labels(path: Path, finding: str) -> pl.DataFrame:
    """image_id, label (0/1: the finding among the image's Finding Labels), sex, view, age."""
    raw = pl.read_csv(path, columns=["Image Index", "Finding Labels", "Patient Age", "Patient Gender", "View Position"])
    findings = raw["Finding Labels"].str.split("|")
    age = raw["Patient Age"].to_numpy()
    band = np.asarray(AGE_BANDS)[np.searchsorted(AGE_EDGES, age, side="right")]
    return pl.DataFrame(
        {
            "image_id": raw["Image Index"],
            "label": findings.list.contains(finding).cast(pl.Int8),
            "sex": raw["Patient Gender"],
            "view": raw["View Position"],
            "age": band,
        }
    )


def parse_plant(text: str) -> dict[tuple[str, str], float]:
    """`age=75+:0.6,sex=M:0.1` -> {(column, group): drop in separation}."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        where, _, drop = item.rpartition(":")
        column, _, group = where.partition("=")
        out[(column, group)] = float(drop)
    return out


def simulate_scores(
    labels: pl.DataFrame, rng: np.random.Generator, separation: float, plant: dict[tuple[str, str], float]
) -> np.ndarray:
    """One binormal model everywhere; a planted group's positives are `drop` closer to the negatives."""
    y = labels["label"].to_numpy().astype(bool)
    mean = np.where(y, separation, 0.0)
    for (column, group), drop in plant.items():
        mean[y & (labels[column].to_numpy() == group)] -= drop
    x = rng.normal(mean, 1.0)
    return np.asarray(1 / (1 + np.exp(-(x - separation / 2))))  # threshold 0.5 at x = d/2


def flagged(table: pl.DataFrame) -> list[tuple[str, str, list[str]]]:
    rows = table.filter(pl.col("flag") & (pl.col("scope") != "overall"))
    return [(r["stratifier"], str(r["group"]), r["worse_on"].split(";")) for r in rows.iter_rows(named=True)]


def versus(table: pl.DataFrame, stratifier: str, group: str, metric: str) -> str:
    """`0.962 vs 0.975`: the group's value against its comparator's (value - delta)."""
    row = table.filter((pl.col("stratifier") == stratifier) & (pl.col("group") == group)).row(0, named=True)
    return f"{row[metric]:.3f} vs {row[metric] - row[f'{metric}_delta']:.3f}"


def describe(table: pl.DataFrame, found: list[tuple[str, str, list[str]]]) -> str:
    if not found:
        return "-"
    return "; ".join(f"{s}={g} ({', '.join(f'{m} {versus(table, s, g, m)}' for m in ms)})" for s, g, ms in found)


def prevalence_table(labels: pl.DataFrame) -> list[str]:
    lines = ["| stratifier | group | images | positives | prevalence |", "| --- | --- | ---: | ---: | ---: |"]
    for column in ("sex", "view", "age"):
        stats = labels.group_by(column).agg(pl.len().alias("n"), pl.col("label").sum().alias("pos")).sort(column)
        for group, n, pos in stats.iter_rows():
            lines.append(f"| {column} | {group} | {n:,} | {pos:,} | {pos / n:.3f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds, one data set pair each")
    parser.add_argument("--seed", type=int, default=None, help="run this one seed (overrides --seeds)")
    parser.add_argument("--finding", default="Effusion")
    parser.add_argument("--separation", type=float, default=1.8, help="binormal d' of the model (AUC = Φ(d/√2))")
    parser.add_argument(
        "--plant", default="age=75+:0.6,sex=M:0.1", help="COLUMN=GROUP:DROP,...: groups whose positives' d' is lower"
    )
    parser.add_argument("--no-plant", action="store_true", help="only the data sets without a planted deficit")
    parser.add_argument("--metadata", type=Path, default=METADATA)
    parser.add_argument("--keep", type=Path, default=None, help="write the CSVs here instead of a temporary folder")
    args = parser.parse_args()
    seeds = [args.seed] if args.seed is not None else [int(s) for s in args.seeds.split(",")]
    plant = parse_plant(args.plant)

    labels = read_labels(args.metadata, args.finding)
    prevalence = float(labels["label"].mean())  # type: ignore[arg-type]
    print(f"{args.metadata.name}: {labels.height:,} images, label = {args.finding}, prevalence {prevalence:.4f}")
    print("\n".join(prevalence_table(labels)))
    print(
        f"\nscores: binormal d' = {args.separation} in every group; planted: "
        + ", ".join(f"{c}={g} positives d' -{d:g}" for (c, g), d in plant.items())
        + "; threshold 0.5 (= d'/2); Holm, alpha 0.05"
    )
    for name, command in COMMANDS.items():
        print(f"  {name:8s} {command}")
    scenarios: list[tuple[str, dict[tuple[str, str], float]]] = [("none", {})]
    if not args.no_plant:
        scenarios.append(("yes", plant))
    totals: dict[tuple[str, str], list[int]] = {}
    observed: list[str] = []
    print(
        "\n| seed | planted | run | flagged groups | metrics flagged | planted groups flagged | groups flagged (metric: group vs comparator) | s |"
    )
    print("| ---: | --- | --- | ---: | --- | --- | --- | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            for tag, planted in scenarios:
                rng = np.random.default_rng([seed, 1 if planted else 0])
                scores = simulate_scores(labels, rng, args.separation, planted)
                preds, labels_csv = folder / "preds.csv", folder / "labels.csv"
                pl.DataFrame({"image_id": labels["image_id"], "score": scores.round(6)}).write_csv(preds)
                labels.write_csv(labels_csv)
                for run, extra in RUNS.items():
                    options = stratify_options(
                        by=None,
                        cross=None,
                        bins=None,
                        threshold="0.5",
                        positive=None,
                        ci="wilson",
                        n_boot=1000,
                        seed=seed,
                        level=0.95,
                        correction="holm",
                        alpha=0.05,
                        min_n=10,
                        reference=None,
                        max_levels=20,
                        allow_unmatched=False,
                        fail_on=None,
                        **extra,
                    )
                    start = time.perf_counter()
                    result = run_stratify(str(preds), str(labels_csv), options)
                    took = time.perf_counter() - start
                    found = flagged(result.table)
                    metrics = Counter(m for _, _, ms in found for m in ms)
                    where = {(s, g) for s, g, _ in found}
                    hit = ", ".join(f"{c}={g} {'yes' if (c, g) in where else 'no'}" for c, g in planted) or "-"
                    totals.setdefault((tag, run), []).append(len(found))
                    if run == "default":
                        observed.extend(
                            f"seed {seed}: {c}={g} AUC {versus(result.table, c, g, 'auc')}, "
                            f"sensitivity {versus(result.table, c, g, 'sensitivity')}"
                            for c, g in planted
                        )
                    metric_text = ", ".join(f"{m} {k}" for m, k in sorted(metrics.items())) or "-"
                    print(
                        f"| {seed} | {tag} | {run} | {len(found)} | {metric_text} | {hit} | {describe(result.table, found)} | {took:.1f} |"
                    )
    if observed:
        print("\nplanted groups, observed (group vs the rest):")
        print("\n".join(f"  {line}" for line in observed))
    print("\nmean flagged groups per data set (of 9 groups):")
    for (tag, run), counts in totals.items():
        print(f"  planted {tag:4s} {run:8s} {np.mean(counts):.1f}  (per seed: {', '.join(map(str, counts))})")


if __name__ == "__main__":
    main()
