"""`hs report --strata`: the stratify run's sidecar fixes the groups of its table (`--by`,
`--bins`), how its files were read (`--positive`, `--id-col`, `--score-col`, `--label-col`,
`--na-values`, `--delimiter`, `--decimal-comma`, `--sheet`) and which groups are too small
(`--min-n`). Not given, the recorded value is used; given again it must match (--min-n: not be
smaller); a different value is refused in one line rather than ignored."""

from __future__ import annotations

import json
import re

import numpy as np
import polars as pl
from report_study import write_study


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">')[1].split("</section>")[0]


def panels(html: str, name: str) -> list[str]:
    """The stratifiers a curves section has a panel for."""
    return re.findall(r"<h3>([^<]*)<span", section(html, name))


def error(done) -> str:
    assert done.returncode == 2, done.stderr
    return done.stderr.decode()


def write_study_with_age(folder):
    """The report study (drain among positives, sex) plus a numeric age column to bin."""
    write_study(folder)
    labels = pl.read_csv(folder / "labels.csv", schema_overrides={"image_id": pl.String})
    age = np.random.default_rng(4).integers(20, 90, labels.height)
    labels.with_columns(pl.Series("age", age)).write_csv(folder / "labels.csv")


def test_by_and_bins_must_name_the_stratifiers_of_the_strata(tmp_path, run_hs):
    write_study_with_age(tmp_path)
    made = run_hs("stratify", "preds.csv", "labels.csv", "--by", "sex", "--bins", "age=0,50,120", "-o", "s.csv")
    assert made.returncode == 0, made.stderr
    report = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html"]
    assert error(run_hs(*report, "--by", "site")) == (
        "hs: error: --by site differs from the stratifiers of --strata s.csv (sex, age; recorded in its sidecar), "
        "which fix its groups; drop --by, or run hs stratify again with it\n"
    )
    # --by sex alone would not group by age in hs stratify: not the groups of this table.
    assert "--by sex differs from the stratifiers of --strata s.csv (sex, age;" in error(run_hs(*report, "--by", "sex"))
    assert error(run_hs(*report, "--bins", "age=q4")) == (
        "hs: error: --bins age=q4 differs from the bins of --strata s.csv (age=0,50,120; recorded in its sidecar), "
        "which fix its groups; drop --bins, or run hs stratify again with it\n"
    )
    assert "--bins age=0,60,120 differs" in error(run_hs(*report, "--by", "sex", "--bins", "age=0,60,120"))
    assert not (tmp_path / "r.html").exists()
    # The same groups are no conflict: --by as a set (any order), or as hs stratify was run.
    for same in (["--by", "age", "--by", "sex"], ["--by", "sex", "--bins", "age=0,50,120"], ["--bins", "age=0,50,120"]):
        done = run_hs(*report, *same)
        assert done.returncode == 0, (same, done.stderr)
        html = (tmp_path / "r.html").read_text()
        assert panels(html, "roc") == ["sex", "age"], same
        assert "[50, 120] (n=" in section(html, "roc")  # rebuilt with the recorded bins


def test_by_against_a_run_that_grouped_by_every_labels_column(tmp_path, run_hs):
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "--cross", "drain,sex", "-o", "s.csv").returncode == 0
    assert json.loads((tmp_path / "s.csv.meta.json").read_text())["parameters"]["by"] is None
    assert error(run_hs("report", "-s", "s.csv", "--by", "sex", "-o", "r.html")) == (
        "hs: error: --by sex differs from the stratifiers of --strata s.csv (every labels column: drain, sex; "
        "recorded in its sidecar), which fix its groups; drop --by, or run hs stratify again with it\n"
    )
    # Its crosses are its own (hs report has no --cross): --by names the single columns.
    args = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "--by", "sex", "--by", "drain"]
    done = run_hs(*args, "-o", "r.html")
    assert done.returncode == 0, done.stderr
    assert panels((tmp_path / "r.html").read_text(), "roc") == ["drain", "sex", "drain &amp; sex"]


def test_a_multiclass_run_always_groups_by_the_label(tmp_path, run_hs):
    rng = np.random.default_rng(3)
    n = 300
    truth = rng.choice(["summer", "warm"], n)
    ids = [f"m{i}" for i in range(n)]
    pl.DataFrame({"image_id": ids, "pred": rng.choice(["summer", "warm"], n)}).write_csv(tmp_path / "p.csv")
    labels = {
        "image_id": ids,
        "label": truth,
        "item": rng.choice(["shirt", "coat"], n),
        "shop": rng.choice(["a", "b"], n),
    }
    pl.DataFrame(labels).write_csv(tmp_path / "l.csv")
    assert run_hs("stratify", "p.csv", "l.csv", "--by", "item", "-o", "s.csv").returncode == 0
    for same in (["--by", "item"], ["--by", "label", "--by", "item"]):
        assert run_hs("report", "-s", "s.csv", *same, "-o", "r.html").returncode == 0, same
    assert "--by shop differs from the stratifiers of --strata s.csv (item;" in error(
        run_hs("report", "-s", "s.csv", "--by", "shop", "-o", "r.html")
    )


def write_findings(folder):
    """The report study with its labels as a radiologist's sheet: the truth in `finding`
    (yes/no), no `label` column."""
    study = write_study(folder)
    labels = pl.read_csv(folder / "labels.csv", schema_overrides={"image_id": pl.String})
    finding = pl.Series("finding", np.where(study["y"], "yes", "no"))
    labels.drop("label").with_columns(finding).write_csv(folder / "labels.csv")


def test_positive_and_columns_are_those_the_stratify_run_read(tmp_path, run_hs):
    write_findings(tmp_path)
    args = ["--label-col", "finding", "--positive", "yes", "--by", "sex"]
    assert run_hs("stratify", "preds.csv", "labels.csv", *args, "-o", "s.csv").returncode == 0
    report = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html"]
    # Not given: the recorded ones read the files (the labels have no `label` column).
    done = run_hs(*report)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "r.html").read_text()
    n_pos = pl.read_csv(tmp_path / "s.csv")["n_pos"][0]
    assert f"400 cases, {n_pos} positive" in section(html, "summary") and panels(html, "roc") == ["sex"]
    labels, preds = pl.read_csv(tmp_path / "labels.csv"), pl.read_csv(tmp_path / "preds.csv")
    missed = int(((labels["finding"] == "yes") & (preds["score"] < 0.5)).sum())  # the same row order
    assert f"At the operating threshold: {missed} false negatives" in section(html, "summary")
    assert run_hs(*report, *args).returncode == 0  # the same values given again
    assert error(run_hs(*report, "--label-col", "label")) == (
        "hs: error: --label-col label differs from the label column of --strata s.csv (finding; recorded in its "
        "sidecar), which fixes its table; drop --label-col, or run hs stratify again with it\n"
    )
    assert error(run_hs(*report, "--positive", "no")) == (
        "hs: error: --positive no differs from the positive class of --strata s.csv (yes; recorded in its "
        "sidecar), which fixes its table; drop --positive, or run hs stratify again with it\n"
    )
    assert "--id-col id differs from the id column" in error(run_hs(*report, "--id-col", "id"))
    assert "--score-col prob differs from the score column" in error(run_hs(*report, "--score-col", "prob"))


def test_without_a_sidecar_positive_and_columns_read_the_files_as_given(tmp_path, run_hs):
    write_findings(tmp_path)
    args = ["--label-col", "finding", "--positive", "yes"]
    assert run_hs("stratify", "preds.csv", "labels.csv", *args, "-o", "s.csv").returncode == 0
    (tmp_path / "s.csv.meta.json").unlink()
    done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", *args, "-o", "r.html")
    assert done.returncode == 0, done.stderr
    # --by and --bins would be ignored: the table's groups are fixed, and nothing records them.
    done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", *args, "--by", "sex", "-o", "r.html")
    assert error(done) == (
        "hs: error: --by cannot be checked against --strata s.csv: it has no sidecar recording the stratifiers "
        "of its groups; drop --by, or keep s.csv.meta.json beside it\n"
    )


def write_study_with_site(folder, sites=("A", "B", "unknown"), p=(0.45, 0.45, 0.1)):
    """The report study plus a `site` column, one of whose values may mean missing."""
    write_study(folder)
    labels = pl.read_csv(folder / "labels.csv", schema_overrides={"image_id": pl.String})
    site = np.random.default_rng(2).choice(sites, labels.height, p=p)
    labels.with_columns(pl.Series("site", site)).write_csv(folder / "labels.csv")


def levels(html: str, name: str) -> set[str]:
    """The groups a curves section names, drawn or not: `A (n=180)`, `Not drawn for site: C`."""
    text = section(html, name)
    drawn = re.findall(r"([^\s>]+) \(n=\d+", text)
    return set(drawn) | {g for line in re.findall(r"Not drawn for [^:]+: ([^(]+)", text) for g in line.split(", ")}


def test_na_values_are_those_the_stratify_run_read(tmp_path, run_hs):
    write_study_with_site(tmp_path)
    assert (
        run_hs(
            "stratify", "preds.csv", "labels.csv", "--by", "site", "--na-values", "unknown", "-o", "s.csv"
        ).returncode
        == 0
    )
    groups = pl.read_csv(tmp_path / "s.csv").filter(pl.col("stratifier") == "site")["group"].to_list()
    assert sorted(groups) == ["(missing)", "A", "B"]
    report = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html"]
    # Not given: the files are read with the recorded markers, so `unknown` is missing here too
    # (with the default markers the curves would show an `unknown` group the table does not have).
    for same in ([], ["--na-values", "unknown"]):
        done = run_hs(*report, *same)
        assert done.returncode == 0, (same, done.stderr)
        html = (tmp_path / "r.html").read_text()
        assert levels(html, "roc") == levels(html, "calibration") == set(groups), same
    assert error(run_hs(*report, "--na-values", "NA")) == (
        "hs: error: --na-values NA differs from the missing-value markers of --strata s.csv (unknown; recorded in "
        "its sidecar), which fix its table; drop --na-values, or run hs stratify again with it\n"
    )
    # A set: the recorded markers and one more are other markers; the same in another order are not.
    assert "--na-values unknown, n/a differs" in error(run_hs(*report, "--na-values", "unknown", "--na-values", "n/a"))


def test_delimiter_and_decimal_comma_are_those_the_stratify_run_read(tmp_path, run_hs):
    write_study(tmp_path)
    for name in ("preds.csv", "labels.csv"):  # as a European spreadsheet exports them
        table = pl.read_csv(tmp_path / name, schema_overrides={"image_id": pl.String})
        table.write_csv(tmp_path / name, separator=";", decimal_comma=True)
    assert (tmp_path / "preds.csv").read_text().splitlines()[1] == "img0000;0,3125"
    fmt = ["--delimiter", ";", "--decimal-comma"]
    assert run_hs("stratify", "preds.csv", "labels.csv", *fmt, "-o", "s.csv").returncode == 0
    report = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html"]
    for same in ([], fmt, ["--delimiter", ";"]):  # the scores read as numbers: decimal commas
        done = run_hs(*report, *same)
        assert done.returncode == 0, (same, done.stderr)
        assert "400 cases" in section((tmp_path / "r.html").read_text(), "summary")
    assert error(run_hs(*report, "--delimiter", "tab")) == (
        "hs: error: --delimiter tab differs from the delimiter of --strata s.csv (';'; recorded in its sidecar), "
        "which fixes its table; drop --delimiter, or run hs stratify again with it\n"
    )
    assert "--sheet Sheet1 differs from the sheet of --strata s.csv (none: the only sheet;" in error(
        run_hs(*report, "--sheet", "Sheet1")
    )


def test_decimal_comma_given_against_a_run_without_it(tmp_path, run_hs):
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "-o", "s.csv").returncode == 0
    done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "--decimal-comma", "-o", "r.html")
    assert error(done) == (
        "hs: error: --decimal-comma differs from the decimal mark of --strata s.csv (decimal points; recorded in its "
        "sidecar), which fixes its table; drop --decimal-comma, or run hs stratify again with it\n"
    )


def test_without_a_sidecar_the_table_options_read_the_files_as_given(tmp_path, run_hs):
    write_study_with_site(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "--na-values", "unknown", "-o", "s.csv").returncode == 0
    (tmp_path / "s.csv.meta.json").unlink()
    args = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html"]
    assert run_hs(*args, "--na-values", "unknown").returncode == 0
    assert "unknown" not in levels((tmp_path / "r.html").read_text(), "roc")


def test_min_n_is_the_recorded_one_unless_a_larger_one_is_given(tmp_path, run_hs):
    # Site C (about 24 cases) is too small for a run with --min-n 30, not for the default 10.
    write_study_with_site(tmp_path, sites=("A", "B", "C"), p=(0.47, 0.47, 0.06))
    assert run_hs("stratify", "preds.csv", "labels.csv", "--by", "site", "--min-n", "30", "-o", "s.csv").returncode == 0
    table = pl.read_csv(tmp_path / "s.csv").filter(pl.col("stratifier") == "site")
    assert table.filter(pl.col("group") == "C")["status"].to_list() == ["too_small"]
    assert 10 <= table.filter(pl.col("group") == "C")["n"][0] < 30
    report = ["report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv"]
    # Not given: the run's --min-n, so no curve for a group its table does not measure.
    assert run_hs(*report, "-o", "a.html").returncode == 0
    a = (tmp_path / "a.html").read_text()
    assert "Not drawn for site: C (fewer than --min-n 30 cases" in section(a, "roc")
    assert "C (n=" not in section(a, "roc")
    # Larger: a choice of the report's own, fewer curves (each named); the table is the run's.
    assert run_hs(*report, "--min-n", "1000", "-o", "b.html").returncode == 0
    b = (tmp_path / "b.html").read_text()
    assert section(a, "subgroups") == section(b, "subgroups")
    assert "fewer than --min-n 1000 cases" in section(b, "roc") and "--min-n 1000" not in section(a, "roc")
    assert run_hs(*report, "--min-n", "30", "-o", "c.html").returncode == 0
    # Smaller: curves for groups the table marks too_small; refused.
    assert error(run_hs(*report, "--min-n", "10", "-o", "d.html")) == (
        "hs: error: --min-n 10 is below the smallest group size of --strata s.csv (30; recorded in its sidecar), "
        "which fixes its too_small groups; give 30 or more (fewer curves), drop --min-n, or run hs stratify "
        "again with it\n"
    )
    assert not (tmp_path / "d.html").exists()
