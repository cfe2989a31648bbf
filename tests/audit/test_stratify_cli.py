"""hs stratify from the command line: formats, files, exit codes and every bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import polars as pl
import pytest
from conftest import ROOT, run_hs_subprocess
from strata_helpers import drain_dataset, write


@pytest.fixture
def files(tmp_path):
    preds, labels = drain_dataset(n=400)
    p, lab = write(tmp_path, preds, labels)
    return tmp_path, p, lab, preds, labels


def error_line(result) -> str:
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines  # one line, no traceback
    assert "Traceback" not in lines[0]
    return lines[0]


def test_csv_when_piped_and_sidecar_with_output(files, run_hs):
    tmp, _p, _lab, *_ = files
    res = run_hs("stratify", "preds.csv", "labels.csv", "--by", "sex")
    assert res.returncode == 0
    table = pl.read_csv(res.stdout)
    assert table.columns[:6] == ["stratifier", "group", "scope", "comparator", "n", "n_pos"]
    for column in ("auc", "auc_se", "auc_ci_low", "auc_ci_high", "auc_p", "auc_p_adj", "flag", "status", "reason"):
        assert column in table.columns
    for metric in ("sensitivity", "specificity", "ppv", "npv"):
        assert {f"{metric}_ci_low", f"{metric}_ci_high", f"{metric}_p", f"{metric}_p_adj"} <= set(table.columns)
    assert b"group(s) significantly worse" in res.stderr  # messages on stderr only
    res = run_hs("stratify", "preds.csv", "labels.csv", "-o", "strata.csv", "--by", "sex")
    assert res.returncode == 0 and res.stdout == b""
    meta = json.loads((tmp / "strata.csv.meta.json").read_text())
    assert meta["schema"] == "hs.strata/1" and meta["rows"] == 3
    assert [i["path"] for i in meta["inputs"]] == ["preds.csv", "labels.csv"]
    assert len(meta["inputs"][0]["sha256"]) == 64
    assert pl.read_csv(tmp / "strata.csv").equals(table)


def test_json_and_table_formats(files, run_hs):
    res = run_hs("stratify", "preds.csv", "labels.csv", "--format", "json", "--by", "drain")
    doc = json.loads(res.stdout)
    assert doc["meta"]["mode"] == "binary" and len(doc["rows"]) == 3
    assert doc["rows"][1]["specificity"] is None  # null, not NaN
    res = run_hs("stratify", "preds.csv", "labels.csv", "-f", "table", "--by", "drain")
    out = res.stdout.decode()
    assert out.splitlines()[0].split()[:4] == ["stratifier", "group", "n", "n_pos"]
    assert "WORSE" in out


def test_stdin_and_determinism(files, run_hs):
    tmp, p, *_ = files
    from_file = run_hs("stratify", "preds.csv", "labels.csv", "--ci", "bootstrap", "--n-boot", "200", "--seed", "5")
    from_stdin = run_hs(
        "stratify", "-", "labels.csv", "--ci", "bootstrap", "--n-boot", "200", "--seed", "5", input=p.read_bytes()
    )
    assert from_file.returncode == 0 and from_file.stdout == from_stdin.stdout
    run_hs("stratify", "preds.csv", "labels.csv", "-o", "a.csv")
    run_hs("stratify", "preds.csv", "labels.csv", "-o", "b.csv")
    assert (tmp / "a.csv").read_bytes() == (tmp / "b.csv").read_bytes()


def test_fail_on_worse_exits_3_after_writing(files, run_hs):
    tmp, *_ = files
    res = run_hs("stratify", "preds.csv", "labels.csv", "--fail-on", "worse", "-o", "s.csv")
    assert res.returncode == 3 and (tmp / "s.csv").exists()
    assert "significantly worse (--fail-on worse)" in res.stderr.decode()
    res = run_hs("stratify", "preds.csv", "labels.csv", "--by", "sex", "--fail-on", "worse")
    assert res.returncode == 0


def test_stratify_does_not_import_torch(files):
    tmp, *_ = files
    probe = (
        "import sys\nsys.argv = ['hs', 'stratify', 'preds.csv', 'labels.csv', '-o', 'x.csv']\n"
        "from hstool.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit as exc:\n    assert exc.code in (0, None), exc.code\n"
        "heavy = [m for m in ('torch', 'onnxruntime', 'torchvision') if m in sys.modules]\n"
        "print('clean' if not heavy else heavy)"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    assert res.stdout.strip() == b"clean", (res.stdout, res.stderr)
    assert (tmp / "x.csv").exists()


def test_real_process_exit_codes_and_stdin(files):
    tmp, p, *_ = files
    res = run_hs_subprocess("stratify", "-", "labels.csv", "--by", "sex", cwd=tmp, input=p.read_bytes())
    assert res.returncode == 0 and res.stdout.startswith(b"stratifier,group")
    res = run_hs_subprocess("stratify", "preds.csv", "labels.csv", "--fail-on", "worse", cwd=tmp)
    assert res.returncode == 3
    res = run_hs_subprocess("stratify", "preds.csv", cwd=tmp)
    assert res.returncode == 2


BAD_INPUTS = [
    # (preds text, labels text, exit code, words the one-line error must contain)
    ("", "image_id,label\na,1\n", 1, ["preds.csv", "empty"]),
    ("image_id,score\n", "image_id,label\na,1\n", 1, ["preds.csv", "no data rows"]),
    (
        "image_id,prob\na,0.5\n",
        "image_id,label\na,1\n",
        1,
        ["preds.csv", "'score'", "found: image_id, prob", "--score-col"],
    ),
    ("image_id,score\na,0.5\nb,0.6\n", "image_id,lbl\na,1\nb,0\n", 1, ["labels.csv", "no column 'label'"]),
    ("image_id,score\na,0.5\na,0.6\n", "image_id,label\na,1\n", 1, ["preds.csv", "line 3", "repeats line 2"]),
    ("image_id,score\na,0.5\nb,\n", "image_id,label\na,1\nb,0\n", 1, ["preds.csv", "line 3", "empty value"]),
    ("image_id,score\na,0.5\nb,NaN\n", "image_id,label\na,1\nb,0\n", 1, ["line 3", "empty value"]),
    ("image_id,score\na,0.5\nb,inf\n", "image_id,label\na,1\nb,0\n", 1, ["line 3", "not finite"]),
    ("image_id,score\na,0.5\nb,abc\n", "image_id,label\na,1\nb,0\n", 1, ["line 3", "not a number"]),
    ("image_id,score\na,2.3\nb,-1.7\n", "image_id,label\na,1\nb,0\n", 1, ["line 2", "outside [0, 1]", "sigmoid"]),
    ("image_id,score\na,0.5\nb,0.2\n", "image_id,label\na,cat\nb,dog\n", 1, ["line 2", "not binary", "--positive"]),
    ("image_id,score\na,0.5\nb,0.2\n", "image_id,label\na,1\nb,\n", 1, ["labels.csv", "line 3", "empty label"]),
    (
        "image_id,score\na,0.5\nb,0.2\n",
        "image_id,label\na,1\nc,0\n",
        1,
        ["1 image_ids are missing", "--allow-unmatched"],
    ),
    ("image_id,score\na,0.5\nb,0.2\n", "image_id,label\na,1\nb,1\n", 1, ["every analysed label is positive"]),
    ("image_id,score\n,0.5\nb,0.2\n", "image_id,label\na,1\nb,1\n", 1, ["preds.csv", "line 2", "empty id"]),
]


@pytest.mark.parametrize("preds_text,labels_text,code,words", BAD_INPUTS)
def test_bad_inputs_give_one_line_errors(tmp_path, run_hs, preds_text, labels_text, code, words):
    (tmp_path / "preds.csv").write_text(preds_text)
    (tmp_path / "labels.csv").write_text(labels_text)
    res = run_hs("stratify", "preds.csv", "labels.csv", "-o", "out.csv")
    assert res.returncode == code
    line = error_line(res)
    for word in words:
        assert word in line, (word, line)
    assert not (tmp_path / "out.csv").exists()
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".out")] == []  # no temp leftovers


@pytest.mark.parametrize(
    "args,words",
    [
        (["--ci", "magic"], ["--ci 'magic'", "wilson"]),
        (["--correction", "sidak"], ["--correction", "holm"]),
        (["--bins", "age"], ["--bins 'age'", "COLUMN=EDGES"]),
        (["--bins", "age=5,3"], ["increasing"]),
        (["--by", "nope"], ["no column 'nope'"]),
        (["--threshold", "banana"], ["threshold 'banana'"]),
        (["--reference", "sex=X"], ["no such group"]),
        (["--cross", "sex"], ["at least two columns"]),
        (["--fail-on", "anything"], ["--fail-on"]),
        (["--level", "95"], ["--level"]),
        (["--margin", "auc"], ["--margin 'auc'", "METRIC=DEFICIT"]),
        (["--margin", "auc=big"], ["--margin 'auc=big'", "must be a number"]),
        (["--margin", "auc=0.05,sens=0.1"], ["--margin 'sens'", "sensitivity"]),
        (["--margin", "auc=1.5"], ["above 0 and below 1"]),
        (["--metrics", "auc,fairness"], ["--metrics 'fairness'", "calibration"]),
        (["--flag-on", "auc,f1"], ["--flag-on 'f1'", "ppv"]),
        (["--margin", "brier=0.01"], ["--margin brier", "--metrics auc,proportions,calibration"]),
        (["--flag-on", "ppv", "--metrics", "auc"], ["--flag-on ppv", "'proportions' is not computed"]),
    ],
)
def test_usage_errors_exit_2(files, run_hs, args, words):
    res = run_hs("stratify", "preds.csv", "labels.csv", *args)
    assert res.returncode == 2, res.stderr
    line = error_line(res)
    for word in words:
        assert word in line


def test_missing_file_and_output_protection(files, run_hs):
    tmp, *_ = files
    res = run_hs("stratify", "nope.csv", "labels.csv")
    assert res.returncode == 1 and "nope.csv: no such file" in error_line(res)
    before = (tmp / "labels.csv").read_bytes()
    res = run_hs("stratify", "preds.csv", "labels.csv", "-o", "labels.csv")
    assert res.returncode == 1 and "it is one of the inputs" in error_line(res)
    assert (tmp / "labels.csv").read_bytes() == before
    res = run_hs("stratify", "preds.csv", "labels.csv", "-o", "no/such/dir/x.csv")
    assert res.returncode == 1 and "does not exist" in error_line(res)
    res = run_hs("stratify", "-", "-")
    assert res.returncode == 2 and "only one input" in error_line(res)


def test_allow_unmatched_counts_what_was_dropped(files, run_hs):
    tmp, _p, _lab, preds, _labels = files
    preds.head(350).write_csv(tmp / "partial.csv")
    res = run_hs("stratify", "partial.csv", "labels.csv", "--allow-unmatched", "-o", "s.json")
    assert res.returncode == 0, res.stderr
    meta = json.loads((tmp / "s.json.meta.json").read_text())
    assert meta["dropped"] == {"unmatched_in_partial.csv": 0, "unmatched_in_labels.csv": 50}
    assert meta["n_analysed"] == 350


def test_positive_option_and_parquet_labels(files, run_hs):
    tmp, _p, _lab, _preds, labels = files
    named = labels.with_columns(
        pl.when(pl.col("label") == 1).then(pl.lit("pneumonia")).otherwise(pl.lit("normal")).alias("label")
    )
    named.write_parquet(tmp / "named.parquet")
    a = run_hs("stratify", "preds.csv", "labels.csv", "--by", "sex")
    b = run_hs("stratify", "preds.csv", "named.parquet", "--by", "sex", "--positive", "pneumonia")
    assert b.returncode == 0, b.stderr
    assert a.stdout == b.stdout


def test_margins_and_flag_on_decide_fail_on(files, run_hs):
    """--fail-on worse follows the flags: with a margin as large as the deficit, nothing fails."""
    res = run_hs("stratify", "preds.csv", "labels.csv", "--by", "drain", "--fail-on", "worse")
    assert res.returncode == 3
    res = run_hs(
        "stratify",
        "preds.csv",
        "labels.csv",
        "--by",
        "drain",
        "--fail-on",
        "worse",
        "--margin",
        "auc=0.6,sensitivity=0.9",
    )
    assert res.returncode == 0, res.stderr
    assert b"margins auc 0.6, sensitivity 0.9" in res.stderr
    table = pl.read_csv(res.stdout)
    assert {"auc_margin_p", "sensitivity_margin_p", "auc_mdd", "sensitivity_mdd", "auc_test"} <= set(table.columns)
    assert table["flag"].sum() == 0 and table["auc_margin_p"].drop_nulls().len() == 2


def test_help_examples_with_metrics_and_margins_run(files, run_hs):
    text = run_hs("stratify", "--help").stdout.decode()
    examples = [
        "hs stratify preds.csv labels.csv --by site --metrics all",
        "hs stratify preds.csv labels.csv --margin auc=0.05,sensitivity=0.1",
    ]
    assert all(e in text for e in examples)
    tmp, _p, _lab, _preds, labels = files
    labels.with_columns(pl.Series("site", ["a", "b", "c", "d"] * 100)).write_csv(tmp / "labels.csv")
    res = run_hs(*examples[0].split()[1:], "-f", "table")
    assert res.returncode == 0, res.stderr
    header = res.stdout.decode().splitlines()[0]
    assert "cal. slope" in header and "MDD(AUC)" in header
    assert b"AUC across site (4 groups)" in res.stderr
    res = run_hs(*examples[1].split()[1:])
    assert res.returncode == 0, res.stderr
    assert b"margins auc 0.05, sensitivity 0.1" in res.stderr


def test_help_has_an_example(run_hs):
    res = run_hs("stratify", "--help")
    assert res.returncode == 0 and b"hs stratify preds.csv labels.csv" in res.stdout
    assert run_hs("--version").stdout.startswith(b"hs ")


def test_closed_pipe_stops_quietly(files):
    tmp, _p, _lab, _preds, labels = files
    # One group per image: about half a megabyte of JSON, far more than a pipe buffer holds.
    labels.with_columns(pl.col("image_id").alias("case")).write_csv(tmp / "many.csv")
    shell = (
        f"{sys.executable} -m hstool stratify preds.csv many.csv --by case --max-levels 1000 --min-n 1 "
        "--format json | true; echo ${PIPESTATUS[0]}"
    )
    res = subprocess.run(
        ["bash", "-c", shell], cwd=tmp, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT))
    )
    assert res.stdout.strip() == b"141", res
    assert res.stderr == b""


def test_youden_on_uninformative_scores_is_one_line(tmp_path, run_hs):
    ids = [f"i{i}" for i in range(30)]
    pl.DataFrame({"image_id": ids, "score": [0.2] * 30}).write_csv(tmp_path / "flat.csv")
    pl.DataFrame({"image_id": ids, "label": [0, 1, 1] * 10}).write_csv(tmp_path / "y.csv")
    res = run_hs("stratify", "flat.csv", "y.csv", "--threshold", "youden")
    assert res.returncode == 1
    line = error_line(res)
    assert "best Youden J is 0" in line and "fixed threshold" in line
