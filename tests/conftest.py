"""Shared fixtures: the real-data folder, and running `hs` in-process or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# In CI (.ci/run sets CI when the runner has not) the property tests draw the same examples on every run, so that a
# result depends on the commit alone; elsewhere they draw new ones, which is how they find cases
# (a failure prints the blob that reproduces it).
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Real third-party data (../shared/data by default, or $HS_DATA_DIR); skip when absent."""
    path = Path(os.environ.get("HS_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real data folder {path} not found (set HS_DATA_DIR)")
    return path


def run_hs_subprocess(*args: str, cwd: Path, input: bytes | None = None) -> subprocess.CompletedProcess:
    """`python -m hstool ARGS...` in a fresh interpreter (for import checks and signals)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "hstool", *args], cwd=cwd, input=input, capture_output=True, env=env)


@pytest.fixture
def run_hs(tmp_path, monkeypatch):
    """Run `hs ARGS...` in-process inside tmp_path; returns an object shaped like CompletedProcess.

    In-process keeps the suite fast (no interpreter start per call); stdout and stderr are
    captured separately and the exit code is the one the shell would see.
    """
    from typer.testing import CliRunner

    from hstool.cli.app import app

    def run(*args: str, input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
        monkeypatch.chdir(cwd or tmp_path)
        monkeypatch.setattr(sys, "argv", ["hs", *args])
        result = CliRunner().invoke(app, list(args), input=input)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return subprocess.CompletedProcess(["hs", *args], result.exit_code, result.stdout_bytes, result.stderr_bytes)

    return run


@pytest.fixture(scope="session")
def sample_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the commands' --help examples name, built once from sample_data/ (read-only:
    copy it with sample_workspace.link_or_copy before running commands in it)."""
    from sample_workspace import build_inputs, derive_outputs, in_process_runner

    folder = tmp_path_factory.mktemp("hs-sample") / "ws"
    build_inputs(folder)
    derive_outputs(folder, in_process_runner(folder))
    return folder
