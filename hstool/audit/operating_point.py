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

from hstool.errors import InputError, OptionError, UsageError, option_ref
from hstool.io.sidecar import sidecar_path
from hstool.stats.thresholds import ThresholdRule, UninformativeScores

THRESHOLD_KEY = "threshold"
CALIBRATION_SCHEMA = "hs.calibration/1"


@dataclass(frozen=True)
class OperatingPoint:
    """A parsed `--threshold`: either a rule or a value read from a calibration file."""

    text: str
    rule: ThresholdRule | None
    fixed: float | None
    schema: str | None = None  # of the .json it was read from

    @property
    def needs_labels(self) -> bool:
        return self.rule is not None and self.rule.kind != "fixed"

    def resolve(self, scores: np.ndarray | None, labels: np.ndarray | None) -> float:
        if self.rule is None:
            assert self.fixed is not None  # a point is either a rule or a fixed number
            return self.fixed
        if not self.needs_labels and self.rule.value is not None:  # a fixed number
            return self.rule.value
        if labels is None:
            raise UsageError(
                f"threshold {self.text!r} is chosen on labels; give labels, or a number or a calibration .json"
            )
        if scores is None:
            raise ValueError(f"threshold {self.text!r} is chosen on scores; none were given")
        try:
            return self.rule.resolve(scores, labels)
        except UninformativeScores as exc:
            raise InputError(
                f"threshold {self.text!r}: {exc}; check that the scores and labels belong together, "
                f"or give a fixed threshold such as 0.5"
            ) from None

    def describe(self) -> str:
        """What goes into sidecars as the threshold's `rule`."""
        return self.rule.describe() if self.rule is not None else self.text


def read_calibration_threshold(path: str, field: str = "threshold") -> tuple[float, str | None]:
    """The original-scale threshold stored in a calibration JSON (e.g. X.csv.meta.json), and
    the file's `schema` when it has one."""
    file = Path(path)
    if not file.is_file():
        raise OptionError(field, path, "no such calibration file", quoted=False)
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
        value = content[THRESHOLD_KEY]
        return float(value["value"] if isinstance(value, dict) else value), content.get("schema")
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise OptionError(
            field,
            path,
            f"expected a JSON object with a numeric '{THRESHOLD_KEY}' (as hs calibrate writes)",
            quoted=False,
        ) from None


def parse_operating_point(text: str, field: str = "threshold") -> OperatingPoint:
    if text.lower().endswith(".json"):
        value, schema = read_calibration_threshold(text, field)
        return OperatingPoint(text, None, value, schema)
    try:
        return OperatingPoint(text, ThresholdRule.parse(text), None)
    except ValueError as exc:
        raise UsageError(f"{option_ref(field)}: {exc}") from None


def refuse_own_calibration(scores_path: str, point: OperatingPoint, field: str = "threshold") -> None:
    """A calibrated file's sidecar holds the threshold on the *original* scale: applying it to
    the calibrated scores themselves would be a silent mistake, so it is refused."""
    if point.rule is not None or point.schema != CALIBRATION_SCHEMA or scores_path == "-":
        return
    if Path(point.text).resolve() == sidecar_path(scores_path).resolve():
        raise UsageError(
            f"{option_ref(field)} {point.text}: {scores_path} holds calibrated scores (operating point 0.5) and this threshold is "
            f"on the original scale; use {option_ref(field)} 0.5 with the calibrated scores, or the .json with the original scores"
        )
