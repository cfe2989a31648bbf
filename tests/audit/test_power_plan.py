"""hs power: sample size and power of a subgroup design, from the command line."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from hstool.audit.power_plan import PowerOptions, plan_power
from hstool.stats.power import Design, auc_power, proportion_power


def test_cases_needed_reach_the_power_and_one_fewer_does_not():
    options = PowerOptions(metric="auc", reference=0.85, deficits=(0.05, 0.1), prevalence=0.1, comparator_cases=20000)
    table = plan_power(options).table
    assert table["cases"].to_list()[0] > table["cases"].to_list()[1]  # a larger deficit needs fewer cases
    for row in table.to_dicts():

        def power(cases: float, group: float = row["group_value"]) -> float:
            return auc_power(0.85, group, Design.from_cases(cases, 0.1, 20000, None), 0.05)

        assert power(row["cases_exact"]) == pytest.approx(0.8, abs=1e-7)
        assert power(row["cases"]) >= 0.8 > power(row["cases"] - 1)
        assert row["positives"] == math.ceil(row["cases"] * 0.1) and row["positives"] + row["negatives"] == row["cases"]


def test_power_of_a_given_sensitivity_design_is_the_two_proportion_power():
    table = plan_power(
        PowerOptions(metric="sensitivity", reference=0.9, deficits=(0.1,), prevalence=0.2, cases=500)
    ).table
    assert table["power"][0] == pytest.approx(proportion_power(0.9, 0.8, 100, None, 0.05), rel=1e-12)
    assert table["cases"][0] == 500


def test_hanley_mcneil_variance_option_changes_the_answer():
    a = plan_power(PowerOptions(variance="obuchowski")).table["cases_exact"][0]
    b = plan_power(PowerOptions(variance="hanley-mcneil")).table["cases_exact"][0]
    assert a != b and 0.5 < a / b < 2


def test_cli_writes_the_table_and_a_sidecar(run_hs, tmp_path):
    res = run_hs(
        "power", "auc", "--reference", "0.85", "--deficit", "0.05,0.1", "--prevalence", "0.1", "-o", "plan.csv"
    )
    assert res.returncode == 0, res.stderr
    table = pl.read_csv(tmp_path / "plan.csv")
    assert table.height == 2 and table["deficit"].to_list() == [0.05, 0.1]
    meta = json.loads((tmp_path / "plan.csv.meta.json").read_text())
    assert meta["schema"] == "hs.power/1" and meta["parameters"]["deficits"] == [0.05, 0.1]


def test_no_size_suffices_with_a_tiny_comparator_says_so(run_hs):
    res = run_hs("power", "auc", "--deficit", "0.01", "--comparator-cases", "100")
    assert res.returncode == 0
    assert pl.read_csv(res.stdout)["cases"].is_null().all()
    assert b"no subgroup size reaches power 0.8" in res.stderr


@pytest.mark.parametrize(
    "args,words",
    [
        (["f1"], ["metric 'f1'", "auc, sensitivity"]),
        (["auc", "--deficit", "big"], ["--deficit 'big'"]),
        (["auc", "--deficit", "0.4"], ["deficit 0.4", "above 0.5"]),
        (["auc", "--prevalence", "1.5"], ["prevalence 1.5"]),
        (["auc", "--variance", "exact"], ["variance 'exact'", "hanley-mcneil"]),
        (["auc", "--cases", "2"], ["cases 2"]),
    ],
)
def test_bad_options_give_one_line_and_exit_2(run_hs, args, words):
    res = run_hs("power", *args)
    assert res.returncode == 2
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hs: error: ")
    for word in words:
        assert word in lines[0]
