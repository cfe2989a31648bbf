"""`hs cluster` as a user runs it: files, stdout, exit codes, determinism, usage errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from hstool.audit.cluster.planted import planted_slice, write_planted
from hstool.cli.app import app


@pytest.fixture
def files(tmp_path):
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
    write_planted(planted, tmp_path)
    return ["emb.npy", "preds.csv", "labels.csv"]


@pytest.mark.slow
def test_writes_clusters_summary_and_prevalence_with_sidecars(run_hs, tmp_path, files):
    args = [
        *files,
        "-o",
        "clusters.csv",
        "--summary",
        "summary.csv",
        "--prevalence",
        "table4.csv",
        "--min-size",
        "50",
        "--by",
        "subclass",
    ]
    done = run_hs("cluster", *args)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == b""  # every table went to a file
    assert b"label=1: k=" in done.stderr and b"significantly worse" in done.stderr
    clusters = pl.read_csv(tmp_path / "clusters.csv", infer_schema_length=None)
    assert clusters.columns[:4] == ["image_id", "label", "cluster", "role"]
    assert set(clusters["role"].to_list()) == {"high_error", "low_error", None}
    schemas = {
        name: json.loads((tmp_path / f"{name}.meta.json").read_text())["schema"]
        for name in ("clusters.csv", "summary.csv", "table4.csv")
    }
    assert schemas == {
        "clusters.csv": "hs.clusters/1",
        "summary.csv": "hs.cluster-summary/1",
        "table4.csv": "hs.cluster-prevalence/1",
    }
    meta = json.loads((tmp_path / "summary.csv.meta.json").read_text())
    assert meta["rows"] == pl.read_csv(tmp_path / "summary.csv").height
    assert [i["path"] for i in meta["inputs"]] == files
    # The same command again gives byte-identical files.
    first = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix in (".csv", ".json")}
    assert run_hs("cluster", *args).returncode == 0
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.suffix in (".csv", ".json")} == first


@pytest.mark.slow
def test_summary_on_stdout_as_table_or_json(run_hs, files):
    table = run_hs("cluster", *files, "--min-size", "50", "--format", "table", "-q")
    text = table.stdout.decode()
    assert "HIGH-ERROR" in text and "Table 4" in text and table.stderr == b""
    data = json.loads(run_hs("cluster", *files, "--min-size", "50", "--format", "json", "-q").stdout)
    assert data["meta"]["schema"] == "hs.cluster-summary/1" and data["rows"][0]["cluster"] == "(all)"


def test_fail_on_worse_exits_3(run_hs, files):
    done = run_hs("cluster", *files, "--min-size", "50", "--fail-on", "worse", "--format", "csv")
    assert done.returncode == 3
    assert b"significantly worse" in done.stderr  # and the table is still written:
    assert done.stdout.decode().startswith("superclass,k,cluster,n,n_error,error_rate")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--k", "1,2"], b"--k '1,2': every k must be at least 2"),
        (["--normalize", "--pca", "0"], b"--pca 0: give the number of components"),
        (["--method", "dbscan"], b"--method 'dbscan'"),
        (["--method", "error-gmm", "--holdout", "0"], b"--holdout 0.0: error-gmm forms clusters from the errors"),
        (["--holdout", "0.95"], b"--holdout 0.95"),
        (["--threshold", "often"], b"--threshold"),
        (["-o", "preds.csv"], b"refusing to write preds.csv"),
        (["-o", "a.csv", "--summary", "a.csv"], b"different files"),
    ],
)
def test_usage_errors_are_one_line(tmp_path, monkeypatch, files, extra, message):
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["cluster", *files, *extra])  # in-process: these fail before any work
    assert done.exit_code in (1, 2)
    err = done.stderr.encode()
    assert message in err and err.count(b"\n") == 1 and b"Traceback" not in err
    assert not (tmp_path / "a.csv").exists()


def test_missing_embedding_file(run_hs, files):
    done = run_hs("cluster", "nope.npy", *files[1:])
    assert done.returncode == 1 and b"nope.npy: no such embedding file" in done.stderr


def test_help_lists_the_command_and_examples(run_hs):
    assert b"cluster" in run_hs("--help").stdout
    text = run_hs("cluster", "--help").stdout.decode()
    assert "hs cluster emb.npy preds.csv labels.csv -o clusters.csv" in text and "--min-size" in text


def test_clusters_csv_is_read_by_hs_report(run_hs, tmp_path, files):
    done = run_hs("cluster", *files, "-o", "clusters.csv", "--min-size", "100", "-q", "-f", "csv")
    assert done.returncode == 0
    from hstool.report.inputs import read_clusters

    clusters = read_clusters(str(tmp_path / "clusters.csv"))
    assert clusters.extra_columns == []  # k, error, distance, split are bookkeeping, not subclasses
    assert set(clusters.table["role"].to_list()) == {"high_error", "low_error", ""}
    # --min-size 200: both classes (300 cases each) are skipped, so no case has a cluster.
    skipped = run_hs("cluster", *files, "-o", "skipped.csv", "--min-size", "200", "-q", "-f", "csv")
    assert skipped.returncode == 0
    assert read_clusters(str(tmp_path / "skipped.csv")).table.height == 0  # nothing reported: no rows
