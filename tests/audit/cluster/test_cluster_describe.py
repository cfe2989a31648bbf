"""`hs cluster --describe`: metadata values over-represented in each high-error cluster, checked
against an independent Fisher test (hypergeometric sums) and statsmodels' multiplicity corrections."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import hypergeom
from statsmodels.stats.multitest import multipletests

from hstool.audit.cluster.describe import DescribeOptions, describe_clusters
from hstool.audit.cluster.planted import planted_slice, write_planted
from hstool.errors import InputError
from hstool.io.table_format import ColumnMap, TableFormat


def fisher_by_hand(count: int, n: int, rest_count: int, rest_n: int) -> float:
    """Two-sided Fisher exact p: the probability of every table no more likely than the one seen."""
    law = hypergeom(n + rest_n, count + rest_count, n)
    pmf = law.pmf(np.arange(n + 1))  # zero outside the support
    return float(min(1.0, pmf[pmf <= law.pmf(count) * (1 + 1e-7)].sum()))


def assignments_and_metadata(tmp_path):
    """Class 1: 100 cases, a 20-case high-error cluster with 17 AP images against 24 of the
    other 80; class 0: 60 cases, no reported cluster."""
    ids = [f"c{i:03d}" for i in range(160)]
    label = ["1"] * 100 + ["0"] * 60
    role = ["high_error"] * 20 + ["low_error"] * 40 + [None] * 40 + [None] * 60
    cluster = ["1/k3/c0"] * 20 + ["1/k3/c2"] * 40 + ["1/k3/c1"] * 40 + ["0/k2/c0"] * 60
    view = ["AP"] * 17 + ["PA"] * 3 + ["AP"] * 24 + ["PA"] * 56 + ["AP", "PA"] * 30
    rng = np.random.default_rng(3)
    assignments = pl.DataFrame({"image_id": ids, "label": label, "cluster": cluster, "role": role})
    metadata = pl.DataFrame(
        {
            "image_id": ids,
            "ViewPosition": view,
            "Manufacturer": ["GE"] * 100 + ["Agfa"] * 60,  # one value in class 1: nothing to compare
            "PatientAge": rng.integers(20, 90, 160),  # more than 10 values: quartiles
            "BitsStored": [12 if i % 16 == 0 else 16 for i in range(160)],  # few numeric values: categories
            "path": [f"x/{i}" for i in ids],  # unique: not described
            "StationCode": [f"s{i % 60}" for i in range(160)],  # 60 text values: not described
        }
    )
    path = tmp_path / "meta.csv"
    metadata.write_csv(path)
    return assignments, metadata, path


def test_the_metadata_is_read_with_the_run_s_table_options(tmp_path):
    """A metadata file with its own id column, `;` and decimal commas: the same description."""
    assignments, metadata, _ = assignments_and_metadata(tmp_path)
    metadata = metadata.with_columns(pl.col("PatientAge") + 0.5)  # ages with decimals
    ours = tmp_path / "ours.csv"
    metadata.write_csv(ours)
    canonical = describe_clusters(assignments, str(ours), DescribeOptions(), inputs=[]).table
    assert "PatientAge" in canonical["column"].to_list()
    theirs = tmp_path / "theirs.csv"
    text = metadata.rename({"image_id": "case"}).write_csv(separator=";", float_precision=None)
    theirs.write_text(text.replace(".", ","))  # every number written with a decimal comma
    options = DescribeOptions(columns=ColumnMap(id="case"), table_format=TableFormat(decimal_comma=True))
    assert describe_clusters(assignments, str(theirs), options, inputs=[]).table.equals(canonical)


def test_shares_fisher_and_holm_against_independent_oracles(tmp_path):
    assignments, _, path = assignments_and_metadata(tmp_path)
    got = describe_clusters(assignments, str(path), DescribeOptions(), inputs=[])
    table = got.table
    assert set(table["superclass"]) == {"1"} and set(table["cluster"]) == {"1/k3/c0"}
    top = table.row(0, named=True)
    assert (top["rank"], top["column"], top["value"]) == (1, "ViewPosition", "AP")
    assert (top["count"], top["n"], top["rest_count"], top["rest_n"]) == (17, 20, 24, 80)
    assert (top["share"], top["rest_share"], top["class_share"]) == pytest.approx((0.85, 0.30, 0.41))
    assert top["flag"] is True
    for row in table.iter_rows(named=True):
        assert row["p"] == pytest.approx(
            fisher_by_hand(row["count"], row["n"], row["rest_count"], row["rest_n"]), rel=1e-9
        )
    assert table["p_adj"].to_numpy() == pytest.approx(multipletests(table["p"].to_numpy(), method="holm")[1])
    assert set(table["column"]) == {"ViewPosition", "PatientAge", "BitsStored"}
    assert sorted(table.filter(pl.col("column") == "BitsStored")["value"]) == ["12", "16"]
    assert table.filter(pl.col("column") == "PatientAge").height == 4  # quartiles
    assert got.meta["skipped_columns"] == {
        "path": "every value is unique (an id?)",
        "StationCode": "60 distinct values (more than 50)",
    }
    assert "quartiles" in got.meta["notes"]["PatientAge"] and got.meta["n_tests"] == table.height
    # Ranking: over-represented values first, by p-value within them.
    over = table.filter(pl.col("delta") > 0)
    assert table.head(over.height).equals(over) and over["p"].is_sorted()
    assert table["rank"].to_list() == list(range(1, table.height + 1))
    assert got.lines[0] == "high-error cluster 1/k3/c0: values over-represented against the rest of its class"
    assert got.lines[1].startswith(
        "  ViewPosition = AP: 85% of the cluster (17/20) vs 30% of the rest (24/80), 41% of the class; adjusted p"
    )


def test_bh_correction(tmp_path):
    assignments, _, path = assignments_and_metadata(tmp_path)
    table = describe_clusters(assignments, str(path), DescribeOptions(correction="bh"), inputs=[]).table
    assert table["p_adj"].to_numpy() == pytest.approx(multipletests(table["p"].to_numpy(), method="fdr_bh")[1])


@settings(max_examples=10, deadline=None)
@given(st.randoms(use_true_random=False))
def test_row_order_of_the_metadata_does_not_matter(tmp_path_factory, random):
    folder = tmp_path_factory.mktemp("order")
    assignments, metadata, path = assignments_and_metadata(folder)
    first = describe_clusters(assignments, str(path), DescribeOptions(), inputs=[]).table
    order = list(range(metadata.height))
    random.shuffle(order)
    metadata[order].write_csv(path)
    assert describe_clusters(
        assignments.sample(fraction=1.0, shuffle=True, seed=1), str(path), DescribeOptions(), inputs=[]
    ).table.equals(first)


def test_unmatched_ids(tmp_path):
    assignments, metadata, path = assignments_and_metadata(tmp_path)
    metadata.head(150).write_csv(path)
    with pytest.raises(InputError, match=r"10 image_ids are missing from .*meta.csv"):
        describe_clusters(assignments, str(path), DescribeOptions(), inputs=[])
    got = describe_clusters(assignments, str(path), DescribeOptions(allow_unmatched=True), inputs=[])
    assert got.meta["dropped"]["unmatched_in_the analysed cases"] == 10


def test_cli_describe_on_planted_cluster(tmp_path, run_hs):
    planted = planted_slice("rare", n_per_class=300, dims=16, fraction=0.2, slice_error=0.8, seed=1)
    write_planted(planted, tmp_path)
    rng = np.random.default_rng(0)
    ap = np.where(planted.in_slice, rng.random(planted.in_slice.size) < 0.9, rng.random(planted.in_slice.size) < 0.2)
    pl.DataFrame(
        {
            "image_id": planted.ids,
            "ViewPosition": np.where(ap, "AP", "PA"),
            "PatientSex": rng.choice(["F", "M"], ap.size),
        }
    ).write_csv(tmp_path / "meta.csv")
    args = ["cluster", "emb.npy", "preds.csv", "labels.csv", "--min-size", "30", "--by", "subclass"]
    res = run_hs(*args, "--describe", "meta.csv", "--describe-out", "described.csv", "-o", "clusters.csv")
    assert res.returncode == 0, res.stderr
    lines = res.stderr.decode().splitlines()
    high = pl.read_csv(tmp_path / "clusters.csv").filter(pl.col("role") == "high_error")
    positive = high.filter(pl.col("label") == 1)["cluster"][0]
    at = lines.index(f"high-error cluster {positive}: values over-represented against the rest of its class")
    assert lines[at + 1].startswith("  ViewPosition = AP:") and lines[at + 1].endswith(", significant")
    described = pl.read_csv(tmp_path / "described.csv")
    assert set(described["cluster"]) == set(high["cluster"])
    sidecar = json.loads((tmp_path / "described.csv.meta.json").read_text())
    assert sidecar["schema"] == "hs.cluster-describe/1" and sidecar["rows"] == described.height
    assert [i["path"] for i in sidecar["inputs"]] == ["emb.npy", "preds.csv", "labels.csv", "meta.csv"]
    assert sidecar["parameters"]["correction"] == "holm"
    # The clusters' own statistics do not change when describing.
    plain = run_hs(*args, "-o", "plain.csv")
    assert plain.stdout == res.stdout
    assert (tmp_path / "plain.csv").read_bytes() == (tmp_path / "clusters.csv").read_bytes()


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--describe-out", "d.csv"], 2, "--describe-out writes the table of --describe; add --describe META.csv"),
        (["--describe", "missing.csv"], 1, "missing.csv: no such file (the metadata file)"),
        (
            ["--describe", "meta.csv", "--describe-out", "meta.csv"],
            1,
            "refusing to write meta.csv: it is one of the inputs",
        ),
    ],
)
def test_cli_describe_errors(tmp_path, run_hs, extra, code, message):
    planted = planted_slice("rare", n_per_class=100, dims=8, latent=4, seed=2)
    write_planted(planted, tmp_path)
    pl.DataFrame({"image_id": planted.ids, "x": planted.labels}).write_csv(tmp_path / "meta.csv")
    res = run_hs("cluster", "emb.npy", "preds.csv", "labels.csv", "--min-size", "10", *extra)
    assert res.returncode == code
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hs: error: {message}"), lines
