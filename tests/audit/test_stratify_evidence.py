"""hs stratify's evidence-grade additions: margins, what flags, calibration per group, exact tests
for small groups, minimum detectable differences, heterogeneity across sites, Youden refusal."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm
from scipy.stats import norm
from sklearn.metrics import brier_score_loss
from statsmodels.stats.meta_analysis import combine_effects
from strata_helpers import write

from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.errors import InputError
from hstool.stats.calibration_metrics import ece, logit
from hstool.stats.delong import two_sided_p
from hstool.stats.power import Design, auc_mdd, proportion_mdd


def site_data(sites: dict[str, tuple[int, float, float, float]], seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per site: (cases, prevalence, separation d of the binormal scores, logit shift of the scores)."""
    rng = np.random.default_rng(seed)
    frames = []
    for site, (n, prevalence, d, shift) in sites.items():
        y = rng.random(n) < prevalence
        z = rng.normal(0, 1, n) + d * y - d / 2
        score = 1 / (1 + np.exp(-(z + shift)))
        frames.append(pl.DataFrame({"score": score, "label": y.astype(int), "site": [site] * n}))
    df = pl.concat(frames).with_row_index("i").with_columns(pl.format("img{}", pl.col("i")).alias("image_id"))
    return df.select("image_id", "score"), df.select("image_id", "label", "site")


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    preds, labels = site_data(
        {
            "big": (12000, 0.3, 1.45, 0.0),  # slightly worse than the rest: a tiny deficit
            "ref": (12000, 0.3, 1.95, 0.0),
            "poor": (1500, 0.3, 0.90, 0.0),  # much worse
            "lowprev": (3000, 0.05, 1.90, 0.0),  # same model, fewer positives: lower PPV
            "shifted": (3000, 0.3, 1.90, 1.2),  # scores too high: miscalibrated
            "tiny": (120, 0.05, 1.90, 0.0),  # a handful of positives
        }
    )
    p, lab = write(tmp_path_factory.mktemp("sites"), preds, labels)
    return str(p), str(lab), preds.join(labels, on="image_id")


def rows(table: pl.DataFrame) -> dict[str, dict]:
    return {r["group"]: r for r in table.filter(pl.col("stratifier") == "site").to_dicts()}


def test_a_margin_flags_only_deficits_significantly_beyond_it(sites):
    p, lab, _ = sites
    plain = rows(run_stratify(p, lab, StratifyOptions(by=["site"])).table)
    margin = rows(run_stratify(p, lab, StratifyOptions(by=["site"], margins={"auc": 0.05})).table)
    assert 0 < -plain["big"]["auc_delta"] < 0.05  # a small deficit ...
    assert "auc" in plain["big"]["worse_on"].split(";")  # ... significant without a margin
    assert "auc" not in margin["big"]["worse_on"].split(";")  # but not beyond 0.05
    assert margin["big"]["auc_p"] == plain["big"]["auc_p"]  # the plain p-value stays
    assert margin["big"]["auc_margin_p"] > 0.5
    assert -margin["poor"]["auc_delta"] > 0.12 and "auc" in margin["poor"]["worse_on"].split(";")
    # The margin test is one-sided z on (deficit - margin) with the DeLong SE of the difference,
    # the SE that the plain two-sided test used: recover it from that test's p-value.
    for r in (margin["poor"], margin["big"]):
        se = abs(r["auc_delta"]) / norm.isf(r["auc_p"] / 2)
        assert r["auc_margin_p"] == pytest.approx(norm.sf((-r["auc_delta"] - 0.05) / se), rel=1e-6)


def test_ppv_follows_prevalence_and_flags_only_when_asked(sites):
    p, lab, _ = sites
    default = rows(run_stratify(p, lab, StratifyOptions(by=["site"])).table)["lowprev"]
    assert default["ppv_delta"] < 0 and default["ppv_p"] < 1e-6  # lower PPV, highly significant
    assert "ppv" not in default["worse_on"]  # but prevalence-dependent: no flag by default
    asked = rows(run_stratify(p, lab, StratifyOptions(by=["site"], flag_on=("auc", "ppv"))).table)["lowprev"]
    assert "ppv" in asked["worse_on"].split(";")


def test_calibration_columns_against_statsmodels_and_sklearn(sites):
    p, lab, df = sites
    table = run_stratify(p, lab, StratifyOptions(by=["site"], metrics=("calibration",))).table
    r = rows(table)["shifted"]
    mask = (df["site"] == "shifted").to_numpy()
    s, y = df["score"].to_numpy(), df["label"].to_numpy().astype(float)

    def glm_intercept(rows_mask):
        design = np.ones((rows_mask.sum(), 1))
        fit = sm.GLM(y[rows_mask], design, family=sm.families.Binomial(), offset=logit(s[rows_mask])).fit()
        return fit.params[0], fit.bse[0]

    a_g, se_g = glm_intercept(mask)
    a_c, se_c = glm_intercept(~mask)
    assert r["calibration_intercept"] == pytest.approx(a_g, rel=1e-6)
    assert r["calibration_intercept_delta"] == pytest.approx(a_g - a_c, rel=1e-6)
    assert r["calibration_intercept_p"] == pytest.approx(two_sided_p((a_g - a_c) / np.hypot(se_g, se_c)), rel=1e-5)
    slope = sm.GLM(y[mask], sm.add_constant(logit(s[mask])), family=sm.families.Binomial()).fit()
    assert r["calibration_slope"] == pytest.approx(slope.params[1], rel=1e-6)
    assert r["brier"] == pytest.approx(brier_score_loss(y[mask], s[mask]), rel=1e-12)
    assert r["ece"] == pytest.approx(ece(s[mask], y[mask]), rel=1e-12)
    assert r["ece_ci_low"] < r["ece"] < r["ece_ci_high"]
    # Scores shifted up by 1.2 on the logit scale: intercept about -1.2, flagged (away from 0).
    assert r["calibration_intercept"] < -0.9 and "calibration_intercept" in r["worse_on"]
    assert table["auc"].is_null().all()  # the auc family was not asked for


def test_small_groups_get_a_seeded_permutation_test(sites):
    p, lab, _ = sites
    first = rows(run_stratify(p, lab, StratifyOptions(by=["site"], seed=3)).table)["tiny"]
    again = rows(run_stratify(p, lab, StratifyOptions(by=["site"], seed=3)).table)["tiny"]
    assert first["n_pos"] < 10 and first["auc_test"] == "permutation"
    assert first["auc_p"] == again["auc_p"] and 0 < first["auc_p"] <= 1
    assert rows(run_stratify(p, lab, StratifyOptions(by=["site"])).table)["big"]["auc_test"] == "delong"


def test_minimum_detectable_differences_use_the_groups_counts(sites):
    p, lab, _ = sites
    table = run_stratify(p, lab, StratifyOptions(by=["site"])).table
    r = rows(table)["poor"]
    m, n = r["n_pos"], r["n"] - r["n_pos"]
    overall = table.row(0, named=True)
    cm, cn = overall["n_pos"] - m, overall["n"] - overall["n_pos"] - n  # the rest
    comparator_auc = r["auc"] - r["auc_delta"]
    assert r["auc_mdd"] == pytest.approx(auc_mdd(comparator_auc, Design(m, n, cm, cn), 0.05, 0.8), rel=1e-9)
    comparator_sens = r["sensitivity"] - r["sensitivity_delta"]
    assert r["sensitivity_mdd"] == pytest.approx(proportion_mdd(comparator_sens, m, cm, 0.05, 0.8), rel=1e-6)
    # The smaller group can only detect larger differences.
    assert rows(table)["tiny"]["auc_mdd"] is None or rows(table)["tiny"]["auc_mdd"] > r["auc_mdd"]


def test_heterogeneity_across_sites_equals_statsmodels(sites):
    p, lab, _ = sites
    result = run_stratify(p, lab, StratifyOptions(by=["site"]))
    got = result.meta["heterogeneity"]["site"]
    groups = [r for r in rows(result.table).values() if r["auc_se"]]
    res = combine_effects(
        np.array([r["auc"] for r in groups]), np.array([r["auc_se"] ** 2 for r in groups]), method_re="dl"
    )
    assert got["k"] == len(groups) == 6
    assert got["q"] == pytest.approx(res.q, rel=1e-10) and got["i2"] == pytest.approx(res.i2, rel=1e-10)
    assert got["pooled"] == pytest.approx(res.mean_effect_re, rel=1e-10)
    assert any(line.startswith("AUC across site (6 groups): Cochran's Q") for line in result.summary)


def test_youden_refuses_uninformative_scores(tmp_path):
    ids = [f"i{i}" for i in range(40)]
    p, lab = write(
        tmp_path,
        pl.DataFrame({"image_id": ids, "score": [0.3] * 40}),
        pl.DataFrame({"image_id": ids, "label": [0, 1] * 20}),
    )
    with pytest.raises(InputError, match="best Youden J is 0"):
        run_stratify(str(p), str(lab), StratifyOptions(threshold="youden"))


def test_a_rare_positive_subclass_gets_the_placement_permutation_test(sites, tmp_path):
    p, _lab, df = sites
    y = df["label"].to_numpy().astype(bool)
    rare = np.zeros(len(y), bool)
    rare[np.flatnonzero(y)[:6]] = True  # six positives in the subclass
    sub = [("rare" if r else "common") if positive else None for r, positive in zip(rare, y)]
    labels = df.select("image_id", "label").with_columns(pl.Series("sub", sub, dtype=pl.String))
    labels.write_csv(tmp_path / "sub.csv")
    table = run_stratify(p, str(tmp_path / "sub.csv"), StratifyOptions(by=["sub"], min_n=5)).table
    got = {r["group"]: r for r in table.filter(pl.col("stratifier") == "sub").to_dicts()}
    assert set(got) == {"rare", "common"} and got["rare"]["scope"] == "positives"
    assert got["rare"]["auc_test"] == got["common"]["auc_test"] == "permutation"
    # One test (rare against common is common against rare): the same p-value, counted once.
    assert got["rare"]["auc_p"] == got["common"]["auc_p"] and 0 < got["rare"]["auc_p"] <= 1
