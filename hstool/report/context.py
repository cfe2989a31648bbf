"""What the report sections read: the loaded inputs and the options, in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hstool.audit.groups import Stratifier
from hstool.audit.strata_table import StratifyOptions
from hstool.report.inputs import Cases, Clusters, Strata
from hstool.report.saliency import SaliencyMaps


@dataclass(frozen=True)
class ReportOptions:
    """Every knob of `hs report` (defaults as on the command line)."""

    stratify: StratifyOptions = field(default_factory=StratifyOptions)
    threshold_given: bool = False  # --threshold on the command line (refused with --strata)
    title: str = "Hidden stratification report"
    gallery_size: int = 12  # thumbnails per error gallery
    montage_size: int = 16  # thumbnails per cluster montage
    max_thumbnails: int = 400  # distinct thumbnails in the whole report
    thumb_size: int = 128  # pixels (the longer side)
    max_curves: int = 8  # groups drawn per ROC/calibration panel (the largest)
    calibration_bins: int = 10
    workers: int | None = None  # thumbnail processes; None = one per core (at most 8)


@dataclass(frozen=True)
class InputFile:
    role: str
    shown: str  # path as shown in the report (relative)
    sha256: str
    rows: int
    sidecar: dict | None


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
