"""`hs label-issues PREDS LABELS`: rank cases by how likely their given label is wrong."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    Format,
    IdCol,
    LabelCol,
    NaValues,
    Output,
    Positive,
    Quiet,
    ScoreCol,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

EPILOG = """\
Examples:

  hs train manifest.csv -o oof/ --cross-fit 5        # out-of-fold probabilities for every training image

  hs label-issues oof/preds_oof.csv manifest.csv -o ranked.csv

  hs label-issues oof/preds_oof.csv manifest.csv --score margin --by-score --format table | head -20

  hs label-issues oof/preds_oof.csv manifest.csv --issues confident-joint    # flag only the cases off the confident joint's diagonal

  hs label-issues vendor_preds.csv vendor_labels.csv --id-col Accession --score-col PTX_prob --label-col Pneumothorax

  hs audit -p oof/preds_oof.csv -l manifest.csv --allow-unmatched --label-issues ranked.csv -o sheet.csv   # mark the review sheet

Output (hs.label-issues/1), most suspect first: rank, image_id, label (given), suspected_label (the class it more likely belongs to), score (label quality: lower = more suspect), issue (true when confident learning flags it, by --issues), p_label, p_suspected. Labels rows without a prediction are ignored (counted in the sidecar). Details: docs/label_issues.md.
"""


def command(
    preds: Annotated[
        str,
        typer.Argument(
            metavar="PREDS", help="Out-of-sample probabilities: image_id,score (binary) or image_id,p_<class>..."
        ),
    ],
    labels: Annotated[
        str, typer.Argument(metavar="LABELS", help="The given labels: image_id,label (a labels file or the manifest).")
    ],
    score: Annotated[
        str | None,
        typer.Option(
            "--score",
            help="Ranking score: margin (p_label - max other p), self-confidence (p_label), adjusted-margin or adjusted-self-confidence (the same after dividing each class's p by its threshold and renormalising). Default: adjusted-self-confidence.",
        ),
    ] = None,
    issues: Annotated[
        str | None,
        typer.Option(
            "--issues",
            help="Which cases are label issues: prune-by-class (in each class, the calibrated confident joint's estimated number of errors, lowest --score first) or confident-joint (the cases off the confident joint's diagonal: another class's probability reaches its threshold, the mean self-confidence). Default: prune-by-class.",
        ),
    ] = None,
    issues_first: Annotated[
        bool | None,
        typer.Option(
            "--issues-first/--by-score",
            help="Put the label issues first (each part ordered by --score), or rank by the score alone. Default: issues first.",
        ),
    ] = None,
    positive: Positive = None,
    id_col: IdCol = ColumnMap.id,
    score_col: ScoreCol = ColumnMap.score,
    label_col: LabelCol = ColumnMap.label,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    output: Output = None,
    fmt: Format = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Rank cases by how likely their label is wrong (confident learning on out-of-fold probabilities)."""
    with handled(verbose):
        from dataclasses import replace

        from hstool.audit.label_issues_run import LabelIssueOptions, run_label_issues
        from hstool.cli.table_args import column_map, table_format
        from hstool.io.atomic import refuse_overwriting_inputs
        from hstool.io.render import emit

        refuse_overwriting_inputs([output], [preds, labels])
        # Unset options keep LabelIssueOptions' defaults (their one home).
        options = LabelIssueOptions(
            positive=positive,
            columns=column_map(id_col, score_col, label_col),
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
        )
        if score is not None:
            options = replace(options, score=score)
        if issues is not None:
            options = replace(options, issues=issues)
        if issues_first is not None:
            options = replace(options, issues_first=issues_first)
        result = run_label_issues(preds, labels, options)
        if not quiet:
            for line in result.warnings:
                say(f"hs: warning: {line}")
        emit(result.table, fmt=fmt, output=output, meta=result.meta, view=result.view)
        if not quiet:
            for line in result.summary:
                say(line)
