"""The shared `--threshold` option (stratify and cluster)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hstool.audit.operating_point import ThresholdOption
from hstool.errors import UsageError


def test_forms():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1], bool)
    assert ThresholdOption.parse("0.3").resolve(scores, labels) == 0.3
    assert ThresholdOption.parse("youden").resolve(scores, labels) == 0.8  # J=0.5 at 0.35 and 0.8: highest wins
    assert ThresholdOption.parse("sens=1").resolve(scores, labels) == 0.35
    assert ThresholdOption.parse("spec=1").describe() == "spec=1"


def test_calibration_json(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"threshold": 0.42}))
    option = ThresholdOption.parse(str(path))
    assert option.resolve(np.array([0.1]), np.array([True])) == 0.42 and option.describe() == str(path)
    path.write_text(json.dumps({"threshold": {"value": "0.3"}}))
    assert ThresholdOption.parse(str(path)).fixed == 0.3


@pytest.mark.parametrize("text, message", [("1.5", "within"), ("sometimes", "not understood"), ("missing.json", "no such calibration")])
def test_bad_thresholds_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        ThresholdOption.parse(text)


def test_bad_calibration_file(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text("{}")
    with pytest.raises(UsageError, match="numeric 'threshold'"):
        ThresholdOption.parse(str(path))
