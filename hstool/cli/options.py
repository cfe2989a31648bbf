"""Option declarations shared by several commands, so they read the same everywhere."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.audit.options import DEFAULT_FAMILIES, DEFAULT_FLAG_ON, FAMILIES, flag_on_text

Output = Annotated[
    str | None,
    typer.Option(
        "--output", "-o", help="Write to this file (atomically, with a .meta.json sidecar) instead of stdout."
    ),
]
Format = Annotated[
    str | None,
    typer.Option(
        "--format",
        "-f",
        help="table, csv or json. Default: table on a terminal, csv when piped; with -o, from the file extension.",
    ),
]
Seed = Annotated[
    int, typer.Option("--seed", help="Seed for every random step; same inputs and seed give identical output.")
]
Verbose = Annotated[bool, typer.Option("--verbose", help="Show a traceback on errors (for bug reports).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr, only errors.")]

# Statistics options shared by the audit commands (stratify, cluster).
Threshold = Annotated[
    str,
    typer.Option(
        "--threshold",
        help="Binary scores: operating point on the whole set, a number, youden, sens=0.95, spec=0.9, or a calibration .json.",
    ),
]
Positive = Annotated[
    str | None, typer.Option("--positive", help="Label value of the positive class when labels are not 0/1.")
]
Level = Annotated[float, typer.Option("--level", help="Confidence level of every interval.")]
Correction = Annotated[
    str, typer.Option("--correction", help="Multiplicity correction across all tests of the run: holm, bh or none.")
]
Alpha = Annotated[float, typer.Option("--alpha", help="Significance level for the flag column.")]

# What a binary run computes and what may flag a group (hs stratify, hs report); parsed and
# checked by hstool.cli.stratify_args; the defaults live in hstool.audit.options. (Parentheses,
# not brackets, around the defaults: the help's Rich markup would swallow `[default: ...]`.)
Metrics = Annotated[
    str | None,
    typer.Option(
        "--metrics",
        help=f"Metric families to compute, test and show: {', '.join(FAMILIES)}, or all "
        f"(default: {','.join(DEFAULT_FAMILIES)}).",
    ),
]
Margin = Annotated[
    list[str] | None,
    typer.Option(
        "--margin",
        help="Smallest deficit that matters, e.g. auc=0.05,sensitivity=0.10: flag only when the deficit is "
        "significantly larger (one-sided test).",
    ),
]
FlagOn = Annotated[
    str | None,
    typer.Option(
        "--flag-on",
        help="Metrics that may raise a flag, e.g. auc,sensitivity,ppv "
        f"(default: {flag_on_text(DEFAULT_FLAG_ON)}; PPV and NPV follow prevalence).",
    ),
]

# How the tables are read: column names and file layout (hstool.io.table_format holds the defaults).
IdCol = Annotated[str, typer.Option("--id-col", help="Column that holds the image id in every table read.")]
ScoreCol = Annotated[
    str, typer.Option("--score-col", help="Predictions column with the probability (e.g. prob, Pneumothorax).")
]
LabelCol = Annotated[str, typer.Option("--label-col", help="Labels column with the ground truth (e.g. Pneumothorax).")]
NaValues = Annotated[
    list[str] | None,
    typer.Option(
        "--na-values",
        help="A cell value that means missing (repeatable; replaces the default NA, N/A, nan, NaN, null, None). "
        "Empty cells are always missing.",
    ),
]
Delimiter = Annotated[
    str | None,
    typer.Option("--delimiter", help="CSV delimiter: one character, or 'tab'. Default: sniffed from the header line."),
]
DecimalComma = Annotated[
    bool, typer.Option("--decimal-comma", help="Numbers are written 0,5 (European CSV, usually ';'-separated).")
]
Sheet = Annotated[str | None, typer.Option("--sheet", help="Excel workbooks: the sheet to read (needed when several).")]

# Image folders: where a manifest's relative paths point, and the manifest that shows images.
Root = Annotated[
    str | None,
    typer.Option("--root", help="Folder the manifest's paths are relative to (default: the manifest's folder)."),
]
ShownManifest = Annotated[
    str | None, typer.Option("--manifest", "-m", help="Manifest (image_id,path) to show the images.")
]
