"""hs stratify, hs agree and hs probe read their defaults from the options dataclasses in
hstool/audit/options.py (a light module), which also check each value."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

import pytest

from hstool.audit.label_issues_run import LabelIssueOptions
from hstool.audit.options import AgreeOptions, BinSpec, ProbeOptions, StratifyOptions
from hstool.cli import agree, probe, stratify
from hstool.errors import OptionError


@pytest.mark.parametrize(
    ("module", "options"),
    [(stratify, StratifyOptions), (agree, AgreeOptions), (probe, ProbeOptions)],
)
def test_the_command_line_defaults_are_the_options_defaults(module, options) -> None:
    parameters = inspect.signature(module.command).parameters
    shared = [f for f in dataclasses.fields(options) if f.name in parameters and f.default is not dataclasses.MISSING]
    assert len(shared) >= 7
    for f in shared:
        default = parameters[f.name].default
        if default is None and f.default is not None:  # parsed text (--metrics, --flag-on): None keeps the default
            continue
        assert default == f.default, f"{module.__name__} --{f.name}: {default!r} != {options.__name__}.{f.name}"


def test_the_options_module_is_light() -> None:
    code = (
        "import sys, hstool.audit.options; "
        "print(sorted(m for m in ('numpy', 'polars', 'scipy', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize(
    ("make", "field", "text"),
    [
        (lambda: StratifyOptions(ci="magic"), "ci", "ci='magic': choose one of wilson, clopper-pearson, bootstrap"),
        (lambda: StratifyOptions(correction="sidak"), "correction", "correction='sidak': choose one of holm, bh, none"),
        (lambda: StratifyOptions(level=1.0), "level", "level=1.0: must be between 0 and 1, e.g. 0.95"),
        (lambda: StratifyOptions(alpha=0), "alpha", "alpha=0: must be between 0 and 1, e.g. 0.05"),
        (lambda: StratifyOptions(n_boot=10), "n_boot", "n_boot=10: use at least 100 replicates"),
        (lambda: StratifyOptions(min_n=0), "min_n", "min_n=0: must be at least 1"),
        (lambda: StratifyOptions(metrics=("auc", "roc")), "metrics", "metrics='roc': choose one of"),
        (lambda: AgreeOptions(correction="x"), "correction", "correction='x': choose one of"),
        (lambda: ProbeOptions(target="sex", c=0), "c", "c=0: must be positive"),
        (lambda: ProbeOptions(target="sex", min_n=0), "min_n", "min_n=0: must be at least 1"),
        (lambda: LabelIssueOptions(score="loss"), "score", "score='loss': choose one of margin"),
        (lambda: LabelIssueOptions(issues="both"), "issues", "issues='both': choose one of prune-by-class"),
        (lambda: BinSpec.parse("age=q1"), "bins", "bins='age=q1': quantile bins need qN with N >= 2"),
    ],
)
def test_the_options_check_their_values(make, field, text) -> None:
    with pytest.raises(OptionError) as caught:
        make()
    assert caught.value.field == field
    assert str(caught.value).startswith(text)


def test_old_import_paths_still_work() -> None:
    from hstool.audit.agree import AgreeOptions as A
    from hstool.audit.groups import BinSpec as B
    from hstool.audit.probe import ProbeOptions as P
    from hstool.audit.strata_table import StratifyOptions as S

    assert A is AgreeOptions and B is BinSpec and P is ProbeOptions and S is StratifyOptions


def test_probe_shows_c_as_its_flag(run_hs, tmp_path) -> None:
    result = run_hs("probe", "emb.npy", "labels.csv", "--target", "sex", "--C", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.decode() == "hs: error: --C 0.0: must be positive, e.g. 1.0\n"
