"""`hs agree A B`: kappa, raw agreement, AUCs and Bland-Altman for two models or label sources."""

from __future__ import annotations

from typing import Annotated, cast

import typer

from hstool.audit.options import AgreeOptions
from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    Format,
    IdCol,
    LabelCol,
    NaValues,
    Output,
    Quiet,
    ScoreCol,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

_DEFAULTS = AgreeOptions()  # the one home of hs agree's defaults (a light module)

EPILOG = """\
Examples:

  hs agree preds_a.csv preds_b.csv --reference labels.csv

  hs agree preds_a.csv preds_b.csv --reference labels.csv --by sex --plot agree.png -o agree.csv

  hs agree nlp_labels.csv expert_labels.csv --col pneumothorax --by view --by age --bins age=0,20,40,60,80,100

  hs agree preds.csv radiologist.csv --threshold preds_cal.csv.meta.json

A and B are each a rater: a 'score' column (probabilities: a model) or a binary label column (0/1, true/false, yes/no: a label source). Without --a-col/--b-col, the 'score' column is used, else 'label'. A named numeric column that is not all 0/1 counts as scores. Scores become calls at an operating point: --threshold (default youden, chosen on --reference), or a number, or the calibration .json written by hs calibrate. Scores without a reference need a fixed threshold.

Output: one row for all cases then one per --by group, with columns stratifier, group, n, a_threshold, b_threshold, a_pos, b_pos, both_pos, both_neg, a_only, b_only, agreement (+ _ci_low, _ci_high), expected_agreement, kappa, kappa_se, kappa_ci_low, kappa_ci_high, n_ref_pos, a_auc, b_auc (+ intervals), auc_delta, auc_p, auc_p_adj (paired DeLong), ba_mean_diff (+ interval), ba_sd_diff, ba_loa_low, ba_loa_high (Bland-Altman on calibrated scores), status and reason. Details: docs/agreement.md.
"""


def command(
    a: Annotated[str, typer.Argument(help="Rater A: preds (image_id,score) or labels (image_id,label). '-' = stdin.")],
    b: Annotated[str, typer.Argument(help="Rater B, same forms as A.")],
    a_col: Annotated[
        str | None,
        typer.Option("--a-col", help="Column of A to compare (default: the --score-col column, else --label-col)."),
    ] = None,
    b_col: Annotated[
        str | None,
        typer.Option("--b-col", help="Column of B to compare (default: the --score-col column, else --label-col)."),
    ] = None,
    col: Annotated[
        str | None, typer.Option("--col", help="Same column name in A and B (sets --a-col and --b-col).")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference", help="Ground-truth labels file: AUCs, paired DeLong test, Youden operating points."
        ),
    ] = None,
    reference_col: Annotated[
        str | None, typer.Option("--reference-col", help="Label column of the reference file (default: --label-col).")
    ] = None,
    threshold: Annotated[
        str,
        typer.Option(
            "--threshold",
            help="Operating point of score inputs: youden, sens=0.9, spec=0.9 (on --reference), a number, or a calibration .json.",
        ),
    ] = _DEFAULTS.threshold,
    a_threshold: Annotated[
        str | None, typer.Option("--a-threshold", help="Operating point of A only (same forms as --threshold).")
    ] = None,
    b_threshold: Annotated[str | None, typer.Option("--b-threshold", help="Operating point of B only.")] = None,
    positive: Annotated[
        str | None,
        typer.Option("--positive", help="Label value of the positive class when labels are not 0/1 or yes/no."),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", help="Repeat everything per group of this column (from A, else B, else the reference; repeatable)."
        ),
    ] = None,
    cross: Annotated[
        list[str] | None, typer.Option("--cross", help="Intersection of columns, e.g. sex,view (repeatable).")
    ] = None,
    bins: Annotated[
        list[str] | None, typer.Option("--bins", help="Bin a numeric column: age=0,20,40,60,80,100 (edges) or age=q4.")
    ] = None,
    max_levels: Annotated[
        int, typer.Option("--max-levels", help="Numeric columns with more distinct values are binned into quartiles.")
    ] = _DEFAULTS.max_levels,
    level: Annotated[float, typer.Option("--level", help="Confidence level of every interval.")] = _DEFAULTS.level,
    min_n: Annotated[
        int, typer.Option("--min-n", help="Groups with fewer cases get status too_small and no statistics.")
    ] = _DEFAULTS.min_n,
    correction: Annotated[
        str,
        typer.Option("--correction", help="Multiplicity correction of the AUC tests across groups: holm, bh or none."),
    ] = _DEFAULTS.correction,
    allow_unmatched: Annotated[
        bool,
        typer.Option("--allow-unmatched", help="Analyse ids present in every input; count the rest in the metadata."),
    ] = False,
    plot: Annotated[
        str | None,
        typer.Option("--plot", help="Write a PNG: Bland-Altman plot (two score inputs) and kappa per group."),
    ] = None,
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
    """Agreement of two models or two label sources: Cohen's kappa, AUCs, Bland-Altman, per group."""
    with handled(verbose):
        from hstool.audit.agree import run_agree
        from hstool.cli.stratify_args import parse_bins, parse_crosses
        from hstool.cli.table_args import column_map, table_format
        from hstool.errors import UsageError
        from hstool.io.atomic import check_writable, refuse_overwriting_inputs
        from hstool.io.render import emit
        from hstool.stats.methods import Correction

        if col is not None and (a_col is not None or b_col is not None):
            raise UsageError("--col sets both columns; use it alone, or --a-col/--b-col")
        options = AgreeOptions(
            a_col=col or a_col,
            b_col=col or b_col,
            reference=reference,
            reference_col=reference_col,
            threshold=threshold,
            a_threshold=a_threshold,
            b_threshold=b_threshold,
            positive=positive,
            by=list(by or []),
            crosses=parse_crosses(cross),
            bins=parse_bins(bins),
            max_levels=max_levels,
            level=level,
            min_n=min_n,
            correction=cast(Correction, correction),  # a str until AgreeOptions checks it
            allow_unmatched=allow_unmatched,
            columns=column_map(id_col, score_col, label_col),
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
        )
        refuse_overwriting_inputs([output, plot], [a, b, reference])
        if plot is not None:
            check_writable(plot)
        result = run_agree(a, b, options)
        emit(result.table, fmt=fmt, output=output, meta=result.meta, view=result.view)
        if plot is not None:
            from hstool.audit.agree_plot import write_agreement_plot

            write_agreement_plot(plot, result)
        if not quiet:
            for line in result.notes + result.summary:
                say(line)
