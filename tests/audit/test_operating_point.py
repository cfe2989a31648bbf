"""The shared `--threshold` reader (stratify, cluster, agree, calibrate)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hstool.audit.operating_point import parse_operating_point
from hstool.errors import UsageError


def test_forms():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    labels = np.array([0, 0, 1, 1], bool)
    assert parse_operating_point("0.3").resolve(scores, labels) == 0.3
    assert parse_operating_point("youden").resolve(scores, labels) == 0.8  # J=0.5 at 0.35 and 0.8: highest wins
    assert parse_operating_point("sens=1").resolve(scores, labels) == 0.35
    assert parse_operating_point("spec=1").describe() == "spec=1"


def test_calibration_json(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"threshold": 0.42}))
    option = parse_operating_point(str(path))
    assert option.resolve(np.array([0.1]), np.array([True])) == 0.42 and option.describe() == str(path)
    path.write_text(json.dumps({"threshold": {"value": "0.3"}}))
    assert parse_operating_point(str(path)).fixed == 0.3


@pytest.mark.parametrize(
    "text, message", [("1.5", "within"), ("sometimes", "not understood"), ("missing.json", "no such calibration")]
)
def test_bad_thresholds_are_usage_errors(text, message):
    with pytest.raises(UsageError, match=message):
        parse_operating_point(text)


def test_bad_calibration_file(tmp_path):
    path = tmp_path / "cal.json"
    path.write_text("{}")
    with pytest.raises(UsageError, match="numeric 'threshold'"):
        parse_operating_point(str(path))
