"""`hs label-issues PREDS LABELS`: read out-of-sample probabilities and given labels, rank the
cases by how likely their label is wrong (`hstool.audit.label_issues`), and build the ranked
table (hs.label-issues/1, docs/formats.md).

Why a command of its own and not `hs audit --rank`: its inputs are the training images'
out-of-fold probabilities and their given labels, not a test set's errors, and its output is one
ranked table that other steps read (`hs audit --label-issues` marks the review sheet with it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.label_issues import (
    DEFAULT_ISSUES,
    DEFAULT_ISSUES_FIRST,
    DEFAULT_SCORE,
    ISSUE_SETS,
    PRUNE_BY_CLASS,
    SCORES,
    LabelIssues,
    rank_label_issues,
)
from hstool.errors import LISTED, InputError, require_choice
from hstool.io.columns import probabilities
from hstool.io.label_coding import binary_labels
from hstool.io.sidecar import build_sidecar, read_sidecar
from hstool.io.table_format import SCORE, ColumnMap, TableFormat
from hstool.io.tables import KEY, Source, check_one_stdin, join_on_id, read_table

SCHEMA_NAME = "hs.label-issues/1"
LABEL = "label"
PROB_PREFIX = "p_"
ROW_SUM_TOLERANCE = 1e-3  # float32 probabilities written as text sum to 1 within this
# Internal columns; the double underscore keeps them apart from labels columns.
_LINE, _POSITIVE = "__line", "__positive"


@dataclass(frozen=True)
class LabelIssueOptions:
    score: str = DEFAULT_SCORE  # one of label_issues.SCORES
    issues: str = DEFAULT_ISSUES  # which cases are label issues: one of label_issues.ISSUE_SETS
    issues_first: bool = DEFAULT_ISSUES_FIRST  # the label issues before the rest
    positive: str | None = None  # binary labels that are not 0/1: the positive class
    columns: ColumnMap = field(default_factory=ColumnMap)  # the files' id, score and label columns
    table_format: TableFormat = field(default_factory=TableFormat)

    def __post_init__(self) -> None:
        require_choice("score", self.score, SCORES)
        require_choice("issues", self.issues, ISSUE_SETS)


@dataclass(frozen=True)
class LabelIssueResult:
    table: pl.DataFrame  # rank, image_id, label, suspected_label, score, issue, p_label, p_suspected
    view: pl.DataFrame  # the same, numbers rounded for a terminal
    meta: dict[str, Any]
    warnings: list[str]
    summary: list[str]


@dataclass(frozen=True)
class _Cases:
    ids: list[str]
    labels: list[str]  # the given labels as text
    given: np.ndarray  # class index of each given label
    probs: np.ndarray  # (n, K)
    class_names: list[str]
    sources: tuple[Source, Source]
    dropped: int  # labels rows without a prediction


def run_label_issues(preds_path: str, labels_path: str, options: LabelIssueOptions) -> LabelIssueResult:
    check_one_stdin(preds_path, labels_path)
    cases = _read_cases(preds_path, labels_path, options)
    if len(set(cases.given.tolist())) < 2:
        raise InputError(
            f"{cases.sources[1].name}: every ranked case has the label {cases.labels[0]!r}; confident learning needs "
            "cases of at least two classes (its per-class thresholds compare them)"
        )
    issues = rank_label_issues(
        cases.probs, cases.given, options.score, issues=options.issues, issues_first=options.issues_first
    )
    warnings = _sample_warnings(preds_path)
    table = _table(cases, issues)
    meta = _meta(cases, issues, options, table, warnings)
    n_issue = int(issues.issue.sum())
    what = (
        "per class, the calibrated joint's estimate of its errors, lowest scores"
        if options.issues == PRUNE_BY_CLASS
        else "off the confident joint's diagonal"
    )
    summary = [
        f"{len(cases.ids)} cases ranked by {options.score}{' (label issues first)' if options.issues_first else ''}; "
        f"{n_issue} label issue(s) by {options.issues} ({what}), {issues.estimated_issues} estimated from the calibrated joint"
    ]
    absent = [name for name, t in zip(cases.class_names, issues.thresholds) if np.isnan(t)]
    if absent:
        summary.append(f"no case is labelled {', '.join(map(repr, absent))}: never suspected as a true class")
    view = table.with_columns(pl.col("score", "p_label", "p_suspected").round(3))
    return LabelIssueResult(table, view, meta, warnings, summary)


def _read_cases(preds_path: str, labels_path: str, options: LabelIssueOptions) -> _Cases:
    positive, fmt = options.positive, options.table_format
    preds, preds_src = read_table(preds_path, role="predictions", fmt=fmt, columns=options.columns.pick(KEY, SCORE))
    labels, labels_src = read_table(
        labels_path,
        role="labels",
        required=(KEY, LABEL),
        string_columns=(LABEL,),
        fmt=fmt,
        columns=options.columns.pick(KEY, LABEL),
    )
    # Values are checked in each file's own row order, so that messages give the file's lines.
    if "score" in preds.columns:
        class_names: list[str] = []
        columns = [pl.Series("score", probabilities(preds, "score", preds_src))]
    else:
        class_names = [c[len(PROB_PREFIX) :] for c in preds.columns if c.startswith(PROB_PREFIX)]
        if not class_names:
            raise InputError(
                f"{preds_src.name}: has neither a 'score' column (binary) nor p_<class> columns (multi-class); "
                "pass probabilities as written by hs predict or hs train --cross-fit (docs/formats.md)"
            )
        columns = [pl.Series(PROB_PREFIX + c, probabilities(preds, PROB_PREFIX + c, preds_src)) for c in class_names]
        _check_rows_sum(np.column_stack([c.to_numpy() for c in columns]), preds_src)
    labels = labels.select(KEY, pl.col(LABEL).cast(pl.String).str.strip_chars(), pl.int_range(pl.len()).alias(_LINE))
    if class_names:  # binary labels are checked (and coded) by binary_labels
        empty = labels[LABEL].is_null()
        if empty.any():
            raise InputError(
                f"{labels_src.at(int(empty.arg_true()[0]), LABEL)}: empty label; every ranked case needs one"
            )
    else:
        labels = labels.with_columns(pl.Series(_POSITIVE, binary_labels(labels, LABEL, labels_src, positive=positive)))
    joined, dropped = join_on_id(
        preds.select(KEY).with_columns(columns), preds_src, labels, labels_src, allow_unmatched=True
    )
    missing = dropped[f"unmatched_in_{preds_src.name}"]
    if missing:
        extra = preds.join(labels.select(KEY), on=KEY, how="anti").sort(KEY)
        shown = ", ".join(repr(v) for v in extra[KEY].head(LISTED).to_list())
        raise InputError(
            f"{preds_src.name}: {missing} {KEY}s have no label in {labels_src.name} (first: {shown}); "
            "every ranked case needs its given label: pass the labels (or manifest) the model was trained on"
        )
    text = joined[LABEL]
    if not class_names:
        score = joined["score"].to_numpy()
        is_pos = joined[_POSITIVE].to_numpy()
        probs = np.column_stack([1.0 - score, score])
        given = is_pos.astype(np.int64)
        class_names = [_spelling(text, ~is_pos, "0"), positive or _spelling(text, is_pos, "1")]
    else:
        probs = joined.select(PROB_PREFIX + c for c in class_names).to_numpy().astype(np.float64)
        unknown = ~text.is_in(class_names).to_numpy()
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(
                f"{labels_src.at(int(joined[_LINE][i]), LABEL)}: label {text[i]!r} is not a class of {preds_src.name} "
                f"(classes: {', '.join(class_names)}); the labels must be the model's classes"
            )
        index = {name: i for i, name in enumerate(class_names)}
        given = np.array([index[v] for v in text.to_list()], dtype=np.int64)
    return _Cases(
        ids=joined[KEY].to_list(),
        labels=text.to_list(),
        given=given,
        probs=probs,
        class_names=class_names,
        sources=(preds_src, labels_src),
        dropped=int(dropped[f"unmatched_in_{labels_src.name}"]),
    )


def _spelling(text: pl.Series, members: np.ndarray, default: str) -> str:
    """How the labels file writes a binary class: its most common spelling (ties: first in
    sort order), or `default` when no case has that class."""
    values = text.filter(pl.Series(members)).to_list()
    if not values:
        return default
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return min(counts, key=lambda v: (-counts[v], v))


def _check_rows_sum(probs: np.ndarray, source: Source) -> None:
    off = np.abs(probs.sum(axis=1) - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        i = int(np.flatnonzero(off)[0])
        raise InputError(
            f"{source.at(i)}: the p_<class> columns sum to {probs[i].sum():.4g}, not 1 ({int(off.sum())} rows); "
            "they must be one probability per class (apply a softmax)"
        )


def _sample_warnings(preds_path: str) -> list[str]:
    """Whether the probabilities are out of sample, as far as the preds sidecar tells."""
    side = read_sidecar(preds_path) if preds_path != "-" else None
    weak = "the ranking will be weak: use out-of-fold probabilities (hs train --cross-fit K)"
    if side is None:
        return [
            f"{preds_path}: no sidecar says whether these probabilities are out of sample; if the model was trained on these images, {weak}"
        ]
    if side.get("out_of_sample") is True:
        return []
    model = side.get("model") or {}
    trained_on = model.get("train_manifest_sha256") if isinstance(model, dict) else None
    predicted = {str(item.get("sha256")) for item in side.get("inputs", []) if isinstance(item, dict)}
    if trained_on and trained_on in predicted:
        return [
            f"{preds_path}: not out of sample: its sidecar says the model was trained on the manifest it predicted, "
            f"so it has learnt these labels, wrong ones included; {weak}"
        ]
    if not trained_on:
        return [
            f"{preds_path}: its sidecar does not say which images the model was trained on; if these were among them, {weak}"
        ]
    return []


def _table(cases: _Cases, issues: LabelIssues) -> pl.DataFrame:
    order = issues.order
    rows = np.arange(len(order))
    names = np.asarray(cases.class_names, dtype=object)
    suspected = issues.suspected[order]
    given = cases.given[order]
    return pl.DataFrame(
        [
            pl.Series("rank", rows + 1, dtype=pl.Int64),
            pl.Series(KEY, [cases.ids[i] for i in order], dtype=pl.String),
            pl.Series(LABEL, [cases.labels[i] for i in order], dtype=pl.String),
            pl.Series("suspected_label", names[suspected].tolist(), dtype=pl.String),
            pl.Series("score", issues.score[order], dtype=pl.Float64),
            pl.Series("issue", issues.issue[order], dtype=pl.Boolean),
            pl.Series("p_label", cases.probs[order, given], dtype=pl.Float64),
            pl.Series("p_suspected", cases.probs[order, suspected], dtype=pl.Float64),
        ]
    )


def _meta(
    cases: _Cases, issues: LabelIssues, options: LabelIssueOptions, table: pl.DataFrame, warnings: list[str]
) -> dict[str, Any]:
    return build_sidecar(
        schema=SCHEMA_NAME,
        parameters=asdict(options),  # with the files' columns and table format
        inputs=[s.provenance() for s in cases.sources],
        rows=table.height,
        extra={
            "classes": cases.class_names,
            "thresholds": {
                n: (None if np.isnan(t) else float(t)) for n, t in zip(cases.class_names, issues.thresholds)
            },
            "confident_joint": issues.confident_joint.tolist(),
            "joint": issues.joint.tolist(),
            "n_issues": int(issues.issue.sum()),
            "n_issues_per_class": {n: int(m) for n, m in zip(cases.class_names, issues.per_class)},
            "n_off_diagonal": int(issues.off_diagonal.sum()),
            "n_issues_estimated": issues.estimated_issues,
            "dropped": {"labels_without_predictions": cases.dropped},
            "notes": warnings,
        },
    )
