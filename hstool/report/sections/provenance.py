"""Provenance: the input files with their sha256, the model's metadata, the hs version and
the report's settings, so a reader can trace every number back to its data and model."""

from __future__ import annotations

import json
from pathlib import PurePath
from typing import Any

from hstool import __version__
from hstool.audit.options import flag_on_text
from hstool.report.context import ReportData, ReportOptions
from hstool.report.markup import Raw, el
from hstool.report.sections import Section, data_table


def build(data: ReportData, options: ReportOptions) -> Section:
    parts = [
        el(
            "p",
            f"Made by hs {__version__}. Paths are shown relative to the folder hs ran in (or as the file name alone).",
        ),
        el("h3", "Input files"),
    ]
    rows = []
    for f in data.inputs:
        side = f.sidecar or {}
        made = f"{side.get('schema', '')} (hs {side.get('hs_version', '?')})" if side else "no sidecar"
        rows.append([f.role, f.shown, el("code", f.sha256), f.rows, made])
    parts.append(
        data_table(["input", "file", "sha256", "rows", "written as"], rows, numeric=[False, False, False, True, False])
    )
    parts.append(el("h3", "Model"))
    parts.append(_model(data))
    parts.append(el("h3", "Settings"))
    threshold = data.threshold
    settings: list[list[Any]] = [
        ["operating threshold", "-" if threshold is None else f"{threshold:.6g}"],
        ["seed (thumbnail sampling)", options.stratify.seed],
        ["thumbnails per gallery / per cluster montage", f"{options.gallery_size} / {options.montage_size}"],
        ["distinct thumbnails at most", options.max_thumbnails],
        ["thumbnail size", f"{options.thumb_size} px"],
    ]
    settings += _flag_settings(data)
    parts.append(data_table(["setting", "value"], settings))
    return Section("provenance", "Provenance", el("div", *parts))


def _flag_settings(data: ReportData) -> list[list[Any]]:
    """The rule behind the subgroup table's flags (hs stratify's, as recorded or as run here)."""
    if data.strata is None:
        return []
    where = "as recorded by hs stratify" if data.strata.source is not None else "as computed here"
    settings = data.settings
    if settings is None:
        return [["flag rule", "unknown: the stratify output came without its sidecar"]]
    rows: list[list[Any]] = [["metric families", f"{', '.join(data.families())} ({where})"]]
    if data.strata.mode == "binary":
        margins = ", ".join(f"{m}={v:g}" for m, v in settings.margins.items()) or "none"
        rows += [["metrics that may flag", flag_on_text(settings.flag_on)], ["margins", margins]]
    rows.append(["multiplicity", f"{settings.correction} correction, alpha {settings.alpha:g}"])
    return rows


def _model(data: ReportData) -> Raw:
    """The model's metadata as hs predict records it in the preds sidecar (`model`), else the
    model file among the preds sidecar's inputs."""
    preds = next((f for f in data.inputs if f.role == "predictions"), None)
    side = (preds.sidecar or {}) if preds else {}
    model = side.get("model")
    rows = []
    if isinstance(model, dict):
        for key in sorted(model):
            value = model[key]
            rows.append([key, value if isinstance(value, str) else json.dumps(value, sort_keys=True)])
    for item in side.get("inputs", []):
        if str(item.get("path", "")).lower().endswith(".onnx"):
            rows.append(["model file", f"{PurePath(str(item['path'])).name} (sha256 {item.get('sha256', '?')})"])
    if not rows:
        why = (
            "no predictions file was given"
            if preds is None
            else "the predictions file has no hs predict sidecar naming a model"
        )
        return el("p", f"No model metadata: {why}.", cls="muted")
    return data_table(["key", "value"], rows)
