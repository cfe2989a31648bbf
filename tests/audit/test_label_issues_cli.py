"""`hs label-issues`: the ranked table against an independent computation, its sidecar, and
every bad input (fixture files named after their case in label_issues_fixtures/)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

FIXTURES = Path(__file__).parent / "label_issues_fixtures"
COLUMNS = ["rank", "image_id", "label", "suspected_label", "score", "issue", "p_label", "p_suspected"]


@pytest.fixture
def files(tmp_path):
    for f in FIXTURES.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path


def _ranked(res) -> pl.DataFrame:
    return pl.read_csv(io.BytesIO(res.stdout), schema_overrides={"image_id": pl.String, "label": pl.String})


def test_multiclass_ranking_matches_the_margin_computed_here(run_hs, files):
    res = run_hs(
        "label-issues", "out_of_sample_preds.csv", "labels_multiclass.csv", "--score", "margin", "--by-score",
        "--issues", "confident-joint", "--format", "csv",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    table = _ranked(res)
    assert table.columns == COLUMNS
    preds = pl.read_csv(FIXTURES / "preds_multiclass.csv").sort("image_id")
    labels = pl.read_csv(FIXTURES / "labels_multiclass.csv")
    given = dict(zip(labels["image_id"], labels["label"]))
    probs = preds.select("p_cat", "p_dog", "p_fox").to_numpy()
    index = [["cat", "dog", "fox"].index(given[i]) for i in preds["image_id"]]
    margin = [p[g] - max(np.delete(p, g)) for p, g in zip(probs, index)]
    expected = [preds["image_id"][int(i)] for i in np.argsort(margin, kind="stable")]
    assert table["image_id"].to_list() == expected
    assert table["rank"].to_list() == list(range(1, 10))
    np.testing.assert_allclose(table["score"].to_numpy(), np.sort(margin))
    # t = (cat: mean(.8, .2, .3) = .433, dog: mean(.5, .7, .3, .9) = .6, fox: mean(.7, .6) = .65):
    # i02 (cat; dog .7 >= .6) and i07 (cat; fox .6 < .65, cat .3 < .433: not confident) ...
    flagged = set(table.filter(pl.col("issue"))["image_id"])
    assert flagged == {"i02", "i06"}  # i06: dog given, cat .6 >= .433
    row = table.filter(pl.col("image_id") == "i06").row(0, named=True)
    assert (row["label"], row["suspected_label"], row["p_label"], row["p_suspected"]) == ("dog", "cat", 0.3, 0.6)
    assert "sidecar" not in res.stderr.decode()  # out of sample: no warning
    assert "ranked by margin; 2 label issue(s) by confident-joint" in res.stderr.decode()


def test_default_puts_each_class_s_estimated_errors_first(run_hs, files):
    """Pruned by class, issues first (the defaults), worked by hand. Cat (t .433): i01 -> cat,
    i02 -> dog, i07 not counted; calibrated row 3 x (1/2, 1/2, 0): n_cat = round(1.5) = 2, the two
    lowest scores i02, i07. Dog (t .6): i03 not counted, i04, i08 -> dog, i06 -> cat; row
    4 x (1/3, 2/3, 0): n_dog = round(1.33) = 1, i06. Fox (t .65): i05 -> fox, i09 not counted: 0."""
    res = run_hs("label-issues", "out_of_sample_preds.csv", "labels_multiclass.csv", "-o", "ranked.csv")
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(files / "ranked.csv")
    assert set(table.filter(pl.col("issue"))["image_id"]) == {"i02", "i06", "i07"}
    assert table["issue"].to_list() == [True] * 3 + [False] * 6
    by_score = run_hs("label-issues", "out_of_sample_preds.csv", "labels_multiclass.csv", "--by-score", "-f", "csv")
    score = dict(zip(*_ranked(by_score).select("image_id", "score")))
    # Each part in score order: the adjusted self-confidence, as with --by-score.
    assert table["score"].to_list()[:3] == sorted(score[i] for i in ("i02", "i06", "i07"))
    assert table["score"].to_list()[3:] == sorted(v for i, v in score.items() if i not in {"i02", "i06", "i07"})
    meta = json.loads((files / "ranked.csv.meta.json").read_text())
    assert meta["n_issues"] == 3 and meta["n_issues_estimated"] == 3 and meta["n_off_diagonal"] == 2
    assert meta["n_issues_per_class"] == {"cat": 2, "dog": 1, "fox": 0}
    assert meta["parameters"]["issues"] == "prune-by-class" and meta["parameters"]["issues_first"] is True
    assert "(label issues first); 3 label issue(s) by prune-by-class" in res.stderr.decode()


def test_the_default_score_is_the_threshold_adjusted_self_confidence(run_hs, files):
    res = run_hs("label-issues", "out_of_sample_preds.csv", "labels_multiclass.csv", "--by-score", "--format", "csv")
    assert res.returncode == 0, res.stderr
    table = _ranked(res)
    preds = pl.read_csv(FIXTURES / "preds_multiclass.csv").sort("image_id")
    given = dict(zip(*pl.read_csv(FIXTURES / "labels_multiclass.csv").select("image_id", "label")))
    probs = preds.select("p_cat", "p_dog", "p_fox").to_numpy()
    index = np.array([["cat", "dog", "fox"].index(given[i]) for i in preds["image_id"]])
    thresholds = np.array([probs[index == j, j].mean() for j in range(3)])
    q = probs / thresholds
    q /= q.sum(axis=1, keepdims=True)
    score = q[np.arange(len(index)), index]
    expected = [preds["image_id"][int(i)] for i in np.argsort(score, kind="stable")]
    assert table["image_id"].to_list() == expected
    np.testing.assert_allclose(table["score"].to_numpy(), np.sort(score))
    assert "ranked by adjusted-self-confidence" in res.stderr.decode()


def test_binary_labels_keep_their_spelling(run_hs, files):
    res = run_hs("label-issues", "preds_binary.csv", "labels_binary.csv", "--positive", "pneumonia", "-o", "ranked.csv")
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(files / "ranked.csv")
    # b2 (pneumonia, p .2) and b5 (normal, p .7) have the lowest p_label, adjusted or not.
    assert table["image_id"].to_list()[:2] == ["b2", "b5"]
    assert table["suspected_label"].to_list()[:2] == ["normal", "pneumonia"]
    meta = json.loads((files / "ranked.csv.meta.json").read_text())
    assert meta["schema"] == "hs.label-issues/1"
    assert meta["classes"] == ["normal", "pneumonia"]
    # t_normal = mean(1 - .1, 1 - .7, 1 - .3, 1 - .05) = 0.7125; t_pneumonia = mean(.9, .2, .85, .95) = 0.725
    assert meta["thresholds"] == pytest.approx({"normal": 0.7125, "pneumonia": 0.725})
    assert meta["n_issues"] == int(table["issue"].sum())
    assert "no sidecar" in res.stderr.decode()


def test_extra_labels_rows_are_counted_not_refused(run_hs, files):
    res = run_hs("label-issues", "out_of_sample_preds.csv", "labels_multiclass.csv", "-o", "r.json")
    assert res.returncode == 0, res.stderr
    meta = json.loads((files / "r.json").read_text())["meta"]
    assert meta["dropped"] == {"labels_without_predictions": 2}
    assert meta["rows"] == 9


@pytest.mark.parametrize(
    ("preds", "labels", "message"),
    [
        ("preds_multiclass.csv", "single_class_labels.csv", "every ranked case has the label 'cat'"),
        (
            "ids_not_in_labels_preds.csv",
            "labels_multiclass.csv",
            "1 image_ids have no label in labels_multiclass.csv (first: 'x99')",
        ),
        (
            "preds_multiclass.csv",
            "unknown_class_labels.csv",
            "unknown_class_labels.csv, line 5, column 'label': label 'wolf' is not a class",
        ),
        (
            "preds_multiclass.csv",
            "empty_label_labels.csv",
            "empty_label_labels.csv, line 5, column 'label': empty label",
        ),
        (
            "rows_not_summing_preds.csv",
            "labels_multiclass.csv",
            "rows_not_summing_preds.csv, line 3: the p_<class> columns sum to 1.4",
        ),
        ("logits_not_probabilities_preds.csv", "labels_multiclass.csv", "apply a sigmoid (or softmax)"),
        ("labels_multiclass.csv", "labels_multiclass.csv", "neither a 'score' column"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(run_hs, files, preds, labels, message):
    res = run_hs("label-issues", preds, labels, "-o", "ranked.csv")
    err = res.stderr.decode()
    assert res.returncode == 1
    assert message in err, err
    assert err.count("hs: error:") == 1 and err.strip().startswith("hs: error:")
    assert not (files / "ranked.csv").exists()


@pytest.mark.parametrize(
    ("preds", "warning"),
    [
        (
            "in_sample_preds.csv",
            "not out of sample: its sidecar says the model was trained on the manifest it predicted",
        ),
        ("preds_multiclass.csv", "no sidecar says whether these probabilities are out of sample"),
    ],
)
def test_probabilities_that_may_be_in_sample_get_a_warning(run_hs, files, preds, warning):
    res = run_hs("label-issues", preds, "labels_multiclass.csv", "-o", "ranked.csv")
    assert res.returncode == 0, res.stderr
    err = res.stderr.decode()
    assert f"hs: warning: {preds}: {warning}" in err and "the ranking will be weak" in err
    assert warning in json.loads((files / "ranked.csv.meta.json").read_text())["notes"][0]


def test_a_model_trained_on_another_manifest_gives_no_warning(run_hs, files):
    res = run_hs("label-issues", "held_out_model_preds.csv", "labels_multiclass.csv", "-o", "ranked.csv")
    assert res.returncode == 0, res.stderr
    assert "warning" not in res.stderr.decode()


def test_unknown_score_is_a_usage_error(run_hs, files):
    res = run_hs("label-issues", "preds_multiclass.csv", "labels_multiclass.csv", "--score", "loss")
    assert res.returncode == 2
    assert "score 'loss': choose one of margin, self-confidence, adjusted-margin, adjusted-self-confidence" in (
        res.stderr.decode()
    )


def test_issues_first_puts_the_flagged_cases_on_top(run_hs, files):
    res = run_hs(
        "label-issues",
        "out_of_sample_preds.csv",
        "labels_multiclass.csv",
        "--issues-first",
        "--issues",
        "confident-joint",
        "--score",
        "margin",
        "-f",
        "csv",
    )
    assert res.returncode == 0, res.stderr
    table = _ranked(res)
    assert table["issue"].to_list()[:2] == [True, True] and not table["issue"][2:].any()
    assert set(table["image_id"][:2]) == {"i02", "i06"}  # off the confident joint's diagonal
    assert "(label issues first); 2 label issue(s) by confident-joint" in res.stderr.decode()


def test_unknown_issue_set_is_a_usage_error(run_hs, files):
    res = run_hs("label-issues", "preds_multiclass.csv", "labels_multiclass.csv", "--issues", "both")
    assert res.returncode == 2
    assert "--issues 'both': choose one of prune-by-class, confident-joint" in res.stderr.decode()


TABLES = Path(__file__).parents[1] / "fixtures" / "tables"


def test_renamed_columns_and_table_format_give_the_canonical_ranking(run_hs, tmp_path):
    """Issue 13's table options: vendor column names (and a ;-separated, decimal-comma copy)
    rank exactly as the canonical files; the sidecar records the mapping and the format."""
    for name in ("canonical_preds.csv", "canonical_labels.csv", "vendor_preds.csv", "vendor_labels.csv"):
        shutil.copy(TABLES / name, tmp_path / name)
    canonical = run_hs("label-issues", "canonical_preds.csv", "canonical_labels.csv", "--format", "csv")
    assert canonical.returncode == 0, canonical.stderr
    vendor = run_hs(
        "label-issues", "vendor_preds.csv", "vendor_labels.csv", "--format", "csv",
        "--id-col", "Accession", "--score-col", "PTX_prob", "--label-col", "Pneumothorax", "-o", "ranked.csv",
    )  # fmt: skip
    assert vendor.returncode == 0, vendor.stderr
    assert (tmp_path / "ranked.csv").read_bytes() == canonical.stdout
    meta = json.loads((tmp_path / "ranked.csv.meta.json").read_text())
    assert meta["inputs"][0]["columns"] == {"image_id": "Accession", "score": "PTX_prob"}
    assert meta["inputs"][1]["columns"] == {"image_id": "Accession", "label": "Pneumothorax"}
    assert meta["parameters"]["columns"] == {"id": "Accession", "score": "PTX_prob", "label": "Pneumothorax"}
    # The same predictions written the European way, with a marker for a missing label.
    preds = (tmp_path / "canonical_preds.csv").read_text().replace(",", ";").replace(".", ",")
    (tmp_path / "eu_preds.csv").write_text(preds)
    labels = (tmp_path / "canonical_labels.csv").read_text().replace(",", ";")
    (tmp_path / "eu_labels.csv").write_text(labels)
    european = run_hs("label-issues", "eu_preds.csv", "eu_labels.csv", "--format", "csv", "--decimal-comma")
    assert european.returncode == 0, european.stderr
    assert european.stdout == canonical.stdout
    wrong = run_hs("label-issues", "vendor_preds.csv", "vendor_labels.csv", "--id-col", "Accession")
    assert wrong.returncode == 1
    assert "--score-col" in wrong.stderr.decode() or "--label-col" in wrong.stderr.decode()
