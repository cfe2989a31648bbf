"""Reading and rewriting the source's ONNX graph (the `onnx` package; no torch, no session).

The imported graph is the source's own nodes and weights with a few nodes around them:

    image (N, C, H, W) in [0, 1] -> [x (hi - lo) + lo] -> [(x - mean) / std] -> source input
    chosen output -> activation / picked column / two columns -> probabilities (N, K)
    embedding tensor -> Flatten(axis=1) -> embedding (N, D)

Outputs the source had besides the chosen one, and the nodes only they need, are dropped. A
source with a batch fixed at 1 runs inside a Scan over the images of the batch, so that the
contract's batch axis stays dynamic without touching the source's own Reshape constants.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hstool.errors import InputError, UsageError, first_line, option_ref
from hstool.importer.head import Head
from hstool.importer.strip import subgraphs

INPUT = "image"
PROBABILITIES = "probabilities"
EMBEDDING = "embedding"
PREFIX = "hs_import/"  # names of the tensors and nodes hs adds
HEAD_OPS = ("Gemm", "MatMul")
MIN_OPSET = 11  # Slice with inputs, Softmax on 2-D, Scan without sequence_lens
_SHOWN = 6


@dataclass(frozen=True)
class SourceGraph:
    """The source model and the parts of it the importer reads."""

    model: Any  # onnx.ModelProto
    label: str  # how messages name it (the file, or "the exported PyTorch model")
    input: str
    input_shape: tuple[int | str | None, ...]  # (N, C, H, W); str/None for a symbolic/unknown dimension

    @property
    def batch_one(self) -> bool:
        return self.input_shape[0] == 1


def load_source(path: str) -> Any:
    """The ONNX model in `path`; InputError when it is not one."""
    import onnx
    from google.protobuf.message import DecodeError

    if not Path(path).is_file():
        raise InputError(
            f"{path}: no such file; pass an ONNX model, a TorchScript file, or {option_ref('arch')} with {option_ref('weights')}"
        )
    try:
        model = onnx.load(path)
    except (DecodeError, ValueError, RuntimeError, OSError) as exc:
        raise InputError(f"{path}: not an ONNX model ({first_line(exc)}); pass a .onnx file") from None
    if not model.graph.node or not model.graph.output:
        raise InputError(f"{path}: not an ONNX model (no graph nodes or outputs); pass a .onnx file")
    return model


def source_graph(model: Any, label: str) -> SourceGraph:
    """Check the source's input: one float32 (N, C, H, W) tensor, batch dynamic or 1; opset >= 11."""
    from onnx import TensorProto

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < MIN_OPSET:
        raise InputError(
            f"{label}: ONNX opset {opset}; hs import needs opset {MIN_OPSET} or later "
            "(convert it with onnx.version_converter.convert_version)"
        )
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if len(inputs) != 1:
        raise InputError(
            f"{label}: has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); hs needs a model with one image input"
        )
    tensor = inputs[0].type.tensor_type
    shape = tuple(_dim(d) for d in tensor.shape.dim)
    if tensor.elem_type != TensorProto.FLOAT or len(shape) != 4:
        kind = TensorProto.DataType.Name(tensor.elem_type).lower()
        raise InputError(
            f"{label}: input '{inputs[0].name}' is {kind} of shape {_shape_text(shape)}; hs needs float (N, C, H, W) images"
        )
    if isinstance(shape[0], int) and shape[0] != 1:
        raise InputError(
            f"{label}: input '{inputs[0].name}' has a batch fixed at {shape[0]}; export it with a dynamic batch axis (or a batch of 1)"
        )
    return SourceGraph(model=model, label=label, input=inputs[0].name, input_shape=shape)


def choose_output(source: SourceGraph, output: str | None) -> str:
    """The graph output that holds the scores: by name, by index, or the only one."""
    names = [o.name for o in source.model.graph.output]
    if output is None:
        if len(names) != 1:
            raise UsageError(
                f"{source.label} has {len(names)} outputs ({', '.join(names)}): choose the one with the scores by name or index"
            )
        return str(names[0])
    if output in names:
        return str(output)
    if output.isdigit() and int(output) < len(names):
        return str(names[int(output)])
    raise UsageError(f"output {output!r}: {source.label} has no such output; its outputs are {', '.join(names)}")


def producer(model: Any, tensor: str) -> Any | None:
    """The node of the main graph that computes `tensor` (None for an input or a weight)."""
    return next((n for n in model.graph.node if tensor in n.output), None)


def resolve_activation(source: SourceGraph, output: str, activation: str) -> tuple[str, bool]:
    """(activation hs applies, whether the columns are independent findings). `auto`: the
    output's probabilities as they are when it comes out of a Sigmoid or Softmax, else ask."""
    node = producer(source.model, output)
    ends_in_sigmoid = node is not None and node.op_type == "Sigmoid"
    if activation in ("sigmoid", "softmax") and node is not None and node.op_type in ("Sigmoid", "Softmax"):
        raise UsageError(
            f"activation {activation}: output '{output}' of {source.label} already comes out of {node.op_type}, "
            "so its scores are probabilities; import with activation none (or auto)"
        )
    if activation != "auto":
        return activation, activation == "sigmoid" or (activation == "none" and ends_in_sigmoid)
    if node is not None and node.op_type in ("Sigmoid", "Softmax"):
        return "none", ends_in_sigmoid
    made_by = f"computed by {node.op_type}" if node is not None else "not computed by a node"
    raise UsageError(
        f"output '{output}' of {source.label} is {made_by}, not by Sigmoid or Softmax: say whether it holds "
        "logits (activation sigmoid for one logit or independent findings, softmax for exclusive classes) or "
        "probabilities (activation none)"
    )


def default_embedding(source: SourceGraph, output: str) -> str:
    """The input of the last Gemm/MatMul on the way to `output` (the classifier's features)."""
    weights = _constants(source.model)
    pending, seen = [output], set()
    while pending:
        tensor = pending.pop(0)
        node = producer(source.model, tensor)
        if node is None or tensor in seen:
            continue
        seen.add(tensor)
        if node.op_type in HEAD_OPS:
            data = [name for name in node.input[:2] if name not in weights]
            transposed = any(a.name == "transA" and a.i for a in node.attribute)
            if len(data) == 1 and not transposed:
                return str(data[0])
        pending.extend(name for name in node.input if name and name not in weights)
    raise UsageError(
        f"{source.label}: no Gemm or MatMul (a linear classifier) leads to output '{output}'; "
        "name the tensor to use as the embedding (e.g. the pooled features)"
    )


def check_tensor(source: SourceGraph, name: str) -> None:
    """`name` must be computed by a node of the main graph."""
    if producer(source.model, name) is None:
        produced = [o for n in source.model.graph.node for o in n.output if o]
        near = [o for o in produced if name.lower() in o.lower()][:_SHOWN] or produced[-_SHOWN:]
        raise UsageError(
            f"embedding tensor {name!r}: no node of {source.label} computes it; pass the name of a node output "
            f"(for example {', '.join(near)})"
        )


def with_outputs(source: SourceGraph, names: Iterable[str]) -> bytes:
    """The source, serialised, with `names` as its outputs (to run it for the parity reference)."""
    from onnx import helper

    model = _copy(source.model)
    del model.graph.output[:]
    model.graph.output.extend(helper.make_empty_tensor_value_info(n) for n in names)
    return bytes(model.SerializeToString())


@dataclass(frozen=True)
class Affine:
    """Per-channel x * scale + shift steps applied to [0, 1] pixels before the source's input."""

    steps: tuple[tuple[str, tuple[float, ...]], ...]  # ("mul"|"add"|"sub"|"div", values per channel)

    def apply(self, batch: np.ndarray) -> np.ndarray:
        """The same float32 arithmetic as the graph's nodes, in the same order."""
        x = np.asarray(batch, dtype=np.float32)
        for op, values in self.steps:
            v = np.asarray(values, dtype=np.float32).reshape(1, -1, 1, 1)
            x = {"mul": np.multiply, "add": np.add, "sub": np.subtract, "div": np.divide}[op](x, v)
        return np.asarray(x, dtype=np.float32)


def build(
    source: SourceGraph,
    *,
    output: str,
    embedding: str,
    head: Head,
    affine: Affine,
    channels: int,
    size: tuple[int, int],
    embedding_dim: int,
    metadata: dict[str, str],
) -> Any:
    """The hs model: `image` -> source -> `probabilities`, `embedding`, with `metadata`."""
    from onnx import TensorProto, helper, numpy_helper

    model = _copy(source.model)
    graph = model.graph
    renames = _rename_clashes(graph)
    src_input, output, embedding = (renames.get(n, n) for n in (source.input, output, embedding))
    inner_in = PREFIX + "pixels"
    nodes: list[Any] = []
    inits: list[Any] = []
    x = inner_in
    for i, (op, values) in enumerate(affine.steps):
        constant = f"{PREFIX}{op}{i}"
        inits.append(numpy_helper.from_array(np.asarray(values, np.float32).reshape(1, channels, 1, 1), constant))
        nodes.append(helper.make_node(op.capitalize(), [x, constant], [f"{PREFIX}pre{i}"], name=f"{PREFIX}pre{i}"))
        x = f"{PREFIX}pre{i}"
    nodes.append(helper.make_node("Identity", [x], [src_input], name=PREFIX + "source_input"))
    head_nodes, head_inits = head.nodes(output, PREFIX + "probs", PREFIX + "head/")
    flat = helper.make_node("Flatten", [embedding], [PREFIX + "emb"], name=PREFIX + "flatten", axis=1)
    core = [*nodes, *_kept(list(graph.node), [output, embedding]), *head_nodes, flat]
    inits += head_inits
    k, d = head.width_out, embedding_dim
    batch = "batch"
    if source.batch_one:
        body, scan_inits = _scan_body(core, graph.value_info, channels, size, k, d)
        inits += scan_inits
        core = [
            helper.make_node(
                "Scan", [INPUT], [PROBABILITIES, EMBEDDING], name=PREFIX + "per_image", num_scan_inputs=1, body=body
            )
        ]
        value_info: list[Any] = []
    else:
        core.insert(0, helper.make_node("Identity", [INPUT], [inner_in], name=PREFIX + "image"))
        core.append(helper.make_node("Identity", [PREFIX + "probs"], [PROBABILITIES], name=PREFIX + "probabilities"))
        core.append(helper.make_node("Identity", [PREFIX + "emb"], [EMBEDDING], name=PREFIX + "embedding"))
        value_info = list(graph.value_info)
    used = _inputs_of(core) | _outputs_of(core)
    weights = [t for t in graph.initializer if t.name in used] + inits
    new_graph = helper.make_graph(
        core,
        graph.name or "hs_import",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, [batch, channels, *size])],
        [
            helper.make_tensor_value_info(PROBABILITIES, TensorProto.FLOAT, [batch, k]),
            helper.make_tensor_value_info(EMBEDDING, TensorProto.FLOAT, [batch, d]),
        ],
        initializer=weights,
        value_info=[v for v in value_info if v.name in used],
    )
    model.graph.CopyFrom(new_graph)
    model.producer_name = "hs"
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model


def _scan_body(
    core: list[Any], value_info: Iterable[Any], channels: int, size: tuple[int, int], k: int, d: int
) -> tuple[Any, list[Any]]:
    """Scan body for a batch-1 source: one image (C, H, W) -> (K,), (D,)."""
    from onnx import TensorProto, helper, numpy_helper

    shapes = {
        "one_image": [1, channels, *size],
        "row": [-1],
    }
    inits = [numpy_helper.from_array(np.asarray(v, np.int64), PREFIX + n) for n, v in shapes.items()]
    nodes = [
        helper.make_node("Reshape", [PREFIX + "slice", PREFIX + "one_image"], [PREFIX + "pixels"], name=PREFIX + "one"),
        *core,
        helper.make_node("Reshape", [PREFIX + "probs", PREFIX + "row"], [PREFIX + "probs_row"], name=PREFIX + "p_row"),
        helper.make_node("Reshape", [PREFIX + "emb", PREFIX + "row"], [PREFIX + "emb_row"], name=PREFIX + "e_row"),
    ]
    produced = _outputs_of(nodes)
    body = helper.make_graph(
        nodes,
        "per_image",
        [helper.make_tensor_value_info(PREFIX + "slice", TensorProto.FLOAT, [channels, *size])],
        [
            helper.make_tensor_value_info(PREFIX + "probs_row", TensorProto.FLOAT, [k]),
            helper.make_tensor_value_info(PREFIX + "emb_row", TensorProto.FLOAT, [d]),
        ],
        value_info=[v for v in value_info if v.name in produced],
    )
    return body, inits


def _kept(nodes: list[Any], wanted: list[str]) -> list[Any]:
    """The nodes `wanted` depends on, in their order (nodes of dropped outputs go)."""
    needed = set(wanted)
    kept = []
    for node in reversed(nodes):  # ONNX nodes are topologically sorted
        if needed.intersection(node.output):
            kept.append(node)
            needed.update(_inputs_of([node]))
    return kept[::-1]


def _inputs_of(nodes: list[Any]) -> set[str]:
    """Names read by `nodes`, including names their subgraphs take from the outer scope."""
    names = {i for n in nodes for i in n.input if i}
    names.update(i for g in subgraphs(nodes) for n in g.node for i in n.input if i)
    return names


def _outputs_of(nodes: list[Any]) -> set[str]:
    return {o for n in nodes for o in n.output if o}


def _rename_clashes(graph: Any) -> dict[str, str]:
    """Rename source tensors whose names hs uses (`image`, `probabilities`, `embedding`, `hs_import/...`)."""
    taken = {INPUT, PROBABILITIES, EMBEDDING}
    names = {i.name for i in graph.input} | {t.name for t in graph.initializer} | _outputs_of(list(graph.node))
    renames = {n: f"{n}__source" for n in names if n in taken or n.startswith(PREFIX)}
    if not renames:
        return renames
    for g in [graph, *subgraphs(graph.node)]:
        for node in g.node:
            node.input[:] = [renames.get(i, i) for i in node.input]
            node.output[:] = [renames.get(o, o) for o in node.output]
        for value in [*g.input, *g.output, *g.value_info, *g.initializer]:
            value.name = renames.get(value.name, value.name)
    return renames


def _constants(model: Any) -> set[str]:
    """Weights: initializers and outputs of Constant nodes."""
    names = {t.name for t in model.graph.initializer}
    names.update(o for n in model.graph.node if n.op_type == "Constant" for o in n.output)
    return names


def _copy(model: Any) -> Any:
    from onnx import ModelProto

    clone = ModelProto()
    clone.CopyFrom(model)
    return clone


def _dim(dim: Any) -> int | str | None:
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    return dim.dim_param or None


def _shape_text(shape: tuple[int | str | None, ...]) -> str:
    return "(" + ", ".join("?" if d is None else str(d) for d in shape) + ")"
