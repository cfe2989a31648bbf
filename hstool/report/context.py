"""What the report sections read: the loaded inputs and the options, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hstool.audit.groups import Stratifier
from hstool.audit.strata_table import FAMILIES, StratifyOptions
from hstool.report.inputs import Cases, Clusters, Strata
from hstool.report.saliency import SaliencyMaps


@dataclass(frozen=True)
class ReportOptions:
    """Every knob of `hs report` (defaults as on the command line)."""

    stratify: StratifyOptions = field(default_factory=StratifyOptions)
    # The stratify settings given on the command line that a --strata file fixes, by option
    # field: threshold (refused with --strata); metrics, margin, flag_on, by, bins, positive,
    # id_col, score_col, label_col, na_values, delimiter, decimal_comma, sheet (refused when
    # they differ from the ones the file's sidecar recorded), min_n (refused when smaller;
    # strata_settings._FIXED). With a --strata file and its sidecar, the report uses the recorded
    # settings (ReportData.settings), reads the files with its positive class, columns and
    # table format, and draws curves with its min_n unless a min_n is given here.
    given: dict[str, Any] = field(default_factory=dict)
    title: str = "Hidden stratification report"
    gallery_size: int = 12  # thumbnails per error gallery
    montage_size: int = 16  # thumbnails per cluster montage
    max_thumbnails: int = 400  # distinct thumbnails in the whole report
    thumb_size: int = 128  # pixels (the longer side)
    max_curves: int = 8  # groups drawn per ROC/calibration panel (the largest)
    workers: int | None = None  # thumbnail processes; None = one per core (at most 8)


@dataclass(frozen=True)
class InputFile:
    role: str
    shown: str  # path as shown in the report (relative)
    sha256: str
    rows: int
    sidecar: dict[str, Any] | None


@dataclass
class ReportData:
    cases: Cases | None
    strata: Strata | None
    clusters: Clusters | None
    stratifiers: list[Stratifier]
    paths: dict[str, tuple[str, Path]]  # image_id -> (path as in the manifest, absolute path)
    inputs: list[InputFile]
    notes: list[str] = field(default_factory=list)
    saliency: SaliencyMaps | None = None  # hs saliency's maps: overlays and cluster means
    # The settings of the stratify run behind `strata`: the report's own when it computed the
    # table, else those its sidecar recorded; None for a stratify output without its sidecar.
    settings: StratifyOptions | None = None

    def families(self) -> tuple[str, ...]:
        """The metric families the report shows (`--metrics`, in their canonical order): as
        chosen or recorded; for a stratify output without its sidecar, those the table holds."""
        if self.settings is not None:
            return tuple(f for f in FAMILIES if f in self.settings.metrics)
        table = self.given_strata().table

        def held(*columns: str) -> bool:
            return any(c in table.columns and table[c].is_not_null().any() for c in columns)

        found = {
            "auc": held("auc"),
            "proportions": held("sensitivity", "specificity"),
            # brier has a value in every row; its interval only when the family was computed
            "calibration": held("brier_ci_low", "calibration_intercept", "calibration_slope", "ece"),
            "power": held("auc_mdd", "sensitivity_mdd"),
        }
        return tuple(f for f in FAMILIES if found[f])

    def level_text(self) -> str:
        """`95% `: the confidence level of the table's intervals and a space, or '' when unknown."""
        return f"{100 * self.settings.level:g}% " if self.settings is not None else ""

    @property
    def threshold(self) -> float | None:
        return self.cases.threshold if self.cases else (self.strata.threshold if self.strata else None)

    # A section is built only when its input was given (build.py decides); these say so to
    # the type checker, and fail loudly if a section is ever built without its input.
    def given_cases(self) -> Cases:
        if self.cases is None:
            raise ValueError("this report section needs the cases (predictions and labels)")
        return self.cases

    def given_strata(self) -> Strata:
        if self.strata is None:
            raise ValueError("this report section needs the hs stratify output")
        return self.strata

    def given_clusters(self) -> Clusters:
        if self.clusters is None:
            raise ValueError("this report section needs the hs cluster output")
        return self.clusters


def shown_path(path: str | Path) -> str:
    """A path for the report: relative to the working folder when inside it, else the file
    name alone (an absolute path can name a person or a hospital folder)."""
    text = str(path)
    if text == "-":
        return "<stdin>"
    absolute = os.path.abspath(text)
    here = os.getcwd()
    if absolute == here or absolute.startswith(here + os.sep):
        return os.path.relpath(absolute, here)
    return os.path.basename(absolute)
