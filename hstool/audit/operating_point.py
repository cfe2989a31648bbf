"""The `--threshold` option shared by commands that turn scores into calls (stratify, cluster).

A threshold is a number, `youden`, `sens=0.95`, `spec=0.9` (resolved on the analysed cases,
see hstool.stats.thresholds), or a calibration JSON with a numeric `threshold` (as
`hs calibrate` writes). Parsing happens before any data is read, so a bad value fails fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hstool.errors import UsageError
from hstool.stats.thresholds import ThresholdRule


@dataclass(frozen=True)
class ThresholdOption:
    """A parsed `--threshold`: either a rule to resolve on the data, or a fixed value from a file."""

    text: str
    rule: ThresholdRule | None
    fixed: float | None

    @classmethod
    def parse(cls, text: str) -> "ThresholdOption":
        if text.lower().endswith(".json"):
            return cls(text, None, _calibration_threshold(text))
        try:
            return cls(text, ThresholdRule.parse(text), None)
        except ValueError as exc:
            raise UsageError(f"--threshold: {exc}") from None

    def resolve(self, scores: np.ndarray, labels: np.ndarray) -> float:
        """The threshold value for these scores (labels are used by youden/sens=/spec= only)."""
        return float(self.fixed) if self.rule is None else self.rule.resolve(scores, labels)

    def describe(self) -> str:
        return self.rule.describe() if self.rule is not None else self.text


def _calibration_threshold(text: str) -> float:
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"--threshold {text}: no such calibration file")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))["threshold"]
        return float(value["value"] if isinstance(value, dict) else value)
    except (KeyError, TypeError, ValueError, json.JSONDecodeError):
        raise UsageError(f"--threshold {text}: expected a JSON object with a numeric 'threshold' (as hs calibrate writes)") from None
