"""CPU training speed of `hs train` against a plain PyTorch loop, same model, same data.

Data: PneumoniaMNIST's train split (3,882 real chest X-rays, 28 x 28), written as PNG files with
`hs manifest npz` into a temporary folder.

- hs: `hstool.train.training.train` called in-process (the library function behind `hs train`),
  small CNN, Adam, batch 64, no validation, no augmentation, export off (a one-off cost, timed
  separately). Two rates: end to end (reading the manifest, decoding every PNG during the
  first epoch, checkpoints and log after every epoch), and after the first epoch, when the
  decoded images are cached in memory (from the progress callback's clock).
- baseline: the same architecture and initial weights, the same images already decoded into one
  tensor (decoding not timed), a shuffled index per epoch, the same optimiser, loss, batch size
  and torch thread count.

Also reported: hs with its default augmentation on, and the ONNX export time.

Usage: PYTHONPATH=. python benchmarks/train_speed.py [DATA_DIR] [--epochs 4] [--repeat 2] [--threads N]
Prints images/s (best of --repeat runs, baseline and hs alternating) and the ratios hs / baseline
(of the bests, and the median over adjacent baseline/hs runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from hstool.data.build import manifest_from_npz
from hstool.data.manifest import read_manifest
from hstool.data.preprocess import load_batch
from hstool.train.architectures import build_model
from hstool.train.config import TrainConfig
from hstool.train.training import model_input, train

BATCH = 64


def plain_loop(images: torch.Tensor, targets: torch.Tensor, config: TrainConfig, normalise) -> float:
    """Seconds for config.epochs epochs of a textbook loop over in-memory tensors."""
    torch.manual_seed(config.seed)
    model = build_model("smallcnn", n_outputs=1, channels=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()
    model.train()
    for _ in range(config.epochs):
        for index in torch.randperm(len(images), generator=generator).split(BATCH):
            logits, _ = model(normalise(images[index]))
            loss = loss_fn(logits[:, 0], targets[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return time.perf_counter() - start


class EpochClock:
    """A progress callback that notes when each epoch's last image is done."""

    def __init__(self, per_epoch: int) -> None:
        self.per_epoch = per_epoch
        self.ends: list[float] = []

    def __call__(self, done: int, total: int) -> None:
        if done % self.per_epoch == 0:
            self.ends.append(time.perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?", default=os.environ.get("HS_DATA_DIR", "../shared/data"))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest_from_npz(
            str(Path(args.data) / "pneumoniamnist" / "pneumoniamnist.npz"), str(tmp / "pm"), splits=["train"]
        )
        manifest = tmp / "pm" / "manifest.csv"
        base = dict(
            manifest=str(manifest),
            arch="smallcnn",
            epochs=args.epochs,
            batch_size=BATCH,
            lr=1e-3,
            val_frac=0,
            export=False,
            epoch_weights=False,
            force=True,
        )
        m = read_manifest(str(manifest), require_label=True)
        config = TrainConfig(out_dir=str(tmp / "run"), augment=False, **base)
        _, prep, _ = model_input(config, m.paths[0])
        images = torch.from_numpy(load_batch(m.paths, prep))
        targets = torch.tensor([float(v == "1") for v in m.labels])
        normalise = lambda x: prep.normalise(x)  # noqa: E731
        n = len(images) * args.epochs
        print(
            f"{len(images)} images 28x28, {args.epochs} epochs, batch {BATCH}, {args.threads} torch thread(s), "
            f"{os.cpu_count()} CPUs visible"
        )
        # Warm-up: the first optimiser of a process imports torch._dynamo (seconds), once.
        torch.optim.Adam(build_model("smallcnn", n_outputs=1, channels=1).parameters())
        results: dict[str, list[float]] = {"baseline": [], "hs": [], "hs after epoch 1": [], "hs+augment": []}
        for _ in range(args.repeat):
            results["baseline"].append(n / plain_loop(images, targets, config, normalise))
            clock = EpochClock(len(images))
            start = time.perf_counter()
            train(config, progress=clock)
            results["hs"].append(n / (time.perf_counter() - start))
            results["hs after epoch 1"].append(len(images) * (args.epochs - 1) / (clock.ends[-1] - clock.ends[0]))
            start = time.perf_counter()
            train(TrainConfig(out_dir=str(tmp / "run_aug"), **base))
            results["hs+augment"].append(n / (time.perf_counter() - start))
        best = {k: max(v) for k, v in results.items()}
        for name, value in best.items():
            print(f"{name:>17}: {value:8.0f} images/s  (runs: {', '.join(f'{v:.0f}' for v in results[name])})")
        for name in ("hs", "hs after epoch 1", "hs+augment"):
            # Runs next to each other share the machine's load: their ratios are steadier than
            # ratios of bests on a shared machine.
            pairs = [h / b for h, b in zip(results[name], results["baseline"])]
            print(
                f"ratio {name} / baseline: best {best[name] / best['baseline']:.2f}, "
                f"median of adjacent runs {statistics.median(pairs):.2f} ({', '.join(f'{r:.2f}' for r in pairs)})"
            )
        from hstool.train.export import export_onnx

        model = build_model("smallcnn", n_outputs=1, channels=1).eval()
        start = time.perf_counter()
        export_onnx(
            model,
            prep,
            class_names=["0", "1"],
            task="binary",
            architecture="smallcnn",
            path=tmp / "m.onnx",
            parity_batch=images[:8].numpy(),
        )
        print(f"ONNX export with parity check: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
