"""`hs calibrate PREDS [LABELS]`: Youden (or target) thresholds and Cohen et al.'s map to 0.5."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
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

EPILOG = """\
Examples:

  hs calibrate val_preds.csv val_labels.csv -o val_cal.csv

  hs calibrate preds.csv labels.csv --target sens=0.95 --target spec=0.9 -o cal.csv

  hs calibrate test_preds.csv --threshold val_cal.csv.meta.json -o test_cal.csv

  hs calibrate european_semicolon_decimal_comma.csv --decimal-comma --id-col Accession --score-col PTX_prob --threshold 0.3

  hs stratify preds.csv labels.csv --threshold cal.csv.meta.json

  hs stratify cal.csv labels.csv --threshold 0.5

The last two make the same calls: the .json holds the threshold on the original scale, for the original scores; the calibrated scores are cut at 0.5.

Output: image_id,score with calibrated scores, in the order of PREDS: a preds file whose operating point is 0.5 (s/(2t) below the threshold t, 1-(1-s)/(2(1-t)) from it; Cohen et al. 2020, eq. 1). With -o, the sidecar FILE.meta.json holds "threshold": {"rule", "value" (on the ORIGINAL scale), "calibrated_value", "sensitivity", "specificity"} and "thresholds" for every --target. Details: docs/agreement.md.
"""


def command(
    preds: Annotated[str, typer.Argument(help="Predictions: image_id,score. '-' = stdin.")],
    labels: Annotated[
        str | None, typer.Argument(help="Labels: image_id,label. Needed unless --threshold is a number or .json.")
    ] = None,
    threshold: Annotated[
        str,
        typer.Option(
            "--threshold",
            help="Operating point mapped to 0.5: youden, sens=0.95, spec=0.9, a number, or a calibration .json.",
        ),
    ] = "youden",
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target", help="Also report this threshold (sens=0.95, spec=0.9, youden or a number; repeatable)."
        ),
    ] = None,
    positive: Annotated[
        str | None, typer.Option("--positive", help="Label value of the positive class when labels are not 0/1.")
    ] = None,
    allow_unmatched: Annotated[
        bool,
        typer.Option(
            "--allow-unmatched", help="Fit on ids present in both files; still calibrate every score of PREDS."
        ),
    ] = False,
    id_col: IdCol = ColumnMap.id,
    score_col: ScoreCol = ColumnMap.score,
    label_col: LabelCol = ColumnMap.label,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    output: Output = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Operating thresholds (Youden, target sensitivity/specificity) and scores calibrated to 0.5."""
    with handled(verbose, flags={"targets": "--target"}):
        from hstool.audit.calibrate import CalibrateOptions, run_calibrate
        from hstool.cli.table_args import column_map, table_format
        from hstool.io.atomic import refuse_overwriting_inputs
        from hstool.io.render import emit

        options = CalibrateOptions(
            threshold=threshold,
            targets=list(target or []),
            columns=column_map(id_col, score_col, label_col),
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
            positive=positive,
            allow_unmatched=allow_unmatched,
        )
        refuse_overwriting_inputs([output], [preds, labels])
        result = run_calibrate(preds, labels, options)
        # A preds file, never a human table: CSV unless -o names a Parquet file.
        parquet = output is not None and Path(output).suffix.lower() in (".parquet", ".pq")
        emit(result.table, fmt=None if parquet else "csv", output=output, meta=result.meta)
        if not quiet:
            for line in result.summary:
                say(line)
