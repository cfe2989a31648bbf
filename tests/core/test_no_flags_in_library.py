"""Library code speaks of options by their fields (OptionError, option_ref); only hstool/cli/
knows the flags. A static scan of every string literal outside hstool/cli/ (docstrings aside)
for a flag that some hs command declares."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import hstool

PACKAGE = Path(hstool.__file__).parent
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")

# (file under hstool/, flag) -> why the flag is spelled out there. Not error messages: text that
# only ever reaches the person at the command line, or names a flag of another command or tool.
ALLOWED: dict[tuple[str, str], str] = {
    # Reasons written into result tables (the `reason` column): data for the reader, not errors.
    ("audit/agree.py", "--min-n"): "reason cell of too_small rows",
    ("audit/strata_binary.py", "--min-n"): "reason cell of too_small rows",
    ("audit/strata_multiclass.py", "--min-n"): "reason cell of too_small rows",
    ("audit/probe.py", "--min-n"): "reason cell of left-out groups",
    ("audit/probe.py", "--folds"): "reason cell of left-out groups",
    ("audit/cluster/stats.py", "--min-size"): "reason cell of untested clusters",
    ("audit/cluster/run.py", "--min-size"): "reason cell of a superclass that cannot be clustered",
    ("audit/cluster/select.py", "--min-size"): "selection notes in the sidecar and the summary",
    ("data/dicom_manifest.py", "--image-id"): "reason cell of the skipped-files table (the error reuses it)",
    # Summary lines and notes on stderr, in the sidecar or in the HTML report.
    ("audit/cluster/describe.py", "--describe"): "summary line on stderr",
    ("audit/groups.py", "--bins"): "note: a column binned into quartiles",
    ("audit/probe.py", "--bins"): "summary note",
    ("audit/probe.py", "--warn-auc"): "summary line on stderr",
    ("infer/chunks.py", "--resume"): "progress log line on stderr",
    ("train/training.py", "--arch"): "note: the architecture auto chose",
    ("synth/run.py", "--superclass"): "column description in the sidecar",
    ("synth/run.py", "--noisy"): "column description in the sidecar",
    ("report/build.py", "--max-thumbnails"): "note in the HTML report",
    ("report/build.py", "--allow-unmatched"): "note in the HTML report",
    ("report/gallery.py", "--max-thumbnails"): "gallery note in the HTML report",
    ("report/sections/clusters.py", "--clusters"): "HTML report text",
    ("report/sections/curves.py", "--preds"): "HTML report text",
    ("report/sections/curves.py", "--labels"): "HTML report text",
    ("report/sections/curves.py", "--min-n"): "HTML report text",
    ("report/sections/curves.py", "--max-curves"): "HTML report text",
    ("report/sections/errors.py", "--preds"): "HTML report text",
    ("report/sections/errors.py", "--labels"): "HTML report text",
    ("report/sections/errors.py", "--manifest"): "HTML report text",
    ("report/sections/subgroups.py", "--preds"): "HTML report text",
    ("report/sections/subgroups.py", "--labels"): "HTML report text",
    ("report/sections/subgroups.py", "--strata"): "HTML report text",
    ("report/sections/summary.py", "--preds"): "HTML report text",
    ("report/sections/summary.py", "--labels"): "HTML report text",
    ("report/sections/summary.py", "--strata"): "HTML report text",
    # A command line of another command, to be typed as it stands.
    ("report/audit_sheet.py", "--by"): "the hs stratify command the review sheet suggests",
    ("report/audit_sheet.py", "--allow-unmatched"): "the hs stratify command the review sheet suggests",
    ("report/audit_sheet.py", "--threshold"): "the hs stratify command the review sheet suggests",
    ("report/build.py", "--help"): "'see hs report --help'",
    ("audit/label_issues_run.py", "--cross-fit"): "'hs train --cross-fit K', another command",
    ("train/cross_fit.py", "--noisy"): "'hs synth --noisy', another command",
}


def _hs_flags() -> set[str]:
    flags: set[str] = set()
    for path in (PACKAGE / "cli").glob("*.py"):
        flags |= {"--" + f for f in re.findall(r"[\"']--([a-z][a-z0-9-]*)[\"']", path.read_text(encoding="utf-8"))}
    return flags


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _spelled_flags() -> dict[tuple[str, str], list[int]]:
    """(file, flag) -> lines, for every hs flag in a string literal outside hstool/cli/."""
    hs_flags = _hs_flags()
    found: dict[tuple[str, str], list[int]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name.startswith("cli/"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
                continue
            for flag in {"--" + f for f in FLAG.findall(node.value)} & hs_flags:
                found.setdefault((name, flag), []).append(node.lineno)
            if node.value.endswith("--") and node.value.strip() != "--":  # f"--{name}": a flag put together
                found.setdefault((name, "--{...}"), []).append(node.lineno)
    return found


def test_library_code_names_options_by_field_not_by_flag() -> None:
    spelled = {key: lines for key, lines in _spelled_flags().items() if key not in ALLOWED}
    assert not spelled, (
        "library code spells hs flags; raise OptionError(field, value, problem) or write option_ref(field) "
        "(or, for text that is not an error, add it to ALLOWED with the reason): "
        + "; ".join(f"hstool/{name}:{lines[0]} {flag}" for (name, flag), lines in sorted(spelled.items()))
    )


def test_the_allow_list_has_no_stale_entries() -> None:
    stale = set(ALLOWED) - set(_spelled_flags())
    assert not stale, f"ALLOWED names flags no longer spelled there: {sorted(stale)}"


def test_the_scan_finds_a_flag() -> None:
    assert "--threshold" in _hs_flags() and "--id-col" in _hs_flags()
    assert ("report/audit_sheet.py", "--threshold") in _spelled_flags()
