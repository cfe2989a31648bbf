"""`hs report`: structure of the HTML, escaping, provenance, empty sections, bad inputs."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import polars as pl
import pytest
from report_study import HOSTILE, write_study

from hstool.report.build import ReportInputs, build_report
from hstool.report.context import ReportOptions
from hstool.report.gallery import Gallery, Item, ThumbTable

SECTIONS = ("summary", "subgroups", "roc", "calibration", "clusters", "errors", "provenance")
URL_ATTR = re.compile(r'\s(?:src|href|xlink:href|action|poster)="([^"]*)"', re.I)


def external_references(html: str) -> list[str]:
    """Every attribute URL that is not an in-page anchor or a data: URI, and every CSS url()."""
    bad = [u for u in URL_ATTR.findall(html) if not (u.startswith("#") or u.startswith("data:"))]
    bad += [u for u in re.findall(r"url\(([^)]*)\)", html) if not u.strip("'\"").startswith("data:")]
    return bad


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    study = write_study(folder, hostile=True)
    labels = pl.read_csv(study["labels"], schema_overrides={"image_id": pl.String}).rename({"sex": "<u>site</u>"})
    labels.write_csv(folder / "labels.csv")
    inputs = ReportInputs(preds=str(study["preds"]), labels=str(folder / "labels.csv"), clusters=str(study["clusters"]))
    return build_report(inputs, ReportOptions(gallery_size=1000))


def test_every_section_is_present_in_order(hostile):
    ids = re.findall(r'<section id="([a-z]+)"', hostile.html)
    assert tuple(ids) == SECTIONS
    for anchor in SECTIONS:
        assert f'href="#{anchor}"' in hostile.html
    assert hostile.html.startswith("<!DOCTYPE html>") and hostile.html.rstrip().endswith("</html>")


def test_self_contained_no_script_no_external_url(hostile):
    assert "<script" not in hostile.html.lower()
    assert external_references(hostile.html) == []
    assert "Content-Security-Policy" in hostile.html and "default-src 'none'" in hostile.html
    assert "<style>" in hostile.html and "<link" not in hostile.html


def test_hostile_values_render_as_text(hostile):
    html = hostile.html
    assert HOSTILE not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # a group value
    assert "<img src=x" not in html and "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html  # an image_id
    assert "<u>" not in html and "&lt;u&gt;site&lt;/u&gt;" in html  # a column name
    assert "<b>" not in html and "/k2/c0&lt;b&gt;" in html  # a cluster id
    # Our own markup only: every tag name in the page is one the report writes.
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= {
        "html",
        "head",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "h3",
        "h4",
        "p",
        "nav",
        "a",
        "section",
        "div",
        "span",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "ul",
        "ol",
        "li",
        "code",
        "svg",
        "g",
        "rect",
        "line",
        "polyline",
        "circle",
        "text",
        "figure",
        "figcaption",
        "symbol",
        "image",
        "use",
    }


def test_content_of_sections(hostile):
    html = hostile.html
    summary = html.split('<section id="summary">')[1].split("</section>")[0]
    assert "drain=no: auc" in summary and "sensitivity" in summary  # the flagged hidden subclass, in words
    assert "High-error clusters" in summary and "cluster 1/k2/c0&lt;b&gt; of label 1" in summary
    assert "Heterogeneity across groups" in summary and "AUC across &lt;u&gt;site&lt;/u&gt; (3 groups)" in summary
    subgroups = html.split('<section id="subgroups">')[1].split("</section>")[0]
    assert subgroups.count('<tr class="flagged">') == 1 and "worse: auc, sensitivity" in subgroups
    assert "Forest plot of AUC and sensitivity" in subgroups
    roc = html.split('<section id="roc">')[1].split("</section>")[0]
    assert roc.count("<polyline") >= 2 + 3  # overall + both drain groups, overall + three site groups
    errors = html.split('<section id="errors">')[1].split("</section>")[0]
    assert "All cases: false negatives" in errors and "By drain" in errors and "By cluster" in errors


def test_provenance_names_inputs_with_sha256_and_version(hostile, tmp_path):
    html = hostile.html
    provenance = html.split('<section id="provenance">')[1]
    for meta_input in hostile.meta["inputs"]:
        assert meta_input["sha256"] in provenance
    assert "hs 0.1.0" in provenance or "Made by hs" in provenance
    assert hostile.meta["schema"] == "hs.report/1"


def test_same_inputs_and_seed_give_identical_bytes(tmp_path):
    study = write_study(tmp_path)
    inputs = ReportInputs(preds=str(study["preds"]), labels=str(study["labels"]), clusters=str(study["clusters"]))
    a = build_report(inputs, ReportOptions())
    b = build_report(inputs, ReportOptions())
    assert a.html == b.html and a.meta == b.meta


def test_report_from_a_stratify_output_alone_says_what_is_missing(tmp_path, run_hs):
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "--threshold", "youden", "-o", "strata.csv").returncode == 0
    done = run_hs("report", "--strata", "strata.csv", "-o", "report.html")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "report.html").read_text()
    assert re.findall(r'<section id="([a-z]+)"', html) == list(SECTIONS)
    for section in ("roc", "calibration", "errors"):
        body = html.split(f'<section id="{section}">')[1].split("</section>")[0]
        assert 'class="empty"' in body and "--preds" in body
    clusters = html.split('<section id="clusters">')[1].split("</section>")[0]
    assert "--clusters clusters.csv" in clusters
    assert "drain=no" in html and external_references(html) == []


def test_strata_file_fixes_the_threshold_and_mismatches_are_noted(tmp_path, run_hs):
    write_study(tmp_path)
    run_hs("stratify", "preds.csv", "labels.csv", "--threshold", "youden", "-o", "strata.csv")
    threshold = json.loads((tmp_path / "strata.csv.meta.json").read_text())["threshold"]["value"]
    done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "strata.csv", "-o", "r.html")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "r.html").read_text()
    assert f"operating threshold {threshold:.4g}" in html and "computed from other files" not in html
    other = tmp_path / "other"
    other.mkdir()
    write_study(other, seed=5)
    done = run_hs("report", "-p", "other/preds.csv", "-l", "other/labels.csv", "-s", "strata.csv", "-o", "r2.html")
    assert done.returncode == 0 and "computed from other files" in done.stderr.decode()


@pytest.mark.parametrize(
    "key",
    [
        "max_levels",
        "bins",
        "positive",
        "columns",
        "table_format",
        "min_n",
        "correction",
        "metrics",
        "flag_on",
        "margins",
        "ece_bins",
    ],
)
def test_a_stratify_sidecar_without_a_setting_the_report_reads_is_an_error(tmp_path, run_hs, key):
    """No silent default in place of a recorded setting: a renamed field would change the strata."""
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "-o", "strata.csv").returncode == 0
    sidecar = tmp_path / "strata.csv.meta.json"
    meta = json.loads(sidecar.read_text())
    del meta["parameters"][key]
    sidecar.write_text(json.dumps(meta))
    done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "strata.csv", "-o", "r.html")
    assert done.returncode == 1
    assert done.stderr.decode() == (
        f"hs: error: strata.csv.meta.json: its parameters lack '{key}'; "
        "write the stratify output again with this version of hs stratify -o\n"
    )
    assert not (tmp_path / "r.html").exists()


def test_clusters_alone(tmp_path):
    study = write_study(tmp_path)
    report = build_report(ReportInputs(clusters=str(study["clusters"])), ReportOptions())
    clusters = report.html.split('<section id="clusters">')[1].split("</section>")[0]
    assert "Label 1" in clusters and "high error" in clusters
    assert "No metrics" in report.html


def test_multiclass_report(tmp_path):
    rng = __import__("numpy").random.default_rng(3)
    n = 300
    truth = rng.choice(["summer", "warm"], n)
    pred = [t if rng.random() < 0.8 else ("warm" if t == "summer" else "summer") for t in truth]
    ids = [f"m{i}" for i in range(n)]
    pl.DataFrame({"image_id": ids, "pred": pred}).write_csv(tmp_path / "p.csv")
    pl.DataFrame({"image_id": ids, "label": truth, "item": rng.choice(["shirt", "coat"], n)}).write_csv(
        tmp_path / "l.csv"
    )
    report = build_report(ReportInputs(preds=str(tmp_path / "p.csv"), labels=str(tmp_path / "l.csv")), ReportOptions())
    assert "Forest plot of accuracy" in report.html
    assert "they need binary scores" in report.html
    assert "misclassified" in report.html and "By label" in report.html


def test_thumbnail_cap_bounds_distinct_images_and_says_so():
    galleries = [
        Gallery("a", [Item(f"i{k}", (f"i{k}",)) for k in range(4)], 10),
        Gallery("b", [Item(f"i{k}", (f"i{k}",)) for k in range(2, 8)], 6),
    ]
    table = ThumbTable(cap=5, size=64)
    table.admit(galleries)
    assert list(table.slots) == ["i0", "i1", "i2", "i3", "i4"]
    assert [len(g.items) for g in galleries] == [4, 3] and galleries[1].omitted == 3 and table.capped
    table.render({}, workers=1)
    assert "left out: the report reached --max-thumbnails 5" in table.gallery(galleries[1])


def test_paths_are_shown_relative_even_when_given_absolute(tmp_path, run_hs):
    study = write_study(tmp_path)
    done = run_hs("report", "-p", str(study["preds"]), "-l", str(study["labels"]), "-o", "r.html")
    assert done.returncode == 0
    html = (tmp_path / "r.html").read_text()
    assert str(tmp_path) not in html and ">preds.csv<" in html
    sha = hashlib.sha256(study["preds"].read_bytes()).hexdigest()
    assert sha in html


def test_predictions_from_stdin_give_the_table_of_the_file(tmp_path, run_hs):
    # The report reads the predictions and labels once (for its table and its cases), so either
    # can come from a pipe, as for hs stratify and hs audit.
    study = write_study(tmp_path)
    assert run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-o", "file.html").returncode == 0
    done = run_hs("report", "-p", "-", "-l", "labels.csv", "-o", "pipe.html", input=study["preds"].read_bytes())
    assert done.returncode == 0, done.stderr.decode()
    from_file, from_pipe = ((tmp_path / name).read_text() for name in ("file.html", "pipe.html"))
    assert section(from_pipe, "subgroups") == section(from_file, "subgroups")
    assert "&lt;stdin&gt;" in section(from_pipe, "provenance")
    assert hashlib.sha256(study["preds"].read_bytes()).hexdigest() in section(from_pipe, "provenance")


def test_a_stratify_output_from_stdin_has_no_sidecar_to_check_options_against(tmp_path, run_hs):
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "-o", "strata.csv").returncode == 0
    done = run_hs("report", "-s", "-", "--metrics", "all", "-o", "r.html", input=(tmp_path / "strata.csv").read_bytes())
    err = done.stderr.decode()
    assert done.returncode == 2 and err.count("\n") == 1, err
    assert "pass the stratify output as a file" in err and "-.meta.json" not in err


@pytest.mark.parametrize(
    "args,code,message",
    [
        (["-p", "preds.csv", "-o", "r.html"], 2, "--preds needs --labels"),
        (["-o", "r.html"], 2, "nothing to report"),
        (["-s", "strata.csv", "--threshold", "0.3", "-o", "r.html"], 2, "cannot be combined with --strata"),
        (["-p", "preds.csv", "-l", "labels.csv", "-o", "labels.csv"], 1, "it is one of the inputs"),
        (["-p", "-", "-l", "-", "-o", "r.html"], 2, "only one input can be '-'"),
        (["-p", "preds.csv", "-l", "labels.csv", "-c", "-", "-m", "-", "-o", "r.html"], 2, "only one input can be '-'"),
        (
            ["-p", "preds.csv", "-l", "labels.csv", "-m", "-", "--saliency", "model.onnx", "-o", "r.html"],
            2,
            "reads the manifest a second time",
        ),
        (
            ["-p", "preds.csv", "-l", "labels.csv", "-c", "bad_role.csv", "-o", "r.html"],
            1,
            "bad_role.csv, line 2, column 'role'",
        ),
        (
            ["-p", "preds.csv", "-l", "labels.csv", "-c", "extra.csv", "-o", "r.html"],
            1,
            "are not among the analysed cases",
        ),
        (["-s", "labels.csv", "-o", "r.html"], 1, "no column 'stratifier'"),
        (["-p", "preds.csv", "-l", "labels.csv", "--thumb-size", "4", "-o", "r.html"], 2, "--thumb-size"),
        (["-p", "preds.csv", "-l", "labels.csv", "--metrics", "auc,roc", "-o", "r.html"], 2, "--metrics 'roc'"),
        (["-p", "preds.csv", "-l", "labels.csv", "--flag-on", "f1", "-o", "r.html"], 2, "--flag-on 'f1'"),
        (["-p", "preds.csv", "-l", "labels.csv", "--margin", "auc=1.5", "-o", "r.html"], 2, "--margin 'auc=1.5'"),
        (["-p", "preds.csv", "-l", "labels.csv", "--margin", "auc", "-o", "r.html"], 2, "--margin 'auc': expected"),
        (
            ["-p", "preds.csv", "-l", "labels.csv", "--margin", "brier=0.01", "-o", "r.html"],
            2,
            "--margin brier: its family 'calibration' is not computed",
        ),
        (["-s", "strata.csv", "--flag-on", "ppv", "-o", "r.html"], 2, "--flag-on cannot be checked against --strata"),
        (["-s", "strata.csv", "--by", "sex", "-o", "r.html"], 2, "--by cannot be checked against --strata"),
        (["-s", "strata.csv", "--bins", "sex=q2", "-o", "r.html"], 2, "--bins cannot be checked against --strata"),
    ],
)
def test_bad_inputs_exit_with_one_line(tmp_path, run_hs, args, code, message):
    write_study(tmp_path)
    (tmp_path / "strata.csv").write_text(
        "stratifier,group,n,flag,status,auc,threshold,sensitivity,specificity\n(all),(all),3,false,ok,0.5,0.5,0.5,0.5\n"
    )
    (tmp_path / "bad_role.csv").write_text("image_id,label,cluster,role\nimg0000,0,c1,worst\n")
    (tmp_path / "extra.csv").write_text("image_id,label,cluster,role\nnot-a-case,0,c1,\n")
    done = run_hs("report", *args)
    err = done.stderr.decode()
    assert done.returncode == code, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "r.html").exists()


def test_report_shows_the_families_stratify_computed(tmp_path, run_hs):
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "--metrics", "all", "-o", "strata.csv").returncode == 0
    assert run_hs("report", "--strata", "strata.csv", "-o", "all.html").returncode == 0
    subgroups = (tmp_path / "all.html").read_text().split('<section id="subgroups">')[1].split("</section>")[0]
    assert "calibration slope [95% CI]" in subgroups and "detectable AUC deficit" in subgroups
    assert run_hs("stratify", "preds.csv", "labels.csv", "-o", "plain.csv").returncode == 0
    assert run_hs("report", "--strata", "plain.csv", "-o", "plain.html").returncode == 0
    plain = (tmp_path / "plain.html").read_text().split('<section id="subgroups">')[1].split("</section>")[0]
    # The MDDs are always computed, but shown only with the power family, as in hs stratify's view.
    assert "calibration slope" not in plain and "detectable AUC deficit" not in plain


def section(html: str, name: str) -> str:
    return html.split(f'<section id="{name}">')[1].split("</section>")[0]


def report_html(run_hs, tmp_path, name: str, *options: str) -> str:
    """The HTML of `hs report -p preds.csv -l labels.csv OPTIONS -o NAME` run in tmp_path."""
    done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", *options, "-o", name)
    assert done.returncode == 0, done.stderr
    return (tmp_path / name).read_text()


CALIBRATION_HEADERS = (
    "Brier score [95% CI]",
    "calibration intercept [95% CI]",
    "calibration slope [95% CI]",
    "ECE [95% CI]",
)


def test_metrics_choose_the_families_of_the_table_and_the_summary(tmp_path, run_hs):
    write_study(tmp_path)
    plain = report_html(run_hs, tmp_path, "plain.html")
    assert not any(h in section(plain, "subgroups") for h in CALIBRATION_HEADERS)
    assert "AUC [95% CI]" in section(plain, "subgroups") and "calibration slope" not in section(plain, "summary")
    html = report_html(run_hs, tmp_path, "cal.html", "--metrics", "calibration")
    subgroups = section(html, "subgroups")
    assert all(h in subgroups for h in CALIBRATION_HEADERS)
    assert "AUC [95% CI]" not in subgroups and "sensitivity [95% CI]" not in subgroups
    # sex=F: the values of hs stratify's table, with their intervals.
    assert run_hs("stratify", "preds.csv", "labels.csv", "--metrics", "calibration", "-o", "s.csv").returncode == 0
    row = (
        pl.read_csv(tmp_path / "s.csv").filter(pl.col("stratifier") == "sex", pl.col("group") == "F").row(0, named=True)
    )
    for metric in ("brier", "calibration_intercept", "calibration_slope", "ece"):
        shown = f"{row[metric]:.3f} [{row[metric + '_ci_low']:.3f}, {row[metric + '_ci_high']:.3f}]"
        assert shown in subgroups, metric
    assert "calibration slope" in section(html, "summary") and "ECE" in section(html, "summary")
    meta = json.loads((tmp_path / "cal.html.meta.json").read_text())["parameters"]
    assert meta["metrics"] == ["calibration"] and meta["ece_bins"] == 10


def write_sites(folder):
    """Two sites with the same model behaviour and different prevalence (10% and 60%): the
    low-prevalence site has a much lower PPV, and no lower AUC, sensitivity or specificity."""
    rng = np.random.default_rng(11)
    n = 1500
    site = rng.choice(["A", "B"], n)
    y = rng.random(n) < np.where(site == "A", 0.1, 0.6)
    score = (np.where(y, 0.65, 0.35) + rng.normal(0, 0.15, n)).clip(0, 1).round(4)
    ids = [f"s{i:05d}" for i in range(n)]
    pl.DataFrame({"image_id": ids, "score": score}).write_csv(folder / "preds.csv")
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "site": site}).write_csv(folder / "labels.csv")


def test_flag_on_ppv_flags_a_group_the_default_does_not(tmp_path, run_hs):
    write_sites(tmp_path)
    default = report_html(run_hs, tmp_path, "default.html")
    assert "worse:" not in section(default, "subgroups")
    assert "0 group(s) significantly worse" in section(default, "summary")
    assert "never flagging: PPV, NPV" in section(default, "summary")
    html = report_html(run_hs, tmp_path, "ppv.html", "--flag-on", "auc,sensitivity,ppv")
    assert "worse: ppv" in section(html, "subgroups") and "site=A: ppv" in section(html, "summary")
    assert "Metrics that may flag: AUC, sensitivity, PPV." in section(html, "summary")
    # The flags shown are those of hs stratify's table with the same options.
    assert (
        run_hs("stratify", "preds.csv", "labels.csv", "--flag-on", "auc,sensitivity,ppv", "-o", "s.csv").returncode == 0
    )
    flagged = pl.read_csv(tmp_path / "s.csv").filter(pl.col("flag"))
    assert flagged.select("stratifier", "group", "worse_on").rows() == [("site", "A", "ppv")]
    assert json.loads((tmp_path / "ppv.html.meta.json").read_text())["parameters"]["flag_on"] == [
        "auc",
        "sensitivity",
        "ppv",
    ]


def test_a_large_margin_removes_the_flag_and_the_summary_states_the_rule(tmp_path, run_hs):
    write_study(tmp_path)
    assert "drain=no: auc" in section(report_html(run_hs, tmp_path, "plain.html"), "summary")
    margin = ["--margin", "auc=0.5", "--margin", "sensitivity=0.9"]
    html = report_html(run_hs, tmp_path, "m.html", *margin)
    summary = section(html, "summary")
    assert "worse:" not in section(html, "subgroups")
    assert "0 group(s) significantly worse (holm correction, alpha 0.05; margins auc 0.5, sensitivity 0.9)" in summary
    assert "Margins (the smallest deficit that matters): AUC 0.5, sensitivity 0.9." in summary
    assert "flagged only when its deficit is significantly larger than the margin" in summary
    meta = json.loads((tmp_path / "m.html.meta.json").read_text())["parameters"]
    assert meta["margins"] == {"auc": 0.5, "sensitivity": 0.9}
    assert meta["flag_on"] == [
        "auc",
        "sensitivity",
        "specificity",
        "brier",
        "calibration_intercept",
        "calibration_slope",
    ]


def test_a_stratify_output_fixes_the_rule_and_other_values_are_refused(tmp_path, run_hs):
    write_study(tmp_path)
    args = ["--metrics", "auc,proportions,calibration", "--margin", "auc=0.05"]
    assert run_hs("stratify", "preds.csv", "labels.csv", *args, "-o", "s.csv").returncode == 0
    done = run_hs("report", "-s", "s.csv", "--margin", "auc=0.1", "-o", "r.html")
    assert done.returncode == 2 and done.stderr.decode() == (
        "hs: error: --margin auc=0.1 differs from the margins of --strata s.csv (auc=0.05; recorded in its "
        "sidecar), which fix its flags; drop --margin, or run hs stratify again with it\n"
    )
    done = run_hs("report", "-s", "s.csv", "--metrics", "auc,proportions", "-o", "r.html")
    assert done.returncode == 2 and "--metrics auc,proportions differs from the metric families" in done.stderr.decode()
    assert not (tmp_path / "r.html").exists()
    # The same values are no conflict; without them the recorded ones are used all the same.
    for extra in (["--metrics", "calibration,auc,proportions", "--margin", "auc=0.05"], []):
        done = run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", *extra, "-o", "r.html")
        assert done.returncode == 0, done.stderr
        html = (tmp_path / "r.html").read_text()
        assert all(h in section(html, "subgroups") for h in CALIBRATION_HEADERS)
        assert "Margins (the smallest deficit that matters): AUC 0.05." in section(html, "summary")
        meta = json.loads((tmp_path / "r.html.meta.json").read_text())["parameters"]
        assert meta["metrics"] == ["auc", "proportions", "calibration"] and meta["margins"] == {"auc": 0.05}


def test_reliability_diagrams_use_the_ece_bins_the_stratify_run_recorded(tmp_path, run_hs):
    write_study(tmp_path)
    assert run_hs("stratify", "preds.csv", "labels.csv", "--metrics", "calibration", "-o", "s.csv").returncode == 0
    sidecar = tmp_path / "s.csv.meta.json"
    meta = json.loads(sidecar.read_text())
    assert meta["parameters"]["ece_bins"] == 10
    assert run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html").returncode == 0
    assert "cut into 10 equal-mass bins" in section((tmp_path / "r.html").read_text(), "calibration")
    meta["parameters"]["ece_bins"] = 5
    sidecar.write_text(json.dumps(meta))
    assert run_hs("report", "-p", "preds.csv", "-l", "labels.csv", "-s", "s.csv", "-o", "r.html").returncode == 0
    assert "cut into 5 equal-mass bins" in section((tmp_path / "r.html").read_text(), "calibration")
