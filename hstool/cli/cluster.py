"""`hs cluster EMB PREDS LABELS`: hidden strata found by clustering a model's embeddings."""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.audit.cluster.options import ClusterOptions, SearchOptions
from hstool.cli.common import handled, say
from hstool.cli.options import (
    Alpha,
    Correction,
    DecimalComma,
    Delimiter,
    Format,
    IdCol,
    LabelCol,
    Level,
    NaValues,
    Positive,
    Quiet,
    ScoreCol,
    Seed,
    Sheet,
    Threshold,
    Verbose,
)
from hstool.io.table_format import ColumnMap

# The defaults live in the options dataclasses; the flags below show and pass them.
_CLUSTER = ClusterOptions()
_SEARCH = SearchOptions()

EPILOG = """\
Examples:

  hs cluster emb.npy preds.csv labels.csv -o clusters.csv

  hs cluster emb.npy preds.csv labels.csv --normalize --pca 50 --summary summary.csv --prevalence table4.csv

  hs cluster emb.npy preds.csv labels.csv --method gmm --select silhouette --seed 1

  hs cluster emb.npy preds.csv labels.csv --method error-gmm --pca 128 --holdout 0.5 --fail-on worse

  hs stratify preds.csv clusters.csv --by cluster

  hs cluster emb.npy preds.csv labels.csv --describe meta.csv --describe-out described.csv   # meta.csv from hs manifest dicom --labels-out

Default: the paper's method (Oakden-Rayner et al. 2019): within each superclass, k-means for k in 2..5; for each k the two clusters with more than --min-size members and the largest error-rate difference; of those pairs, the one with the farthest centroids is reported (roles high_error / low_error).

Outputs: -o writes clusters.csv (image_id, label, cluster, role, k, error, distance, split: a labels file for hs stratify --by cluster). The summary (stdout, or --summary) has one row per superclass (cluster '(all)') and per cluster at every k: superclass, k, cluster, n, n_error, error_rate, error_ci_low, error_ci_high, rest_n, rest_error_rate, error_delta, p (Fisher exact vs the rest of the superclass), p_adj (across the run), flag, candidate, pair_distance, role, silhouette, status, reason. --prevalence writes each known-subclass value's prevalence per cluster of the reported k (the paper's Table 4). Details: docs/cluster.md and docs/formats.md.
"""


def command(
    emb: Annotated[str, typer.Argument(help="Embeddings: emb.npy (float32, n x d) with emb.ids.csv next to it.")],
    preds: Annotated[
        str, typer.Argument(help="Predictions: image_id,score (binary) or image_id,pred (multi-class). '-' = stdin.")
    ],
    labels: Annotated[
        str, typer.Argument(help="Labels: image_id,label (the superclass) and optional known-subclass columns.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the per-case clusters here (clusters.csv, a labels file for hs stratify)."
        ),
    ] = None,
    summary: Annotated[
        str | None, typer.Option("--summary", help="Write the cluster summary here instead of stdout.")
    ] = None,
    prevalence: Annotated[
        str | None, typer.Option("--prevalence", help="Write known-subclass prevalence per cluster (Table 4) here.")
    ] = None,
    ids: Annotated[
        str | None,
        typer.Option("--ids", help="The embeddings' ids file (default: EMB with .npy replaced by .ids.csv)."),
    ] = None,
    ks: Annotated[str, typer.Option("--k", help="Numbers of clusters to search: 2,3,4,5 or 2-5.")] = ",".join(
        map(str, _SEARCH.ks)
    ),
    min_size: Annotated[
        int, typer.Option("--min-size", help="A cluster needs more than this many members to be reported or tested.")
    ] = _CLUSTER.min_size,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="kmeans (the paper), gmm (Gaussian mixture), or error-gmm (error-aware mixture, Domino-style).",
        ),
    ] = _SEARCH.method,
    select: Annotated[
        str,
        typer.Option(
            "--select",
            help="paper: farthest candidate pair over k; silhouette: k with the best mean silhouette (GEORGE-style).",
        ),
    ] = _CLUSTER.select,
    normalize: Annotated[
        bool, typer.Option("--normalize", help="Scale each embedding to unit length before clustering.")
    ] = False,
    pca: Annotated[
        int | None, typer.Option("--pca", help="Cluster the top N principal components instead of the full embedding.")
    ] = None,
    n_init: Annotated[
        int,
        typer.Option(
            "--n-init",
            help="Restarts per k, the best kept (k-means on the PCA sketch of wide embeddings runs at least 10).",
        ),
    ] = _SEARCH.n_init,
    covariance: Annotated[
        str, typer.Option("--covariance", help="gmm covariance: diag, full, tied or spherical.")
    ] = _SEARCH.covariance,
    error_weight: Annotated[
        float, typer.Option("--error-weight", help="error-gmm: weight of the error term in the likelihood.")
    ] = _SEARCH.error_weight,
    holdout: Annotated[
        float | None,
        typer.Option(
            "--holdout",
            help="Fraction of each superclass kept out of the fit; the tests use only it. Default 0 (0.5 for error-gmm).",
        ),
    ] = None,
    silhouette_sample: Annotated[
        int, typer.Option("--silhouette-sample", help="Cases sampled (seeded) for each silhouette.")
    ] = _SEARCH.silhouette_sample,
    threshold: Threshold = _CLUSTER.threshold,
    positive: Positive = None,
    by: Annotated[
        list[str] | None,
        typer.Option(
            "--by", help="Known-subclass column to describe clusters with (repeatable). Default: every labels column."
        ),
    ] = None,
    ci: Annotated[str, typer.Option("--ci", help="Intervals: wilson or clopper-pearson.")] = _CLUSTER.ci,
    level: Level = _CLUSTER.level,
    correction: Correction = _CLUSTER.correction,
    alpha: Alpha = _CLUSTER.alpha,
    allow_unmatched: Annotated[
        bool,
        typer.Option(
            "--allow-unmatched", help="Analyse ids present in all three inputs; count the rest in the metadata."
        ),
    ] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on", help="'worse': exit 3 when a cluster is significantly worse than the rest of its superclass."
        ),
    ] = None,
    id_col: IdCol = ColumnMap.id,
    score_col: ScoreCol = ColumnMap.score,
    label_col: LabelCol = ColumnMap.label,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    describe: Annotated[
        str | None,
        typer.Option(
            "--describe",
            help="Metadata table (image_id + columns, e.g. from hs manifest dicom --labels-out): rank the values "
            "over-represented in each high-error cluster (Fisher tests, --correction).",
        ),
    ] = None,
    describe_out: Annotated[
        str | None, typer.Option("--describe-out", help="Write the --describe table here (every value tested).")
    ] = None,
    seed: Seed = _SEARCH.seed,
    fmt: Format = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Cluster each superclass's embeddings and report high-error clusters, with statistics."""
    from hstool.cli.cluster_args import FLAGS

    with handled(verbose, flags=FLAGS):
        import sys
        from dataclasses import replace

        from hstool.audit.cluster.run import run_cluster
        from hstool.cli.cluster_args import cluster_options
        from hstool.cli.table_args import column_map, table_format
        from hstool.errors import AuditFailed, UsageError
        from hstool.io.arrays import ids_path_for
        from hstool.io.atomic import refuse_overwriting_inputs
        from hstool.io.render import emit, table_text

        options = cluster_options(
            ks=ks,
            min_size=min_size,
            method=method,
            select=select,
            normalize=normalize,
            pca=pca,
            n_init=n_init,
            covariance=covariance,
            error_weight=error_weight,
            holdout=holdout,
            silhouette_sample=silhouette_sample,
            threshold=threshold,
            positive=positive,
            by=by,
            ci=ci,
            level=level,
            correction=correction,
            alpha=alpha,
            allow_unmatched=allow_unmatched,
            ids=ids,
            seed=seed,
            fail_on=fail_on,
        )
        options = replace(
            options,
            columns=column_map(id_col, score_col, label_col),
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
        )
        outputs = [p for p in (output, summary, prevalence, describe_out) if p is not None]
        if len(set(outputs)) < len(outputs):
            raise UsageError("-o, --summary, --prevalence and --describe-out must name different files")
        if describe_out and not describe:
            raise UsageError("--describe-out writes the table of --describe; add --describe META.csv")
        refuse_overwriting_inputs(outputs, [emb, ids or str(ids_path_for(emb)), preds, labels, describe])
        result = run_cluster(emb, preds, labels, options)
        described = None
        if describe:
            from hstool.audit.cluster.describe import DescribeOptions, describe_clusters

            described = describe_clusters(
                result.assignments,
                describe,
                DescribeOptions(
                    correction=correction,
                    alpha=alpha,
                    allow_unmatched=allow_unmatched,
                    columns=options.columns,
                    table_format=options.table_format,
                ),
                inputs=result.meta["inputs"],
            )
            if describe_out:
                emit(described.table, fmt=None, output=describe_out, meta=described.meta)
        if output:
            emit(
                result.assignments,
                fmt=None,
                output=output,
                meta=result.sidecar("hs.clusters/1", result.assignments.height),
            )
        if prevalence:
            emit(
                result.prevalence,
                fmt=None,
                output=prevalence,
                meta=result.sidecar("hs.cluster-prevalence/1", result.prevalence.height),
            )
        used = emit(result.summary_table, fmt=fmt, output=summary, meta=result.meta, view=result.summary_view)
        if summary is None and used == "table" and result.prevalence_view.height:
            sys.stdout.write(
                "\nKnown subclasses in the reported clusters (Table 4):\n" + table_text(result.prevalence_view)
            )
        if not quiet:
            for line in result.summary + (described.lines if described else []):
                say(line)
        if fail_on == "worse" and result.n_flagged:
            raise AuditFailed(
                f"{result.n_flagged} cluster(s) significantly worse than the rest of their superclass (--fail-on worse)"
            )
