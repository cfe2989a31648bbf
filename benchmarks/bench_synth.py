"""Benchmark and check of `hs synth`.

1. Speed: `run_synth` on all 5,030 PneumoniaMNIST images with nothing planted, with a drain in
   every image (the most drawing), and with a drain and a lesion in every positive, against
   `manifest_from_npz` writing the same images (the baseline: PNG encoding and the manifest,
   no planting). Median of 3 runs after a warm-up.
2. Is the planted drain a shortcut a model learns? On sample_data/ (made by `make sample-data`),
   stand-in models trained on the train split score the test split, and `hs stratify` compares
   positives with and without a drain (`--by drain_pos`: each subgroup of positives against all
   negatives, DeLong test). The models are NOT `hs train`: a logistic regression on raw pixels
   (scikit-learn) and, when PyTorch is installed, a three-layer CNN trained with Adam on the
   CPU (15 and 40 epochs), over several seeds. They only show that the signal is there to be learned.

Usage: PYTHONPATH=. python benchmarks/bench_synth.py [DATA_DIR] [--seeds N]
(DATA_DIR: default $HS_DATA_DIR or ../shared/data). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from bench_data import median_time  # benchmarks/ is on sys.path when this script runs
from PIL import Image

from hstool.data.build import manifest_from_npz
from hstool.synth.base import BaseSource
from hstool.synth.run import run_synth
from hstool.synth.spec import SynthSpec

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def speed(npz: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source = BaseSource(npz=str(npz))
        runs = {
            "manifest_from_npz (baseline)": lambda: manifest_from_npz(str(npz), f"{tmp}/m", force=True),
            "run_synth, nothing planted": lambda: run_synth(source, SynthSpec(), f"{tmp}/s0", force=True),
            "run_synth, drain in every image": lambda: run_synth(
                source, SynthSpec.from_options(spurious="drain:pos=1,neg=1"), f"{tmp}/s1", force=True
            ),
            "run_synth, drain + lesion in every positive": lambda: run_synth(
                source, SynthSpec.from_options(spurious="drain:pos=1", subtle="1:0.5"), f"{tmp}/s2", force=True
            ),
        }
        times = {name: median_time(fn, 3) for name, fn in runs.items()}
    base = times["manifest_from_npz (baseline)"]
    with np.load(npz) as data:
        n = sum(len(data[k]) for k in data.files if k.endswith("_labels"))
    print(f"1. Speed, {n} images of 28 x 28 (median of 3 runs after a warm-up)")
    print(f"{'':45} {'seconds':>8} {'ms/image':>9} {'ratio':>6}")
    for name, seconds in times.items():
        print(f"{name:45} {seconds:8.2f} {1000 * seconds / n:9.2f} {seconds / base:6.2f}")


def load(split: str) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    manifest = pl.read_csv(SAMPLE / "manifest.csv", infer_schema=False).filter(pl.col("split") == split)
    pixels = np.stack([np.asarray(Image.open(SAMPLE / p), dtype=np.float32) / 255 for p in manifest["path"]])
    return manifest, pixels, (manifest["label"] == "1").to_numpy()


def logistic(train_x, train_y, test_x, seed: int) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=0.1, max_iter=5000, random_state=seed).fit(train_x.reshape(len(train_x), -1), train_y)
    return model.predict_proba(test_x.reshape(len(test_x), -1))[:, 1]


def cnn(train_x, train_y, test_x, seed: int, epochs: int) -> np.ndarray:
    import torch

    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(32, 64, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(64, 1),
    )
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    x, y = torch.tensor(train_x[:, None]), torch.tensor(train_y, dtype=torch.float32)
    order = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for batch in torch.randperm(len(x), generator=order).split(32):
            optimiser.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(x[batch])[:, 0], y[batch]).backward()
            optimiser.step()
    with torch.no_grad():
        return torch.sigmoid(net(torch.tensor(test_x[:, None]))[:, 0]).numpy()


def stratify(ids: list[str], scores: np.ndarray, tmp: str) -> pl.DataFrame:
    preds = Path(tmp) / "preds.csv"
    pl.DataFrame({"image_id": ids, "score": scores}).write_csv(preds)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hstool",
            "stratify",
            str(preds),
            str(SAMPLE / "labels_test.csv"),
            "--by",
            "drain_pos",
            "-f",
            "csv",
            "-q",
        ],
        capture_output=True,
        env=env,
        check=True,
    ).stdout
    return pl.read_csv(out)


def shortcut(seeds: int) -> None:
    if not (SAMPLE / "manifest.csv").exists():
        print("2. skipped: no sample_data/ (run make sample-data)")
        return
    _, train_x, train_y = load("train")
    test, test_x, _ = load("test")
    models = {"logistic regression (pixels)": logistic}
    try:
        import torch

        torch.set_num_threads(2)
        models["small CNN, 15 epochs"] = lambda *a: cnn(*a, epochs=15)
        models["small CNN, 40 epochs"] = lambda *a: cnn(*a, epochs=40)
    except ImportError:
        print("(PyTorch not installed: CNN skipped)")
    print(
        "\n2. Shortcut check on sample_data/ test split (200 positives: 100 with a drain; 200 negatives: 20 with one)"
    )
    print(
        f"{'model':32} {'seed':>4} {'AUC all':>8} {'AUC drain':>10} {'AUC no drain':>13} {'DeLong p':>9} {'sens drain':>11} {'sens no':>8} {'train s':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, fit in models.items():
            for seed in range(seeds if name != "logistic regression (pixels)" else 1):
                start = time.perf_counter()
                scores = fit(train_x, train_y, test_x, seed)
                seconds = time.perf_counter() - start
                table = stratify(test["image_id"].to_list(), scores, tmp)
                overall = table.row(0, named=True)
                yes = table.filter((pl.col("stratifier") == "drain_pos") & (pl.col("group") == "yes")).row(
                    0, named=True
                )
                no = table.filter((pl.col("stratifier") == "drain_pos") & (pl.col("group") == "no")).row(0, named=True)
                print(
                    f"{name:32} {seed:4} {overall['auc']:8.3f} {yes['auc']:10.3f} {no['auc']:13.3f} {no['auc_p']:9.2g} "
                    f"{yes['sensitivity']:11.2f} {no['sensitivity']:8.2f} {seconds:8.1f}"
                )


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    seeds = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 3
    args = [a for a in args if a != str(seeds)]
    data = Path(args[0] if args else os.environ.get("HS_DATA_DIR", ROOT.parent / "shared" / "data"))
    speed(data / "pneumoniamnist" / "pneumoniamnist.npz")
    shortcut(seeds)


if __name__ == "__main__":
    main()
