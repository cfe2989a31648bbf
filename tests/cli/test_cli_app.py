"""The `hs` entry point: help is fast (no heavy imports) and every command documents itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import ROOT

from hstool.cli.app import COMMANDS

HEAVY = ("torch", "torchvision", "onnxruntime", "onnx", "sklearn", "scipy", "polars", "matplotlib", "pydicom")


def test_help_imports_no_heavy_library():
    probe = (
        "import sys\nsys.argv = ['hs', '--help']\nfrom hstool.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("name", [name for name, _ in COMMANDS])
def test_every_command_has_help_with_an_example(run_hs, name):
    res = run_hs(name, "--help")
    assert res.returncode == 0
    text = res.stdout.decode()
    # The usage line also says "hs NAME": the example must come after an Example(s) heading.
    assert "Example" in text, f"`hs {name} --help` has no Examples section"
    after = text[text.index("Example") :]
    examples = [line.strip(" │") for line in after.splitlines() if line.strip(" │").startswith(f"hs {name} ")]
    assert examples, f"`hs {name} --help` shows no example command line"


@pytest.mark.parametrize("name", ["stratify", "report"])
def test_the_flag_options_show_their_defaults(run_hs, name, monkeypatch):
    """One declaration for both commands, its defaults read from hstool.audit.options (a
    bracketed `[default: ...]` in the help text was swallowed as Rich markup)."""
    monkeypatch.setenv("COLUMNS", "400")
    text = " ".join(run_hs(name, "--help").stdout.decode().split())
    assert "or all (default: auc,proportions)." in text
    assert "(default: auc,sensitivity,specificity,calibration; PPV and NPV follow prevalence)" in text
