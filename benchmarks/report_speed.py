"""Benchmark: `hs report` over N test images (default 10,000) with the default caps.

Writes a synthetic study once to a temporary folder: preds, labels (3 stratifiers), clusters
and a manifest of N PNG files, in two image sizes:
  small   64x64 PNGs, one file per image
  large   2048x2048 radiograph-like PNGs (decoding costs what a real chest X-ray does); 50
          distinct files hard-linked under N names, so the folder stays small but every path
          is a separate file

For each, `hs report` runs end to end in a subprocess (interpreter start included), best of
--repeat runs:
  hs        the defaults (thumbnails in worker processes when that pays off)
  baseline  the same command with --workers 1 (every thumbnail rendered serially)
The two reports must be byte-identical. Usage:
  python benchmarks/report_speed.py [--images 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from hstool.workers import default_workers  # noqa: E402


def radiograph(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth chest-like image with noise: compresses and decodes like a real radiograph."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    lungs = np.exp(-((xx - 0.3) ** 2 + (yy - 0.5) ** 2) * 12) + np.exp(-((xx - 0.7) ** 2 + (yy - 0.5) ** 2) * 12)
    image = 0.8 - 0.5 * lungs + rng.normal(0, 0.03, (size, size))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_study(folder: Path, n: int, size: int, distinct: int | None) -> None:
    rng = np.random.default_rng(0)
    images = folder / "images"
    images.mkdir()
    ids = [f"img{i:05d}" for i in range(n)]
    sources = [radiograph(rng, size) for _ in range(distinct or min(n, 200))]
    for i, image_id in enumerate(ids):
        target = images / f"{image_id}.png"
        if distinct and i >= distinct:
            os.link(images / f"{ids[i % distinct]}.png", target)
        else:
            Image.fromarray(sources[i % len(sources)]).save(target)
    y = rng.random(n) < 0.3
    score = np.clip(y * 0.35 + rng.normal(0.35, 0.18, n), 0, 1).round(4)
    pl.DataFrame({"image_id": ids, "score": score}).write_csv(folder / "preds.csv")
    labels = pl.DataFrame(
        {
            "image_id": ids,
            "label": y.astype(int),
            "sex": rng.choice(["F", "M"], n),
            "site": rng.choice([f"site{k}" for k in range(5)], n),
            "view": rng.choice(["PA", "AP", "lateral"], n),
        }
    )
    labels.write_csv(folder / "labels.csv")
    clusters = [f"{int(a)}/k3/c{k}" for a, k in zip(y, rng.integers(0, 3, n))]
    role = [("high_error" if c.endswith("c0") else "low_error" if c.endswith("c1") else "") for c in clusters]
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "cluster": clusters, "role": role}).write_csv(
        folder / "clusters.csv"
    )
    pl.DataFrame({"image_id": ids, "path": [f"images/{i}.png" for i in ids]}).write_csv(folder / "manifest.csv")


def run_report(folder: Path, out: str, *extra: str) -> float:
    command = [
        sys.executable,
        "-m",
        "hstool",
        "report",
        "-p",
        "preds.csv",
        "-l",
        "labels.csv",
        "-c",
        "clusters.csv",
        "-m",
        "manifest.csv",
        "-o",
        out,
        "--quiet",
        *extra,
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    subprocess.run(command, cwd=folder, env=env, check=True)
    return time.perf_counter() - start


def scenario(name: str, folder: Path, repeat: int) -> None:
    t_hs = min(run_report(folder, "hs.html") for _ in range(repeat))
    t_serial = min(run_report(folder, "serial.html", "--workers", "1") for _ in range(repeat))
    html = (folder / "hs.html").read_bytes()
    assert html == (folder / "serial.html").read_bytes(), "the number of workers changed the report"
    thumbnails = json.loads((folder / "hs.html.meta.json").read_text())["thumbnails"]
    print(
        f"{name:6s} hs report {t_hs:6.2f} s   --workers 1 baseline {t_serial:6.2f} s   ratio {t_serial / t_hs:4.2f}x   "
        f"html {len(html) / 1e6:.2f} MB   {thumbnails} thumbnails   load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"{args.images} test images, default caps, {os.cpu_count()} cores ({default_workers()} workers); best of {args.repeat}"
    )
    for name, size, distinct in (("small", 64, None), ("large", 2048, 50)):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            write_study(Path(tmp), args.images, size, distinct)
            print(f"{name}: wrote the study in {time.perf_counter() - start:.1f} s")
            scenario(name, Path(tmp), args.repeat)


if __name__ == "__main__":
    main()
