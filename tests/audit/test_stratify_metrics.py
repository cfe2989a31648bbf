"""hs stratify's numbers against independent references (sklearn, fairlearn) and invariances."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from fairlearn.metrics import MetricFrame
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import precision_score, recall_score, roc_auc_score
from strata_helpers import drain_dataset, write

from hstool.audit.groups import BinSpec
from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    preds, labels = drain_dataset()
    return (*write(tmp_path_factory.mktemp("strata"), preds, labels), preds, labels)


def rows_by_group(table: pl.DataFrame, stratifier: str) -> dict:
    return {r["group"]: r for r in table.filter(pl.col("stratifier") == stratifier).to_dicts()}


def test_group_metrics_equal_sklearn_and_fairlearn(files):
    p, lab, preds, labels = files
    table = run_stratify(str(p), str(lab), StratifyOptions(by=["sex"])).table
    df = preds.join(labels, on="image_id")
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    called = (s >= 0.5).astype(int)
    mf = MetricFrame(
        metrics={"recall": recall_score, "precision": precision_score},
        y_true=y,
        y_pred=called,
        sensitive_features=df["sex"].to_numpy(),
    )
    rows = rows_by_group(table, "sex")
    for sex in ("F", "M"):
        mask = df["sex"].to_numpy() == sex
        assert rows[sex]["auc"] == pytest.approx(roc_auc_score(y[mask], s[mask]), abs=1e-12)
        assert rows[sex]["sensitivity"] == pytest.approx(mf.by_group.loc[sex, "recall"], abs=1e-12)
        assert rows[sex]["ppv"] == pytest.approx(mf.by_group.loc[sex, "precision"], abs=1e-12)
        assert rows[sex]["specificity"] == pytest.approx(recall_score(1 - y[mask], 1 - called[mask]), abs=1e-12)
        assert rows[sex]["brier"] == pytest.approx(np.mean((s[mask] - y[mask]) ** 2))
        assert rows[sex]["scope"] == "group" and rows[sex]["comparator"] == "rest"
    overall = table.row(0, named=True)
    assert overall["group"] == "(all)" and overall["auc"] == pytest.approx(roc_auc_score(y, s))
    assert overall["auc_p"] is None and overall["flag"] is False


def test_positive_subclass_is_scored_against_all_negatives_and_flagged(files):
    p, lab, preds, labels = files
    table = run_stratify(str(p), str(lab), StratifyOptions(by=["drain"])).table
    df = preds.join(labels, on="image_id")
    y, s = df["label"].to_numpy(), df["score"].to_numpy()
    rows = rows_by_group(table, "drain")
    assert set(rows) == {"no", "yes"}  # negatives (empty drain) are the pool, not a group
    for value in ("no", "yes"):
        keep = (y == 0) | (df["drain"].to_numpy() == value)
        assert rows[value]["auc"] == pytest.approx(roc_auc_score(y[keep], s[keep]), abs=1e-12)
        assert rows[value]["scope"] == "positives"
        assert rows[value]["specificity"] is None and rows[value]["ppv"] is None
    assert rows["no"]["flag"] and "auc" in rows["no"]["worse_on"].split(";")
    assert not rows["yes"]["flag"]
    assert rows["no"]["auc_delta"] == pytest.approx(rows["no"]["auc"] - rows["yes"]["auc"])


def test_reference_group_changes_the_comparator(files):
    p, lab, *_ = files
    table = run_stratify(str(p), str(lab), StratifyOptions(by=["sex"], reference={"sex": "M"})).table
    rows = rows_by_group(table, "sex")
    assert rows["F"]["comparator"] == "sex=M"
    assert rows["F"]["auc_delta"] == pytest.approx(rows["F"]["auc"] - rows["M"]["auc"])
    assert rows["M"]["auc_delta"] == 0.0


def test_bins_cross_and_threshold_rules(files):
    p, lab, preds, labels = files
    options = StratifyOptions(
        by=["age"], crosses=[["sex", "age"]], bins={"age": BinSpec(edges=(0, 40, 65, 200))}, threshold="youden"
    )
    result = run_stratify(str(p), str(lab), options)
    table = result.table
    assert rows_by_group(table, "age").keys() == {"[0, 40)", "[40, 65)", "[65, 200]"}
    crossed = rows_by_group(table, "sex & age")
    assert "F & [0, 40)" in crossed and sum(r["n"] for r in crossed.values()) == table["n"][0]
    from hstool.stats.thresholds import youden_threshold

    df = preds.join(labels, on="image_id")
    assert result.meta["threshold"]["value"] == youden_threshold(
        df["score"].to_numpy(), df["label"].to_numpy().astype(bool)
    )
    assert table["threshold"].n_unique() == 1


def test_multiplicity_families_count_each_distinct_test_once(files):
    """Flag family: AUC, sensitivity, specificity; PPV and NPV adjusted apart. With two groups
    each against the rest (F/M; drain yes/no), the second group's test is the first one's."""
    p, lab, *_ = files
    raw = run_stratify(str(p), str(lab), StratifyOptions(by=["sex", "drain"], correction="none")).table
    result = run_stratify(str(p), str(lab), StratifyOptions(by=["sex", "drain"]))
    holm = result.table
    from hstool.stats.multiplicity import holm as holm_adjust

    tested = ["auc", "sensitivity", "specificity", "ppv", "npv"]
    assert result.meta["n_tests"] == raw[[1, 3]].select([f"{m}_p" for m in tested]).to_numpy().size - int(
        raw[[1, 3]].select([pl.col(f"{m}_p").is_null().sum() for m in tested]).to_numpy().sum()
    )

    assert raw["stratifier"].to_list() == ["(all)", "sex", "sex", "drain", "drain"]
    first_of_pair = [1, 3]
    for family in (["auc", "sensitivity", "specificity"], ["ppv", "npv"]):
        p_raw = raw[first_of_pair].select([f"{m}_p" for m in family]).to_numpy().ravel().astype(float)
        expected = holm_adjust(p_raw).reshape(2, len(family))
        got = holm.select([f"{m}_p_adj" for m in family]).to_numpy().astype(float)
        np.testing.assert_allclose(got[first_of_pair], expected, equal_nan=True)
        np.testing.assert_allclose(got[[2, 4]], expected, equal_nan=True)  # the pair's partner: same test
        # Two-sided tests of the same two samples: the same raw p-value either way round.
        np.testing.assert_allclose(
            raw.select([f"{m}_p" for m in family]).to_numpy()[[2, 4]].astype(float), p_raw.reshape(2, -1)
        )


def test_too_small_and_single_class_groups(tmp_path):
    ids = [f"i{i}" for i in range(60)]
    y = [1, 0] * 25 + [1] * 6 + [0] * 4
    site = ["a"] * 50 + ["b"] * 6 + ["c"] * 4
    score = np.linspace(0.05, 0.95, 60)
    p, lab = write(
        tmp_path,
        pl.DataFrame({"image_id": ids, "score": score}),
        pl.DataFrame({"image_id": ids, "label": y, "site": site}),
    )
    rows = rows_by_group(run_stratify(str(p), str(lab), StratifyOptions(min_n=5)).table, "site")
    assert rows["c"]["status"] == "too_small" and rows["c"]["auc"] is None and rows["c"]["n"] == 4
    assert rows["b"]["status"] == "partial" and rows["b"]["auc"] is None
    assert "no negatives" in rows["b"]["reason"] and rows["b"]["sensitivity"] is not None
    # Every case of b and c is called positive, so the rest of 'a' has no NPV denominator.
    assert rows["a"]["status"] == "partial" and rows["a"]["reason"] == "no npv test: the comparator has no cases for it"
    assert rows["a"]["auc_p"] is not None


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate(files):
    p, lab, *_ = files
    a = run_stratify(str(p), str(lab), StratifyOptions(by=["sex"], ci="bootstrap", n_boot=200, seed=3)).table
    b = run_stratify(str(p), str(lab), StratifyOptions(by=["sex"], ci="bootstrap", n_boot=200, seed=3)).table
    c = run_stratify(str(p), str(lab), StratifyOptions(by=["sex"], ci="bootstrap", n_boot=200, seed=4)).table
    assert a.equals(b) and not a.equals(c)
    for r in a.to_dicts():
        assert r["auc_ci_low"] <= r["auc"] <= r["auc_ci_high"]


def test_multiclass_accuracy_against_the_rest_of_the_superclass(tmp_path):
    rng = np.random.default_rng(0)
    n = 900
    sub = rng.choice(["shirt", "tshirt", "coat", "pullover"], n)
    sup = np.where(np.isin(sub, ["shirt", "tshirt"]), "summer", "warm")
    wrong = rng.random(n) < np.where(sub == "shirt", 0.4, 0.08)
    pred = np.where(wrong, np.where(sup == "summer", "warm", "summer"), sup)
    ids = [f"x{i}" for i in range(n)]
    p, lab = write(
        tmp_path,
        pl.DataFrame({"image_id": ids, "pred": pred}),
        pl.DataFrame({"image_id": ids, "label": sup, "subclass": sub}),
    )
    table = run_stratify(str(p), str(lab), StratifyOptions()).table
    rows = rows_by_group(table, "subclass")
    assert rows["shirt"]["comparator"] == "rest of label=summer"
    mask = sub == "shirt"
    assert rows["shirt"]["accuracy"] == pytest.approx((~wrong[mask]).mean())
    rest = (sup == "summer") & ~mask
    assert rows["shirt"]["accuracy_delta"] == pytest.approx((~wrong[mask]).mean() - (~wrong[rest]).mean())
    assert rows["shirt"]["flag"] and not rows["tshirt"]["flag"]
    assert set(rows_by_group(table, "label")) == {"summer", "warm"}


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_row_order_and_id_names_do_not_change_results(tmp_path_factory, seed):
    preds, labels = drain_dataset(n=300, seed=seed % 7)
    rng = np.random.default_rng(seed)
    tmp = tmp_path_factory.mktemp("prop")
    base = run_stratify(*map(str, write(tmp, preds, labels)), StratifyOptions(by=["sex", "drain"])).table
    rename = dict(zip(preds["image_id"], [f"z{v:06d}" for v in rng.permutation(len(preds))]))
    shuffled_p = preds.with_columns(pl.col("image_id").replace_strict(rename)).sample(
        fraction=1.0, shuffle=True, seed=seed
    )
    shuffled_l = labels.with_columns(pl.col("image_id").replace_strict(rename)).sample(
        fraction=1.0, shuffle=True, seed=seed + 1
    )
    other = run_stratify(*map(str, write(tmp, shuffled_p, shuffled_l)), StratifyOptions(by=["sex", "drain"])).table
    for column in base.columns:
        if base[column].dtype.is_float():
            np.testing.assert_allclose(base[column].to_numpy(), other[column].to_numpy(), rtol=1e-12, atol=1e-15)
        else:
            assert base[column].to_list() == other[column].to_list(), column
