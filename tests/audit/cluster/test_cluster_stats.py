"""Per-cluster statistics against scipy and hand computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hstool.audit.cluster.search import Clustering
from hstool.audit.cluster.select import Pair, Selection
from hstool.audit.cluster.stats import adjust_and_flag, cluster_rows, prevalence_rows
from hstool.audit.groups import Stratifier


def clustering(labels, k=2):
    labels = np.asarray(labels)
    n = labels.max() + 1
    return Clustering(k, labels, np.zeros((n, 2)), np.zeros(len(labels)), None)


def selection(k=2, high=0, low=1):
    pair = Pair(k, high, low, 0.3, 2.0)
    return Selection("paper", k, pair, {k: pair}, "")


def test_error_rate_interval_and_fisher_test_against_the_rest():
    labels = np.r_[np.zeros(150, int), np.ones(250, int)]
    errors = np.r_[np.arange(150) < 60, np.arange(250) < 25]  # 60/150 vs 25/250
    fit = np.ones(400, bool)
    rows = cluster_rows("1", clustering(labels), errors, fit, selection(), min_size=100, level=0.95, ci="wilson")
    high, low = rows
    assert (high["cluster"], high["n"], high["n_error"], high["role"], high["candidate"]) == (
        "1/k2/c0",
        150,
        60,
        "high_error",
        "high",
    )
    assert high["error_rate"] == pytest.approx(0.4)
    ci = stats.binomtest(60, 150).proportion_ci(method="wilson")
    assert (high["error_ci_low"], high["error_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert high["p"] == pytest.approx(stats.fisher_exact([[60, 90], [25, 225]]).pvalue)
    assert high["error_delta"] == pytest.approx(0.4 - 0.1)
    assert (low["role"], low["rest_error_rate"]) == ("low_error", pytest.approx(0.4))
    assert high["pair_distance"] == 2.0


def test_small_clusters_are_described_not_tested():
    labels = np.r_[np.zeros(100, int), np.ones(300, int)]
    errors = np.arange(400) % 3 == 0
    rows = cluster_rows(
        "a", clustering(labels), errors, np.ones(400, bool), selection(), min_size=100, level=0.95, ci="wilson"
    )
    assert rows[0]["status"] == "too_small" and "p" not in rows[0] and rows[0]["error_rate"] is not None
    assert rows[1]["status"] == "ok" and rows[1]["p"] is not None


def test_held_out_rows_carry_the_statistics():
    labels = np.r_[np.zeros(300, int), np.ones(300, int)]
    errors = np.r_[np.ones(300, bool), np.zeros(300, bool)]
    fit = np.arange(600) % 2 == 0
    rows = cluster_rows("a", clustering(labels), errors, fit, selection(), min_size=100, level=0.95, ci="wilson")
    assert rows[0]["n"] == 150 and rows[0]["rest_n"] == 150  # only held-out rows counted


def test_holm_across_every_cluster_of_the_run_and_flags_only_worse():
    rows = [
        {"p": 0.001, "error_delta": 0.2},
        {"p": 0.001, "error_delta": -0.2},
        {"p": 0.03, "error_delta": 0.1},
        {"p": 0.2, "error_delta": 0.3},
        {},  # untested
    ]
    assert adjust_and_flag(rows, "holm", 0.05) == 1
    # Holm by hand over the 4 tests: 0.001 x 4, 0.001 x 3 (-> 0.004), 0.03 x 2, 0.2 x 1 (-> 0.2).
    assert [r["p_adj"] for r in rows[:4]] == pytest.approx([0.004, 0.004, 0.06, 0.2])
    assert rows[4]["p_adj"] is None
    assert [r["flag"] for r in rows] == [True, False, False, False, False]


def test_prevalence_of_known_subclasses_per_cluster():
    labels = np.r_[np.zeros(4, int), np.ones(6, int)]
    drain = Stratifier("drain", ("0", "1", "(missing)"), np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 2]))
    flat = Stratifier("site", ("A",), np.zeros(10, int))
    rows = prevalence_rows(
        "1",
        clustering(labels),
        np.ones(10, bool),
        {0: "high_error", 1: "low_error"},
        [drain, flat],
        level=0.95,
        ci="wilson",
    )
    got = {(r["cluster"], r["value"]): (r["count"], r["n"], r["role"]) for r in rows}
    assert got[("1/k2/c0", "0")] == (3, 4, "high_error")
    assert got[("1/k2/c1", "1")] == (5, 6, "low_error")
    assert got[("1/k2/c1", "(missing)")] == (1, 6, "low_error")
    assert all(r["column"] == "drain" for r in rows)  # a one-value column says nothing
