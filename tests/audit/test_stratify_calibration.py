"""hs stratify's calibration columns (computed from cases grouped by score, against the rest from
the whole's counts less the group's) equal the straightforward per-case computation: each group
and its comparator fitted on their own rows by calibration_metrics."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from calibration_data import miscalibrated_groups
from strata_helpers import write

from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.stats.calibration_metrics import (
    Estimate,
    brier,
    calibration_intercept,
    calibration_slope,
    ece,
    ece_interval,
)
from hstool.stats.delong import two_sided_p

PER_CASE = {"brier": brier, "calibration_intercept": calibration_intercept, "calibration_slope": calibration_slope}


def _data(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """hs's input files of `miscalibrated_groups` (3,000 cases); `pure` splits the cases by class
    (one-class groups: Brier only)."""
    s, y, g = miscalibrated_groups(seed, n=3000)
    ids = [f"i{i}" for i in range(len(s))]
    pure = np.where(y, np.char.add("P", (g % 2).astype(str)), np.char.add("N", (g % 3).astype(str)))
    preds = pl.DataFrame({"image_id": ids, "score": s})
    labels = pl.DataFrame(
        {"image_id": ids, "label": y.astype(int), "grp": np.char.add("g", g.astype(str)), "pure": pure}
    )
    return preds, labels


@pytest.fixture(scope="module", params=[0, 1])
def data(request, tmp_path_factory):
    preds, labels = _data(request.param)
    p, lab = write(tmp_path_factory.mktemp("calibration"), preds, labels)
    # Sorted by id as hs joins them: the ECE's bins cut runs of tied scores in this order.
    return str(p), str(lab), preds.join(labels, on="image_id").sort("image_id")


def _close(got, expected, rel: float) -> None:
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected, rel=rel, abs=1e-12)


def _check(row: dict, index: int, s, y, member, comparator, options: StratifyOptions) -> None:
    """The row's calibration columns against the per-case functions on `member` and `comparator`."""
    scope = row["scope"]
    own = {"positives": y, "negatives": ~y}.get(scope, np.ones_like(y))
    metrics = ["brier"] if scope in ("positives", "negatives") else list(PER_CASE)
    for metric in metrics:
        group: Estimate | None = PER_CASE[metric](s[member & own], y[member & own])
        other_rows = comparator & own
        other = PER_CASE[metric](s[other_rows], y[other_rows]) if other_rows.any() else None
        if group is None:
            assert row[metric] is None or metric == "brier"
            continue
        _close(row[metric], group.value, 1e-9)
        low, high = group.interval(options.level)
        _close(row[f"{metric}_ci_low"], low, 1e-9)
        _close(row[f"{metric}_ci_high"], high, 1e-9)
        if other is None or group.se is None or other.se is None:
            assert row[f"{metric}_p"] is None
            continue
        delta = group.value - other.value
        assert row[f"{metric}_delta"] == pytest.approx(delta, rel=1e-8, abs=1e-11)
        assert row[f"{metric}_p"] == pytest.approx(two_sided_p(delta / math.hypot(group.se, other.se)), rel=1e-7)
    if scope in ("all", "group"):
        sg, yg = s[member], y[member]
        assert row["ece"] == pytest.approx(ece(sg, yg, options.ece_bins), rel=1e-12)
        rng = np.random.default_rng([options.seed, index, 1])
        expected = ece_interval(sg, yg, n_bins=options.ece_bins, n_boot=options.n_boot, level=options.level, rng=rng)
        assert (row["ece_ci_low"], row["ece_ci_high"]) == pytest.approx(expected, rel=1e-12)


def test_each_group_against_the_rest_as_per_case(data):
    p, lab, df = data
    options = StratifyOptions(by=["grp", "pure"], metrics=("calibration",), min_n=1)
    table = run_stratify(p, lab, options).table
    s, y = df["score"].to_numpy(), df["label"].to_numpy().astype(bool)
    scopes = set()
    for index, row in enumerate(table.to_dicts()):
        if row["stratifier"] == "(all)":
            member = np.ones_like(y)
            _check(row, index, s, y, member, ~member, options)
            continue
        member = (df[row["stratifier"]] == row["group"]).to_numpy()
        scopes.add(row["scope"])
        _check(row, index, s, y, member, ~member, options)
    assert scopes == {"group", "positives", "negatives"}
    g5 = table.filter(pl.col("group") == "g5").row(0, named=True)
    assert g5["calibration_slope"] is None and g5["brier_p"] is not None


def test_each_group_against_a_reference_group_as_per_case(data):
    p, lab, df = data
    options = StratifyOptions(by=["grp"], metrics=("calibration",), min_n=1, reference={"grp": "g1"})
    table = run_stratify(p, lab, options).table
    s, y = df["score"].to_numpy(), df["label"].to_numpy().astype(bool)
    reference = (df["grp"] == "g1").to_numpy()
    for index, row in enumerate(table.to_dicts()):
        if row["stratifier"] == "grp":
            _check(row, index, s, y, (df["grp"] == row["group"]).to_numpy(), reference, options)
