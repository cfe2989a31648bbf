"""`hs calibrate`: thresholds, calibrated scores, and the round trip with `hs stratify`."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from hstool.audit.calibrate import CalibrateOptions, run_calibrate
from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.errors import UsageError
from hstool.io.render import emit
from hstool.stats.thresholds import threshold_for_sensitivity, youden_threshold

COUNTS = ["tp", "fp", "tn", "fn"]


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(5)
    n = 400
    y = rng.random(n) < 0.4
    # Rounded to two decimals: many ties, some exactly at the chosen threshold.
    s = np.round(np.clip(0.35 + 0.25 * y + rng.normal(0, 0.2, n), 0, 1), 2)
    ids = [f"c{i:03d}" for i in range(n)]
    preds, labels = tmp_path / "preds.csv", tmp_path / "labels.csv"
    pl.DataFrame({"image_id": ids, "score": s}).write_csv(preds)
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "site": rng.choice(["a", "b", "c"], n)}).write_csv(labels)
    return str(preds), str(labels), s, y


def _write(result, path):
    emit(result.table, fmt="csv", output=str(path), meta=result.meta)


def test_thresholds_and_sidecar(files, tmp_path):
    preds, labels, s, y = files
    result = run_calibrate(preds, labels, CalibrateOptions(targets=["sens=0.9", "spec=0.8"]))
    t = youden_threshold(s, y)
    meta = result.meta
    assert meta["schema"] == "hs.calibration/1"
    assert meta["threshold"]["value"] == t and meta["threshold"]["rule"] == "youden"
    assert meta["threshold"]["calibrated_value"] == 0.5
    assert meta["threshold"]["sensitivity"] == pytest.approx(np.mean(s[y] >= t))
    assert meta["thresholds"]["sens=0.9"]["value"] == threshold_for_sensitivity(s, y, 0.9)
    assert meta["thresholds"]["spec=0.8"]["specificity"] >= 0.8
    calibrated = result.table["score"].to_numpy()
    np.testing.assert_array_equal(calibrated >= 0.5, s >= t)
    assert result.table["image_id"].to_list() == pl.read_csv(preds)["image_id"].to_list()


def test_stratify_round_trip(files, tmp_path):
    """Original scores at the sidecar's threshold and calibrated scores at 0.5 give the same calls."""
    preds, labels, s, _y = files
    out = tmp_path / "cal.csv"
    _write(run_calibrate(preds, labels, CalibrateOptions()), out)
    t = json.loads((tmp_path / "cal.csv.meta.json").read_text())["threshold"]["value"]
    assert (s == t).any()  # the tie case is exercised
    original = run_stratify(preds, labels, StratifyOptions(threshold=str(out) + ".meta.json"))
    calibrated = run_stratify(str(out), labels, StratifyOptions(threshold="0.5"))
    assert original.table.select(COUNTS).equals(calibrated.table.select(COUNTS))
    assert original.table["auc"].to_list() == pytest.approx(calibrated.table["auc"].to_list())  # monotone map
    assert original.meta["threshold"]["value"] == t
    with pytest.raises(UsageError, match="calibrated scores"):
        run_stratify(str(out), labels, StratifyOptions(threshold=str(out) + ".meta.json"))


def test_apply_a_fitted_calibration_without_labels(files, tmp_path):
    preds, labels, _s, _y = files
    fitted = tmp_path / "fit.csv"
    _write(run_calibrate(preds, labels, CalibrateOptions()), fitted)
    applied = run_calibrate(preds, None, CalibrateOptions(threshold=f"{fitted}.meta.json"))
    assert applied.table.equals(pl.read_csv(fitted, schema_overrides={"image_id": pl.String}))
    assert applied.meta["n_fit"] is None
    with pytest.raises(UsageError, match="needs LABELS"):
        run_calibrate(preds, None, CalibrateOptions())


def test_cli(files, run_hs, tmp_path):
    preds, labels, _s, _y = files
    done = run_hs("calibrate", preds, labels, "--target", "spec=0.9", "-o", "cal.csv")
    assert done.returncode == 0, done.stderr
    assert b"youden: threshold" in done.stderr and b"spec=0.9" in done.stderr
    piped = run_hs("calibrate", preds, labels, "-q")
    assert piped.stdout == (tmp_path / "cal.csv").read_bytes()
    bad = run_hs("calibrate", preds, labels, "--threshold", "sens=2")
    assert bad.returncode == 2 and b"within [0, 1]" in bad.stderr
    same = run_hs("calibrate", preds, labels, "-o", preds)
    assert same.returncode == 1 and b"one of the inputs" in same.stderr
