"""`run_cluster` end to end on synthetic embeddings with a planted slice of known membership."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from hstool.audit.cluster.options import ClusterOptions, SearchOptions
from hstool.audit.cluster.planted import planted_slice, write_planted
from hstool.audit.cluster.run import run_cluster
from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.errors import InputError, UsageError
from hstool.io.arrays import write_embeddings


def obvious(kind="rare", **kw):
    # One ordinary blob per class plus, in class 1, the slice as a blob of its own.
    params = dict(
        n_per_class=500, dims=48, subclasses=1, fraction=0.3, slice_error=0.8, base_error=0.05, separation=6.0, seed=4
    )
    params.update(kw)
    return planted_slice(kind, **params)


@pytest.fixture
def planted_files(tmp_path):
    planted = obvious()
    return planted, write_planted(planted, tmp_path)


def run(paths, **kw) -> ClusterResult:  # noqa: F821
    search = kw.pop("search", SearchOptions())
    options = ClusterOptions(search=search, min_size=kw.pop("min_size", 50), **kw)
    return run_cluster(str(paths["emb"]), str(paths["preds"]), str(paths["labels"]), options)


def slice_of(paths, assignments: pl.DataFrame) -> np.ndarray:
    truth = pl.read_csv(paths["labels"], schema_overrides={"image_id": pl.String})
    return assignments.join(truth, on="image_id")["in_slice"].to_numpy() == 1


def test_an_obvious_planted_slice_is_found(planted_files):
    planted, paths = planted_files
    result = run(paths, by=["subclass"])
    a = result.assignments
    assert a["image_id"].to_list() == sorted(planted.ids)
    member = slice_of(paths, a)
    # Every superclass gets a pair; the planted slice lives in class 1. The reported
    # high-error cluster is made of slice members...
    high = (a["role"].to_numpy() == "high_error") & (a["label"].to_numpy() == "1")
    assert (high & member).sum() / high.sum() > 0.9
    row = result.summary_table.filter((pl.col("role") == "high_error") & (pl.col("superclass") == "1")).to_dicts()[0]
    assert row["flag"] and row["p_adj"] < 1e-6
    # ...though the paper's rule (farthest centroids over k = 2..5) may report a piece of it:
    # splitting both blobs at a larger k moves the extreme pieces' centroids apart. At k = 2,
    # the candidate high-error cluster is the whole slice.
    k2 = result.summary_table.filter(
        (pl.col("superclass") == "1") & (pl.col("k") == 2) & (pl.col("candidate") == "high")
    ).to_dicts()[0]
    assert k2["n"] == member.sum() and k2["error_rate"] > 0.7
    # Table 4: the rare subclass makes up the high-error cluster, not the low-error one.
    rare = result.prevalence.filter((pl.col("value") == "1:rare") & (pl.col("role") != "")).to_dicts()
    by_role = {r["role"]: r["prevalence"] for r in rare}
    assert by_role["high_error"] > 0.9 and by_role["low_error"] < 0.05
    assert result.n_flagged >= 1
    assert any("label=1: k=" in line for line in result.summary)


def test_the_obvious_slice_is_recovered_whole_at_its_natural_k(planted_files):
    _, paths = planted_files
    a = run(paths, search=SearchOptions(ks=(2,))).assignments
    member = slice_of(paths, a)
    high = (a["role"].to_numpy() == "high_error") & (a["label"].to_numpy() == "1")
    assert (high & member).sum() / high.sum() > 0.95 and (high & member).sum() / member.sum() > 0.95


def test_same_seed_same_output_and_row_order_does_not_matter(tmp_path, planted_files):
    planted, paths = planted_files
    first = run(paths, search=SearchOptions(seed=3))
    again = run(paths, search=SearchOptions(seed=3))
    assert first.assignments.equals(again.assignments) and first.summary_table.equals(again.summary_table)
    # The same cases in another order, in every file.
    order = np.random.default_rng(0).permutation(len(planted.ids))
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    write_embeddings(shuffled / "emb.npy", [planted.ids[i] for i in order], planted.embeddings[order])
    pl.read_csv(paths["preds"])[order].write_csv(shuffled / "preds.csv")
    pl.read_csv(paths["labels"])[order].write_csv(shuffled / "labels.csv")
    other = run(
        {"emb": shuffled / "emb.npy", "preds": shuffled / "preds.csv", "labels": shuffled / "labels.csv"},
        search=SearchOptions(seed=3),
    )
    assert other.assignments.equals(first.assignments) and other.summary_table.equals(first.summary_table)


def test_clusters_csv_round_trips_through_stratify(tmp_path, planted_files):
    _planted, paths = planted_files
    result = run(paths)
    clusters = tmp_path / "clusters.csv"
    result.assignments.write_csv(clusters)
    strata = run_stratify(str(paths["preds"]), str(clusters), StratifyOptions(by=["cluster"])).table
    groups = strata.filter(pl.col("stratifier") == "cluster")
    # Clusters are formed inside a class, so every cluster is a one-class subclass scored
    # against all cases of the other class (shared-negatives DeLong test).
    assert set(groups["scope"].to_list()) == {"positives", "negatives"}
    high_id = result.assignments.filter((pl.col("role") == "high_error") & (pl.col("label") == "1"))["cluster"][0]
    high = groups.filter(pl.col("group") == high_id).to_dicts()[0]
    assert high["scope"] == "positives" and high["sensitivity"] < 0.4 and high["flag"]
    assert high["n"] == result.summary_table.filter(pl.col("cluster") == high_id)["n"][0]
    # A superclass without a reported clustering (empty cluster) is the comparison pool, no row.
    partial = tmp_path / "partial.csv"
    result.assignments.with_columns(
        pl.when(pl.col("label") == "0").then(None).otherwise(pl.col("cluster")).alias("cluster")
    ).write_csv(partial)
    groups = run_stratify(str(paths["preds"]), str(partial), StratifyOptions(by=["cluster"])).table.filter(
        pl.col("stratifier") == "cluster"
    )
    assert set(groups["scope"].to_list()) == {"positives"} and "(missing)" not in groups["group"].to_list()


def test_small_superclasses_are_explained_not_a_crash(planted_files):
    _, paths = planted_files
    result = run(paths, min_size=400)  # 500 cases per class: no two clusters can exceed 400
    rows = result.summary_table.to_dicts()
    assert [r["status"] for r in rows] == ["skipped", "skipped"]
    assert "fewer than 802" in rows[0]["reason"]
    assert result.assignments["cluster"].null_count() == 1000
    assert result.meta["selections"][0]["k"] is None


def test_no_qualifying_pair_is_explained(planted_files):
    _, paths = planted_files
    # 500 cases per class in 3 or 4 clusters: never two clusters with more than 240 members.
    result = run(paths, min_size=240, search=SearchOptions(ks=(3, 4)))
    for row in result.summary_table.filter(pl.col("cluster") == "(all)").to_dicts():
        assert row["status"] == "no_pair" and "more than --min-size 240" in row["reason"]
    assert result.assignments["cluster"].null_count() == 1000 and result.prevalence.height == 0
    assert result.summary_table.filter(pl.col("cluster") != "(all)")["status"].unique().to_list() == ["too_small"]


def test_held_out_statistics_for_the_error_aware_mixture(planted_files):
    _planted, paths = planted_files
    result = run(paths, holdout=0.5, search=SearchOptions(method="error-gmm", pca=10, ks=(2, 3)))
    a = result.assignments
    assert set(a["split"].to_list()) == {"fit", "holdout"}
    per_class = a.group_by("label").agg((pl.col("split") == "holdout").sum().alias("held"))
    held = dict(zip(per_class["label"].to_list(), per_class["held"].to_list()))
    for row in result.summary_table.filter((pl.col("cluster") != "(all)") & (pl.col("k") == 2)).to_dicts():
        assert row["n"] + row["rest_n"] == held[row["superclass"]]


def test_multiclass_predictions(tmp_path):
    rng = np.random.default_rng(0)
    n = 900
    label = np.repeat(["cat", "dog", "eel"], n // 3)
    hidden = rng.random(n) < 0.4  # a hidden subclass in every superclass, easy to confuse
    x = (
        rng.normal(size=(n, 8))
        + 5 * hidden[:, None] * np.eye(8)[0]
        + 5 * np.eye(8)[np.searchsorted(["cat", "dog", "eel"], label) + 1]
    )
    wrong = rng.random(n) < np.where(hidden, 0.5, 0.05)
    pred = np.where(wrong, np.roll(label, 300), label)
    ids = [f"m{i:04d}" for i in range(n)]
    write_embeddings(tmp_path / "e.npy", ids, x)
    pl.DataFrame({"image_id": ids, "pred": pred}).write_csv(tmp_path / "p.csv")
    pl.DataFrame({"image_id": ids, "label": label, "kind": np.where(hidden, "hidden", "plain")}).write_csv(
        tmp_path / "l.csv"
    )
    result = run_cluster(
        str(tmp_path / "e.npy"), str(tmp_path / "p.csv"), str(tmp_path / "l.csv"), ClusterOptions(min_size=60)
    )
    assert result.meta["mode"] == "multiclass" and result.meta["threshold"] is None
    highs = result.prevalence.filter((pl.col("role") == "high_error") & (pl.col("value") == "hidden"))
    assert highs.height == 3 and (highs["prevalence"] > 0.9).all()


def test_threshold_forms(tmp_path, planted_files):
    _, paths = planted_files
    youden = run(paths, threshold="youden")
    assert youden.meta["threshold"]["rule"] == "youden"
    calibration = tmp_path / "cal.json"
    calibration.write_text(json.dumps({"threshold": {"value": 0.7}}))
    fixed = run(paths, threshold=str(calibration))
    assert fixed.meta["threshold"]["value"] == 0.7
    with pytest.raises(UsageError, match="threshold"):
        run(paths, threshold="sens=2")


def test_bad_inputs_name_the_file(tmp_path, planted_files):
    planted, paths = planted_files
    (tmp_path / "emb.ids.csv").unlink()
    with pytest.raises(InputError, match="ids file .* is missing"):
        run(paths)
    write_embeddings(tmp_path / "emb.npy", planted.ids[:-5], planted.embeddings[:-5])
    with pytest.raises(InputError, match="missing from .*emb.npy.*allow_unmatched"):
        run(paths)
    result = run(paths, allow_unmatched=True)
    assert result.meta["n_analysed"] == len(planted.ids) - 5
    assert 5 in result.meta["dropped"].values()
    pl.DataFrame({"image_id": planted.ids, "prob": planted.scores}).write_csv(paths["preds"])
    with pytest.raises(InputError, match="no score column 'score'"):
        run(paths, allow_unmatched=True)


def test_options_check_themselves_in_library_terms():
    """A library caller gets the same rules as the command line, named by field."""
    from hstool.errors import OptionError

    with pytest.raises(OptionError, match=r"^holdout=0: error-gmm forms clusters from the errors"):
        ClusterOptions(holdout=0, search=SearchOptions(method="error-gmm"))
    with pytest.raises(OptionError, match=r"^method='dbscan': choose one of kmeans, gmm, error-gmm$"):
        SearchOptions(method="dbscan")
    with pytest.raises(OptionError, match=r"^ks='1,2': every k must be at least 2"):
        SearchOptions(ks=(1, 2))
    assert ClusterOptions(search=SearchOptions(method="error-gmm")).holdout == 0.5  # its own default
    assert ClusterOptions().holdout == 0.0
    assert ClusterOptions(holdout=0.3).holdout == 0.3
