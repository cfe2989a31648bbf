"""benchmarks/cluster_discovery.py on files, as `make bench-discovery` calls it: slices given
as TYPE:COL=VALUE, one row per method and slice, and the --table step over several row files."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from conftest import ROOT

from hstool.audit.cluster.planted import planted_slice, write_planted

SCRIPT = str(ROOT / "benchmarks" / "cluster_discovery.py")


@pytest.mark.slow
def test_rows_on_files_and_their_table(tmp_path):
    planted = planted_slice(
        "rare",
        n_per_class=300,
        dims=24,
        subclasses=1,
        fraction=0.35,
        slice_error=0.8,
        base_error=0.05,
        separation=6.0,
        seed=2,
    )
    paths = write_planted(planted, tmp_path)
    rows = tmp_path / "rows.csv"
    args = [
        "--emb",
        str(paths["emb"]),
        "--preds",
        str(paths["preds"]),
        "--labels",
        str(paths["labels"]),
        "--method",
        "paper (k-means)",
    ]
    # The same slice twice: by its 0/1 column, and by its subclass name (a COL=VALUE condition).
    subprocess.run(
        [
            sys.executable,
            SCRIPT,
            *args,
            "--slice",
            "rare:in_slice",
            "--slice",
            "named:subclass=1:rare",
            "--dataset",
            "blobs",
            "--rows",
            str(rows),
        ],
        check=True,
        capture_output=True,
    )
    table = pl.read_csv(rows, schema_overrides={"superclass": pl.String})
    assert table["slice"].to_list() == ["rare", "named"]
    first, second = table.row(0, named=True), table.row(1, named=True)
    assert {k: v for k, v in first.items() if k != "slice"} == {k: v for k, v in second.items() if k != "slice"}
    # The method-independent columns, against the planted truth.
    in_class = planted.labels == 1
    member = planted.in_slice[in_class]
    errors = planted.errors[in_class]
    assert (first["superclass"], first["n_superclass"], first["n_slice"]) == ("1", in_class.sum(), member.sum())
    assert first["base_rate"] == member.mean()
    assert np.isclose(first["slice_error"], errors[member].mean()) and np.isclose(
        first["rest_error"], errors[~member].mean()
    )
    assert first["method"] == "paper (k-means)" and first["dataset"] == "blobs"
    # This slice is obvious: some cluster at the reported k is nearly all slice.
    assert first["p_at_10"] == 1.0 and first["george_precision"] > 0.9

    out = subprocess.run(
        [sys.executable, SCRIPT, "--table", str(rows), str(rows)], check=True, capture_output=True, text=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("| rare | paper (k-means) |"))
    assert line.split("|")[3].strip() == "2"  # runs: one per row file
    assert f"{first['p_at_10']:.3f} ± 0.000" in line
    assert "| rare | blobs | 1 | 2 |" in out  # the slice's own table: data, superclass, runs


def test_a_slice_without_a_type_is_refused(tmp_path):
    result = subprocess.run(
        [sys.executable, SCRIPT, "--emb", "e.npy", "--preds", "p.csv", "--labels", "l.csv", "--slice", "subclass=6"],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "TYPE:COL=VALUE" in result.stderr
