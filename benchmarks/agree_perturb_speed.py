"""Benchmark: `hs agree`, `hs probe` and `hs perturb` against plain baselines, in one process.

  agree    run_agree on N rows (two score files, a reference, 2 stratifiers of 3 and 5 levels)
           against a plain scikit-learn loop computing only the point estimates per group
           (cohen_kappa_score at the same thresholds, roc_auc_score for both models) on arrays
           already in memory: the baseline does no file reading, no intervals, no tests
  kappa    cohen_kappa + its FCE-1969 SE on N pairs against sklearn's cohen_kappa_score alone
  probe    run_probe (5-fold, one-vs-rest AUC + DeLong) against sklearn cross_val_predict with
           the same pipeline on arrays in memory
  perturb  run_perturb --lowpass on M grey 224 x 224 PNGs, 1 and 2 workers, against a plain
           decode + encode copy of the same files (Pillow), which is the I/O floor

Usage: PYTHONPATH=. python benchmarks/agree_perturb_speed.py [--rows 1000000] [--images 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_agree(folder: Path, n: int) -> None:
    from sklearn.metrics import cohen_kappa_score, roc_auc_score

    from hstool.audit.agree import AgreeOptions, run_agree
    from hstool.stats.agreement import cohen_kappa, confusion_counts

    rng = np.random.default_rng(0)
    y = rng.random(n) < 0.3
    a = 1 / (1 + np.exp(-(2 * y - 1 + rng.normal(0, 1, n))))
    b = 1 / (1 + np.exp(-(1.5 * y - 0.7 + rng.normal(0, 1.2, n))))
    ids = [f"id{i:07d}" for i in range(n)]
    site, view = rng.integers(0, 3, n), rng.integers(0, 5, n)
    pl.DataFrame({"image_id": ids, "score": a}).write_csv(folder / "a.csv")
    pl.DataFrame({"image_id": ids, "score": b}).write_csv(folder / "b.csv")
    pl.DataFrame({"image_id": ids, "label": y.astype(int), "site": site, "view": view}).write_csv(folder / "ref.csv")
    options = AgreeOptions(reference=str(folder / "ref.csv"), threshold="0.5", by=["site", "view"])
    t_hs = timed(lambda: run_agree(str(folder / "a.csv"), str(folder / "b.csv"), options))

    def sklearn_loop():
        ca, cb = a >= 0.5, b >= 0.5
        masks = [np.ones(n, bool)] + [site == k for k in range(3)] + [view == k for k in range(5)]
        for m in masks:
            cohen_kappa_score(ca[m], cb[m])
            roc_auc_score(y[m], a[m])
            roc_auc_score(y[m], b[m])

    t_base = timed(sklearn_loop)
    print(
        f"agree   {n:>9,} rows, 9 rows out: hs {t_hs:6.2f} s (files, intervals, tests)  sklearn loop {t_base:6.2f} s (estimates only)  ratio {t_hs / t_base:.2f}"
    )
    ca, cb = a >= 0.5, b >= 0.5
    t_k = timed(lambda: cohen_kappa(confusion_counts(ca, cb)), repeat=5)
    t_ks = timed(lambda: cohen_kappa_score(ca, cb), repeat=5)
    print(
        f"kappa   {n:>9,} pairs: hs kappa+SE {t_k * 1000:7.1f} ms  sklearn kappa {t_ks * 1000:7.1f} ms  ratio {t_k / t_ks:.2f}"
    )


def bench_probe(folder: Path, n: int = 5000, d: int = 128) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from hstool.audit.probe import ProbeOptions, run_probe
    from hstool.io.arrays import write_embeddings

    rng = np.random.default_rng(1)
    ids = [f"e{i:06d}" for i in range(n)]
    target = rng.choice(["a", "b", "c"], n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[:, 0] += (target == "b") * 1.0
    write_embeddings(folder / "emb.npy", ids, x)
    pl.DataFrame({"image_id": ids, "race": target}).write_csv(folder / "labels.csv")
    t_hs = timed(lambda: run_probe(str(folder / "emb.npy"), str(folder / "labels.csv"), ProbeOptions(target="race")))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    t_base = timed(lambda: cross_val_predict(model, x.astype(np.float64), target, cv=folds, method="predict_proba"))
    print(
        f"probe   {n:>9,} x {d}, 3 classes, 5 folds: hs {t_hs:6.2f} s  sklearn cross_val_predict {t_base:6.2f} s  ratio {t_hs / t_base:.2f}"
    )


def bench_perturb(folder: Path, m: int) -> None:
    from PIL import Image

    from hstool.synth.perturb import Perturbation
    from hstool.synth.perturbed import run_perturb

    rng = np.random.default_rng(2)
    src = folder / "src"
    src.mkdir()
    rows = []
    for i in range(m):
        Image.fromarray(rng.integers(0, 256, (224, 224), dtype=np.uint8)).save(src / f"i{i}.png")
        rows.append({"image_id": f"i{i}", "path": f"i{i}.png"})
    pl.DataFrame(rows).write_csv(src / "manifest.csv")

    def copy():
        out = folder / "copy"
        out.mkdir(exist_ok=True)
        for r in rows:
            Image.open(src / r["path"]).save(out / r["path"], format="PNG", compress_level=6)

    t_base = timed(copy)
    for workers in (1, 2):
        out = folder / f"lp{workers}"
        t = timed(
            lambda: run_perturb(
                str(src / "manifest.csv"), str(out), Perturbation("lowpass", 50), workers=workers, force=True
            )
        )
        print(
            f"perturb {m:>9,} PNGs 224x224, lowpass, {workers} worker(s): hs {t:6.2f} s ({m / t:5.0f} img/s)  Pillow copy {t_base:6.2f} s  ratio {t / t_base:.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bench_agree(folder, args.rows)
        bench_probe(folder)
        bench_perturb(folder, args.images)


if __name__ == "__main__":
    main()
