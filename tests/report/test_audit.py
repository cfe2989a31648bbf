"""`hs audit`: the review sheet, its sampling, and the loop back into hs stratify."""

from __future__ import annotations

import json

import polars as pl
import pytest
from report_study import write_study

from hstool.audit.strata_table import StratifyOptions
from hstool.report.audit_sheet import AuditInputs, AuditOptions, build_audit_sheet


@pytest.fixture
def study(tmp_path):
    return write_study(tmp_path, n=600)


def sheet_of(study, **kw):
    stratify = kw.pop("stratify", StratifyOptions(by=["drain", "sex"]))
    inputs = AuditInputs(str(study["preds"]), str(study["labels"]), clusters=kw.pop("clusters", None))
    return build_audit_sheet(inputs, AuditOptions(stratify=stratify, **kw))


def test_sheet_columns_and_per_group_caps(study):
    sheet = sheet_of(study, per_group=3)
    table = sheet.table
    assert table.columns == ["image_id", "label", "score", "outcome", "sample", "sampled_for", "review_label"]
    assert table["review_label"].null_count() == table.height
    assert table["image_id"].to_list() == sorted(table["image_id"].to_list())
    # Each (group, error kind) contributes at most 3 errors, and one control per sampled error.
    for group in ("drain=no", "drain=yes", "sex=F", "sex=M", "sex=X"):
        rows = table.filter(pl.col("sampled_for").str.split("; ").list.contains(group))
        for kind in ("FN", "FP"):
            n_err = int((rows["outcome"] == kind).sum())
            assert n_err <= 3
    errors = table.filter(pl.col("sample") == "error")
    assert set(errors["outcome"].unique()) <= {"FN", "FP"}
    assert set(table.filter(pl.col("sample") == "control")["outcome"].unique()) <= {"TP", "TN"}
    # Scores agree with the outcome at the threshold 0.5.
    called = table["score"] >= 0.5
    assert ((table["outcome"].is_in(["TP", "FP"])) == called).all()


def test_sampling_is_seeded_and_independent_of_row_order(study, tmp_path):
    a = sheet_of(study, per_group=4).table
    b = sheet_of(study, per_group=4).table
    assert a.equals(b)
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    for name in ("preds", "labels"):
        pl.read_csv(study[name], schema_overrides={"image_id": pl.String}).sample(
            fraction=1.0, shuffle=True, seed=9
        ).write_csv(shuffled / f"{name}.csv")
    c = build_audit_sheet(
        AuditInputs(str(shuffled / "preds.csv"), str(shuffled / "labels.csv")),
        AuditOptions(stratify=StratifyOptions(by=["drain", "sex"]), per_group=4),
    ).table
    assert a.equals(c)
    other = build_audit_sheet(
        AuditInputs(str(study["preds"]), str(study["labels"])),
        AuditOptions(stratify=StratifyOptions(by=["drain", "sex"], seed=1), per_group=4),
    ).table
    assert not a["image_id"].equals(other["image_id"])


def test_controls_zero_gives_errors_only_and_blind_hides_the_verdict(study):
    errors_only = sheet_of(study, controls=0.0).table
    assert set(errors_only["sample"].unique()) == {"error"}
    blind = sheet_of(study, blind=True)
    assert blind.table.columns == ["image_id", "label", "review_label"]
    assert "FN" not in blind.html and "score" not in blind.html.split('<section id="cases">')[1]
    assert sorted(blind.table["image_id"].to_list()) == sorted(sheet_of(study).table["image_id"].to_list())


def test_clusters_add_their_own_groups(study):
    table = sheet_of(study, clusters=str(study["clusters"]), stratify=StratifyOptions(by=[])).table
    groups = {g for s in table["sampled_for"].to_list() for g in s.split("; ")}
    assert groups == {"cluster=0/k2/c0", "cluster=1/k2/c0", "cluster=1/k2/c1"}


def test_html_gallery_lists_the_csv_rows_in_order(study):
    sheet = sheet_of(study, per_group=2)
    ids = sheet.table["image_id"].to_list()
    positions = [sheet.html.index(f"#{k}  {i}") for k, i in enumerate(ids, start=1)]
    assert positions == sorted(positions)
    assert "<script" not in sheet.html and "review_label" in sheet.html


def test_the_reviewer_loop_measures_the_hidden_subclass(study, tmp_path, run_hs):
    """What the reviewer sees (the drain) becomes a measured subclass: stratify on the filled sheet
    flags the positives without a drain as missed more often, and only the sheet's cases are used."""
    done = run_hs("audit", "-p", "preds.csv", "-l", "labels.csv", "--by", "sex", "--per-group", "30", "-o", "sheet.csv")
    assert done.returncode == 0, done.stderr
    assert "--by review_label --allow-unmatched --threshold 0.5" in done.stderr.decode()
    assert (tmp_path / "sheet.html").exists() and (tmp_path / "sheet.csv.meta.json").exists()
    meta = json.loads((tmp_path / "sheet.csv.meta.json").read_text())
    assert meta["schema"] == "hs.audit-sheet/1" and meta["threshold"] == 0.5
    sheet = pl.read_csv(tmp_path / "sheet.csv", schema_overrides={"image_id": pl.String})
    truth = pl.read_csv(study["labels"], schema_overrides={"image_id": pl.String}).select("image_id", "drain")
    filled = (
        sheet.join(truth, on="image_id", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("drain") == "yes").then(pl.lit("drain")).otherwise(pl.lit("no drain")).alias("review_label")
        )
        .drop("drain")
    )
    filled.write_csv(tmp_path / "filled.csv")
    done = run_hs(
        "stratify",
        "preds.csv",
        "filled.csv",
        "--by",
        "review_label",
        "--allow-unmatched",
        "--threshold",
        "0.5",
        "-o",
        "strata.csv",
    )
    assert done.returncode == 0, done.stderr
    strata = pl.read_csv(tmp_path / "strata.csv")
    assert strata["n"][0] == sheet.height  # only the reviewed cases are analysed
    no_drain = strata.filter(pl.col("group") == "no drain").row(0, named=True)
    drain = strata.filter(pl.col("group") == "drain").row(0, named=True)
    assert no_drain["sensitivity"] < drain["sensitivity"]
    assert no_drain["flag"] and "sensitivity" in no_drain["worse_on"]
    # Without --allow-unmatched stratify refuses the partial sheet and says how to proceed.
    refused = run_hs("stratify", "preds.csv", "filled.csv", "--by", "review_label")
    assert refused.returncode == 1 and "--allow-unmatched" in refused.stderr.decode()


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["--per-group", "0"], 2, "--per-group 0"),
        (["--controls", "-1"], 2, "--controls"),
        (["--html", "sheet.csv"], 2, "names the CSV output"),
        (["--by", "nope"], 2, "no column 'nope'"),
    ],
)
def test_bad_options(study, run_hs, args, code, message):
    done = run_hs("audit", "-p", "preds.csv", "-l", "labels.csv", "-o", "sheet.csv", *args)
    assert done.returncode == code, done.stderr
    assert message in done.stderr.decode()


def test_threshold_rule_is_resolved_as_stratify_does_and_stdin_works(study, tmp_path, run_hs):
    run_hs("stratify", "preds.csv", "labels.csv", "--threshold", "youden", "-o", "strata.csv")
    expected = json.loads((tmp_path / "strata.csv.meta.json").read_text())["threshold"]["value"]
    done = run_hs(
        "audit",
        "-p",
        "-",
        "-l",
        "labels.csv",
        "--threshold",
        "youden",
        "-o",
        "sheet.csv",
        input=study["preds"].read_bytes(),
    )
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "sheet.csv.meta.json").read_text())["threshold"] == expected
    sheet = pl.read_csv(tmp_path / "sheet.csv")
    assert ((sheet["score"] >= expected) == sheet["outcome"].is_in(["TP", "FP"])).all()


@pytest.fixture
def ranked(study, tmp_path):
    from hstool.audit.label_issues_run import LabelIssueOptions, run_label_issues

    result = run_label_issues(str(study["preds"]), str(study["labels"]), LabelIssueOptions())
    path = tmp_path / "ranked.csv"
    result.table.write_csv(path)
    return path, result.table


def test_label_issues_come_first_and_every_case_is_marked(study, ranked):
    path, table = ranked
    inputs = AuditInputs(str(study["preds"]), str(study["labels"]), label_issues=str(path))
    sheet = build_audit_sheet(inputs, AuditOptions(stratify=StratifyOptions(by=["drain"]), label_issues_top=7)).table
    assert sheet.columns[-3:] == ["suspected_label_issue", "suspected_label", "review_label"]
    flagged = table.filter(pl.col("issue"))
    assert flagged.height > 7
    # The 7 most suspect flagged cases are on the sheet, first, in rank order; then the rest.
    n_yes = int((sheet["suspected_label_issue"] == "yes").sum())
    assert sheet["suspected_label_issue"].to_list()[:n_yes] == ["yes"] * n_yes
    first = sheet["image_id"].to_list()[:n_yes]
    assert first[:7] == flagged["image_id"].to_list()[:7]
    rank_of = dict(zip(table["image_id"], table["rank"]))
    assert [rank_of[i] for i in first] == sorted(rank_of[i] for i in first)
    issue_of = dict(zip(table["image_id"], table["issue"]))
    assert all(("yes" if issue_of[i] else "no") == m for i, m in zip(sheet["image_id"], sheet["suspected_label_issue"]))
    summary = build_audit_sheet(
        inputs, AuditOptions(stratify=StratifyOptions(by=["drain"]), label_issues_top=7)
    ).summary
    added = sheet.filter(pl.col("sample") == "label_issue")
    assert f", {added.height} more suspected label issues" in summary[0]
    n_controls = int((sheet["sample"] == "control").sum())
    assert f"and {n_controls} controls" in summary[0]
    assert added.height >= 1 and set(added["suspected_label_issue"]) == {"yes"}
    suspected = dict(zip(table["image_id"], table["suspected_label"]))
    yes = sheet.filter(pl.col("suspected_label_issue") == "yes")
    assert yes["suspected_label"].to_list() == [str(suspected[i]) for i in yes["image_id"]]
    assert sheet.filter(pl.col("suspected_label_issue") == "no")["suspected_label"].null_count() == sheet.height - n_yes


def test_blind_sheet_hides_the_suspicion(study, ranked):
    path, _ = ranked
    inputs = AuditInputs(str(study["preds"]), str(study["labels"]), label_issues=str(path))
    options = AuditOptions(stratify=StratifyOptions(by=["drain"]), blind=True)
    sheet = build_audit_sheet(inputs, options)
    assert sheet.table.columns == ["image_id", "label", "review_label"]
    assert "suspected" not in sheet.html
    plain = build_audit_sheet(AuditInputs(str(study["preds"]), str(study["labels"])), options).table
    assert set(plain["image_id"]) < set(sheet.table["image_id"])  # the added label issues are there


def test_a_ranking_that_is_not_from_label_issues_is_refused(study, tmp_path, run_hs):
    bad = tmp_path / "issue_not_boolean_ranked.csv"
    bad.write_text("rank,image_id,suspected_label,issue\n1,img0001,1,maybe\n")
    res = run_hs(
        "audit", "-p", str(study["preds"]), "-l", str(study["labels"]), "--label-issues", str(bad), "-o", "s.csv"
    )
    assert res.returncode == 1
    assert "issue_not_boolean_ranked.csv, line 2, column 'issue': 'maybe' is not true/false" in res.stderr.decode()
    assert not (tmp_path / "s.csv").exists()
