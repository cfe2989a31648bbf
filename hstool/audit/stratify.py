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
from hstool.audit.strata_table import StratifyOptions, finalize, flagged_summary, human_view
from hstool.errors import InputError
from hstool.io.columns import binary_labels, probabilities
from hstool.io.sidecar import build_sidecar
from hstool.io.tables import KEY, Source, check_one_stdin, join_on_id, read_table

LABEL = "label"
METRIC_LABELS = {
    "auc": "AUC",
    "sensitivity": "sens",
    "specificity": "spec",
    "ppv": "PPV",
    "npv": "NPV",
    "accuracy": "accuracy",
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
    check_one_stdin(preds_path, labels_path)
    preds, preds_src = read_table(preds_path, role="predictions")
    labels, labels_src = read_table(labels_path, role="labels", required=(KEY, LABEL))
    if "score" in preds.columns:
        return _binary(preds, preds_src, labels, labels_src, options)
    if "pred" in preds.columns:
        return _multiclass(preds, preds_src, labels, labels_src, options)
    raise InputError(
        f"{preds_src.name}: has neither a 'score' column (binary task) nor a 'pred' column (multi-class); "
        f"see docs/formats.md for the predictions contract"
    )


def _stratifier_columns(labels: pl.DataFrame, options: StratifyOptions) -> list[str]:
    if options.by is not None:
        return options.by
    return [c for c in labels.columns if c not in (KEY, LABEL)]


def _binary(
    preds: pl.DataFrame, preds_src: Source, labels: pl.DataFrame, labels_src: Source, options: StratifyOptions
) -> StrataResult:
    point = parse_operating_point(options.threshold)
    refuse_own_calibration(preds_src.name, point)
    preds = preds.select(KEY, pl.Series("score", probabilities(preds, "score", preds_src)))
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
    )
    data = strata_binary.Data.build(scores, y, threshold)
    rows = strata_binary.analyse(data, stratifiers, options)
    table = finalize(rows, list(strata_binary.TESTED), options.correction, options.alpha, strata_binary.SCHEMA)
    threshold_info = {"rule": point.describe(), "value": threshold}
    return _result(
        table,
        strata_binary.TESTED,
        "hs.strata/1",
        "binary",
        options,
        [preds_src, labels_src],
        dropped,
        stratifiers,
        threshold_info,
    )


def _multiclass(
    preds: pl.DataFrame, preds_src: Source, labels: pl.DataFrame, labels_src: Source, options: StratifyOptions
) -> StrataResult:
    nulls = preds["pred"].is_null()
    if nulls.any():
        raise InputError(f"{preds_src.at(int(nulls.arg_true()[0]), 'pred')}: empty prediction; every row needs a class")
    empty = labels[LABEL].is_null()
    if empty.any():
        raise InputError(
            f"{labels_src.at(int(empty.arg_true()[0]), LABEL)}: empty label; every row needs its superclass"
        )
    preds = preds.select(KEY, pl.col("pred").cast(pl.String).str.strip_chars())
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
    )
    rows = strata_multiclass.analyse(correct, truth.to_numpy(), stratifiers, options)
    table = finalize(rows, list(strata_multiclass.TESTED), options.correction, options.alpha, strata_multiclass.SCHEMA)
    return _result(
        table,
        strata_multiclass.TESTED,
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
    tested: tuple[str, ...],
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
    n_tests = int(sum(table[f"{m}_p"].is_not_null().sum() for m in tested))
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
        seed=options.seed if options.ci == "bootstrap" else None,
        extra=extra,
    )
    view = human_view(
        table, ["auc", "sensitivity", "specificity", "ppv"] if mode == "binary" else ["accuracy"], METRIC_LABELS
    )
    summary = flagged_summary(table, options.correction, options.alpha)
    if threshold is not None:
        summary.insert(
            0, f"threshold {threshold['value']:.4g} ({threshold['rule']}); {extra['n_analysed']} cases; {n_tests} tests"
        )
    return StrataResult(table, view, meta, summary, notes)
