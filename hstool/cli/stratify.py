"""`hs stratify PREDS LABELS`: per-subgroup metrics with DeLong tests (schema completion)."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.audit.options import StratifyOptions
from hstool.cli.common import handled, say
from hstool.cli.options import (
    Alpha,
    Correction,
    DecimalComma,
    Delimiter,
    FlagOn,
    Format,
    IdCol,
    LabelCol,
    Level,
    Margin,
    Metrics,
    NaValues,
    Output,
    Positive,
    Quiet,
    ScoreCol,
    Seed,
    Sheet,
    Threshold,
    Verbose,
)
from hstool.io.table_format import ColumnMap

_DEFAULTS = StratifyOptions()  # the one home of hs stratify's defaults (a light module)

EPILOG = """\
Examples:

  hs stratify preds.csv labels.csv

  hs stratify preds.csv labels.csv --by drain --cross sex,age --bins age=0,40,65,200

  hs stratify preds.csv labels.csv --threshold youden --fail-on worse -o strata.csv

  hs stratify vendor_preds.csv vendor_labels.csv --id-col Accession --score-col PTX_prob --label-col Pneumothorax

  hs stratify preds.csv findings.xlsx --sheet labels --label-col Pneumothorax --by site --na-values unknown

  hs stratify preds.csv labels.csv --by site --metrics all

  hs stratify preds.csv labels.csv --margin auc=0.05,sensitivity=0.1

Output: one row per stratifier and group plus an overall row, with columns stratifier, group, scope, comparator, n, n_pos, prevalence, threshold, auc, auc_se, auc_ci_low, auc_ci_high, auc_delta, auc_p, auc_p_adj, the same _ci_low/_ci_high/_delta/_p/_p_adj pattern for sensitivity, specificity, ppv and npv, accuracy with its interval, brier, tp, fp, tn, fn, flag, worse_on, status and reason; then calibration (brier, calibration_intercept and calibration_slope with _ci_low/_ci_high/_delta/_p/_p_adj, ece with its interval), _margin_p per tested metric, auc_test (delong or permutation), auc_mdd and sensitivity_mdd. With a 'pred' column instead of 'score' (multi-class), accuracy per group. Details: docs/formats.md and docs/statistics.md.
"""


def command(
    preds: Annotated[
        str, typer.Argument(help="Predictions: image_id,score (binary) or image_id,pred (multi-class). '-' = stdin.")
    ],
    labels: Annotated[str, typer.Argument(help="Labels: image_id,label and any stratifier columns.")],
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Stratify by this column (repeatable). Default: every labels column."),
    ] = None,
    cross: Annotated[
        list[str] | None, typer.Option("--cross", help="Intersection of columns, e.g. sex,age (repeatable).")
    ] = None,
    bins: Annotated[
        list[str] | None,
        typer.Option("--bins", help="Bin a numeric column: age=0,40,65,200 (edges) or age=q4 (quantiles)."),
    ] = None,
    threshold: Threshold = _DEFAULTS.threshold,
    positive: Positive = None,
    ci: Annotated[
        str,
        typer.Option("--ci", help="Intervals: wilson (DeLong for AUC), clopper-pearson, or bootstrap (stratified)."),
    ] = _DEFAULTS.ci,
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap replicates with --ci bootstrap.")
    ] = _DEFAULTS.n_boot,
    level: Level = _DEFAULTS.level,
    correction: Correction = _DEFAULTS.correction,
    alpha: Alpha = _DEFAULTS.alpha,
    min_n: Annotated[
        int, typer.Option("--min-n", help="Groups with fewer cases get status too_small and no metrics.")
    ] = _DEFAULTS.min_n,
    reference: Annotated[
        list[str] | None,
        typer.Option(
            "--reference", help="Compare a stratifier's groups with one group, e.g. sex=M, instead of the rest."
        ),
    ] = None,
    max_levels: Annotated[
        int, typer.Option("--max-levels", help="Numeric columns with more distinct values are binned into quartiles.")
    ] = _DEFAULTS.max_levels,
    allow_unmatched: Annotated[
        bool,
        typer.Option("--allow-unmatched", help="Analyse ids present in both files; count the rest in the metadata."),
    ] = _DEFAULTS.allow_unmatched,
    fail_on: Annotated[
        str | None, typer.Option("--fail-on", help="'worse': exit 3 when any group is flagged (for CI gates).")
    ] = None,
    metrics: Metrics = None,
    margin: Margin = None,
    flag_on: FlagOn = None,
    seed: Seed = _DEFAULTS.seed,
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
    """Per-subgroup AUC (DeLong), sensitivity, specificity, PPV, NPV with intervals, tests and flags."""
    with handled(verbose):
        from hstool.audit.stratify import run_stratify
        from hstool.cli.stratify_args import stratify_options
        from hstool.cli.table_args import column_map, table_format
        from hstool.errors import AuditFailed
        from hstool.io.atomic import refuse_overwriting_inputs
        from hstool.io.render import emit

        options = stratify_options(
            by=by,
            cross=cross,
            bins=bins,
            threshold=threshold,
            positive=positive,
            ci=ci,
            n_boot=n_boot,
            seed=seed,
            level=level,
            correction=correction,
            alpha=alpha,
            min_n=min_n,
            reference=reference,
            max_levels=max_levels,
            allow_unmatched=allow_unmatched,
            fail_on=fail_on,
            columns=column_map(id_col, score_col, label_col),
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
            metrics=metrics,
            margin=margin,
            flag_on=flag_on,
        )
        refuse_overwriting_inputs([output], [preds, labels])
        result = run_stratify(preds, labels, options)
        emit(result.table, fmt=fmt, output=output, meta=result.meta, view=result.view)
        if not quiet:
            for line in result.notes + result.summary:
                say(line)
        if fail_on == "worse" and result.n_flagged:
            raise AuditFailed(f"{result.n_flagged} group(s) significantly worse (--fail-on worse)")
