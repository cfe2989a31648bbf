#!/usr/bin/env python3
"""Write the table fixtures of tests/io/test_table_inputs.py into tests/fixtures/tables/.

Each file is named after the case it stands for (csvkit's `examples/` habit): the same 120
cases as hs writes them (`canonical_*.csv`), then as a vendor, a European spreadsheet, Excel,
a multi-finding export, and with each label coding. Seeded, so re-running gives the same bytes
(the .xlsx too: its creation time is fixed below).

    python scripts/make_table_fixtures.py [OUT_DIR]
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import numpy as np
import polars as pl

N = 120
SEED = 13
CODINGS = {
    "zero_one": ("1", "0"),
    "float": ("1.0", "0.0"),
    "true_false": ("True", "FALSE"),
    "yes_no": ("Yes", "no"),
    "positive_negative": ("POSITIVE", "negative"),
    "two_values": ("PTX", "normal"),  # needs --positive PTX
}


def _cases() -> dict[str, list]:
    rng = np.random.default_rng(SEED)
    label = (np.arange(N) % 2).astype(int)
    rng.shuffle(label)
    # Informative but imperfect scores, with 6 decimals as a vendor would export them.
    score = np.clip(0.5 + 0.25 * (2 * label - 1) + rng.normal(0, 0.2, N), 0.001, 0.999).round(6)
    other = np.clip(rng.uniform(0, 1, N), 0.001, 0.999).round(6)
    ids = [f"img{i:04d}" for i in range(N)]
    return {
        "ids": ids,
        "label": label.tolist(),
        "score": score.tolist(),
        "other": other.tolist(),
        "site": [("01", "1", "001")[i % 3] for i in range(N)],
        "sex": [("F", "M")[int(v)] for v in rng.integers(0, 2, N)],
    }


def _num(values: list[float]) -> list[str]:
    return [f"{v:.6f}".rstrip("0").rstrip(".") for v in values]


def write(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    c = _cases()
    ids, label, score, site, sex = c["ids"], c["label"], c["score"], c["site"], c["sex"]
    text = _num(score)
    frame = pl.DataFrame
    frame({"image_id": ids, "score": text}).write_csv(out / "canonical_preds.csv")
    labels = frame({"image_id": ids, "label": [str(v) for v in label], "site": site, "sex": sex})
    labels.write_csv(out / "canonical_labels.csv")
    # A vendor's product: its own names, a hard call next to the probability.
    frame({"Accession": ids, "PTX_prob": text, "PTX_pred": [str(int(s >= 0.5)) for s in score]}).write_csv(
        out / "vendor_preds.csv"
    )
    frame({"Accession": ids, "Pneumothorax": [str(v) for v in label], "site": site, "sex": sex}).write_csv(
        out / "vendor_labels.csv"
    )
    # The trap of the first user: a probability column not called score, and a 0/1 `pred`.
    frame({"image_id": ids, "prob": text, "pred": [str(int(s >= 0.5)) for s in score]}).write_csv(
        out / "prob_and_pred_preds.csv"
    )
    # A European spreadsheet export: ';' between cells, a decimal comma in numbers.
    frame({"Accession": ids, "PTX_prob": [t.replace(".", ",") for t in text]}).write_csv(
        out / "european_semicolon_decimal_comma.csv", separator=";"
    )
    labels.write_csv(out / "tab_separated_labels.tsv", separator="\t")
    # A workbook with the predictions and the labels on two sheets (numbers as numbers).
    workbook = out / "two_sheets.xlsx"
    import xlsxwriter

    with xlsxwriter.Workbook(workbook) as book:
        book.set_properties({"created": datetime.datetime(2026, 1, 1)})
        frame({"image_id": ids, "score": score}).write_excel(book, worksheet="preds")
        labels.with_columns(pl.col("label").cast(pl.Int64)).write_excel(book, worksheet="labels")
    # ChestX-ray14-style multi-finding files: one probability and one label column per finding.
    findings = {"Atelectasis": c["other"], "Pneumothorax": score, "Effusion": c["other"][::-1]}
    frame({"image_id": ids, **{k: _num(v) for k, v in findings.items()}}).write_csv(out / "multi_finding_preds.csv")
    frame(
        {
            "image_id": ids,
            "Atelectasis": [str(int(v > 0.5)) for v in c["other"]],
            "Pneumothorax": [str(v) for v in label],
            "Effusion": [str(int(v > 0.7)) for v in c["other"][::-1]],
            "site": site,
        }
    ).write_csv(out / "multi_finding_labels.csv")
    # Stratifier spellings that a numeric reader would merge.
    frame({"image_id": ids, "label": [str(v) for v in label], "site": site}).write_csv(out / "codes_leading_zeros.csv")
    frame(
        {"image_id": ids, "label": [str(v) for v in label], "dose": [("1e3", "1000")[i % 2] for i in range(N)]}
    ).write_csv(out / "codes_exponent.csv")
    device = [("(missing)", "", "drain")[i % 3] for i in range(N)]
    frame({"image_id": ids, "label": [str(v) for v in label], "device": device}).write_csv(out / "literal_missing.csv")
    sex_markers = [("F", "M", "nan", "NA", "", "None")[i % 6] for i in range(N)]
    frame({"image_id": ids, "label": [str(v) for v in label], "sex": sex_markers}).write_csv(
        out / "missing_markers.csv"
    )
    for name, (pos, neg) in CODINGS.items():
        frame({"image_id": ids, "label": [pos if v else neg for v in label], "site": site}).write_csv(
            out / f"label_coding_{name}.csv"
        )
    mixed = [("1", "yes")[i % 2] if v else ("0", "no")[i % 2] for i, v in enumerate(label)]
    frame({"image_id": ids, "label": mixed}).write_csv(out / "label_coding_mixed.csv")
    frame({"image_id": ids, "label": [str(2 if i == 7 else v) for i, v in enumerate(label)]}).write_csv(
        out / "label_coding_three_values.csv"
    )
    (out / "trailing_blank_lines.csv").write_text((out / "canonical_preds.csv").read_text() + "\n\n  \n")


if __name__ == "__main__":
    write(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "tests/fixtures/tables")
