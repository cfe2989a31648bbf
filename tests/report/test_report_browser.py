"""A real browser opens the report: headless Chromium (Debian's `chromium`) loads it with no
console message (no script error, no blocked load, no Content-Security-Policy violation) and
its screenshot is not blank.

Console messages come from Chromium's own log (`--enable-logging=stderr`: every console message
and CSP violation is an `INFO:CONSOLE` line); a control page with a script error and an
external image proves the check can fail. Chromium is found on PATH, or installed with apt-get
when running as root (CI does that in .ci/run); otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image
from report_study import write_study

from hstool.report.build import ReportInputs, build_report
from hstool.report.context import ReportOptions

pytestmark = pytest.mark.slow

BROWSERS = ("chromium", "chromium-browser")


def _install() -> str | None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        if subprocess.run(step, env=env, capture_output=True, timeout=900).returncode != 0:
            return None
    return shutil.which("chromium")


@pytest.fixture(scope="module")
def chromium() -> str:
    found = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None) or _install()
    if not found:
        pytest.skip(
            "chromium not found and cannot be installed here (needs root and apt-get): apt-get install chromium"
        )
    return found


def open_page(chromium: str, page: Path, workdir: Path, height: int = 3000) -> tuple[list[str], np.ndarray]:
    """Console lines and the screenshot (grey pixels) of `page` in headless Chromium."""
    shot = workdir / f"{page.stem}.png"
    command = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={workdir / 'profile'}",
        "--enable-logging=stderr",
        "--v=0",
        f"--window-size=1280,{height}",
        f"--screenshot={shot}",
        page.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, timeout=120, cwd=workdir)
    log = done.stderr.decode(errors="replace").splitlines()
    assert shot.exists(), f"chromium wrote no screenshot (exit {done.returncode}): {log[-5:]}"
    console = [line for line in log if ":CONSOLE" in line or "Uncaught" in line]
    return console, np.asarray(Image.open(shot).convert("L"), dtype=np.float64)


def ink(pixels: np.ndarray) -> float:
    """The fraction of pixels darker than mid-grey."""
    return float((pixels < 128).mean())


def test_the_check_catches_console_errors_and_blank_pages(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><meta http-equiv="Content-Security-Policy" content="default-src \'none\'">'
        '<script>console.error("boom")</script><img src="https://example.invalid/x.png">'
    )
    console, pixels = open_page(chromium, bad, tmp_path, height=400)
    assert len(console) >= 2  # the blocked script and the blocked image
    assert ink(pixels) < 0.002  # and the page shows next to nothing (a broken-image icon at most)


def test_report_opens_without_console_errors_and_is_not_blank(chromium, tmp_path):
    study = write_study(tmp_path, hostile=True)
    ids = pl.read_csv(study["preds"], schema_overrides={"image_id": pl.String})["image_id"].to_list()
    (tmp_path / "images").mkdir()
    rng = np.random.default_rng(0)
    for k in range(len(ids)):  # small grey images, so every gallery shows real thumbnails
        Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(tmp_path / "images" / f"{k}.png")
    pl.DataFrame({"image_id": ids, "path": [f"images/{k}.png" for k in range(len(ids))]}).write_csv(
        tmp_path / "manifest.csv"
    )
    inputs = ReportInputs(
        preds=str(study["preds"]),
        labels=str(study["labels"]),
        clusters=str(study["clusters"]),
        manifest=str(tmp_path / "manifest.csv"),
    )
    report = build_report(inputs, ReportOptions())
    assert report.html.count('href="data:image/png') > 50
    page = tmp_path / "report.html"
    page.write_text(report.html, encoding="utf-8")
    console, pixels = open_page(chromium, page, tmp_path)
    assert console == []
    assert pixels.std() > 20 and ink(pixels) > 0.01  # text, tables and plots, not an empty page
