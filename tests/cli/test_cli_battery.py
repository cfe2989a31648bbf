"""What a hostile-input battery found, mended: each case gives one `hs: error:` line, the
documented exit code, and nothing written. (hs predict's work folder after a failure or Ctrl-C,
and the resource tracker after kill -9: tests/infer/test_predict_resume.py.)"""

from __future__ import annotations

import os

import numpy as np
import polars as pl
import pytest
from conftest import ROOT, run_hs_subprocess

TABLES = ROOT / "tests" / "fixtures" / "tables"
PREDS, LABELS = str(TABLES / "canonical_preds.csv"), str(TABLES / "canonical_labels.csv")


def one_line(stderr: bytes) -> str:
    lines = stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hs: error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    "args,words",
    [
        (["stratify", PREDS, LABELS, "--bogus"], ["No such option: --bogus", "hs stratify --help"]),
        (["stratify"], ["Missing argument", "hs stratify --help"]),
        (["no-such-command"], ["No such command", "hs --help"]),
        (["stratify", PREDS, LABELS, "--threshold"], ["requires an argument"]),
    ],
)
def test_a_mistyped_command_line_is_one_line_and_exit_2(tmp_path, args, words):
    res = run_hs_subprocess(*args, cwd=tmp_path)
    assert res.returncode == 2
    line = one_line(res.stderr)
    for word in words:
        assert word in line, line
    assert "╭" not in res.stderr.decode() and res.stdout == b""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_output_where_nothing_can_be_written(run_hs):
    res = run_hs("stratify", PREDS, LABELS, "-o", "/proc/strata.csv")
    assert res.returncode == 1
    line = one_line(res.stderr)
    assert line.startswith("hs: error: cannot write /proc/strata.csv: ") and "internal error" not in line


def test_embeddings_must_be_named_npy(run_hs, tmp_path):
    for args in (
        ["embed", "model.onnx", "manifest.csv", "-o", "e.csv"],
        ["predict", "m.onnx", "x.csv", "--embeddings", "e.txt"],
    ):
        res = run_hs(*args)
        assert res.returncode == 2
        assert "give a name ending in .npy" in one_line(res.stderr)
    assert not list(tmp_path.iterdir())


def test_a_text_file_named_npy_is_not_unpickled_or_advised_to_be(run_hs, tmp_path):
    (tmp_path / "emb.npy").write_text("image_id,score\na,0.5\n")
    pl.DataFrame({"image_id": ["a"]}).write_csv(tmp_path / "emb.ids.csv")
    pl.DataFrame({"image_id": ["a"], "label": [1], "sex": ["F"]}).write_csv(tmp_path / "labels.csv")
    res = run_hs("probe", "emb.npy", "labels.csv", "--target", "sex")
    line = one_line(res.stderr)
    assert res.returncode == 1 and "not a valid .npy array" in line and "pickle" not in line.lower()
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object))
    pl.DataFrame({"image_id": ["a"]}).write_csv(tmp_path / "obj.ids.csv")
    line = one_line(run_hs("probe", "obj.npy", "labels.csv", "--target", "sex").stderr)
    assert "not a valid .npy array" in line and "pickle" not in line.lower()


def test_agree_on_a_three_valued_label_column_says_not_binary(run_hs):
    three = str(TABLES / "label_coding_three_values.csv")
    res = run_hs("agree", PREDS, three, "--threshold", "0.5")
    line = one_line(res.stderr)
    assert res.returncode == 1 and "not binary (values: '0', '1', '2')" in line and "sigmoid" not in line


def test_agree_still_takes_a_named_column_with_decimals_for_scores(run_hs, tmp_path):
    ids = pl.read_csv(PREDS)["image_id"]
    logits = np.linspace(-3, 3, len(ids)).round(3)
    pl.DataFrame({"image_id": ids, "logit": logits}).write_csv(tmp_path / "logits.csv")
    res = run_hs("agree", PREDS, "logits.csv", "--b-col", "logit", "--threshold", "0.5")
    assert res.returncode == 1 and "sigmoid" in one_line(res.stderr)
