"""Shared fixtures: the real-data folder, and running `hs` in-process or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Real third-party data (../shared/data by default, or $HS_DATA_DIR); skip when absent."""
    path = Path(os.environ.get("HS_DATA_DIR", ROOT.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.skip(f"real data folder {path} not found (set HS_DATA_DIR)")
    return path


@pytest.fixture
def run_hs(tmp_path):
    """Run `hs ARGS...` in a subprocess (real exit codes, real stdout/stderr) inside tmp_path."""

    def run(*args: str, input: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        return subprocess.run(
            [sys.executable, "-m", "hstool", *args],
            cwd=cwd or tmp_path,
            input=input,
            capture_output=True,
            env=env,
        )

    return run
