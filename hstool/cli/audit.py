"""`hs audit`: export a review sheet of sampled errors (CSV + HTML gallery) for a reviewer."""

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
    Quiet,
    Root,
    ScoreCol,
    Seed,
    Sheet,
    ShownManifest,
    Verbose,
)
from hstool.io.table_format import ColumnMap

EPILOG = """\
Examples:

  hs audit --preds preds.csv --labels labels.csv --manifest manifest.csv -o review/sheet.csv

  hs audit --preds preds.csv --labels labels.csv --clusters clusters.csv --manifest manifest.csv --by sex --per-group 10 -o sheet.csv

  hs audit --preds oof/preds_oof.csv --labels manifest.csv --allow-unmatched --label-issues ranked.csv --manifest manifest.csv -o sheet.csv

  # after filling review_label in sheet.csv:
  hs stratify preds.csv sheet.csv --by review_label --allow-unmatched --threshold 0.5

Writes sheet.csv (image_id, label, score or pred, outcome FN/FP/TP/TN or wrong/right, sample error/control, sampled_for, path, and an empty review_label) and sheet.html (the same cases as a gallery, in the same order), each with a .meta.json sidecar. With --label-issues (from hs label-issues), also suspected_label_issue (yes/no, empty when not ranked) and suspected_label, with the top flagged cases added (sample label_issue) and listed first. With --blind, only image_id and label, in a random order. Details: docs/report.md.
"""


def command(
    output: Annotated[str, typer.Option("--output", "-o", help="The review sheet CSV to write.")],
    preds: Annotated[str, typer.Option("--preds", "-p", help="Predictions: image_id,score (binary) or image_id,pred.")],
    labels: Annotated[str, typer.Option("--labels", "-l", help="Labels: image_id,label and stratifier columns.")],
    clusters: Annotated[
        str | None, typer.Option("--clusters", "-c", help="clusters.csv from hs cluster: also sample per cluster.")
    ] = None,
    manifest: ShownManifest = None,
    root: Root = None,
    label_issues: Annotated[
        str | None,
        typer.Option(
            "--label-issues",
            help="Ranked table from hs label-issues: mark suspected label issues, add the top ones, list them first.",
        ),
    ] = None,
    label_issues_top: Annotated[
        int | None,
        typer.Option("--label-issues-top", help="With --label-issues: flagged cases added to the sheet (default 20)."),
    ] = None,
    html: Annotated[
        str | None, typer.Option("--html", help="The HTML gallery to write. Default: the CSV's name with .html.")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Sample per group of this column (repeatable). Default: every labels column."),
    ] = None,
    bins: Annotated[
        list[str] | None, typer.Option("--bins", help="Bin a numeric column: age=0,40,65,200 or age=q4.")
    ] = None,
    threshold: Annotated[
        str,
        typer.Option(
            "--threshold", help="Operating point: a number, youden, sens=0.95, spec=0.9, or a calibration .json."
        ),
    ] = "0.5",
    positive: Annotated[
        str | None, typer.Option("--positive", help="Label value of the positive class when labels are not 0/1.")
    ] = None,
    per_group: Annotated[
        int, typer.Option("--per-group", help="Errors of each kind (FN, FP) sampled per subgroup and per cluster.")
    ] = 5,
    controls: Annotated[
        float,
        typer.Option(
            "--controls", help="Correctly classified cases per sampled error, same group and class (0: errors only)."
        ),
    ] = 1.0,
    blind: Annotated[
        bool, typer.Option("--blind", help="Hide score, outcome and why each case was sampled; random order.")
    ] = False,
    allow_unmatched: Annotated[
        bool, typer.Option("--allow-unmatched", help="Use ids present in both files; count the rest.")
    ] = False,
    thumb_size: Annotated[int, typer.Option("--thumb-size", help="Thumbnail size in pixels (longer side).")] = 192,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes decoding images. Default: one per core (at most 8).")
    ] = None,
    id_col: IdCol = ColumnMap.id,
    score_col: ScoreCol = ColumnMap.score,
    label_col: LabelCol = ColumnMap.label,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    excel_sheet: Sheet = None,
    seed: Seed = 0,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Export a review sheet of sampled errors: a CSV with an empty review_label column and an HTML gallery."""
    with handled(verbose):
        from hstool.audit.strata_table import StratifyOptions
        from hstool.cli.stratify_args import stratify_options
        from hstool.cli.table_args import column_map, table_format
        from hstool.errors import UsageError
        from hstool.io.atomic import check_writable, refuse_overwriting_inputs, write_text
        from hstool.io.sidecar import write_sidecar
        from hstool.report.audit_sheet import AuditInputs, AuditOptions, build_audit_sheet

        html_path = html or str(Path(output).with_suffix(".html"))
        if Path(html_path).resolve() == Path(output).resolve():
            raise UsageError(f"--html {html_path} names the CSV output too; choose another name")
        inputs = AuditInputs(preds, labels, clusters, manifest, root, label_issues)
        refuse_overwriting_inputs([output, html_path], inputs.paths())
        check_writable(output)
        check_writable(html_path)
        default = StratifyOptions()  # the settings this command does not expose
        stratify = stratify_options(
            by=by,
            cross=None,
            bins=bins,
            threshold=threshold,
            positive=positive,
            ci=default.ci,
            n_boot=default.n_boot,
            seed=seed,
            level=default.level,
            correction=default.correction,
            alpha=default.alpha,
            min_n=default.min_n,
            reference=None,
            max_levels=default.max_levels,
            allow_unmatched=allow_unmatched,
            fail_on=None,
            columns=column_map(id_col, score_col, label_col),
            table_format=table_format(na_values, delimiter, decimal_comma, excel_sheet),
        )
        options = AuditOptions(
            stratify=stratify,
            per_group=per_group,
            controls=controls,
            blind=blind,
            thumb_size=thumb_size,
            workers=workers,
            **({} if label_issues_top is None else {"label_issues_top": label_issues_top}),
        )
        sheet = build_audit_sheet(inputs, options)
        write_text(output, sheet.table.write_csv())
        write_sidecar(output, sheet.meta)
        write_text(html_path, sheet.html)
        write_sidecar(html_path, sheet.meta)
        if not quiet:
            for line in sheet.summary:
                say(f"hs audit: {line}")
            say(
                f"hs audit: wrote {output} and {html_path}; fill in review_label, then run hs stratify {preds} {output} --by review_label --allow-unmatched"
                + (f" --threshold {sheet.meta['threshold']:.6g}" if sheet.meta.get("threshold") is not None else "")
            )
