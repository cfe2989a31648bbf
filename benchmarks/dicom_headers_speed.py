"""Benchmark: `hs manifest dicom`'s header reading against a plain loop of `pydicom.dcmread`.

Writes N uncompressed single-frame DICOM files (SIZE x SIZE, 8-bit, nested in 20 folders,
no extensions) into a temporary folder, then reads the same archive with:

  dcmread          for p in paths: pydicom.dcmread(p)   (the baseline: what a user's script does)
  dcmread-header   for p in paths: pydicom.dcmread(p, stop_before_pixels=True)
  dcmread + tags   the baseline, then the 12 default tags read from each data set (a user's table)
  hs, W workers    hstool.data.dicom_manifest.read_headers (W = 0: in this process)
  hs manifest      manifest_from_dicom: walk + recognise by content + headers + table, default workers

Warm: every reader runs once to fill the page cache, then the best of --repeat runs counts.
Cold: the page cache is dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`) before each
reader's single run; when that is not permitted (no root, a container), cold is reported as
not measured. Ratios are files per second against the dcmread loop of the same run.

Usage: PYTHONPATH=. python benchmarks/dicom_headers_speed.py [--files 2000] [--size 64] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the DICOM writer the tests use

from dicom_archive import small_dicom  # noqa: E402

from hstool.data.dicom_headers import DEFAULT_TAGS, HeaderJob  # noqa: E402
from hstool.data.dicom_manifest import DicomOptions, manifest_from_dicom, read_headers  # noqa: E402


def drop_caches() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as fh:
            fh.write("3\n")
    except OSError:
        return False
    return True


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=64, help="image side in pixels (8-bit, uncompressed)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import pydicom

    with tempfile.TemporaryDirectory(dir=os.environ.get("HS_BENCH_TMP")) as tmp:
        top = Path(tmp) / "archive"
        start = time.perf_counter()
        paths = [
            str(small_dicom(top / f"p{i % 20:02d}" / f"{i:06d}", i, f"{i % 500}", size=args.size))
            for i in range(args.files)
        ]
        size_mb = sum(os.path.getsize(p) for p in paths) / 1e6
        print(
            f"{args.files} files, {args.size}x{args.size} 8-bit, {size_mb:.1f} MB, written in {time.perf_counter() - start:.1f} s"
        )
        readers: dict[str, Callable[[], object]] = {
            "dcmread": lambda: [pydicom.dcmread(p) for p in paths],
            "dcmread-header": lambda: [pydicom.dcmread(p, stop_before_pixels=True) for p in paths],
            "dcmread + 12 tags": lambda: [[ds.get(k) for k in DEFAULT_TAGS] for ds in map(pydicom.dcmread, paths)],
            "hs, 0 workers": lambda: read_headers(paths, HeaderJob(), 0, None),
            f"hs, {args.workers} workers": lambda: read_headers(paths, HeaderJob(), args.workers, None),
            "hs manifest (default workers)": lambda: manifest_from_dicom(
                str(top), manifest_dir=tmp, options=DicomOptions()
            ),
        }
        cold: dict[str, float] = {}
        can_drop = drop_caches()
        if can_drop:
            for name, fn in readers.items():
                drop_caches()
                cold[name] = timed(fn)
        warm = {}
        for name, fn in readers.items():
            fn()
            warm[name] = min(timed(fn) for _ in range(args.repeat))
        print(f"{'reader':32s} {'warm files/s':>13s} {'vs dcmread':>10s} {'cold files/s':>13s} {'vs dcmread':>10s}")
        for name in readers:
            line = f"{name:32s} {args.files / warm[name]:13.0f} {warm['dcmread'] / warm[name]:9.2f}x"
            if can_drop:
                line += f" {args.files / cold[name]:13.0f} {cold['dcmread'] / cold[name]:9.2f}x"
            else:
                line += f" {'-':>13s} {'-':>10s}"
            print(line)
        if not can_drop:
            print("cold cache: not measured (writing /proc/sys/vm/drop_caches is not permitted here)")


if __name__ == "__main__":
    main()
