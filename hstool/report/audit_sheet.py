"""`hs audit`: a review sheet of sampled errors (the reviewer loop of error auditing).

Per subgroup and per cluster, a seeded sample of errors (false negatives and false positives
at the operating threshold, or misclassified cases) and, by default, as many correctly
classified cases of the same group and class as controls. The sheet is a CSV with an empty
`review_label` column plus an HTML gallery of the same cases in the same order. Filled in, the
CSV is a labels file: `hs stratify preds.csv sheet.csv --by review_label --allow-unmatched
--threshold T` measures what the reviewer saw as a subclass.

With a label-issue ranking (`hs label-issues`, `--label-issues ranked.csv`), the sheet keeps
"the model is wrong" apart from "the label is wrong": every case gets `suspected_label_issue`
(yes when confident learning flags its label, no when ranked and not flagged, empty when not
ranked) and `suspected_label`; the top flagged cases are added (sample `label_issue`), and the
suspected label issues come first, most suspect first, so the expert sees them before the rest.

Why controls: a label given only to errors is, by construction, a label of failures; any
metric compared across it would look bad. With controls, the review label is seen on correct
cases too, so hs stratify can compare error rates with and without it. The sample is still
enriched for errors (a case-control design): the comparison between review labels is what it
measures, not the deployment sensitivity (docs/report.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.groups import build_stratifiers
from hstool.audit.operating_point import parse_operating_point
from hstool.audit.strata_table import StratifyOptions
from hstool.errors import InputError, OptionError
from hstool.io.columns import numeric_values
from hstool.io.preds_labels import read_preds_labels
from hstool.io.sidecar import build_sidecar
from hstool.io.tables import KEY, Source, check_one_stdin, read_table
from hstool.report.context import InputFile
from hstool.report.gallery import Gallery, Item, ThumbTable
from hstool.report.images import image_paths
from hstool.report.inputs import LABEL, OUTCOME, Cases, Clusters, load_cases, read_clusters
from hstool.report.markup import el
from hstool.report.page import page
from hstool.report.sampling import pick, priorities
from hstool.report.sections import Section, data_table

CONTROL_OF = {"FN": "TP", "FP": "TN", "wrong": "right"}
REVIEW = "review_label"
SUSPECTED_ISSUE = "suspected_label_issue"
_RANK, _FLAGGED, _SUSPECTED = "__rank", "__flagged", "__suspected"


@dataclass(frozen=True)
class AuditInputs:
    preds: str
    labels: str
    clusters: str | None = None
    manifest: str | None = None
    root: str | None = None
    label_issues: str | None = None  # a ranked table from hs label-issues

    def paths(self) -> list[str]:
        return [p for p in (self.preds, self.labels, self.clusters, self.manifest, self.label_issues) if p]


@dataclass(frozen=True)
class AuditOptions:
    stratify: StratifyOptions = field(default_factory=StratifyOptions)  # by, bins, threshold, positive, seed
    per_group: int = 5  # errors of each kind sampled per subgroup and per cluster
    controls: float = 1.0  # correct cases per sampled error (same group and class); 0 = none
    blind: bool = False  # hide score, outcome and why each case was sampled
    thumb_size: int = 192
    workers: int | None = None
    label_issues_top: int = 20  # flagged label issues added to the sheet (with a ranking)


@dataclass(frozen=True)
class AuditSheet:
    table: pl.DataFrame
    html: str
    meta: dict[str, Any]
    summary: list[str]


def build_audit_sheet(inputs: AuditInputs, options: AuditOptions) -> AuditSheet:
    if options.per_group < 1:
        raise OptionError("per_group", options.per_group, "sample at least 1 error per group", quoted=False)
    if options.controls < 0:
        raise OptionError(
            "controls", options.controls, "must be 0 or more (correct cases per sampled error)", quoted=False
        )
    check_one_stdin(*inputs.paths())
    cases = _cases(inputs, options.stratify)
    clusters = read_clusters(inputs.clusters) if inputs.clusters else None
    groups = _groups(cases, clusters, inputs.labels, options.stratify)
    table = _sample(cases, groups, options)
    ranking = read_label_issues(inputs.label_issues) if inputs.label_issues else None
    if ranking is not None:
        table = _with_label_issues(table, cases, ranking, options)
    paths, manifest_file = (
        image_paths(inputs.manifest, inputs.root, options.stratify.columns.id, options.stratify.table_format)
        if inputs.manifest
        else ({}, None)
    )
    if paths:
        table = table.with_columns(
            pl.Series("path", [paths[i][0] if i in paths else None for i in table[KEY]], dtype=pl.String)
        )
    table = table.with_columns(pl.lit(None, dtype=pl.String).alias(REVIEW))
    html = _html(table, cases, paths, options)
    meta = _meta(options, cases, clusters, table, manifest_file, ranking)
    return AuditSheet(table, html, meta, _summary(cases, table))


def _cases(inputs: AuditInputs, options: StratifyOptions) -> Cases:
    # The threshold exactly as hs stratify resolves it (youden, sens=, spec=, a calibration .json).
    return load_cases(
        read_preds_labels(inputs.preds, inputs.labels, options.columns, options.table_format),
        threshold=parse_operating_point(options.threshold),
        positive=options.positive,
        allow_unmatched=options.allow_unmatched,
    )


def _groups(
    cases: Cases, clusters: Clusters | None, labels_name: str, options: StratifyOptions
) -> list[tuple[str, np.ndarray]]:
    """(name, member mask) for every subgroup of every stratifier and every cluster."""
    by = list(options.by if options.by is not None else cases.columns)
    if cases.mode == "multiclass":
        by = [LABEL] + [c for c in by if c != LABEL]
    frame = cases.table.select(KEY, LABEL, *cases.columns)
    stratifiers = build_stratifiers(
        frame, by=by, crosses=options.crosses, bins=options.bins, max_levels=options.max_levels, source_name=labels_name
    )
    groups = [(f"{s.name}={level}", s.codes == code) for s in stratifiers for code, level in enumerate(s.levels)]
    if clusters is not None:
        of_case = cases.table.select(KEY).join(
            clusters.table.select(KEY, "cluster"), on=KEY, how="left", maintain_order="left"
        )["cluster"]
        groups += [
            (f"cluster={c}", (of_case == c).fill_null(False).to_numpy()) for c in of_case.drop_nulls().unique().sort()
        ]
    if not groups:
        groups = [("(all)", np.ones(cases.table.height, bool))]
    return groups


def _sample(cases: Cases, groups: list[tuple[str, np.ndarray]], options: AuditOptions) -> pl.DataFrame:
    table = cases.table
    priority = priorities(table[KEY].to_list(), options.stratify.seed)
    outcome = table[OUTCOME].to_numpy()
    reasons: dict[int, list[str]] = {}
    kind_of: dict[int, str] = {}
    for name, member in groups:
        for kind in cases.error_kinds:
            errors = pick(member & (outcome == kind), priority, options.per_group)
            controls = pick(
                member & (outcome == CONTROL_OF[kind]), priority, int(round(len(errors) * options.controls))
            )
            for rows, role in ((errors, "error"), (controls, "control")):
                for row in rows.tolist():
                    reasons.setdefault(row, []).append(name)
                    kind_of[row] = role
    rows = np.array(sorted(reasons), dtype=np.int64)
    columns = [KEY, LABEL] + (["score"] if cases.mode == "binary" else ["pred"])
    sheet = (
        table[rows]
        .select(columns)
        .with_columns(
            pl.Series("outcome", outcome[rows]),
            pl.Series("sample", [kind_of[r] for r in rows.tolist()], dtype=pl.String),
            pl.Series("sampled_for", ["; ".join(reasons[r]) for r in rows.tolist()], dtype=pl.String),
        )
    )
    if options.blind:  # the reviewer sees the images in a random order, without the model's verdict
        order = np.argsort(priority[rows], kind="stable")
        sheet = sheet[order].select(KEY, LABEL)
    return sheet


def read_label_issues(path: str) -> tuple[pl.DataFrame, Source]:
    """The ranked table of hs label-issues: rank, image_id, suspected_label, issue."""
    ranked, source = read_table(path, role="label-issue ranking", required=(KEY, "rank", "suspected_label", "issue"))
    issue = ranked["issue"].cast(pl.String).str.to_lowercase()
    bad = ~issue.is_in(["true", "false"]).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"{source.at(i, 'issue')}: {ranked['issue'][i]!r} is not true/false; pass the table hs label-issues wrote"
        )
    ranked = ranked.select(
        KEY,
        pl.Series(_RANK, numeric_values(ranked, "rank", source, low=1).astype(np.int64)),
        pl.Series(_FLAGGED, issue == "true"),
        pl.col("suspected_label").cast(pl.String).alias(_SUSPECTED),
    )
    return ranked, source


def _with_label_issues(
    sheet: pl.DataFrame, cases: Cases, ranking: tuple[pl.DataFrame, Source], options: AuditOptions
) -> pl.DataFrame:
    """Add the top flagged cases not on the sheet yet, mark every case, and put the suspected
    label issues first (by rank), the rest in their order."""
    ranked, _ = ranking
    on_sheet = set(sheet[KEY].to_list())
    top = (
        ranked.filter(pl.col(_FLAGGED))
        .join(cases.table.select(KEY), on=KEY, how="semi")
        .sort(_RANK)
        .head(options.label_issues_top)
    )
    extra_ids = [i for i in top[KEY].to_list() if i not in on_sheet]
    if extra_ids:
        added = cases.table.filter(pl.col(KEY).is_in(extra_ids)).select(
            KEY, LABEL, "score" if cases.mode == "binary" else "pred", pl.col(OUTCOME).alias("outcome")
        )
        added = added.with_columns(pl.lit("label_issue").alias("sample"), pl.lit("label issue").alias("sampled_for"))
        sheet = pl.concat([sheet, added.select(sheet.columns)])
    marked = sheet.join(ranked, on=KEY, how="left")
    flag = marked[_FLAGGED]
    marked = marked.with_columns(
        pl.when(flag).then(pl.lit("yes")).when(flag.not_()).then(pl.lit("no")).alias(SUSPECTED_ISSUE),
        pl.when(flag).then(pl.col(_SUSPECTED)).alias("suspected_label"),
    )
    hidden = [_RANK, _FLAGGED, _SUSPECTED]
    if options.blind:
        # A suspected label is the model's verdict too: blinded, the added cases are mixed in
        # at random like the rest, and nothing says which were suspected.
        order = np.argsort(priorities(marked[KEY].to_list(), options.stratify.seed), kind="stable")
        return marked[order].drop([*hidden, SUSPECTED_ISSUE, "suspected_label"])
    first = pl.when(flag).then(pl.col(_RANK)).alias("__first")
    return marked.with_columns(first).sort("__first", nulls_last=True, maintain_order=True).drop([*hidden, "__first"])


def _html(table: pl.DataFrame, cases: Cases, paths: dict[str, tuple[str, Path]], options: AuditOptions) -> str:
    thumbs = ThumbTable(cap=max(table.height, 1), size=options.thumb_size)
    items = []
    for number, row in enumerate(table.iter_rows(named=True), start=1):
        lines = [f"#{number}  {row[KEY]}", f"label {row[LABEL]}"]
        if not options.blind:
            verdict = f"score {row['score']:.3f}" if cases.mode == "binary" else f"pred {row['pred']}"
            lines.append(f"{verdict} · {row['outcome']} ({row['sample']})")
            lines.append(f"for {row['sampled_for']}")
            if row.get(SUSPECTED_ISSUE) == "yes":
                lines.append(f"suspected label issue: {row['suspected_label']}?")
        items.append(Item(row[KEY], tuple(lines)))
    gallery = Gallery("Cases to review, in the order of the CSV", items, len(items))
    thumbs.admit([gallery])
    thumbs.render(paths, options.workers)
    steps = [
        "Look at each image and write what you see in the review_label column of the CSV, one short word or phrase per "
        "case (for example: drain, no drain, portable, artefact). Use the same words for the same finding.",
        "Label every row, errors and controls alike: the controls are what makes the labels measurable.",
        # A command line for the reviewer to type (hs stratify's flags), not an error: spelled out.
        "Then measure it: hs stratify preds.csv sheet.csv --by review_label --allow-unmatched "
        + (f"--threshold {cases.threshold:.6g}" if cases.threshold is not None else "")
        + " (only the rows on the sheet are analysed; rows left empty form the group (missing)).",
    ]
    if options.blind:
        steps.insert(0, "This sheet is blinded: it does not say which cases the model got wrong.")
    intro = Section("how", "How to review", el("ol", *[el("li", s) for s in steps]))
    counts = (
        table.group_by("sample").len().sort("sample").rows() if "sample" in table.columns else [("cases", table.height)]
    )
    cases_section = Section(
        "cases",
        "Cases",
        el("div", data_table(["sample", "cases"], counts, numeric=[False, True]), thumbs.gallery(gallery)),
    )
    return page("Review sheet", [intro, cases_section], thumbs.defs(), options.thumb_size)


def _summary(cases: Cases, table: pl.DataFrame) -> list[str]:
    if "sample" not in table.columns:
        return [f"{table.height} cases on the sheet (blinded)"]
    n_err = int((table["sample"] == "error").sum())
    n_issue = int((table["sample"] == "label_issue").sum())
    line = f"{table.height} cases on the sheet: {n_err} errors and {table.height - n_err - n_issue} controls"
    if n_issue:
        line += f", {n_issue} more suspected label issues"
    if cases.threshold is not None:
        line += f" at threshold {cases.threshold:.6g}"
    return [line]


def _meta(
    options: AuditOptions,
    cases: Cases,
    clusters: Clusters | None,
    table: pl.DataFrame,
    manifest_file: InputFile | None,
    ranking: tuple[pl.DataFrame, Source] | None,
) -> dict[str, Any]:
    files = [s.provenance() for s in cases.sources]
    if clusters is not None:
        files.append(clusters.source.provenance())
    if ranking is not None:
        files.append(ranking[1].provenance())
    if manifest_file:
        files.append({"path": manifest_file.shown, "sha256": manifest_file.sha256, "rows": manifest_file.rows})
    parameters = {
        "by": options.stratify.by,
        "threshold": options.stratify.threshold,
        "positive": options.stratify.positive,
        "per_group": options.per_group,
        "controls": options.controls,
        "blind": options.blind,
        "label_issues_top": options.label_issues_top if ranking is not None else None,
    }
    extra = {"threshold": cases.threshold, "mode": cases.mode}
    return build_sidecar(
        schema="hs.audit-sheet/1",
        parameters=parameters,
        inputs=files,
        rows=table.height,
        seed=options.stratify.seed,
        extra=extra,
    )
