"""`hs agree`: against scikit-learn and hand computation on seeded data, groups, errors."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from hstool.audit.agree import AgreeOptions, run_agree
from hstool.errors import InputError, UsageError
from hstool.stats.delong import compare_paired_aucs
from hstool.stats.thresholds import youden_threshold


@pytest.fixture
def files(tmp_path):
    """Two models' scores, a reference, a radiologist's labels and strata for 500 cases."""
    rng = np.random.default_rng(3)
    n = 500
    y = rng.random(n) < 0.35
    ids = [f"img{i:04d}" for i in range(n)]
    a = 1 / (1 + np.exp(-(2.0 * y - 1 + rng.normal(0, 1.0, n))))
    b = 1 / (1 + np.exp(-(1.2 * y - 0.6 + rng.normal(0, 1.3, n))))
    reader = y ^ (rng.random(n) < 0.15)
    order = rng.permutation(n)  # row order must not matter
    paths = {name: tmp_path / f"{name}.csv" for name in ("a", "b", "ref", "reader")}
    pl.DataFrame({"image_id": ids, "score": a}).write_csv(paths["a"])
    pl.DataFrame({"image_id": [ids[i] for i in order], "score": b[order]}).write_csv(paths["b"])
    sex = rng.choice(["F", "M"], n)
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "sex": sex, "age": rng.integers(20, 90, n)}).write_csv(
        paths["ref"]
    )
    pl.DataFrame({"image_id": ids, "finding": np.where(reader, "yes", "no")}).write_csv(paths["reader"])
    return {"paths": {k: str(v) for k, v in paths.items()}, "a": a, "b": b, "y": y, "reader": reader, "sex": sex}


def _eq1(s, t):
    return np.where(s < t, s / (2 * t), 1 - (1 - s) / (2 * (1 - t)))


def test_two_models_against_independent_computations(files):
    p, a, b, y = files["paths"], files["a"], files["b"], files["y"]
    result = run_agree(p["a"], p["b"], AgreeOptions(reference=p["ref"]))
    row = result.table.row(0, named=True)
    ta, tb = youden_threshold(a, y), youden_threshold(b, y)
    assert (row["a_threshold"], row["b_threshold"]) == (ta, tb)
    ca, cb = a >= ta, b >= tb
    assert row["kappa"] == pytest.approx(cohen_kappa_score(ca, cb), abs=1e-12)
    assert row["agreement"] == pytest.approx(np.mean(ca == cb))
    assert (row["both_pos"], row["a_only"], row["b_only"], row["both_neg"]) == (
        int((ca & cb).sum()),
        int((ca & ~cb).sum()),
        int((~ca & cb).sum()),
        int((~ca & ~cb).sum()),
    )
    assert row["a_auc"] == pytest.approx(roc_auc_score(y, a))
    assert row["b_auc"] == pytest.approx(roc_auc_score(y, b))
    assert row["auc_p"] == pytest.approx(compare_paired_aucs(a, b, y)[2].p)
    assert row["kappa_ci_low"] < row["kappa"] < row["kappa_ci_high"]
    d = _eq1(a, ta) - _eq1(b, tb)
    assert row["ba_mean_diff"] == pytest.approx(d.mean())
    assert row["ba_sd_diff"] == pytest.approx(d.std(ddof=1))
    assert row["ba_loa_low"] == pytest.approx(d.mean() - 1.959963984540054 * d.std(ddof=1))
    assert row["status"] == "ok"


def test_by_repeats_everything_per_group(files):
    p, a, b, y, sex = files["paths"], files["a"], files["b"], files["y"], files["sex"]
    table = run_agree(p["a"], p["b"], AgreeOptions(reference=p["ref"], by=["sex"])).table
    assert table["group"].to_list() == ["(all)", "F", "M"]
    ta, tb = youden_threshold(a, y), youden_threshold(b, y)  # chosen once, on every case
    for row in table.filter(pl.col("stratifier") == "sex").to_dicts():
        m = sex == row["group"]
        assert row["n"] == m.sum()
        assert row["kappa"] == pytest.approx(cohen_kappa_score(a[m] >= ta, b[m] >= tb))
        assert row["a_auc"] == pytest.approx(roc_auc_score(y[m], a[m]))
    assert table["auc_p_adj"].drop_nulls().len() == 3


def test_model_against_label_source(files):
    p, a, y, reader = files["paths"], files["a"], files["y"], files["reader"]
    result = run_agree(p["a"], p["reader"], AgreeOptions(b_col="finding", reference=p["ref"]))
    row = result.table.row(0, named=True)
    assert result.b.kind == "labels" and row["b_threshold"] is None
    assert row["kappa"] == pytest.approx(cohen_kappa_score(a >= youden_threshold(a, y), reader))
    assert row["b_auc"] == pytest.approx(roc_auc_score(y, reader))  # a binary rater's AUC
    assert row["ba_mean_diff"] is None  # Bland-Altman needs two scores


def test_two_label_sources_without_reference(files, tmp_path):
    p, y, reader = files["paths"], files["y"], files["reader"]
    result = run_agree(p["ref"], p["reader"], AgreeOptions(b_col="finding", by=["sex"]))
    row = result.table.row(0, named=True)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(y, reader))
    assert row["a_auc"] is None and row["n_ref_pos"] is None


def test_fixed_thresholds_without_reference(files):
    p, a, b = files["paths"], files["a"], files["b"]
    row = run_agree(p["a"], p["b"], AgreeOptions(threshold="0.5", b_threshold="0.3")).table.row(0, named=True)
    assert row["kappa"] == pytest.approx(cohen_kappa_score(a >= 0.5, b >= 0.3))


def test_scores_need_a_reference_or_a_fixed_threshold(files):
    with pytest.raises(UsageError, match="pass reference LABELS, or a fixed threshold"):
        run_agree(files["paths"]["a"], files["paths"]["b"], AgreeOptions())


def test_unknown_column_and_unmatched_ids(files, tmp_path):
    p = files["paths"]
    with pytest.raises(UsageError, match="b_col nope"):
        run_agree(p["a"], p["b"], AgreeOptions(b_col="nope", threshold="0.5"))
    few = tmp_path / "few.csv"
    pl.read_csv(p["b"]).head(100).write_csv(few)
    with pytest.raises(InputError, match="allow_unmatched"):
        run_agree(p["a"], str(few), AgreeOptions(threshold="0.5"))
    result = run_agree(p["a"], str(few), AgreeOptions(threshold="0.5", allow_unmatched=True))
    assert result.table["n"][0] == 100
    assert result.meta["dropped"]["unmatched_in_" + p["a"]] == 400


def test_small_groups_and_undefined_kappa(tmp_path):
    ids = [f"i{i}" for i in range(30)]
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    site = ["x"] * 5 + ["y"] * 25
    pl.DataFrame({"image_id": ids, "label": [1] * 30, "site": site}).write_csv(a)
    pl.DataFrame({"image_id": ids, "label": [1] * 30}).write_csv(b)
    table = run_agree(str(a), str(b), AgreeOptions(by=["site"])).table
    rows = {r["group"]: r for r in table.to_dicts()}
    assert rows["x"]["status"] == "too_small" and rows["x"]["kappa"] is None
    assert rows["y"]["status"] == "partial" and "kappa undefined" in rows["y"]["reason"]
    assert rows["y"]["agreement"] == 1.0


@pytest.mark.slow
def test_cli_outputs_sidecar_plot_and_is_deterministic(files, run_hs, tmp_path):
    p = files["paths"]
    args = ["agree", p["a"], p["b"], "--reference", p["ref"], "--by", "age", "--bins", "age=0,50,100", "-q"]
    first = run_hs(*args, "-o", "one.csv", "--plot", "one.png")
    assert first.returncode == 0, first.stderr
    second = run_hs(*args, "-o", "two.csv")
    assert (tmp_path / "one.csv").read_bytes() == (tmp_path / "two.csv").read_bytes()
    meta = json.loads((tmp_path / "one.csv.meta.json").read_text())
    assert meta["schema"] == "hs.agreement/1" and meta["a"]["threshold"]["rule"] == "youden"
    assert (tmp_path / "one.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "one.png.meta.json").read_text())["schema"] == "hs.agreement-plot/1"
    assert second.returncode == 0
    missing = run_hs("agree", p["a"], p["b"])
    assert missing.returncode == 2 and b"--reference" in missing.stderr and missing.stdout == b""


def test_plot_without_matplotlib_is_a_clear_usage_error(tmp_path, monkeypatch):
    import builtins

    from hstool.audit.agree_plot import write_agreement_plot
    from hstool.errors import UsageError

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(UsageError, match=r"pip install 'hstool\[plots\]'"):
        write_agreement_plot(tmp_path / "x.png", result=None)


def test_options_check_themselves():
    """A library caller gets the command line's checks, named by field."""
    with pytest.raises(UsageError, match="^correction='bonferroni': choose one of holm, bh, none$"):
        AgreeOptions(correction="bonferroni")
    with pytest.raises(UsageError, match="^level=0: must be between 0 and 1"):
        AgreeOptions(level=0)
    with pytest.raises(UsageError, match="^min_n=0: must be at least 1$"):
        AgreeOptions(min_n=0)
