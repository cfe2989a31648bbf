"""`hs stratify`: schema completion from a predictions file and a labels file.

Reads and validates both files, joins them on image_id, builds the stratifiers and hands the
arrays to the binary (score) or multi-class (pred) analysis. Returns plain data: the strata
table, a human view of it, and the metadata that goes into the sidecar.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from hstool.audit import strata_binary, strata_multiclass
from hstool.audit.groups import Stratifier, build_stratifiers
from hstool.audit.operating_point import parse_operating_point, refuse_own_calibration
from hstool.audit.strata_cases import Data
from hstool.audit.strata_table import (
    StratifyOptions,
    finalize,
    flagged_summary,
    heterogeneity_lines,
    human_view,
)
from hstool.errors import InputError, UsageError
from hstool.io.label_coding import binary_labels
from hstool.io.preds_labels import PredsLabels, read_preds_labels
from hstool.io.sidecar import build_sidecar
from hstool.io.tables import KEY, Source, join_on_id
from hstool.stats.heterogeneity import Heterogeneity

LABEL = "label"
METRIC_LABELS = {
    "auc": "AUC",
    "sensitivity": "sens",
    "specificity": "spec",
    "ppv": "PPV",
    "npv": "NPV",
    "accuracy": "accuracy",
    "calibration_slope": "cal. slope",
    "calibration_intercept": "cal. intercept",
    "ece": "ECE",
    "auc_mdd": "MDD(AUC)",
    "sensitivity_mdd": "MDD(sens)",
}
# What the terminal table shows of each family (the CSV and JSON hold every column).
SHOWN = {
    "auc": ["auc"],
    "proportions": ["sensitivity", "specificity", "ppv"],
    "calibration": ["calibration_slope", "calibration_intercept", "ece"],
    "power": ["auc_mdd", "sensitivity_mdd"],
}


@dataclass(frozen=True)
class StrataResult:
    table: pl.DataFrame
    view: pl.DataFrame
    meta: dict[str, Any]
    summary: list[str]
    notes: list[str]

    @property
    def n_flagged(self) -> int:
        return int(self.table["flag"].sum())


def run_stratify(preds_path: str, labels_path: str, options: StratifyOptions) -> StrataResult:
    tables = read_preds_labels(preds_path, labels_path, options.columns, options.table_format)
    return stratify_tables(tables, options)


def stratify_tables(tables: PredsLabels, options: StratifyOptions) -> StrataResult:
    """`run_stratify` of files already read (hs report reads them once for the table and the cases)."""
    analyse = _binary if tables.mode == "binary" else _multiclass
    return analyse(tables.preds, tables.preds_source, tables.labels, tables.labels_source, options)


def _stratifier_columns(labels: pl.DataFrame, options: StratifyOptions) -> list[str]:
    if options.by is not None:
        return options.by
    return [c for c in labels.columns if c not in (KEY, LABEL)]


def _binary(
    preds: pl.DataFrame, preds_src: Source, labels: pl.DataFrame, labels_src: Source, options: StratifyOptions
) -> StrataResult:
    point = parse_operating_point(options.threshold)
    refuse_own_calibration(preds_src.name, point)
    y = binary_labels(labels, LABEL, labels_src, positive=options.positive)
    labels = labels.with_columns(pl.Series("__y", y))
    joined, dropped = join_on_id(preds, preds_src, labels, labels_src, allow_unmatched=options.allow_unmatched)
    scores = joined["score"].to_numpy()
    y = joined["__y"].to_numpy()
    if y.all() or not y.any():
        which = "positive" if y.all() else "negative"
        raise InputError(f"{labels_src.name}: every analysed label is {which}; AUC and a threshold need both classes")
    threshold = point.resolve(scores, y)
    stratifiers = build_stratifiers(
        joined.drop("score", "__y"),
        by=_stratifier_columns(labels.drop("__y"), options),
        crosses=options.crosses,
        bins=options.bins,
        max_levels=options.max_levels,
        source_name=labels_src.name,
        decimal_comma=labels_src.decimal_comma,
    )
    data = Data.build(scores, y, threshold)
    analysis = strata_binary.analyse(data, stratifiers, options)
    tested = [m for m in strata_binary.TESTED if strata_binary.FAMILY_OF[m] in options.metrics]
    table, n_tests = finalize(
        analysis.rows, tested, options.correction, options.alpha, strata_binary.SCHEMA, options.flag_on, options.margins
    )
    threshold_info = {"rule": point.describe(), "value": threshold}
    result = _result(
        table,
        n_tests,
        "hs.strata/1",
        "binary",
        options,
        [preds_src, labels_src],
        dropped,
        stratifiers,
        threshold_info,
    )
    return with_heterogeneity(result, analysis.heterogeneity)


def with_heterogeneity(result: StrataResult, pooled: dict[str, Heterogeneity]) -> StrataResult:
    """The AUC's heterogeneity across each stratifier's groups: in the sidecar (and so the JSON
    output) and as footer lines of the table."""
    result.meta["heterogeneity"] = {name: asdict(h) for name, h in pooled.items()}
    result.summary.extend(heterogeneity_lines(result.meta["heterogeneity"]))
    return result


def _multiclass(
    preds: pl.DataFrame, preds_src: Source, labels: pl.DataFrame, labels_src: Source, options: StratifyOptions
) -> StrataResult:
    if options.margins:
        raise UsageError("margins are for binary scores; multi-class accuracy is flagged by its plain test")
    empty = labels[LABEL].is_null()
    if empty.any():
        raise InputError(
            f"{labels_src.at(int(empty.arg_true()[0]), LABEL)}: empty label; every row needs its superclass"
        )
    joined, dropped = join_on_id(preds, preds_src, labels, labels_src, allow_unmatched=options.allow_unmatched)
    truth = joined[LABEL].cast(pl.String).str.strip_chars()
    correct = (joined["pred"] == truth).to_numpy()
    columns = _stratifier_columns(labels, options)
    stratifiers = build_stratifiers(
        joined.drop("pred"),
        by=[LABEL] + [c for c in columns if c != LABEL],
        crosses=options.crosses,
        bins=options.bins,
        max_levels=max(options.max_levels, truth.n_unique()),
        source_name=labels_src.name,
        decimal_comma=labels_src.decimal_comma,
    )
    rows = strata_multiclass.analyse(correct, truth.to_numpy(), stratifiers, options)
    table, n_tests = finalize(
        rows, list(strata_multiclass.TESTED), options.correction, options.alpha, strata_multiclass.SCHEMA
    )
    return _result(
        table,
        n_tests,
        "hs.strata-multiclass/1",
        "multiclass",
        options,
        [preds_src, labels_src],
        dropped,
        stratifiers,
        None,
    )


def _result(
    table: pl.DataFrame,
    n_tests: int,
    schema: str,
    mode: str,
    options: StratifyOptions,
    sources: list[Source],
    dropped: dict[str, Any],
    stratifiers: list[Stratifier],
    threshold: dict[str, Any] | None,
) -> StrataResult:
    notes = [f"{s.name}: {s.note}" for s in stratifiers if s.note]
    parameters = asdict(options)
    parameters["bins"] = {k: asdict(v) for k, v in options.bins.items()}
    extra = {
        "mode": mode,
        "threshold": threshold,
        "n_analysed": int(table["n"][0]),
        "dropped": dropped,
        "n_tests": n_tests,
        "n_flagged": int(table["flag"].sum()),
        "notes": notes,
    }
    meta = build_sidecar(
        schema=schema,
        parameters=parameters,
        inputs=[s.provenance() for s in sources],
        rows=table.height,
        # Binary runs draw permutations and bootstrap replicates (seeded); multi-class ones do not.
        seed=options.seed if mode == "binary" else None,
        extra=extra,
    )
    shown = [m for family in options.metrics for m in SHOWN[family]] if mode == "binary" else ["accuracy"]
    view = human_view(table, shown, METRIC_LABELS)
    summary = flagged_summary(table, options.correction, options.alpha, options.margins)
    if threshold is not None:
        summary.insert(
            0, f"threshold {threshold['value']:.4g} ({threshold['rule']}); {extra['n_analysed']} cases; {n_tests} tests"
        )
    return StrataResult(table, view, meta, summary, notes)
