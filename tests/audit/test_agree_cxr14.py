"""Real data: ChestX-ray14 NLP-mined labels against radiologist labels (skipped without data)."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest
from conftest import ROOT
from sklearn.metrics import cohen_kappa_score

from hstool.audit.agree import AgreeOptions, run_agree
from hstool.audit.groups import BinSpec


@pytest.fixture(scope="module")
def label_files(data_dir, tmp_path_factory):
    source = data_dir / "nih-cxr14" / "google2019_nih-chest-xray-labels.csv.gz"
    if not source.exists():
        pytest.skip(f"{source} not found")
    out = tmp_path_factory.mktemp("cxr14")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cxr14_agreement.py"), "labels", str(source), str(out)], check=True
    )
    return out / "nlp.csv", out / "expert.csv"


def test_pneumothorax_nlp_vs_expert(label_files):
    nlp, expert = label_files
    result = run_agree(
        str(nlp),
        str(expert),
        AgreeOptions(
            a_col="pneumothorax",
            b_col="pneumothorax",
            by=["age", "view"],
            bins={"age": BinSpec(edges=(0, 20, 40, 60, 80, 100))},
        ),
    )
    overall = result.table.row(0, named=True)
    # The data README: expert and NLP agree on 109 positives and disagree on 258 images.
    assert overall["n"] == 4376 and overall["both_pos"] == 109 and overall["a_only"] + overall["b_only"] == 258
    a = pl.read_csv(nlp)["pneumothorax"].to_numpy()
    b = pl.read_csv(expert)["pneumothorax"].to_numpy()
    assert overall["kappa"] == pytest.approx(cohen_kappa_score(a, b))
    groups = dict(zip(result.table["group"], result.table["n"]))
    assert groups["(outside bins)"] == 1  # the recorded age of 155
    assert groups["AP"] + groups["PA"] == 4376
