"""Tiny hs models built directly as ONNX graphs (no PyTorch), with a NumPy twin for parity.

The graph follows the model.onnx contract (docs/formats.md): input `image` (N, C, H, W) in
[0, 1]; normalisation inside the graph; a small conv + ReLU, global average pooling, a linear
layer -> `embedding` (N, D); a linear layer + softmax -> `probabilities` (N, K); and the `hs.*`
metadata_props. `numpy_outputs` computes the same thing independently, so tests can check
hs predict/embed against it. `foreign` writes the same network as another tool would (no hs
metadata, logits out), the input of `hs import` (tests/importer, the sample workspace).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class TinyModel:
    class_names: list[str]
    size: tuple[int, int] = (8, 8)
    channels: int = 1
    resize: str = "stretch"
    embedding_dim: int = 6
    seed: int = 0
    task: str | None = None  # default: binary for 2 classes
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        c, k, d = self.channels, len(self.class_names), self.embedding_dim
        self.task = self.task or ("binary" if k == 2 else "multiclass")
        self.mean = self.mean or [0.5] * c
        self.std = self.std or [0.25] * c
        self.conv_w = rng.normal(0, 0.5, (4, c, 3, 3)).astype(np.float32)
        self.conv_b = rng.normal(0, 0.1, 4).astype(np.float32)
        self.emb_w = rng.normal(0, 1.0, (4, d)).astype(np.float32)
        self.emb_b = rng.normal(0, 0.1, d).astype(np.float32)
        self.cls_w = rng.normal(0, 1.0, (d, k)).astype(np.float32)
        self.cls_b = rng.normal(0, 0.1, k).astype(np.float32)

    def metadata(self) -> dict[str, str]:
        return {
            "hs.schema": "hs.model/1",
            "hs.version": "0.1.0",
            "hs.task": self.task,
            "hs.class_names": json.dumps(self.class_names),
            "hs.positive_class": self.class_names[-1] if self.task == "binary" else "",
            "hs.architecture": "tiny-test-cnn",
            "hs.input_size": json.dumps(list(self.size)),
            "hs.channels": str(self.channels),
            "hs.resize": self.resize,
            "hs.mean": json.dumps(self.mean),
            "hs.std": json.dumps(self.std),
            "hs.embedding_dim": str(self.embedding_dim),
            "hs.train_manifest_sha256": "0" * 64,
        }

    def initializers(self) -> list:
        """The network's weights and normalisation as ONNX initializers."""
        from onnx import numpy_helper

        c = self.channels
        return [
            numpy_helper.from_array(np.asarray(self.mean, np.float32).reshape(1, c, 1, 1), "mean"),
            numpy_helper.from_array(np.asarray(self.std, np.float32).reshape(1, c, 1, 1), "std"),
            numpy_helper.from_array(self.conv_w, "conv_w"),
            numpy_helper.from_array(self.conv_b, "conv_b"),
            numpy_helper.from_array(self.emb_w, "emb_w"),
            numpy_helper.from_array(self.emb_b, "emb_b"),
            numpy_helper.from_array(self.cls_w, "cls_w"),
            numpy_helper.from_array(self.cls_b, "cls_b"),
        ]

    def save(self, path: str | Path, *, metadata: dict[str, str] | None = None, logits: bool = False) -> Path:
        """Write the ONNX file. `metadata` replaces the hs.* properties (e.g. {} for a foreign
        model); `logits` drops the softmax (a broken export)."""
        import onnx
        from onnx import TensorProto, helper

        c = self.channels
        h, w = self.size
        init = self.initializers()
        nodes = [
            helper.make_node("Sub", ["image", "mean"], ["centred"]),
            helper.make_node("Div", ["centred", "std"], ["normalised"]),
            helper.make_node("Conv", ["normalised", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["conv"], ["relu"]),
            helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["flat"]),
            helper.make_node("Gemm", ["flat", "emb_w", "emb_b"], ["embedding"]),
            helper.make_node("Gemm", ["embedding", "cls_w", "cls_b"], ["logits" if not logits else "probabilities"]),
        ]
        if not logits:
            nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
        graph = helper.make_graph(
            nodes,
            "tiny",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", c, h, w])],
            [
                helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", len(self.class_names)]),
                helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", self.embedding_dim]),
            ],
            init,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        model.ir_version = 8
        props = self.metadata() if metadata is None else metadata
        if props:
            helper.set_model_props(model, props)
        onnx.checker.check_model(model)
        onnx.save(model, str(path))
        return Path(path)

    def numpy_outputs(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, embedding) in float64 for preprocessed images (N, C, H, W)."""
        x = (images.astype(np.float64) - np.reshape(self.mean, (1, -1, 1, 1))) / np.reshape(self.std, (1, -1, 1, 1))
        _n, _c, _h, _w = x.shape
        padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))  # n, c, h, w, 3, 3
        conv = (
            np.einsum("nchwij,ocij->nohw", windows, self.conv_w.astype(np.float64)) + self.conv_b[None, :, None, None]
        )
        pooled = np.maximum(conv, 0).mean(axis=(2, 3))
        embedding = pooled @ self.emb_w + self.emb_b
        logits = embedding @ self.cls_w + self.cls_b
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), embedding


def foreign(
    tiny: TinyModel,
    path: Path,
    *,
    batch_one: bool = False,
    activation: str | None = None,
    input_name: str = "image",
    scale: tuple[float, float] | None = None,
) -> Path:
    """TinyModel's network as another tool would write it: no hs metadata, its own
    normalisation, the embedding layer's output named `embedding` (a name hs uses), a head of
    MatMul + Add, logits out (or `activation` applied). `batch_one`: input (1, C, H, W) and a
    Reshape to (1, -1) instead of Flatten, which breaks if the batch is simply made dynamic.
    `scale` (lo, hi): the network expects pixels in [lo, hi] and maps them back to [0, 1] first."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    c = tiny.channels
    h, w = tiny.size
    init = tiny.initializers() + [numpy_helper.from_array(np.asarray([1, -1], np.int64), "flat_shape")]
    nodes = []
    x = input_name
    if scale is not None:
        lo, hi = scale
        init += [
            numpy_helper.from_array(np.asarray(lo, np.float32), "lo"),
            numpy_helper.from_array(np.asarray(hi - lo, np.float32), "span"),
        ]
        nodes += [
            helper.make_node("Sub", [x, "lo"], ["shifted"]),
            helper.make_node("Div", ["shifted", "span"], ["unit"]),
        ]
        x = "unit"
    nodes += [
        helper.make_node("Sub", [x, "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["normalised"]),
        helper.make_node("Conv", ["normalised", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"])
        if batch_one
        else helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "emb_w", "emb_b"], ["embedding"]),
        helper.make_node("MatMul", ["embedding", "cls_w"], ["product"]),
        helper.make_node("Add", ["product", "cls_b"], ["logits"]),
    ]
    out = "logits"
    if activation is not None:
        nodes.append(
            helper.make_node(activation, ["logits"], ["scores"], **({"axis": 1} if activation == "Softmax" else {}))
        )
        out = "scores"
    batch = 1 if batch_one else "N"
    graph = helper.make_graph(
        nodes,
        "foreign",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, [batch, c, h, w])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [batch, len(tiny.class_names)])],
        init,
    )
    for node in graph.node:  # what an exporter leaves behind, with a local path
        node.doc_string = "File /home/alice/secret/model.py, line 3"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_pngs(folder: Path, images: np.ndarray, prefix: str = "img") -> list[str]:
    """uint8 (N, H, W) -> folder/images/<prefix>_<i>.png; returns the relative paths."""
    from PIL import Image

    (folder / "images").mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        rel = f"images/{prefix}_{i:04d}.png"
        Image.fromarray(image).save(folder / rel)
        paths.append(rel)
    return paths


def write_manifest(folder: Path, ids: list[str], paths: list[str], name: str = "manifest.csv") -> Path:
    lines = ["image_id,path"] + [f"{i},{p}" for i, p in zip(ids, paths)]
    target = folder / name
    target.write_text("\n".join(lines) + "\n")
    return target
