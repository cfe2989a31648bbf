"""`hs import` speed, and the speed of an imported model against an `hs train` model of the same
architecture, in one process.

DenseNet-121 (torchvision, seeded random weights, one-logit head, 224 x 224 RGB):

  import (ONNX)     a plain `torch.onnx.export` of the model (TorchScript-based exporter, no hs
                    metadata), then `hs import plain.onnx --activation sigmoid --mean ... --std ...`
                    as a library call (`import_onnx`): reading, graph surgery, the source and
                    the imported model run on the parity batch, writing;
  import (weights)  `hs import --arch densenet121 --weights state.pt` (`import_state_dict`):
                    building the model, the ONNX export with its parity check, the import;
  predict           hs train's export (`build_model` + `export_onnx`, the same weights) and
                    the two imported models through `load_model(...).run` on the same batch of
                    random pixels, taking turns for --rounds rounds; the fastest and the
                    median time per batch of each, and their ratios to hs train's. Decoding
                    is left out: it is the same code for every model.

Usage (what docs/benchmarks.md records):
  PYTHONPATH=. python benchmarks/import_speed.py [--batch 8] [--rounds 7] [--threads 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision

from hstool.data.preprocess import Preprocessing
from hstool.importer.options import ImportOptions
from hstool.importer.run import import_onnx
from hstool.infer.runtime import load_model
from hstool.train.architectures import build_model
from hstool.train.export import export_onnx
from hstool.train.import_torch import import_state_dict
from hstool.train.training import IMAGENET_MEAN, IMAGENET_STD

ARCH = "densenet121"
SIZE = 224


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8, help="images per timed model call")
    parser.add_argument("--rounds", type=int, default=7, help="alternated timed calls per model")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: its default)")
    args = parser.parse_args()
    torch.manual_seed(0)
    reference = torchvision.models.get_model(ARCH, weights=None, num_classes=1).eval()
    options = ImportOptions(activation="sigmoid", size=(SIZE, SIZE), mean=IMAGENET_MEAN, std=IMAGENET_STD)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        torch.save(reference.state_dict(), work / "state.pt")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                reference,
                (torch.rand(1, 3, SIZE, SIZE),),
                str(work / "plain.onnx"),
                dynamo=False,
                input_names=["input"],
                output_names=["logit"],
                dynamic_axes={"input": {0: "batch"}, "logit": {0: "batch"}},
            )
        start = time.perf_counter()
        imported = import_onnx(str(work / "plain.onnx"), str(work / "imported.onnx"), options)
        t_onnx = time.perf_counter() - start
        start = time.perf_counter()
        import_state_dict(ARCH, str(work / "state.pt"), str(work / "from_weights.onnx"), options)
        t_weights = time.perf_counter() - start
        print(f"import {ARCH} from ONNX:           {t_onnx:6.1f} s (parity max abs diff {imported.max_abs_diff:.2g})")
        print(f"import {ARCH} from --arch/--weights: {t_weights:6.1f} s")

        # hs train's export of the same weights: torchvision's model with hs's Classifier head.
        trained = build_model(ARCH, n_outputs=1, channels=3)
        state = reference.state_dict()
        trained.net.load_state_dict({k: v for k, v in state.items() if not k.startswith("classifier.")}, strict=False)
        trained.head.load_state_dict({"weight": state["classifier.weight"], "bias": state["classifier.bias"]})
        prep = Preprocessing((SIZE, SIZE), 3, "stretch", IMAGENET_MEAN, IMAGENET_STD)
        pixels = np.random.default_rng(0).random((args.batch, 3, SIZE, SIZE), dtype=np.float32)
        export_onnx(
            trained.eval(),
            prep,
            class_names=["0", "1"],
            task="binary",
            architecture=ARCH,
            path=work / "trained.onnx",
            parity_batch=pixels[:2],
        )
        models = {
            "hs train": load_model(str(work / "trained.onnx"), device="cpu", threads=args.threads),
            "imported (ONNX)": load_model(str(work / "imported.onnx"), device="cpu", threads=args.threads),
            "imported (weights)": load_model(str(work / "from_weights.onnx"), device="cpu", threads=args.threads),
        }
        outputs = {name: model.run(pixels) for name, model in models.items()}  # warm-up, and the same answers
        for name in list(models)[1:]:
            diff = max(float(np.max(np.abs(a - b))) for a, b in zip(outputs[name], outputs["hs train"]))
            print(f"largest difference between {name} and hs train outputs: {diff:.2g}")
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                start = time.perf_counter()
                model.run(pixels)
                times[name].append(time.perf_counter() - start)
        # On a shared machine other jobs only ever add time: the fastest round is the steadiest
        # estimate of the model's own cost, the median says what a run typically saw.
        base = times["hs train"]
        for name, t in times.items():
            print(
                f"predict {name:18s} batch {args.batch}: min {min(t):.3f} s, median {statistics.median(t):.3f} s, "
                f"max {max(t):.3f} s; vs hs train: min {min(t) / min(base):.3f}, median {statistics.median(t) / statistics.median(base):.3f}"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
