"""The stratified bootstrap: reproducible, consistent with DeLong, honest about undefined metrics."""

from __future__ import annotations

import numpy as np
import pytest

from hstool.stats.auc import rank_classes
from hstool.stats.bootstrap import bootstrap_intervals
from hstool.stats.delong import wald_interval
from hstool.stats.proportions import wilson_interval


def run(s, y, threshold, seed, n_boot=1000):
    classes, _ = rank_classes(s)
    called = s >= threshold
    return bootstrap_intervals(
        classes[y], classes[~y], called[y], called[~y], n_boot=n_boot, level=0.95, rng=np.random.default_rng(seed)
    )


@pytest.fixture(scope="module")
def sample():
    rng = np.random.default_rng(4)
    y = rng.random(1500) < 0.35
    s = 1 / (1 + np.exp(-(rng.normal(size=1500) + 1.5 * y - 0.5)))
    return s, y


def test_same_seed_same_intervals(sample):
    s, y = sample
    assert run(s, y, 0.5, 1, 200) == run(s, y, 0.5, 1, 200)
    assert run(s, y, 0.5, 1, 200) != run(s, y, 0.5, 2, 200)


def test_bootstrap_agrees_with_delong_and_wilson_on_a_large_sample(sample):
    s, y = sample
    boot = run(s, y, 0.5, 0)
    from sklearn.metrics import roc_auc_score

    from hstool.stats.auc import class_counts, delong_components

    classes, u = rank_classes(s)
    comp = delong_components(class_counts(classes, y, u), class_counts(classes, ~y, u))
    low, high = wald_interval(comp.auc, comp.variance(), 0.95)
    assert comp.auc == pytest.approx(roc_auc_score(y, s))
    # Percentile and Wald intervals agree to within a fraction of their width at this size.
    width = high - low
    assert boot["auc"][0] == pytest.approx(low, abs=0.15 * width)
    assert boot["auc"][1] == pytest.approx(high, abs=0.15 * width)
    tp = int((s[y] >= 0.5).sum())
    wl, wh = wilson_interval(tp, int(y.sum()))
    assert boot["sensitivity"][0] == pytest.approx(float(wl), abs=0.2 * (wh - wl))
    assert boot["sensitivity"][1] == pytest.approx(float(wh), abs=0.2 * (wh - wl))


def test_undefined_metric_has_no_interval(sample):
    s, y = sample
    boot = run(s, y, 2.0, 0, 200)  # nothing is called positive: PPV is 0/0
    assert boot["ppv"] == (None, None)
    assert boot["sensitivity"] == (0.0, 0.0)
