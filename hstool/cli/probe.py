"""`hs probe EMB LABELS --target COL`: is an attribute linearly readable from the embeddings?"""

from __future__ import annotations

from typing import Annotated

import typer

from hstool.audit.options import ProbeOptions
from hstool.cli.common import handled, say
from hstool.cli.options import (
    DecimalComma,
    Delimiter,
    Format,
    IdCol,
    NaValues,
    Output,
    Quiet,
    Seed,
    Sheet,
    Verbose,
)
from hstool.io.table_format import ColumnMap

EPILOG = """\
Examples:

  hs probe emb.npy labels.csv --target sex

  hs probe emb.npy labels.csv --target age --bins age=0,40,65,200 -o probe_age.csv

  hs probe emb.npy labels.csv --target drain --per-superclass --folds 10 --seed 1

  hs probe emb.npy labels.csv --target site --permutations 99

Cross-validated (stratified K-fold, seeded shuffle) logistic regression on standardised embeddings; out-of-fold probabilities give one AUC per class against the rest (one row for a two-class target) with a DeLong interval and a one-sided z-test of AUC > 0.5. Cases with no value of the target are left out; classes with fewer than max(--min-n, --folds) cases are reported as too_small and left out of the probe.

Output: columns scope ((all) or label=X with --per-superclass), class, versus, n, n_class, auc, auc_se, auc_ci_low, auc_ci_high, auc_p, perm_p (with --permutations), flag (auc >= --warn-auc), status, reason. Details: docs/probes.md.
"""


def command(
    emb: Annotated[str, typer.Argument(help="Embeddings: emb.npy (float, n x d) with emb.ids.csv beside it.")],
    labels: Annotated[
        str, typer.Argument(help="Labels file with the target column (image_id,label,...). '-' = stdin.")
    ],
    target: Annotated[
        str, typer.Option("--target", help="Column to predict from the embeddings (sex, race, age band, drain...).")
    ],
    ids: Annotated[str | None, typer.Option("--ids", help="The ids file of EMB, when not EMB with .ids.csv.")] = None,
    per_superclass: Annotated[
        bool, typer.Option("--per-superclass", help="Also probe within each value of the label column.")
    ] = ProbeOptions.per_superclass,
    label_col: Annotated[
        str, typer.Option("--label-col", help="Superclass column for --per-superclass.")
    ] = ProbeOptions.label_col,
    bins: Annotated[
        list[str] | None, typer.Option("--bins", help="Bin a numeric target: age=0,40,65,200 (edges) or age=q4.")
    ] = None,
    max_levels: Annotated[
        int, typer.Option("--max-levels", help="A numeric target with more distinct values is binned into quartiles.")
    ] = ProbeOptions.max_levels,
    folds: Annotated[int, typer.Option("--folds", help="Cross-validation folds.")] = ProbeOptions.folds,
    c: Annotated[
        float, typer.Option("--C", help="Inverse L2 regularisation strength of the logistic regression.")
    ] = ProbeOptions.c,
    max_iter: Annotated[
        int, typer.Option("--max-iter", help="Solver iterations of the logistic regression.")
    ] = ProbeOptions.max_iter,
    level: Annotated[
        float, typer.Option("--level", help="Confidence level of the AUC intervals.")
    ] = ProbeOptions.level,
    min_n: Annotated[
        int, typer.Option("--min-n", help="Classes with fewer cases are left out (status too_small).")
    ] = ProbeOptions.min_n,
    warn_auc: Annotated[
        float, typer.Option("--warn-auc", help="Flag rows whose AUC reaches this value.")
    ] = ProbeOptions.warn_auc,
    permutations: Annotated[
        int,
        typer.Option(
            "--permutations",
            help="Also a permutation p-value from this many shuffles of the target (each re-runs the probe; e.g. 99).",
        ),
    ] = ProbeOptions.permutations,
    allow_unmatched: Annotated[
        bool,
        typer.Option("--allow-unmatched", help="Probe ids present in both inputs; count the rest in the metadata."),
    ] = ProbeOptions.allow_unmatched,
    id_col: IdCol = ColumnMap.id,
    na_values: NaValues = None,
    delimiter: Delimiter = None,
    decimal_comma: DecimalComma = False,
    sheet: Sheet = None,
    seed: Seed = ProbeOptions.seed,
    output: Output = None,
    fmt: Format = None,
    quiet: Quiet = False,
    verbose: Verbose = False,
) -> None:
    """Linear probe: cross-validated AUC of an attribute (race, sex, age, a nuisance) from embeddings."""
    with handled(verbose, flags={"c": "--C"}):
        from hstool.audit.probe import run_probe
        from hstool.cli.stratify_args import parse_bins
        from hstool.cli.table_args import column_map, table_format
        from hstool.io.atomic import refuse_overwriting_inputs
        from hstool.io.render import emit

        options = ProbeOptions(
            target=target,
            folds=folds,
            seed=seed,
            c=c,
            max_iter=max_iter,
            per_superclass=per_superclass,
            label_col=label_col,
            bins=parse_bins(bins),
            max_levels=max_levels,
            level=level,
            min_n=min_n,
            warn_auc=warn_auc,
            permutations=permutations,
            allow_unmatched=allow_unmatched,
            id_col=column_map(id_col).id,
            table_format=table_format(na_values, delimiter, decimal_comma, sheet),
        )
        refuse_overwriting_inputs([output], [emb, ids, labels])
        result = run_probe(emb, labels, options, ids_path=ids)
        emit(result.table, fmt=fmt, output=output, meta=result.meta, view=result.view)
        if not quiet:
            for line in result.summary:
                say(line)
