"""Benchmark of the image data layer, with baselines run in the same process.

1. Decode + preprocess one image (load_image + Preprocessing.apply, float32 throughout) against
   a plain Pillow uint8 pipeline (open, convert('L'), resize BILINEAR, / 255), for the real
   fixtures: an 8-bit grey PNG (512 px), an RGB JPEG (885 x 1036) and a JPEG-compressed DICOM
   (1024 px), to 224 x 224 and 28 x 28.
2. read_manifest on a 100,000-row manifest (1,000 folders; files need not exist) against
   polars' read_csv of the same file: the cost of validating and resolving every path.

Usage: PYTHONPATH=. python benchmarks/bench_data.py [DATA_DIR]   (default $HS_DATA_DIR or ../shared/data)
Prints median seconds and ratios (ours / baseline). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from hstool.data.images import load_image
from hstool.data.manifest import read_manifest
from hstool.data.preprocess import Preprocessing


def median_time(fn, repeat: int) -> float:
    fn()  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def pillow_baseline(path: Path, size: int) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255


def dicom_baseline(path: Path, size: int) -> np.ndarray:
    import pydicom

    pixels = pydicom.dcmread(path).pixel_array
    return np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32) / 255


def bench_images(data: Path) -> None:
    fixtures = data / "xray-fixtures"
    cases = [
        ("PNG 512 grey", fixtures / "00000001_000.png", pillow_baseline),
        ("JPEG 885x1036 RGB", fixtures / "16747_3_1.jpg", pillow_baseline),
        ("DICOM 1024 JPEG", fixtures / "1.2.276.0.7230010.3.1.4.8323329.6904.1517875201.850819.dcm", dicom_baseline),
    ]
    print(f"{'image':<20} {'size':>5} {'hs (ms)':>9} {'baseline (ms)':>14} {'ratio':>6}")
    for name, path, baseline in cases:
        for size in (224, 28):
            prep = Preprocessing(size=(size, size), channels=1)
            ours = median_time(lambda: prep.apply(load_image(path)), 15)
            base = median_time(lambda: baseline(path, size), 15)
            print(f"{name:<20} {size:>5} {ours * 1e3:>9.2f} {base * 1e3:>14.2f} {ours / base:>6.2f}")


def bench_manifest(rows: int = 100_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.csv"
        ids = [f"{i:06d}" for i in range(rows)]
        pl.DataFrame(
            {
                "image_id": ids,
                "path": [f"images/{i % 1000:03d}/{i:06d}.png" for i in range(rows)],
                "label": [str(i % 2) for i in range(rows)],
                "split": ["train"] * rows,
            }
        ).write_csv(path)
        ours = median_time(lambda: read_manifest(str(path), require_label=True), 5)
        base = median_time(lambda: pl.read_csv(path, schema_overrides={"image_id": pl.String}), 5)
        print(f"read_manifest {rows} rows: {ours:.3f} s; polars read_csv {base:.3f} s; ratio {ours / base:.1f}")


def main() -> None:
    data = Path(
        sys.argv[1]
        if len(sys.argv) > 1
        else os.environ.get("HS_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    print(f"cpus: {os.cpu_count()}  (shared machine: timings are indicative)")
    bench_images(data)
    bench_manifest()


if __name__ == "__main__":
    main()
