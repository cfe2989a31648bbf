"""Thresholds against brute force over every candidate threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.stats.thresholds import (
    ThresholdRule,
    UninformativeScores,
    threshold_for_sensitivity,
    threshold_for_specificity,
    youden_threshold,
)


def sens_spec(s, y, t):
    called = s >= t
    return called[y].mean(), (~called[~y]).mean()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.booleans()), min_size=2, max_size=80))
def test_youden_is_the_brute_force_maximum(pairs):
    s = np.array([p[0] for p in pairs], float) / 20
    y = np.array([p[1] for p in pairs])
    if y.all() or not y.any():
        return
    best = max(sum(sens_spec(s, y, t)) - 1 for t in np.unique(s))
    if best <= 1e-12:  # no threshold beats chance: refused
        with pytest.raises(UninformativeScores):
            youden_threshold(s, y)
        return
    t = youden_threshold(s, y)
    assert sum(sens_spec(s, y, t)) - 1 == pytest.approx(best)
    # Ties go to the highest threshold.
    assert t == max(c for c in np.unique(s) if sum(sens_spec(s, y, c)) - 1 == pytest.approx(best))


@pytest.mark.parametrize("target", [0.5, 0.8, 0.95, 1.0])
def test_target_thresholds_brute_force(target):
    rng = np.random.default_rng(2)
    y = rng.random(300) < 0.4
    s = np.round(rng.random(300) * 0.7 + 0.3 * y, 2)
    t = threshold_for_sensitivity(s, y, target)
    assert sens_spec(s, y, t)[0] >= target
    assert t == max(c for c in np.unique(s) if sens_spec(s, y, c)[0] >= target)
    t = threshold_for_specificity(s, y, target)
    assert sens_spec(s, y, t)[1] >= target
    candidates = [c for c in np.unique(s) if sens_spec(s, y, c)[1] >= target]
    assert t == (min(candidates) if candidates else t)


def test_rule_parsing():
    assert ThresholdRule.parse("0.3").resolve(np.array([0.1, 0.9]), np.array([0, 1], bool)) == 0.3
    assert ThresholdRule.parse("Youden").kind == "youden"
    assert ThresholdRule.parse("sens=0.9") == ThresholdRule("sens", 0.9)
    assert ThresholdRule.parse("spec=0.8").describe() == "spec=0.8"
    for bad in ["abc", "1.5", "sens=2", "spec=x"]:
        with pytest.raises(ValueError):
            ThresholdRule.parse(bad)
