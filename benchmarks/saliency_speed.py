"""Occlusion sensitivity speed: hs's batched occlusion against a plain loop of one model call
per patch, in the same process, on the same images and model (ONNX Runtime, CPU).

Models are made by hs train's own code (`build_model`, randomly initialised, seeded, and
`export_onnx`): the small CNN at 28 x 28 and at 224 x 224 (1 channel; any input size works),
and with `--archs` others (e.g. resnet18 at 224 x 224). Images: real PneumoniaMNIST test images
(resized to the model's input by the model's own preprocessing). Occlusion uses hs saliency's
defaults (patch a seventh of the side, stride half the patch: 169 patches at 28 and at 224).

  batched B   `occlusion_maps` with B occluded copies per model call (hs saliency --batch-size;
              its default is 12,544 input values per call: 16 copies at 28 x 28, 1 at
              224 x 224), copies of several images sharing a call
  loop        the same patches, one `session.run` per occluded copy (batch of 1), the plain way

Every variant gives the same maps (the largest difference from the loop is printed).
Throughput in images/s (each image costs its 169 occluded copies plus one unoccluded pass):
the median of --repeat rounds, each round running every variant once in turn, so that the
load of a shared machine falls on all of them alike.

Usage: PYTHONPATH=. python benchmarks/saliency_speed.py [DATA_DIR] [--n-small 32] [--n-large 2]
       [--archs smallcnn] [--batch-sizes 1,8,64,512] [--repeat 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from hstool.data.preprocess import Preprocessing
from hstool.infer.runtime import load_model
from hstool.saliency.occlusion import Occlusion, occlusion_maps
from hstool.saliency.run import SaliencyOptions


def export(arch: str, size: int, folder: Path) -> Path:
    import torch

    from hstool.train.architectures import build_model
    from hstool.train.export import export_onnx

    torch.manual_seed(0)
    prep = Preprocessing(size=(size, size), channels=1, mean=(0.5,), std=(0.25,))
    path = folder / f"{arch}_{size}.onnx"
    parity = np.random.default_rng(0).random((2, 1, size, size), dtype=np.float32)
    export_onnx(build_model(arch, n_outputs=1, channels=1).eval(), prep, class_names=["0", "1"], task="binary",
                architecture=arch, path=path, parity_batch=parity)  # fmt: skip
    return path


def loop_maps(run, images: np.ndarray, targets: np.ndarray, occlusion: Occlusion) -> np.ndarray:
    """The plain way: one model call per occluded copy, sums and counts per pixel."""
    _, _, height, width = images.shape
    ys, xs = occlusion.grid(height, width)
    fills = occlusion.fill_values(images)
    out = np.empty(images.shape[:1] + (height, width), dtype=np.float32)
    for i, (image, target) in enumerate(zip(images, targets)):
        base = run(image[None])[0, target]
        total, count = np.zeros((height, width)), np.zeros((height, width))
        for y, x in zip(ys, xs):
            copy = image.copy()
            copy[:, y : y + occlusion.patch, x : x + occlusion.patch] = fills[i][:, None, None]
            total[y : y + occlusion.patch, x : x + occlusion.patch] += base - run(copy[None])[0, target]
            count[y : y + occlusion.patch, x : x + occlusion.patch] += 1
        out[i] = total / count
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", nargs="?", default=os.environ.get("HS_DATA_DIR", "../shared/data"))
    parser.add_argument("--n-small", type=int, default=32, help="images at 28 x 28")
    parser.add_argument("--n-large", type=int, default=2, help="images at 224 x 224")
    parser.add_argument(
        "--archs", default="smallcnn", help="architectures at 224 x 224, '' for none (smallcnn also runs at 28)"
    )
    parser.add_argument("--batch-sizes", default="1,8,64,512", help="copies per model call of the batched variants")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; the median is reported")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0 = its default)")
    args = parser.parse_args()
    with np.load(Path(args.data_dir) / "pneumoniamnist" / "pneumoniamnist.npz") as data:
        base = data["test_images"]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    cases = [("smallcnn", 28, args.n_small)] + [(a, 224, args.n_large) for a in args.archs.split(",") if a]
    print("| model | input | images | patches/image | variant | images/s | vs loop | max diff vs loop |")
    print("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for arch, size, n in cases:
            model = load_model(str(export(arch, size, Path(tmp))), device="cpu", threads=args.threads)
            prep = model.info.preprocessing
            images = np.stack([prep.apply(np.asarray(Image.fromarray(b), dtype=np.float32) / 255) for b in base[:n]])
            targets = np.ones(n, dtype=int)
            occlusion = SaliencyOptions().occlusion(prep.size)

            def run(x: np.ndarray, model=model) -> np.ndarray:
                return model.run(x)[0]

            variants = {"loop (1 call per patch)": lambda: loop_maps(run, images, targets, occlusion)}
            for b in batch_sizes:
                variants[f"batched {b}"] = lambda b=b: occlusion_maps(run, images, targets, occlusion, batch=b)[0]
            run(images[:1])  # warm-up
            times: dict[str, list[float]] = {name: [] for name in variants}
            maps: dict[str, np.ndarray] = {}
            for _ in range(args.repeat):
                for name, variant in variants.items():
                    start = time.perf_counter()
                    maps[name] = variant()
                    times[name].append(time.perf_counter() - start)
            loop_name = next(iter(variants))
            loop_time = statistics.median(times[loop_name])
            patches = len(occlusion.grid(size, size)[0])
            for name in variants:
                t = statistics.median(times[name])
                diff = np.abs(maps[name] - maps[loop_name]).max()
                print(
                    f"| {arch} | {size}x{size} | {n} | {patches} | {name} | {n / t:.2f} | {loop_time / t:.2f}x | {diff:.1e} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
