"""Error galleries: false negatives and false positives at the operating threshold (or the
misclassified cases of a multi-class model), for the whole set, by subgroup and by cluster."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from hstool.io.tables import KEY
from hstool.report.context import ReportData, ReportOptions
from hstool.report.gallery import Gallery, Item, ThumbTable, caption
from hstool.report.inputs import OUTCOME
from hstool.report.markup import el
from hstool.report.sampling import pick, priorities
from hstool.report.sections import Section, unavailable

KIND_NAMES = {"FN": "false negatives (missed positives)", "FP": "false positives", "wrong": "misclassified"}


@dataclass
class ErrorPlan:
    overall: list[Gallery] = field(default_factory=list)
    by_stratifier: list[tuple[str, list[tuple[str, list[Gallery]]]]] = field(default_factory=list)
    by_cluster: list[tuple[str, list[Gallery]]] = field(default_factory=list)

    def galleries(self) -> list[Gallery]:
        out = list(self.overall)
        out += [g for _, groups in self.by_stratifier for _, gs in groups for g in gs]
        out += [g for _, gs in self.by_cluster for g in gs]
        return out


def _galleries(
    table: pl.DataFrame,
    mask: np.ndarray,
    kinds: Sequence[str],
    priority: np.ndarray,
    outcome: np.ndarray,
    scores: np.ndarray | None,
    k: int,
    prefix: str,
) -> list[Gallery]:
    out = []
    for kind in kinds:
        chosen = mask & (outcome == kind)
        rows = pick(chosen, priority, k)
        if scores is not None:  # most confident errors first: FN by lowest score, FP by highest
            rows = rows[np.argsort(scores[rows] if kind == "FN" else -scores[rows], kind="stable")]
        items = [Item(r[KEY], caption(r)) for r in table[rows].iter_rows(named=True)]
        out.append(Gallery(f"{prefix}{KIND_NAMES[kind]}", items, int(chosen.sum())))
    return out


def cluster_of(data: ReportData) -> np.ndarray | None:
    """The cluster id of each case (None where the clusters file has none), in cases order."""
    if data.clusters is None or data.cases is None:
        return None
    joined = data.cases.table.select(KEY).join(
        data.clusters.table.select(KEY, "cluster"), on=KEY, how="left", maintain_order="left"
    )
    return joined["cluster"].to_numpy()


def plan(data: ReportData, options: ReportOptions) -> ErrorPlan:
    result = ErrorPlan()
    if data.cases is None:
        return result
    table = data.cases.table
    kinds = data.cases.error_kinds
    priority = priorities(table[KEY].to_list(), options.stratify.seed)
    outcome = table[OUTCOME].to_numpy()
    scores = table["score"].to_numpy() if data.cases.mode == "binary" else None
    k = options.gallery_size

    def galleries(mask: np.ndarray, prefix: str = "") -> list[Gallery]:
        return _galleries(table, mask, kinds, priority, outcome, scores, k, prefix)

    result.overall = galleries(np.ones(table.height, bool), "All cases: ")
    for stratifier in data.stratifiers:
        groups = [(level, galleries(stratifier.codes == code)) for code, level in enumerate(stratifier.levels)]
        result.by_stratifier.append((stratifier.name, groups))
    clusters = cluster_of(data)
    if clusters is not None:
        for cluster in sorted({c for c in clusters if c is not None}):
            result.by_cluster.append((cluster, galleries(clusters == cluster)))
    return result


def build(data: ReportData, error_plan: ErrorPlan, thumbs: ThumbTable) -> Section:
    if data.cases is None:
        return Section(
            "errors",
            "Error galleries",
            unavailable("No error galleries: pass --preds and --labels (and --manifest to see the images)."),
        )
    if data.cases.mode == "binary":
        intro = (
            f"Cases the model gets wrong at the operating threshold {data.cases.threshold:.4g}. Look at them: what do "
            "the missed cases share (a device, a view, a subtype)? Each thumbnail is captioned with its image_id, "
            "label and score; false negatives are ordered from the lowest score, false positives from the highest."
        )
    else:
        intro = "Cases whose predicted class differs from the label, captioned with image_id, label and prediction."
    if not data.paths:
        intro += " No --manifest was given, so the galleries show captions only."
    parts = [el("p", intro, cls="muted"), el("h3", "All cases")]
    parts += [thumbs.gallery(g) for g in error_plan.overall]
    for name, groups in error_plan.by_stratifier:
        parts.append(el("h3", f"By {name}"))
        for level, galleries in groups:
            parts += [thumbs.gallery(_titled(g, f"{name} = {level}: ")) for g in galleries]
    if error_plan.by_cluster:
        parts.append(el("h3", "By cluster"))
        for cluster, galleries in error_plan.by_cluster:
            parts += [thumbs.gallery(_titled(g, f"cluster {cluster}: ")) for g in galleries]
    return Section("errors", "Error galleries", el("div", *parts))


def _titled(gallery: Gallery, prefix: str) -> Gallery:
    return Gallery(prefix + gallery.title, gallery.items, gallery.total, gallery.omitted)
