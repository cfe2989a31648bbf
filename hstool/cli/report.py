"""`hs report`: one self-contained HTML file from preds, labels, strata, clusters and images."""

from __future__ import annotations

import copy
from typing import Annotated, Any, get_args

import typer

from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    FlagOn,
    IdCol,
    LabelCol,
    Margin,
    Metrics,
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


def _with_strata(option: Any) -> Any:
    """A shared table option's declaration with hs report's rule for it with --strata."""
    info = copy.copy(get_args(option)[1])
    info.help = f"{info.help} With --strata: the value its sidecar recorded (given, it must match)."
    return info


EPILOG = """\
Examples:

  hs report --preds preds.csv --labels labels.csv --manifest manifest.csv -o report.html

  hs report --preds preds.csv --labels labels.csv --strata strata.csv --clusters clusters.csv --manifest manifest.csv -o report.html

  hs report --strata strata.csv -o report.html

  hs report -p preds.csv -l labels.csv --metrics all --margin auc=0.05 --flag-on auc,sensitivity,ppv -o report.html

  hs report -p preds.csv -l labels.csv -c clusters.csv -m manifest.csv --saliency maps/ -o report.html   # maps from hs saliency

  hs report -p preds.csv -l labels.csv -m manifest.csv --saliency model.onnx -o report.html   # occlusion computed here

Sections: summary (overall metrics and flags in plain words), subgroups (table and forest plot), ROC curves and calibration per subgroup, clusters (high/low-error clusters with montages), error galleries (false negatives and false positives by subgroup and cluster), provenance (input sha256, model metadata, hs version, the flag rule). --metrics chooses the metric families in the subgroup table and the summary; --margin and --flag-on decide the flags, as in hs stratify (docs/statistics.md). With --strata, the stratify output's sidecar fixes all three, and --by, --bins, --positive, --id-col, --score-col, --label-col, --na-values, --delimiter, --decimal-comma and --sheet (the predictions, labels and manifest are read as the run read its files): not given, the recorded value is used; given again they must match it (--by and --na-values as sets), else the report refuses. --min-n defaults to the recorded one; a larger one only draws fewer curves, a smaller one is refused. The file has no script and loads nothing from the network; thumbnails are embedded. Details: docs/report.md.
"""


def command(
    ctx: typer.Context,
    output: Annotated[str, typer.Option("--output", "-o", help="The HTML file to write (with a .meta.json sidecar).")],
    preds: Annotated[
        str | None, typer.Option("--preds", "-p", help="Predictions: image_id,score (binary) or image_id,pred.")
    ] = None,
    labels: Annotated[
        str | None, typer.Option("--labels", "-l", help="Labels: image_id,label and stratifier columns.")
    ] = None,
    strata: Annotated[
        str | None,
        typer.Option(
            "--strata",
            "-s",
            help="A stratify output (hs stratify -o strata.csv); computed from --preds/--labels when absent.",
        ),
    ] = None,
    clusters: Annotated[
        str | None, typer.Option("--clusters", "-c", help="clusters.csv from hs cluster: image_id,label,cluster,role.")
    ] = None,
    manifest: ShownManifest = None,
    root: Root = None,
    saliency: Annotated[
        str | None,
        typer.Option(
            "--saliency",
            help="Folder from hs saliency (or a model.onnx: occlusion maps computed for the images shown): "
            "overlays beside the thumbnails, mean maps per cluster.",
        ),
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by",
            help="Stratify by this column (repeatable) when computing the strata. Default: every labels column. "
            "With --strata, must name the columns it grouped by (in any order).",
        ),
    ] = None,
    bins: Annotated[
        list[str] | None,
        typer.Option(
            "--bins", help="Bin a numeric column: age=0,40,65,200 or age=q4. With --strata, must match its bins."
        ),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            "--threshold",
            help="Operating point when computing the strata: a number, youden, sens=0.95, spec=0.9 (default 0.5).",
        ),
    ] = None,
    positive: Annotated[
        str | None,
        typer.Option(
            "--positive",
            help="Label value of the positive class when labels are not 0/1. With --strata, the one its sidecar "
            "recorded (given, it must match).",
        ),
    ] = None,
    min_n: Annotated[
        int,
        typer.Option(
            "--min-n",
            help="Groups with fewer cases get no metrics and no curve. With --strata, its table keeps the metrics "
            "hs stratify computed (its own --min-n, recorded in its sidecar): the default is that one; a larger one "
            "only draws fewer curves, a smaller one is refused.",
        ),
    ] = 10,
    metrics: Metrics = None,
    margin: Margin = None,
    flag_on: FlagOn = None,
    allow_unmatched: Annotated[
        bool,
        typer.Option(
            "--allow-unmatched",
            help="Report on ids present in all files read here (predictions, labels, clusters); count the rest. "
            "With --strata, its table is as hs stratify computed it.",
        ),
    ] = False,
    gallery_size: Annotated[
        int, typer.Option("--gallery-size", help="Thumbnails per error gallery (a seeded random sample).")
    ] = 12,
    montage_size: Annotated[int, typer.Option("--montage-size", help="Thumbnails per cluster montage.")] = 16,
    max_thumbnails: Annotated[
        int, typer.Option("--max-thumbnails", help="Distinct thumbnails in the whole report (bounds the file size).")
    ] = 400,
    thumb_size: Annotated[int, typer.Option("--thumb-size", help="Thumbnail size in pixels (longer side).")] = 128,
    max_curves: Annotated[
        int, typer.Option("--max-curves", help="Groups drawn per ROC/calibration panel (the largest).")
    ] = 8,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes decoding images. Default: one per core (at most 8).")
    ] = None,
    title: Annotated[
        str, typer.Option("--title", help="Title at the top of the report.")
    ] = "Hidden stratification report",
    id_col: IdCol = ColumnMap.id,
    score_col: ScoreCol = ColumnMap.score,
    label_col: LabelCol = ColumnMap.label,
    na_values: Annotated[list[str] | None, _with_strata(NaValues)] = None,
    delimiter: Annotated[str | None, _with_strata(Delimiter)] = None,
    decimal_comma: Annotated[bool, _with_strata(DecimalComma)] = False,
    sheet: Annotated[str | None, _with_strata(Sheet)] = None,
    seed: Seed = 0,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Write one self-contained HTML report a clinician can open, read and act on."""
    with handled(verbose):
        from hstool.audit.strata_table import StratifyOptions
        from hstool.cli.stratify_args import (
            parse_bins,
            parse_flag_on,
            parse_margins,
            parse_metrics,
            stratify_options,
        )
        from hstool.cli.table_args import column_map, table_format
        from hstool.io.atomic import check_writable, refuse_overwriting_inputs, write_text
        from hstool.io.sidecar import write_sidecar
        from hstool.report.build import ReportInputs, build_report
        from hstool.report.context import ReportOptions

        inputs = ReportInputs(preds, labels, strata, clusters, manifest, root, saliency)
        refuse_overwriting_inputs([output], inputs.paths())
        check_writable(output)
        default = StratifyOptions()  # the settings this command does not expose
        # With --strata the stratify output fixes its groups, its flag rule, and how its files
        # were read: what is given is checked against its sidecar (build_report).
        columns = column_map(id_col, score_col, label_col)
        fmt = table_format(na_values, delimiter, decimal_comma, sheet)
        # What was typed (options left at their defaults parse to the defaults and are dropped).
        typed = {
            "by": list(by or []),
            "bins": parse_bins(bins),
            "positive": positive,
            "threshold": threshold,
            "metrics": parse_metrics(metrics),
            "margin": parse_margins(margin),
            "flag_on": parse_flag_on(flag_on),
            "id_col": columns.id,
            "score_col": columns.score,
            "label_col": columns.label,
            "na_values": fmt.na_values,
            "delimiter": fmt.delimiter,
            "decimal_comma": fmt.decimal_comma,
            "sheet": fmt.sheet,
            "min_n": min_n,
        }
        given = {field: value for field, value in typed.items() if _typed(ctx, field)}
        # With --strata the flag rule is the stratify run's (checked against these, if given).
        own_rule = strata is None
        stratify = stratify_options(
            by=by,
            cross=None,
            bins=bins,
            threshold=threshold or default.threshold,
            positive=positive,
            ci=default.ci,
            n_boot=default.n_boot,
            seed=seed,
            level=default.level,
            correction=default.correction,
            alpha=default.alpha,
            min_n=min_n,
            reference=None,
            max_levels=default.max_levels,
            allow_unmatched=allow_unmatched,
            fail_on=None,
            columns=columns,
            table_format=fmt,
            metrics=metrics if own_rule else None,
            margin=margin if own_rule else None,
            flag_on=flag_on if own_rule else None,
        )
        options = ReportOptions(
            stratify=stratify,
            given=given,
            title=title,
            gallery_size=gallery_size,
            montage_size=montage_size,
            max_thumbnails=max_thumbnails,
            thumb_size=thumb_size,
            max_curves=max_curves,
            workers=workers,
        )
        report = build_report(inputs, options)
        write_text(output, report.html)
        write_sidecar(output, report.meta)
        if not quiet:
            for note in report.notes:
                say(f"hs report: {note}")
            say(f"hs report: wrote {output} ({len(report.html.encode('utf-8')) / 1e6:.1f} MB)")


def _typed(ctx: typer.Context, name: str) -> bool:
    """Whether the option was given on the command line, not left at its default (click's
    ParameterSource, by name: typer may bundle its own click)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name != "DEFAULT"
