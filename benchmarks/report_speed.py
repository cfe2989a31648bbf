"""Benchmark: `hs report` over N test images (default 10,000) with the default caps.

Writes a synthetic study once to a temporary folder: preds, labels (3 stratifiers), clusters
and a manifest of N PNG files. Two image sizes:
  small   64x64 PNGs, one file per image (the images `hs synth` makes)
  large   512x512 radiograph-like PNGs (decoding costs what a real X-ray does); 50 distinct
          files hard-linked under N names, so the folder stays small but every path is read

Measured in one process, on the same files (best of --repeat runs):
  report    build_report() end to end with the defaults (thumbnails in worker processes when
            it pays off), and the HTML size
  serial    the same report with --workers 1 (the baseline)
  thumbs    the thumbnail step alone, parallel (workers=cores) vs serial
Usage:
  python benchmarks/report_speed.py [--images 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hstool.report.build import ReportInputs, build_report  # noqa: E402
from hstool.report.context import ReportOptions  # noqa: E402
from hstool.report.thumbs import default_workers, render_thumbnails  # noqa: E402


def radiograph(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth chest-like image with noise: compresses and decodes like a real radiograph."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    lungs = np.exp(-((xx - 0.3) ** 2 + (yy - 0.5) ** 2) * 12) + np.exp(-((xx - 0.7) ** 2 + (yy - 0.5) ** 2) * 12)
    image = 0.8 - 0.5 * lungs + rng.normal(0, 0.03, (size, size))
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_study(folder: Path, n: int, size: int, distinct: int | None) -> ReportInputs:
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
    labels = pl.DataFrame({
        "image_id": ids, "label": y.astype(int),
        "sex": rng.choice(["F", "M"], n), "site": rng.choice([f"site{k}" for k in range(5)], n),
        "view": rng.choice(["PA", "AP", "lateral"], n),
    })
    labels.write_csv(folder / "labels.csv")
    clusters = [f"{int(a)}/k3/c{k}" for a, k in zip(y, rng.integers(0, 3, n))]
    role = [("high_error" if c.endswith("c0") else "low_error" if c.endswith("c1") else "") for c in clusters]
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "cluster": clusters, "role": role}).write_csv(folder / "clusters.csv")
    pl.DataFrame({"image_id": ids, "path": [f"images/{i}.png" for i in ids]}).write_csv(folder / "manifest.csv")
    return ReportInputs(*(str(folder / f) for f in ("preds.csv", "labels.csv")), None, str(folder / "clusters.csv"), str(folder / "manifest.csv"))


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def scenario(name: str, inputs: ReportInputs, repeat: int) -> None:
    cores = default_workers()
    t_report, report = best(lambda: build_report(inputs, ReportOptions()), repeat)
    t_serial, serial = best(lambda: build_report(inputs, ReportOptions(workers=1)), repeat)
    assert report.html == serial.html, "the number of workers changed the report"
    paths = sorted((Path(inputs.manifest).parent / "images").glob("*.png"))[:400]
    t_par, _ = best(lambda: render_thumbnails(paths, 128, workers=cores), repeat)
    t_ser, _ = best(lambda: render_thumbnails(paths, 128, workers=1), repeat)
    print(f"{name:6s} report {t_report:6.2f} s  serial baseline {t_serial:6.2f} s  ratio {t_serial / t_report:4.2f}x  "
          f"html {len(report.html.encode()) / 1e6:.2f} MB  thumbnails {report.meta['thumbnails']}")
    print(f"{'':6s} 400 thumbnails: {cores} workers {t_par:5.2f} s, serial {t_ser:5.2f} s, ratio {t_ser / t_par:4.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"{args.images} test images, default caps, {os.cpu_count()} cores; best of {args.repeat}")
    for name, size, distinct in (("small", 64, None), ("large", 512, 50)):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            inputs = write_study(Path(tmp), args.images, size, distinct)
            print(f"{name}: wrote the study in {time.perf_counter() - start:.1f} s")
            scenario(name, inputs, args.repeat)


if __name__ == "__main__":
    main()
