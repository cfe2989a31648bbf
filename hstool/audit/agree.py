"""`hs agree A B`: agreement of two models, or two label sources, on the same images.

Each input is a rater: a column of scores (probabilities; a preds file's `score`) or of binary
labels (a labels file's `label`, or any named 0/1, true/false, yes/no column). Scores are
turned into calls at an operating point (Youden on the reference labels by default, as in
Cohen et al. 2020); labels are their own calls. Per group: raw agreement, Cohen's kappa with
its Fleiss-Cohen-Everitt interval, each rater's AUC against the reference with the paired
DeLong test, and Bland-Altman statistics on the calibrated scores (Cohen et al.'s eq. 1 maps
each model's operating point to 0.5, so the two are on one scale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.groups import Stratifier, build_stratifiers
from hstool.audit.operating_point import parse_operating_point, refuse_own_calibration
from hstool.audit.options import AgreeOptions as AgreeOptions  # re-exported
from hstool.audit.strata_table import OVERALL, interval_text, none_if_nan, p_text
from hstool.errors import InputError, UsageError, option_ref
from hstool.io.columns import parse_numbers, probabilities
from hstool.io.label_coding import binary_labels
from hstool.io.sidecar import build_sidecar
from hstool.io.table_format import ColumnMap
from hstool.io.tables import KEY, Source, check_one_stdin, join_on_id, read_table
from hstool.stats.agreement import bland_altman, cohen_kappa, confusion_counts
from hstool.stats.calibration import piecewise_calibrate
from hstool.stats.delong import compare_aucs, paired_auc_covariance, wald_interval
from hstool.stats.multiplicity import adjust
from hstool.stats.proportions import interval

SCHEMA_NAME = "hs.agreement/1"
SCHEMA: dict[str, Any] = {"stratifier": str, "group": str, "n": int, "a_threshold": float, "b_threshold": float}
SCHEMA.update({"a_pos": int, "b_pos": int, "both_pos": int, "both_neg": int, "a_only": int, "b_only": int})
SCHEMA.update({"agreement": float, "agreement_ci_low": float, "agreement_ci_high": float, "expected_agreement": float})
SCHEMA.update({"kappa": float, "kappa_se": float, "kappa_ci_low": float, "kappa_ci_high": float})
SCHEMA.update({"n_ref_pos": int})
for _r in ("a", "b"):
    SCHEMA.update({f"{_r}_auc": float, f"{_r}_auc_ci_low": float, f"{_r}_auc_ci_high": float})
SCHEMA.update({"auc_delta": float, "auc_p": float, "auc_p_adj": float})
SCHEMA.update({"ba_mean_diff": float, "ba_mean_diff_ci_low": float, "ba_mean_diff_ci_high": float})
SCHEMA.update({"ba_sd_diff": float, "ba_loa_low": float, "ba_loa_high": float, "status": str, "reason": str})

SCORES, LABELS = "scores", "labels"


@dataclass(frozen=True)
class Rater:
    """One input after joining: its values on the analysed ids and how it calls cases."""

    tag: str  # 'a' or 'b'
    source: Source
    column: str
    kind: str  # SCORES or LABELS
    values: np.ndarray  # scores (float) or labels (bool)
    threshold: float | None  # original-scale operating point (scores only)
    rule: str | None
    called: np.ndarray = field(init=False)  # bool: positive at the operating point
    calibrated: np.ndarray | None = field(init=False)  # scores mapped so the operating point is 0.5

    def __post_init__(self) -> None:
        if self.kind == SCORES:
            assert self.threshold is not None  # scores are always called at an operating point
            object.__setattr__(self, "called", self.values >= self.threshold)
            object.__setattr__(self, "calibrated", piecewise_calibrate(self.values, self.threshold))
        else:
            object.__setattr__(self, "called", self.values)
            object.__setattr__(self, "calibrated", None)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.source.name, "column": self.column, "kind": self.kind}
        if self.kind == SCORES:
            out["threshold"] = {"rule": self.rule, "value": self.threshold}
        return out


@dataclass(frozen=True)
class AgreementResult:
    table: pl.DataFrame
    view: pl.DataFrame
    meta: dict[str, Any]
    summary: list[str]
    notes: list[str]
    a: Rater
    b: Rater


def _value_column(df: pl.DataFrame, source: Source, wanted: str | None, option: str, columns: ColumnMap) -> str:
    if wanted is not None:
        if wanted not in df.columns:
            raise UsageError(
                f"{option_ref(option)} {wanted}: {source.name} has no such column (found: {', '.join(df.columns)})"
            )
        return wanted
    for default in (columns.score, columns.label):
        if default in df.columns:
            return default
    raise InputError(
        f"{source.name}: has neither a '{columns.score}' nor a '{columns.label}' column (found: {', '.join(df.columns)}); "
        f"name the column to compare with {option_ref(option)} COL"
    )


def _is_scores(df: pl.DataFrame, column: str, positive: str | None, columns: ColumnMap, decimal_comma: bool) -> bool:
    """The score column, and numeric columns with a value that is not a whole number, hold scores;
    others labels (so a label column coded 0/1/2 is refused as not binary, not as logits)."""
    if column == columns.score:
        return True
    if positive is not None:
        return False
    col = df[column]
    numbers = parse_numbers(col.cast(pl.String), decimal_comma=decimal_comma).drop_nulls()
    if numbers.len() < col.drop_nulls().len():  # some value is not a number
        return False
    return bool((numbers != numbers.round(0)).any())


def _read_rater(
    path: str, tag: str, wanted: str | None, options: AgreeOptions
) -> tuple[pl.DataFrame, Source, str, str, np.ndarray]:
    option = f"{tag}_col"
    df, source = read_table(
        path, role=f"rater {tag.upper()}", fmt=options.table_format, columns=options.columns.pick(KEY)
    )
    column = _value_column(df, source, wanted, option, options.columns)
    positive = options.positive
    if _is_scores(df, column, positive, options.columns, source.decimal_comma):
        return df, source, column, SCORES, probabilities(df, column, source)
    return df, source, column, LABELS, binary_labels(df, column, source, positive=positive)


def run_agree(a_path: str, b_path: str, options: AgreeOptions) -> AgreementResult:
    check_one_stdin(a_path, b_path, options.reference)
    a_df, a_src, a_col, a_kind, a_values = _read_rater(a_path, "a", options.a_col, options)
    b_df, b_src, b_col, b_kind, b_values = _read_rater(b_path, "b", options.b_col, options)
    left = a_df.select(KEY).with_columns(pl.Series("__a", a_values))
    right = b_df.select(KEY).with_columns(pl.Series("__b", b_values))
    joined, dropped = join_on_id(left, a_src, right, b_src, allow_unmatched=options.allow_unmatched)
    tables: list[tuple[pl.DataFrame, Source]] = [(a_df, a_src), (b_df, b_src)]
    sources = [a_src, b_src]
    if options.reference is not None:
        reference_col = options.reference_col or options.columns.label
        ref_df, ref_src = read_table(
            options.reference,
            role="reference labels",
            required=(KEY, reference_col),
            fmt=options.table_format,
            columns=options.columns.pick(KEY),
        )
        ref = ref_df.select(KEY).with_columns(
            pl.Series("__y", binary_labels(ref_df, reference_col, ref_src, positive=options.positive))
        )
        joined, more = join_on_id(joined, a_src, ref, ref_src, allow_unmatched=options.allow_unmatched)
        dropped[f"unmatched_in_{ref_src.name}"] = more[f"unmatched_in_{ref_src.name}"]
        dropped[f"missing_from_{ref_src.name}"] = more[f"unmatched_in_{a_src.name}"]
        tables.append((ref_df, ref_src))
        sources.append(ref_src)
    joined = joined.sort(KEY)  # row order of the inputs never matters
    y = joined["__y"].to_numpy() if options.reference is not None else None
    if y is not None and (y.all() or not y.any()):
        which = "positive" if y.all() else "negative"
        raise InputError(
            f"{options.reference}: every analysed reference label is {which}; AUCs and Youden thresholds need both classes"
        )
    a = _rater("a", a_src, a_col, a_kind, joined["__a"].to_numpy(), options.a_threshold or options.threshold, y)
    b = _rater("b", b_src, b_col, b_kind, joined["__b"].to_numpy(), options.b_threshold or options.threshold, y)
    stratifiers = build_stratifiers(
        _strata_frame(joined.select(KEY), tables, options),
        by=options.by,
        crosses=options.crosses,
        bins=options.bins,
        max_levels=options.max_levels,
        source_name=f"{a_src.name}/{b_src.name}",
        decimal_comma=options.table_format.decimal_comma,
    )
    rows = [_row(OVERALL, OVERALL, np.ones(joined.height, bool), a, b, y, options)]
    for stratifier in stratifiers:
        rows.extend(_group_rows(stratifier, a, b, y, options))
    adjusted = adjust(np.array([r.get("auc_p") for r in rows], dtype=float), options.correction)
    for row, value in zip(rows, adjusted):
        row["auc_p_adj"] = none_if_nan(value)
    table = pl.DataFrame(rows, schema=SCHEMA, orient="row")
    return _result(table, a, b, y is not None, sources, dropped, stratifiers, options)


def _rater(
    tag: str, source: Source, column: str, kind: str, values: np.ndarray, threshold_text: str, y: np.ndarray | None
) -> Rater:
    if kind == LABELS:
        return Rater(tag, source, column, kind, values.astype(bool), None, None)
    option = f"{tag}_threshold"
    point = parse_operating_point(threshold_text, option)
    refuse_own_calibration(source.name, point, option)
    if point.needs_labels and y is None:
        raise UsageError(
            f"{source.name} (rater {tag.upper()}) holds scores and its operating point {threshold_text!r} is chosen on labels: "
            f"pass {option_ref('reference')} LABELS, or a fixed {option_ref('threshold')} (a number, or the .json that hs calibrate writes)"
        )
    return Rater(tag, source, column, kind, values.astype(np.float64), point.resolve(values, y), point.describe())


def _strata_frame(ids: pl.DataFrame, tables: list[tuple[pl.DataFrame, Source]], options: AgreeOptions) -> pl.DataFrame:
    """The stratifier columns, each taken from the first input that has it (A, B, reference)."""
    wanted = list(dict.fromkeys(options.by + [c for group in options.crosses for c in group]))
    taken: list[list[str]] = [[] for _ in tables]
    for column in wanted:
        holder = next((i for i, (df, _) in enumerate(tables) if column in df.columns and column != KEY), None)
        if holder is None:
            names = ", ".join(s.name for _, s in tables)
            raise UsageError(f"{option_ref('by')} {column}: no input has this column ({names}); add it to one of them")
        taken[holder].append(column)
    frame = ids
    for (df, _), columns in zip(tables, taken):
        if columns:  # one join per input table
            frame = frame.join(df.select(KEY, *columns), on=KEY, how="left", maintain_order="left")
    return frame.select(KEY, *wanted)


def _group_rows(
    stratifier: Stratifier, a: Rater, b: Rater, y: np.ndarray | None, options: AgreeOptions
) -> list[dict[str, Any]]:
    rows = []
    for code, level in enumerate(stratifier.levels):
        member = stratifier.codes == code
        if member.any():
            rows.append(_row(stratifier.name, level, member, a, b, y, options))
    return rows


def _row(
    name: str, level: str, member: np.ndarray, a: Rater, b: Rater, y: np.ndarray | None, options: AgreeOptions
) -> dict[str, Any]:
    ca, cb = a.called[member], b.called[member]
    counts = confusion_counts(ca, cb)
    n = int(member.sum())
    row: dict[str, Any] = {
        "stratifier": name,
        "group": level,
        "n": n,
        "a_threshold": a.threshold,
        "b_threshold": b.threshold,
    }
    row.update(
        {"a_pos": int(ca.sum()), "b_pos": int(cb.sum()), "both_pos": int(counts[1, 1]), "both_neg": int(counts[0, 0])}
    )
    row.update({"a_only": int(counts[1, 0]), "b_only": int(counts[0, 1])})
    if y is not None:
        row["n_ref_pos"] = int(y[member].sum())
    if n < options.min_n:
        row.update({"status": "too_small", "reason": f"{n} cases, below --min-n {options.min_n}"})
        return row
    reasons: list[str] = []
    kappa = cohen_kappa(counts, options.level)
    agree_low, agree_high = interval(int(np.trace(counts)), n, options.level, "wilson")
    row.update(
        {"agreement": kappa.observed, "agreement_ci_low": float(agree_low), "agreement_ci_high": float(agree_high)}
    )
    row.update({"expected_agreement": kappa.expected, "kappa": kappa.kappa, "kappa_se": kappa.se})
    row.update({"kappa_ci_low": kappa.ci_low, "kappa_ci_high": kappa.ci_high})
    if kappa.kappa is None:
        side = "positive" if ca.all() else "negative"
        reasons.append(f"kappa undefined: both sources call every case {side}")
    if y is not None:
        columns, reason = _auc_columns(a, b, y[member], member, options)
        row.update(columns)
        if reason:
            reasons.append(reason)
    if a.calibrated is not None and b.calibrated is not None:  # both hold scores
        ba = bland_altman(a.calibrated[member], b.calibrated[member], options.level)
        row.update(
            {
                "ba_mean_diff": ba.mean_diff,
                "ba_mean_diff_ci_low": ba.mean_ci_low,
                "ba_mean_diff_ci_high": ba.mean_ci_high,
            }
        )
        row.update({"ba_sd_diff": ba.sd_diff, "ba_loa_low": ba.loa_low, "ba_loa_high": ba.loa_high})
    row["status"] = "partial" if reasons else "ok"
    row["reason"] = "; ".join(reasons)
    return row


def _auc_columns(
    a: Rater, b: Rater, y: np.ndarray, member: np.ndarray, options: AgreeOptions
) -> tuple[dict[str, Any], str]:
    """Each rater's AUC against the reference (labels count as 0/1 scores), and the paired test:
    the columns that could be computed, and why the others could not ("" when all were)."""
    if y.all() or not y.any():
        return {}, "no AUC: the group's reference labels are all " + ("positive" if y.all() else "negative")
    auc_a, auc_b, cov = paired_auc_covariance(
        a.values[member].astype(np.float64), b.values[member].astype(np.float64), y
    )
    columns: dict[str, Any] = {"a_auc": auc_a, "b_auc": auc_b}
    if cov is None:
        return columns, "no AUC intervals or test: fewer than 2 reference positives or negatives"
    columns["a_auc_ci_low"], columns["a_auc_ci_high"] = wald_interval(auc_a, float(cov[0, 0]), options.level)
    columns["b_auc_ci_low"], columns["b_auc_ci_high"] = wald_interval(auc_b, float(cov[1, 1]), options.level)
    test = compare_aucs(auc_a, float(cov[0, 0]), auc_b, float(cov[1, 1]), float(cov[0, 1]))
    columns["auc_delta"] = test.delta
    columns["auc_p"] = test.p
    return columns, ""


def _result(
    table: pl.DataFrame,
    a: Rater,
    b: Rater,
    has_reference: bool,
    sources: list[Source],
    dropped: dict[str, Any],
    stratifiers: list[Stratifier],
    options: AgreeOptions,
) -> AgreementResult:
    notes = [f"{s.name}: {s.note}" for s in stratifiers if s.note]
    parameters = asdict(options)
    parameters["bins"] = {k: asdict(v) for k, v in options.bins.items()}
    extra = {"a": a.describe(), "b": b.describe(), "n_analysed": int(table["n"][0]), "dropped": dropped, "notes": notes}
    meta = build_sidecar(
        schema=SCHEMA_NAME,
        parameters=parameters,
        inputs=[s.provenance() for s in sources],
        rows=table.height,
        extra=extra,
    )
    summary = [f"{r.tag.upper()}: {_rater_text(r)}" for r in (a, b)]
    overall = table.row(0, named=True)
    summary.append(
        f"{overall['n']} cases; kappa {interval_text(overall['kappa'], overall['kappa_ci_low'], overall['kappa_ci_high'])}, "
        f"raw agreement {interval_text(overall['agreement'], overall['agreement_ci_low'], overall['agreement_ci_high'])}"
    )
    return AgreementResult(table, _view(table, a, b, has_reference), meta, summary, notes, a, b)


def _rater_text(r: Rater) -> str:
    text = f"{r.source.name} column '{r.column}' ({r.kind})"
    if r.kind == SCORES:
        text += f", operating point {r.threshold:.4g} ({r.rule})"
    return text


def _view(table: pl.DataFrame, a: Rater, b: Rater, has_reference: bool) -> pl.DataFrame:
    rows = table.to_dicts()
    columns: dict[str, list[Any]] = {c: table[c].to_list() for c in ("stratifier", "group", "n")}
    columns["kappa"] = [interval_text(r["kappa"], r["kappa_ci_low"], r["kappa_ci_high"]) for r in rows]
    columns["agreement"] = [interval_text(r["agreement"], None, None) for r in rows]
    columns["A+ B+ / A+ B- / A- B+ / A- B-"] = [
        f"{r['both_pos']} / {r['a_only']} / {r['b_only']} / {r['both_neg']}" for r in rows
    ]
    if has_reference:
        columns["AUC A"] = [interval_text(r["a_auc"], r["a_auc_ci_low"], r["a_auc_ci_high"]) for r in rows]
        columns["AUC B"] = [interval_text(r["b_auc"], r["b_auc_ci_low"], r["b_auc_ci_high"]) for r in rows]
        columns["p_adj(AUC)"] = [p_text(r["auc_p_adj"]) for r in rows]
    if a.kind == SCORES and b.kind == SCORES:
        columns["BA mean diff"] = [interval_text(r["ba_mean_diff"], None, None) for r in rows]
        columns["BA limits"] = [
            "-" if r["ba_loa_low"] is None else f"[{r['ba_loa_low']:.3f}, {r['ba_loa_high']:.3f}]" for r in rows
        ]
    columns["status"] = [r["status"] for r in rows]
    return pl.DataFrame(columns)
