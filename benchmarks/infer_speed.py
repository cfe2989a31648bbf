"""Inference throughput: `hs embed` against a plain PyTorch loop and the decode floor, in one process.

For each model, the same PNG files go through:

  decode floor    hs's decoding alone (DecodePool, W worker processes already started, no
                  model): what any pipeline using hs's preprocessing can reach with W processes;
  model ceiling   the model alone on one batch kept in memory, repeated (ONNX Runtime, and
                  PyTorch on the same device);
  hs embed        `run_inference` end to end, as `hs embed MODEL MANIFEST -o emb.npy
                  --workers W` runs it: model loading, decoding, inference, chunk files, the final
                  .npy, ids and sidecar;
  torch eager     a plain PyTorch loop over the same files: Pillow decode, batch, model forward
                  under torch.inference_mode (the way such scripts are usually written);
  torch loader    (GPU only) a torch DataLoader with W workers and pinned memory feeding the
                  PyTorch model: the common "fast" PyTorch pipeline.

Models are made by hs train's own code (`build_model`, randomly initialised, seeded, and
`export_onnx`): DenseNet-121 (224 x 224, 3 channels, fed grey PNGs as hs train does) and the
small CNN (28 x 28, 1 channel). Images: 224 x 224 grey PNGs cut from the real X-ray fixtures
and upscaled PneumoniaMNIST images; 28 x 28 PneumoniaMNIST test PNGs (repeated to --n-small).
It also prints the largest difference between hs's embeddings and PyTorch's.

Usage (CPU, what docs/benchmarks.md records):
  PYTHONPATH=. python benchmarks/infer_speed.py [DATA_DIR] [--n 300] [--n-small 3000] [--workers 0,1,2]
GPU (an honest end-to-end measurement needs one; see docs/inference.md):
  PYTHONPATH=. python benchmarks/infer_speed.py --device cuda --n 20000 --workers 16 --batch-size 256 --models densenet121
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hstool.data.manifest import read_manifest
from hstool.data.preprocess import Preprocessing
from hstool.infer.decode_pool import DecodePool
from hstool.infer.inference import InferenceOptions, Targets, run_inference
from hstool.infer.runtime import load_model


@dataclass
class Case:
    name: str
    onnx: Path
    torch_model: object  # torch module: pixels in [0, 1] -> (probabilities, embedding)
    prep: Preprocessing
    manifest: Path
    n: int


def make_png224(folder: Path, data: Path, n: int) -> Path:
    """n grey 224 x 224 PNGs: random crops of the real fixtures, and PneumoniaMNIST upscaled."""
    rng = np.random.default_rng(0)
    fixtures = [Image.open(p).convert("L") for p in sorted((data / "xray-fixtures").glob("*.png"))]
    fixtures.append(Image.open(data / "xray-fixtures" / "16747_3_1.jpg").convert("L"))
    small = np.load(data / "pneumoniamnist" / "pneumoniamnist.npz")["train_images"]
    (folder / "images").mkdir(parents=True)
    rows = ["image_id,path"]
    for i in range(n):
        if i % 2 == 0:
            im = fixtures[(i // 2) % len(fixtures)]
            s = int(rng.integers(256, min(im.size) + 1))
            x, y = int(rng.integers(0, im.size[0] - s + 1)), int(rng.integers(0, im.size[1] - s + 1))
            im = im.crop((x, y, x + s, y + s)).resize((224, 224), Image.Resampling.BILINEAR)
        else:
            im = Image.fromarray(small[i % len(small)]).resize((224, 224), Image.Resampling.BILINEAR)
        im.save(folder / "images" / f"{i:06d}.png")
        rows.append(f"img{i:06d},images/{i:06d}.png")
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n")
    return folder / "manifest.csv"


def make_png28(folder: Path, data: Path, n: int) -> Path:
    """The PneumoniaMNIST test images as PNG files, listed until the manifest has n rows."""
    from hstool.data.build import manifest_from_npz

    built = manifest_from_npz(str(data / "pneumoniamnist" / "pneumoniamnist.npz"), str(folder), splits=["test"])
    paths = built.table["path"].to_list()
    rows = ["image_id,path"] + [f"r{i:06d},{paths[i % len(paths)]}" for i in range(n)]
    (folder / "many.csv").write_text("\n".join(rows) + "\n")
    return folder / "many.csv"


def build_case(arch: str, folder: Path, manifest: Path, n: int, size: int, channels: int) -> Case:
    """A randomly initialised hs model and its ONNX export, both made by hs train's code."""
    import torch

    from hstool.train.architectures import Normalise, build_model
    from hstool.train.export import export_onnx

    torch.manual_seed(0)
    prep = Preprocessing(size=(size, size), channels=channels, mean=(0.5,) * channels, std=(0.25,) * channels)
    model = build_model(arch, n_outputs=1, channels=channels).eval()
    parity = torch.rand(4, channels, size, size)
    export_onnx(
        model,
        prep,
        class_names=["normal", "pneumonia"],
        task="binary",
        architecture=arch,
        path=folder / f"{arch}.onnx",
        parity_batch=parity,
    )

    class Graph(torch.nn.Module):
        """What the exported model computes (export_onnx's graph), for PyTorch to run."""

        def __init__(self) -> None:
            super().__init__()
            self.normalise, self.model = Normalise(prep), model

        def forward(self, x):
            logits, embedding = self.model(self.normalise(x))
            return torch.sigmoid(torch.cat([-logits, logits], dim=1)), embedding

    return Case(arch, folder / f"{arch}.onnx", Graph().eval(), prep, manifest, n)


def plain_batch(paths: list[Path], channels: int):
    """What a plain script does: Pillow -> float32 / 255 -> tensor, grey repeated to 3 channels."""
    import torch

    x = torch.stack([torch.from_numpy(np.asarray(Image.open(p).convert("L"), dtype=np.float32) / 255) for p in paths])
    return x[:, None].expand(-1, channels, -1, -1).contiguous()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_case(case: Case, args, out: Path) -> list[tuple[str, float]]:
    import torch

    manifest = read_manifest(str(case.manifest))
    paths = manifest.paths[: case.n]
    batches = [list(range(a, min(a + args.batch_size, case.n))) for a in range(0, case.n, args.batch_size)]
    device = "cuda" if args.device == "cuda" else "cpu"
    rows: list[tuple[str, float]] = []

    for workers in args.workers:
        # Steady state: the workers are started and warm before the clock starts (hs embed
        # below pays their start-up, about half a second, once per run).
        with DecodePool(paths, case.prep, batch_size=args.batch_size, workers=workers) as pool:
            for _ in pool.decode(batches[:1]):
                pass
            rate = case.n / median(lambda: [None for _ in pool.decode(batches)], args.repeat)
        rows.append((f"decode floor, {workers} workers", rate))

    loaded = load_model(str(case.onnx), device=args.device)
    batch = np.random.default_rng(0).random((args.batch_size, case.prep.channels, *case.prep.size), dtype=np.float32)
    loaded.run(batch)  # warm-up (cuDNN algorithm search on GPU)
    reps = max(1, min(20, case.n // args.batch_size))
    rows.append(
        (
            f"model ceiling, onnxruntime {loaded.provider.replace('ExecutionProvider', '')}",
            reps * args.batch_size / median(lambda: [loaded.run(batch) for _ in range(reps)], args.repeat),
        )
    )
    module = case.torch_model.to(device)
    tensor = torch.from_numpy(batch).to(device)

    def torch_ceiling() -> None:
        with torch.inference_mode():
            for _ in range(reps):
                module(tensor)
        if device == "cuda":
            torch.cuda.synchronize()

    torch_ceiling()
    rows.append((f"model ceiling, PyTorch {device}", reps * args.batch_size / median(torch_ceiling, args.repeat)))
    if device == "cuda":  # the reference ceiling is a float16 model; hs runs the float32 graph

        def half_ceiling() -> None:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16):
                for _ in range(reps):
                    module(tensor)
            torch.cuda.synchronize()

        half_ceiling()
        rows.append(
            (
                "model ceiling, PyTorch cuda float16 (autocast)",
                reps * args.batch_size / median(half_ceiling, args.repeat),
            )
        )

    emb_path = out / f"{case.name}.npy"
    for workers in args.workers:

        def hs_embed() -> None:
            run_inference(
                str(case.onnx),
                str(case.manifest),
                Targets(embeddings=str(emb_path), primary="embeddings"),
                InferenceOptions(device=args.device, batch_size=args.batch_size, workers=workers),
            )

        rows.append((f"hs embed end to end, {workers} workers", case.n / median(hs_embed, args.repeat)))

    torch_embeddings = []

    def eager() -> None:
        torch_embeddings.clear()
        with torch.inference_mode():
            for rows_ in batches:
                x = plain_batch([paths[i] for i in rows_], case.prep.channels).to(device)
                torch_embeddings.append(module(x)[1].float().cpu().numpy())

    rows.append((f"torch eager loop ({torch.get_num_threads()} threads)", case.n / median(eager, args.repeat)))
    if device == "cuda":
        rows.append(
            (
                f"torch DataLoader, {max(args.workers)} workers",
                case.n / median(lambda: loader(case, paths, args, module), args.repeat),
            )
        )
    hs = np.load(emb_path)
    ref = np.concatenate(torch_embeddings)[: len(hs)]
    print(
        f"  {case.name}: hs embeddings vs PyTorch: max abs difference {np.abs(hs - ref).max():.2e} "
        f"(embedding scale {np.abs(ref).max():.2e})",
        file=sys.stderr,
    )
    return rows


def loader(case: Case, paths: list[Path], args, module) -> None:
    import torch
    from torch.utils.data import DataLoader, Dataset

    class Files(Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int):
            return plain_batch([paths[i]], case.prep.channels)[0]

    data = DataLoader(Files(), batch_size=args.batch_size, num_workers=max(args.workers), pin_memory=True)
    with torch.inference_mode():
        for x in data:
            module(x.to("cuda", non_blocking=True))
    torch.cuda.synchronize()


def median(fn, repeat: int) -> float:
    return statistics.median(timed(fn) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="?", default=os.environ.get("HS_DATA_DIR", "../shared/data"))
    parser.add_argument("--n", type=int, default=300, help="224 x 224 images for DenseNet-121")
    parser.add_argument("--n-small", type=int, default=3000, help="28 x 28 images for the small CNN")
    parser.add_argument("--workers", default="0,1,2", help="comma-separated decoding worker counts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--models", default="densenet121,smallcnn")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    args.workers = [int(w) for w in args.workers.split(",")]
    data = Path(args.data)
    out = Path(tempfile.mkdtemp(prefix="hs-infer-bench-"))
    try:
        cases = []
        if "densenet121" in args.models:
            cases.append(build_case("densenet121", out, make_png224(out / "png224", data, args.n), args.n, 224, 3))
        if "smallcnn" in args.models:
            cases.append(
                build_case("smallcnn", out, make_png28(out / "png28", data, args.n_small), args.n_small, 28, 1)
            )
        print(f"device {args.device}, {os.cpu_count()} CPUs, batch {args.batch_size}, images/s (higher is better)\n")
        for case in cases:
            rows = bench_case(case, args, out)
            eager = next(v for k, v in rows if k.startswith("torch eager"))
            print(f"{case.name} ({case.n} images, {case.prep.channels}x{case.prep.size[0]}x{case.prep.size[1]})")
            print("| pipeline | images/s | vs torch eager |\n| --- | --- | --- |")
            for name, rate in rows:
                print(f"| {name} | {rate:,.1f} | {rate / eager:.2f} |")
            print()
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
