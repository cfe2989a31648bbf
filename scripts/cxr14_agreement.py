#!/usr/bin/env python3
"""ChestX-ray14: NLP-mined labels against radiologist labels (Majkowska et al., Radiology 2019).

Used by `make agree-cxr14` (see docs/agreement.md), in two steps around `hs agree`:

  python scripts/cxr14_agreement.py labels google2019_nih-chest-xray-labels.csv.gz OUT
      writes OUT/nlp.csv and OUT/expert.csv, two labels files for the same 4,376 images
  python scripts/cxr14_agreement.py table OUT
      gathers OUT/agree_<finding>.csv (written by hs agree) into OUT/agreement_table.md/.csv

The source file holds, per image, the original NIH `Finding Labels` (mined from reports by
NLP, '|'-separated) and the adjudicated expert labels (YES/NO) for four findings. The NLP
equivalent of each expert finding:

  pneumothorax           <- Pneumothorax
  nodule_or_mass         <- Nodule or Mass
  airspace_opacity       <- Consolidation, Pneumonia or Infiltration (our choice: the NIH
                            findings that describe airspace opacification)
  airspace_opacity_broad <- the same, or Atelectasis or Edema (a wider reading, to show how
                            much the mapping matters)
  fracture               <- none: ChestX-ray14 has no fracture label, so fracture is written
                            to expert.csv only and not compared

nlp.csv also carries the stratifiers: age (years, as recorded: the uncorrected ages go up to
155; bin them with `hs agree --bins`), sex, view (PA/AP), split (the set, test/val) and
patient_id. Columns are snake_case, values 0/1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import polars as pl

NLP_FINDINGS = {
    "pneumothorax": ["Pneumothorax"],
    "nodule_or_mass": ["Nodule", "Mass"],
    "airspace_opacity": ["Consolidation", "Pneumonia", "Infiltration"],
    "airspace_opacity_broad": ["Consolidation", "Pneumonia", "Infiltration", "Atelectasis", "Edema"],
}
EXPERT_COLUMNS = {
    "pneumothorax": "Pneumothorax",
    "nodule_or_mass": "Nodule or mass",
    "airspace_opacity": "Airspace opacity",
    "airspace_opacity_broad": "Airspace opacity",
    "fracture": "Fracture",
}
STRATA = {
    "Patient ID": "patient_id",
    "Patient Age": "age",
    "Patient Gender": "sex",
    "View Position": "view",
    "Set Id": "split",
}


def write_labels(source: Path, out: Path) -> None:
    df = pl.read_csv(source, schema_overrides={"Image Index": pl.String})
    findings = df["Finding Labels"].str.split("|")
    nlp = df.select(pl.col("Image Index").alias("image_id"))
    for name, nih in NLP_FINDINGS.items():
        nlp = nlp.with_columns(findings.list.eval(pl.element().is_in(nih)).list.any().cast(pl.Int8).alias(name))
    nlp = nlp.with_columns(df.select([pl.col(c).alias(n) for c, n in STRATA.items()]))
    expert = df.select(pl.col("Image Index").alias("image_id"))
    for name, column in EXPERT_COLUMNS.items():
        values = df[column]
        if not values.is_in(["YES", "NO"]).all():
            sys.exit(f"{source}: column {column!r} has values other than YES/NO")
        expert = expert.with_columns((values == "YES").cast(pl.Int8).alias(name))
    out.mkdir(parents=True, exist_ok=True)
    nlp.write_csv(out / "nlp.csv")
    expert.write_csv(out / "expert.csv")
    print(f"wrote {out / 'nlp.csv'} and {out / 'expert.csv'} ({df.height} images)", file=sys.stderr)


def write_table(out: Path) -> None:
    frames = []
    for name in NLP_FINDINGS:
        path = out / f"agree_{name}.csv"
        if not path.exists():
            sys.exit(f"{path} is missing: run hs agree for {name} first (make agree-cxr14)")
        frames.append(
            pl.read_csv(path, schema_overrides={"group": pl.String}).with_columns(pl.lit(name).alias("finding"))
        )
    table = pl.concat(frames).select(
        "finding",
        "stratifier",
        "group",
        "n",
        pl.col("a_pos").alias("nlp_pos"),
        pl.col("b_pos").alias("expert_pos"),
        "both_pos",
        "agreement",
        "kappa",
        "kappa_ci_low",
        "kappa_ci_high",
        "status",
    )
    table.write_csv(out / "agreement_table.csv")
    lines = [
        "| finding | stratifier | group | n | NLP+ | expert+ | both+ | agreement | kappa [95% CI] |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in table.iter_rows(named=True):
        kappa = "-" if r["kappa"] is None else f"{r['kappa']:.3f} [{r['kappa_ci_low']:.3f}, {r['kappa_ci_high']:.3f}]"
        agreement = "-" if r["agreement"] is None else f"{r['agreement']:.3f}"
        if r["status"] == "too_small":
            kappa = "too few cases"
        lines.append(
            f"| {r['finding']} | {r['stratifier']} | {r['group']} | {r['n']} | {r['nlp_pos']} | {r['expert_pos']} | "
            f"{r['both_pos']} | {agreement} | {kappa} |"
        )
    (out / "agreement_table.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out / 'agreement_table.md'} and {out / 'agreement_table.csv'}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    labels = sub.add_parser("labels", help="source CSV -> OUT/nlp.csv, OUT/expert.csv")
    labels.add_argument("source", type=Path)
    labels.add_argument("out", type=Path)
    table = sub.add_parser("table", help="OUT/agree_*.csv -> OUT/agreement_table.md")
    table.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.step == "labels":
        write_labels(args.source, args.out)
    else:
        write_table(args.out)


if __name__ == "__main__":
    main()
