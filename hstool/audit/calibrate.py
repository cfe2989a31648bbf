"""`hs calibrate PREDS [LABELS]`: choose an operating point and move it to 0.5.

The threshold (Youden by default) is chosen on the labelled scores and every score of PREDS is
mapped with Cohen et al.'s piecewise-linear eq. 1 (hstool.stats.calibration), so the
calibrated scores call a case positive at 0.5 exactly when the original score reaches the
threshold. The sidecar keeps the original-scale threshold under `threshold` (what
`hs stratify --threshold FILE.json` and `hs agree --threshold FILE.json` read, to be applied
to *original* scores) and every requested target under `thresholds`. Without LABELS the
threshold must be fixed (a number, or an earlier calibration's .json): that applies a
calibration fitted on one set (e.g. validation) to another (e.g. test).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import polars as pl

from hstool.audit.operating_point import (
    CALIBRATION_SCHEMA,
    OperatingPoint,
    parse_operating_point,
    refuse_own_calibration,
)
from hstool.errors import InputError, UsageError, option_ref
from hstool.io.columns import probabilities
from hstool.io.label_coding import binary_labels
from hstool.io.preds_labels import read_labels
from hstool.io.sidecar import build_sidecar
from hstool.io.table_format import LABEL, SCORE, ColumnMap, TableFormat
from hstool.io.tables import KEY, check_one_stdin, join_on_id, read_table
from hstool.stats.calibration import calibrated_threshold, piecewise_calibrate
from hstool.stats.thresholds import sensitivity_specificity

TRANSFORM = "piecewise-linear, Cohen et al. 2020 eq. 1: s/(2t) below t, 1-(1-s)/(2(1-t)) from t"


@dataclass(frozen=True)
class CalibrateOptions:
    threshold: str = "youden"  # the operating point mapped to 0.5
    targets: list[str] = field(default_factory=list)  # further thresholds to report
    positive: str | None = None
    allow_unmatched: bool = False
    columns: ColumnMap = field(default_factory=ColumnMap)
    table_format: TableFormat = field(default_factory=TableFormat)


@dataclass(frozen=True)
class CalibrationResult:
    table: pl.DataFrame  # image_id, score (calibrated), in the order of PREDS
    meta: dict[str, Any]
    summary: list[str]


def run_calibrate(preds_path: str, labels_path: str | None, options: CalibrateOptions) -> CalibrationResult:
    check_one_stdin(preds_path, labels_path)
    point = parse_operating_point(options.threshold)
    targets = [parse_operating_point(t, "targets") for t in options.targets]
    if labels_path is None and (point.needs_labels or any(t.needs_labels for t in targets)):
        raise UsageError(
            f"a threshold chosen on labels (youden, sens=, spec=) needs LABELS; or pass {option_ref('threshold')} NUMBER|FILE.json"
        )
    refuse_own_calibration(preds_path, point)
    preds, preds_src = read_table(
        preds_path,
        role="predictions",
        required=(KEY, SCORE),
        fmt=options.table_format,
        columns=options.columns.pick(KEY, SCORE),
    )
    scores = probabilities(preds, SCORE, preds_src)
    sources = [preds_src]
    fit_scores, y = scores, None
    dropped: dict[str, Any] = {}
    if labels_path is not None:
        labels, labels_src = read_labels(labels_path, options.columns, options.table_format)
        sources.append(labels_src)
        truth = labels.select(KEY).with_columns(
            pl.Series("__y", binary_labels(labels, LABEL, labels_src, positive=options.positive))
        )
        joined, dropped = join_on_id(
            preds.select(KEY).with_columns(pl.Series("__s", scores)),
            preds_src,
            truth,
            labels_src,
            allow_unmatched=options.allow_unmatched,
        )
        joined = joined.sort(KEY)
        fit_scores, y = joined["__s"].to_numpy(), joined["__y"].to_numpy()
        if y.all() or not y.any():
            which = "positive" if y.all() else "negative"
            raise InputError(f"{labels_src.name}: every labelled case is {which}; a threshold needs both classes")
    value = point.resolve(fit_scores, y)
    main = _describe(point, value, value, fit_scores, y)
    thresholds = {point.describe(): main}
    for target in targets:
        thresholds[target.describe()] = _describe(target, target.resolve(fit_scores, y), value, fit_scores, y)
    table = pl.DataFrame({KEY: preds[KEY], "score": piecewise_calibrate(scores, value)})
    extra = {
        "threshold": main,
        "thresholds": thresholds,
        "transform": TRANSFORM,
        "n_fit": len(fit_scores) if y is not None else None,
        "dropped": dropped,
    }
    meta = build_sidecar(
        schema=CALIBRATION_SCHEMA,
        parameters=asdict(options),
        inputs=[s.provenance() for s in sources],
        rows=table.height,
        extra=extra,
    )
    summary = [_summary_line(name, info) for name, info in thresholds.items()]
    summary.append(
        f"{table.height} scores calibrated: the operating point {value:.6g} is now 0.5 (positive when score >= 0.5)"
    )
    return CalibrationResult(table, meta, summary)


def _describe(
    point: OperatingPoint, value: float, operating: float, scores: np.ndarray, y: np.ndarray | None
) -> dict[str, Any]:
    """One threshold for the sidecar: rule, original-scale value, calibrated value, sens/spec."""
    info: dict[str, Any] = {
        "rule": point.describe(),
        "value": value,
        "calibrated_value": calibrated_threshold(value, operating),
    }
    if y is not None:
        info["sensitivity"], info["specificity"] = sensitivity_specificity(scores, y, value)
    return info


def _summary_line(name: str, info: dict[str, Any]) -> str:
    text = f"{name}: threshold {info['value']:.6g} (calibrated {info['calibrated_value']:.4g})"
    if "sensitivity" in info:
        text += f", sensitivity {info['sensitivity']:.3f}, specificity {info['specificity']:.3f}"
    return text
