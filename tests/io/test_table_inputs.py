"""Predictions and labels as users have them: column mapping, Excel, European CSV, TSV, label
codings, the spelling of stratifier values, missing markers. Fixtures: tests/fixtures/tables/,
written by scripts/make_table_fixtures.py, each file named after its case."""

from __future__ import annotations

import csv
import gzip
import json
import string
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from hstool.audit.groups import build_stratifiers
from hstool.audit.strata_table import StratifyOptions
from hstool.audit.stratify import run_stratify
from hstool.io.table_format import ColumnMap
from hstool.io.tables import read_table

TABLES = ROOT / "tests" / "fixtures" / "tables"
VENDOR = ["--id-col", "Accession", "--score-col", "PTX_prob", "--label-col", "Pneumothorax"]


def fx(name: str) -> str:
    return str(TABLES / name)


def stratify_csv(run_hs, *args: str) -> bytes:
    res = run_hs("stratify", *args, "-f", "csv", "-q")
    assert res.returncode == 0, res.stderr.decode()
    return res.stdout


def one_error(res, code: int = 1) -> str:
    assert res.returncode == code, (res.returncode, res.stderr)
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hs: error: "), lines
    assert res.stdout == b""
    return lines[0]


@pytest.fixture
def canonical(run_hs) -> bytes:
    return stratify_csv(run_hs, fx("canonical_preds.csv"), fx("canonical_labels.csv"))


def groups(table: bytes, stratifier: str) -> dict[str, int]:
    frame = pl.read_csv(table, schema_overrides={"group": pl.String})
    rows = frame.filter(pl.col("stratifier") == stratifier)
    return dict(zip(rows["group"].to_list(), rows["n"].to_list()))


def test_vendor_file_with_the_mapping_gives_the_canonical_strata(run_hs, canonical, tmp_path):
    assert stratify_csv(run_hs, fx("vendor_preds.csv"), fx("vendor_labels.csv"), *VENDOR) == canonical
    res = run_hs("stratify", fx("vendor_preds.csv"), fx("vendor_labels.csv"), *VENDOR, "-o", str(tmp_path / "s.csv"))
    assert res.returncode == 0
    meta = json.loads((tmp_path / "s.csv.meta.json").read_text())
    preds_input, labels_input = meta["inputs"]
    assert preds_input["columns"] == {"image_id": "Accession", "score": "PTX_prob"}
    assert labels_input["columns"] == {"image_id": "Accession", "label": "Pneumothorax"}
    assert meta["parameters"]["columns"] == {"id": "Accession", "score": "PTX_prob", "label": "Pneumothorax"}


def test_vendor_file_without_the_mapping_names_the_columns_and_the_option(run_hs):
    line = one_error(run_hs("stratify", fx("vendor_preds.csv"), fx("vendor_labels.csv")))
    assert "vendor_preds.csv" in line and "found: Accession, PTX_prob, PTX_pred" in line and "--id-col" in line
    line = one_error(run_hs("stratify", fx("vendor_preds.csv"), fx("vendor_labels.csv"), "--id-col", "Accession"))
    assert "no score column 'score'" in line and "--score-col" in line
    line = one_error(
        run_hs("stratify", fx("vendor_preds.csv"), fx("vendor_labels.csv"), *VENDOR[:2], "--score-col", "p")
    )
    assert "no column 'p'" in line and "--score-col" in line


def test_a_prob_column_with_a_hard_pred_is_never_audited_as_multiclass(run_hs):
    # Once audited silently as multi-class accuracy on `pred`; now the mode is never guessed.
    line = one_error(run_hs("stratify", fx("prob_and_pred_preds.csv"), fx("canonical_labels.csv")))
    assert "found: image_id, prob, pred" in line and "--score-col" in line
    for command in ("cluster", "report", "audit"):
        assert "--score-col" in run_hs(command, "--help").stdout.decode()


def test_european_csv_needs_decimal_comma_and_then_matches(run_hs, canonical):
    preds = fx("european_semicolon_decimal_comma.csv")
    line = one_error(run_hs("stratify", preds, fx("vendor_labels.csv"), *VENDOR))
    assert "line 2, column 'PTX_prob'" in line and "'0,602911'" in line and "--decimal-comma" in line
    assert stratify_csv(run_hs, preds, fx("vendor_labels.csv"), *VENDOR, "--decimal-comma") == canonical
    # The delimiter is sniffed per file; given, it applies to every CSV the command reads.
    given = ["--id-col", "Accession", "--score-col", "PTX_prob", "--decimal-comma", "--threshold", "0.5"]
    res = run_hs("calibrate", preds, *given, "--delimiter", ";")
    assert res.returncode == 0, res.stderr
    calibrated = pl.read_csv(res.stdout)
    assert calibrated.columns == ["image_id", "score"] and calibrated.height == 120
    assert calibrated["score"][0] == pytest.approx(0.602911)  # 0,602911 read as 0.602911, kept at t = 0.5
    line = one_error(run_hs("stratify", preds, fx("vendor_labels.csv"), "--delimiter", ";;"), code=2)
    assert "--delimiter" in line
    line = one_error(run_hs("stratify", fx("canonical_preds.csv"), fx("canonical_labels.csv"), "--delimiter", "tab"))
    assert "read as one column" in line and "--delimiter" in line


def test_agree_reads_decimal_comma_scores_as_scores(run_hs):
    """With --decimal-comma, `0,602911` is a score (rater A is thresholded), not a label value."""
    preds, labels = fx("european_semicolon_decimal_comma.csv"), fx("vendor_labels.csv")
    args = ["--id-col", "Accession", "--a-col", "PTX_prob", "--b-col", "Pneumothorax", "--threshold", "0.5", "-q"]
    res = run_hs("agree", preds, labels, *args, "--decimal-comma")
    assert res.returncode == 0, res.stderr
    overall = pl.read_csv(res.stdout).row(0, named=True)
    scores = pl.read_csv(preds, separator=";", decimal_comma=True)["PTX_prob"]
    assert overall["a_threshold"] == 0.5 and overall["a_pos"] == int((scores >= 0.5).sum())


def test_tsv_and_excel_sheets(run_hs, canonical):
    assert stratify_csv(run_hs, fx("canonical_preds.csv"), fx("tab_separated_labels.tsv")) == canonical
    workbook = fx("two_sheets.xlsx")
    line = one_error(run_hs("stratify", fx("canonical_preds.csv"), workbook))
    assert "2 sheets ('preds', 'labels')" in line and "--sheet" in line
    assert stratify_csv(run_hs, fx("canonical_preds.csv"), workbook, "--sheet", "labels") == canonical
    assert stratify_csv(run_hs, workbook, fx("canonical_labels.csv"), "--sheet", "preds") == canonical
    line = one_error(run_hs("stratify", workbook, fx("canonical_labels.csv"), "--sheet", "Sheet1"))
    assert "no sheet 'Sheet1' (sheets: 'preds', 'labels')" in line


def test_one_finding_of_a_multi_finding_export(run_hs):
    args = ["--score-col", "Pneumothorax", "--label-col", "Pneumothorax", "--by", "site"]
    table = stratify_csv(run_hs, fx("multi_finding_preds.csv"), fx("multi_finding_labels.csv"), *args)
    # The same scores and labels as the canonical files, stratified the same way: the same strata
    # (adjusted p-values depend on the family, so the canonical run is also by site only).
    assert table == stratify_csv(run_hs, fx("canonical_preds.csv"), fx("canonical_labels.csv"), "--by", "site")
    preds, labels = pl.read_csv(fx("multi_finding_preds.csv")), pl.read_csv(fx("multi_finding_labels.csv"))
    expected = roc_auc_score(labels["Pneumothorax"], preds["Pneumothorax"])  # independent oracle
    assert pl.read_csv(table)["auc"][0] == pytest.approx(expected, abs=1e-12)
    other = stratify_csv(
        run_hs,
        fx("multi_finding_preds.csv"),
        fx("multi_finding_labels.csv"),
        "--score-col",
        "Effusion",
        "--label-col",
        "Effusion",
        "--by",
        "site",
    )
    effusion = roc_auc_score(labels["Effusion"], preds["Effusion"])
    assert pl.read_csv(other)["auc"][0] == pytest.approx(effusion, abs=1e-12)


def test_codes_keep_their_spelling(run_hs):
    table = stratify_csv(run_hs, fx("canonical_preds.csv"), fx("codes_leading_zeros.csv"))
    assert groups(table, "site") == {"001": 40, "01": 40, "1": 40}
    table = stratify_csv(run_hs, fx("canonical_preds.csv"), fx("codes_exponent.csv"))
    assert groups(table, "dose") == {"1000": 60, "1e3": 60}
    res = run_hs(
        "agree",
        fx("canonical_preds.csv"),
        fx("codes_leading_zeros.csv"),
        "--threshold",
        "0.5",
        "--by",
        "site",
        "-f",
        "csv",
    )
    assert res.returncode == 0, res.stderr
    assert groups(res.stdout, "site") == {"001": 40, "01": 40, "1": 40}


def test_probe_target_codes_keep_their_spelling(run_hs, tmp_path):
    ids = pl.read_csv(fx("codes_leading_zeros.csv"))["image_id"]
    np.save(tmp_path / "emb.npy", np.random.default_rng(0).normal(size=(len(ids), 4)).astype(np.float32))
    pl.DataFrame({"image_id": ids}).write_csv(tmp_path / "emb.ids.csv")
    res = run_hs("probe", "emb.npy", fx("codes_leading_zeros.csv"), "--target", "site", "-f", "csv", "--folds", "3")
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(res.stdout, schema_overrides={"class": pl.String})
    per_class = table.filter(pl.col("versus") == "rest")
    assert dict(zip(per_class["class"], per_class["n_class"])) == {"001": 40, "01": 40, "1": 40}


def test_missing_markers_form_one_group(run_hs):
    table = stratify_csv(run_hs, fx("canonical_preds.csv"), fx("missing_markers.csv"))
    assert groups(table, "sex") == {"F": 20, "M": 20, "(missing)": 80}  # empty, nan, NA, None
    table = stratify_csv(run_hs, fx("canonical_preds.csv"), fx("missing_markers.csv"), "--na-values", "NA")
    assert groups(table, "sex") == {"F": 20, "M": 20, "None": 20, "nan": 20, "(missing)": 40}


def test_a_literal_missing_value_never_merges_with_missing_cells(run_hs):
    line = one_error(run_hs("stratify", fx("canonical_preds.csv"), fx("literal_missing.csv")))
    assert "literal_missing.csv" in line and "'device'" in line and "--na-values" in line
    table = stratify_csv(run_hs, fx("canonical_preds.csv"), fx("literal_missing.csv"), "--na-values", "(missing)")
    assert groups(table, "device") == {"drain": 40, "(missing)": 80}


@pytest.mark.parametrize("coding", ["zero_one", "float", "true_false", "yes_no", "positive_negative"])
def test_label_codings_give_the_canonical_strata(run_hs, coding):
    canonical = stratify_csv(run_hs, fx("canonical_preds.csv"), fx("canonical_labels.csv"), "--by", "site")
    assert stratify_csv(run_hs, fx("canonical_preds.csv"), fx(f"label_coding_{coding}.csv")) == canonical


def test_two_values_need_positive_and_mixed_codings_are_refused(run_hs):
    preds = fx("canonical_preds.csv")
    line = one_error(run_hs("stratify", preds, fx("label_coding_two_values.csv")))
    assert "not binary (values: 'PTX', 'normal')" in line and "--positive" in line
    canonical = stratify_csv(run_hs, preds, fx("canonical_labels.csv"), "--by", "site")
    assert stratify_csv(run_hs, preds, fx("label_coding_two_values.csv"), "--positive", "PTX") == canonical
    line = one_error(run_hs("stratify", preds, fx("label_coding_two_values.csv"), "--positive", "ptx"))
    assert "no label is 'ptx'" in line
    line = one_error(run_hs("stratify", preds, fx("label_coding_mixed.csv")))
    assert "mix codings 0/1 and yes/no" in line and "'yes'" in line
    line = one_error(run_hs("stratify", preds, fx("label_coding_three_values.csv")))
    assert "line 9" in line and "not binary (values: '0', '1', '2')" in line
    line = one_error(run_hs("stratify", preds, fx("label_coding_three_values.csv"), "--positive", "1"))
    assert "3 label values" in line


def test_trailing_blank_lines_are_not_rows(run_hs, canonical):
    assert stratify_csv(run_hs, fx("trailing_blank_lines.csv"), fx("canonical_labels.csv")) == canonical


def test_a_late_value_in_an_unused_column_never_breaks_the_read(run_hs, tmp_path):
    # Integer patient ids for 10,000 rows, then a 40-digit one: a type guessed from the first
    # rows (as the reader once did) fails at the end; the audit never uses the column.
    n = 10_001
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, n)
    ids = [f"i{i}" for i in range(n)]
    patient = [str(i) for i in range(n - 1)] + ["1" * 40]
    pl.DataFrame({"image_id": ids, "score": np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)}).write_csv(
        tmp_path / "p.csv"
    )
    sex = ["F", "M"] * (n // 2) + ["nan"]
    pl.DataFrame({"image_id": ids, "patient_id": patient, "label": y, "sex": sex}).write_csv(tmp_path / "l.csv")
    table = stratify_csv(run_hs, "p.csv", "l.csv", "--by", "sex")
    assert groups(table, "sex") == {"F": 5000, "M": 5000, "(missing)": 1}


# Any name, hs's own names included (a file may call its id column `score`: a swap).
_NAME = st.sampled_from(["image_id", "score", "label"]) | st.text(
    string.ascii_letters + string.digits + "_ ", min_size=1, max_size=12
).map(str.strip).filter(bool)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_NAME, min_size=3, max_size=3, unique=True).filter(lambda n: not {"site", "sex"} & set(n)))
def test_renaming_columns_and_mapping_them_changes_nothing(tmp_path, names):
    id_name, score_name, label_name = names
    preds = pl.read_csv(fx("canonical_preds.csv"), infer_schema=False)
    labels = pl.read_csv(fx("canonical_labels.csv"), infer_schema=False)
    preds.rename({"image_id": id_name, "score": score_name}).write_csv(tmp_path / "p.csv")
    labels.rename({"image_id": id_name, "label": label_name}).write_csv(tmp_path / "l.csv")
    mapped = StratifyOptions(columns=ColumnMap(id=id_name, score=score_name, label=label_name))
    renamed = run_stratify(str(tmp_path / "p.csv"), str(tmp_path / "l.csv"), mapped).table
    reference = run_stratify(fx("canonical_preds.csv"), fx("canonical_labels.csv"), StratifyOptions()).table
    assert renamed.write_csv() == reference.write_csv()


def test_fixtures_are_what_the_script_writes(tmp_path):
    import runpy

    runpy.run_path(str(ROOT / "scripts" / "make_table_fixtures.py"), run_name="fixtures")["write"](tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in TABLES.iterdir())
    for name in written:
        assert (tmp_path / name).read_bytes() == Path(TABLES / name).read_bytes(), name


def test_gzipped_csv_is_read_as_its_text(run_hs, canonical, tmp_path):
    (tmp_path / "labels.csv.gz").write_bytes(gzip.compress((TABLES / "canonical_labels.csv").read_bytes()))
    assert stratify_csv(run_hs, fx("canonical_preds.csv"), "labels.csv.gz") == canonical


@pytest.mark.slow
def test_the_nih_export_reads_whole_with_its_own_names(data_dir):
    # ChestX-ray14's Data_Entry (112,120 rows; commas inside two header names, gzipped): the
    # groups of two stratifiers, counted independently with the csv module.
    path = data_dir / "nih-cxr14" / "Data_Entry_2017_v2020.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    table, source = read_table(str(path), role="labels", columns={"image_id": "Image Index"})
    assert source.provenance()["columns"] == {"image_id": "Image Index"} and table.height == 112_120
    stratifiers = build_stratifiers(
        table, by=["Patient Gender", "View Position"], crosses=[], bins={}, max_levels=20, source_name=source.name
    )
    with gzip.open(path, "rt", newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    for stratifier, column in zip(stratifiers, (5, 6)):
        expected = Counter(row[column] for row in rows)
        assert dict(
            zip(stratifier.levels, np.bincount(stratifier.codes, minlength=len(stratifier.levels)).tolist())
        ) == dict(expected)


def test_columns_called_by_each_others_hs_names_can_be_swapped(run_hs, canonical, tmp_path):
    preds = pl.read_csv(fx("canonical_preds.csv"), infer_schema=False)
    preds.rename({"image_id": "score", "score": "image_id"}).write_csv(tmp_path / "swapped.csv")
    args = ("swapped.csv", fx("canonical_labels.csv"), "--id-col", "score", "--score-col", "image_id")
    # Labels keep image_id: --id-col names every file's id column, so the labels need it too.
    line = one_error(run_hs("stratify", *args))
    assert "canonical_labels.csv" in line and "no column 'score'" in line
    labels = pl.read_csv(fx("canonical_labels.csv"), infer_schema=False).rename({"image_id": "score"})
    labels.write_csv(tmp_path / "labels.csv")
    assert (
        stratify_csv(run_hs, "swapped.csv", "labels.csv", "--id-col", "score", "--score-col", "image_id") == canonical
    )


def test_many_codes_stay_groups_and_many_measurements_become_quartiles(run_hs, tmp_path):
    labels = pl.read_csv(fx("canonical_labels.csv"), infer_schema=False)
    n = labels.height
    labels.with_columns(
        pl.Series("scanner", [f"{i % 30:03d}" for i in range(n)]),  # 30 codes 000..029
        pl.Series("age", [str(20 + i % 60) for i in range(n)]),  # 60 ages
    ).write_csv(tmp_path / "labels.csv")
    res = run_hs("stratify", fx("canonical_preds.csv"), "labels.csv", "--by", "scanner", "--by", "age", "-f", "csv")
    assert res.returncode == 0, res.stderr
    assert len(groups(res.stdout, "scanner")) == 30
    assert list(groups(res.stdout, "age")) == ["[20, 34.75)", "[34.75, 49.5)", "[49.5, 64.25)", "[64.25, 79]"]
    assert "age: 60 distinct values: binned into quartiles" in res.stderr.decode()


def test_agree_and_cluster_take_the_same_mapping(run_hs, tmp_path):
    canonical = (fx("canonical_preds.csv"), fx("canonical_labels.csv"))
    vendor = (fx("vendor_preds.csv"), fx("vendor_labels.csv"))
    for (preds, labels), extra in ((canonical, []), (vendor, VENDOR)):
        res = run_hs("agree", preds, labels, "--reference", labels, "--threshold", "0.5", "--by", "site", *extra)
        assert res.returncode == 0, res.stderr
        (tmp_path / f"agree_{len(extra)}.csv").write_bytes(res.stdout)
    assert (tmp_path / "agree_0.csv").read_bytes() == (tmp_path / "agree_6.csv").read_bytes()
    ids = pl.read_csv(fx("canonical_preds.csv"))["image_id"]
    np.save(tmp_path / "emb.npy", np.random.default_rng(3).normal(size=(len(ids), 4)).astype(np.float32))
    pl.DataFrame({"image_id": ids}).write_csv(tmp_path / "emb.ids.csv")
    for (preds, labels), extra in ((canonical, []), (vendor, VENDOR)):
        args = ("cluster", "emb.npy", preds, labels, "--min-size", "10", "--by", "site", "-o", f"c{len(extra)}.csv")
        res = run_hs(*args, *extra, "--summary", f"s{len(extra)}.csv")
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "c0.csv").read_bytes() == (tmp_path / "c6.csv").read_bytes()
    assert (tmp_path / "s0.csv").read_bytes() == (tmp_path / "s6.csv").read_bytes()


def test_audit_takes_the_same_mapping(run_hs, tmp_path):
    for name, extra in (("canonical", []), ("vendor", VENDOR)):
        preds, labels = fx(f"{name}_preds.csv"), fx(f"{name}_labels.csv")
        res = run_hs("audit", "-p", preds, "-l", labels, "--by", "site", "-o", f"{name}.csv", "-q", *extra)
        assert res.returncode == 0, res.stderr
    assert (tmp_path / "canonical.csv").read_bytes() == (tmp_path / "vendor.csv").read_bytes()


def test_a_duplicate_id_in_a_workbook_names_both_spreadsheet_rows(tmp_path):
    """Spreadsheet rows count the header, as Excel shows them: the first 'a' is row 2."""
    from hstool.errors import InputError
    from hstool.io.tables import read_table

    workbook = tmp_path / "dup.xlsx"
    pl.DataFrame({"image_id": ["a", "b", "a"], "label": [1, 0, 1]}).write_excel(workbook)
    with pytest.raises(InputError, match=r"row 4, column 'image_id': image_id 'a' repeats row 2 "):
        read_table(str(workbook), role="labels")
