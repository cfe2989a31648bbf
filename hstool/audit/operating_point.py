"""The `--threshold` option shared by stratify, agree and calibrate, and the calibration JSON.

A threshold is a fixed number, a rule resolved on labelled scores (`youden`, `sens=0.95`,
`spec=0.9`), or a `.json` file with a top-level `threshold` (a number, or an object with a
`value`), as in the sidecar that `hs calibrate` writes. One reader serves every command, so a
calibration written by one is read the same way by the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hstool.errors import UsageError
from hstool.stats.thresholds import ThresholdRule

THRESHOLD_KEY = "threshold"


@dataclass(frozen=True)
class OperatingPoint:
    """A parsed `--threshold`: either a rule or a value read from a calibration file."""

    text: str
    rule: ThresholdRule | None
    fixed: float | None

    @property
    def needs_labels(self) -> bool:
        return self.rule is not None and self.rule.kind != "fixed"

    def resolve(self, scores: np.ndarray | None, labels: np.ndarray | None) -> float:
        if self.rule is None:
            return float(self.fixed)
        if self.needs_labels and labels is None:
            raise UsageError(f"threshold {self.text!r} is chosen on labels; give labels, or a number or a calibration .json")
        return self.rule.resolve(scores, labels)

    def describe(self) -> str:
        """What goes into sidecars as the threshold's `rule`."""
        return self.rule.describe() if self.rule is not None else self.text


def read_calibration_threshold(path: str, option: str = "--threshold") -> float:
    """The original-scale threshold stored in a calibration JSON (e.g. X.csv.meta.json)."""
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"{option} {path}: no such calibration file")
    try:
        value = json.loads(file.read_text(encoding="utf-8"))[THRESHOLD_KEY]
        return float(value["value"] if isinstance(value, dict) else value)
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise UsageError(f"{option} {path}: expected a JSON object with a numeric '{THRESHOLD_KEY}' (as hs calibrate writes)") from None


def parse_operating_point(text: str, option: str = "--threshold") -> OperatingPoint:
    if text.lower().endswith(".json"):
        return OperatingPoint(text, None, read_calibration_threshold(text, option))
    try:
        return OperatingPoint(text, ThresholdRule.parse(text), None)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None
