"""Remove what an ONNX file says about the machine that wrote it.

PyTorch's exporter records, for every node, the Python stack trace that created it (absolute
source paths such as /home/alice/project/...), the FX node and module names, and the exported
program's signature; other tools leave doc strings. None of it is needed to run the model, it
leaks folder names into a file that may be shared, and it makes the same training give a
different file in another checkout. hs keeps only the graph and its own `hs.*` metadata.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any


def strip_local_info(model: Any) -> None:
    """Clear doc strings and metadata_props of the graph, its nodes, values and functions (in
    place, subgraphs included); the model-level metadata_props are the caller's to set."""
    model.doc_string = ""
    function_nodes = [node for function in model.functions for node in function.node]
    for graph in [model.graph, *subgraphs(model.graph.node), *subgraphs(function_nodes)]:
        graph.doc_string = ""
        del graph.metadata_props[:]
        for value in [*graph.input, *graph.output, *graph.value_info, *graph.initializer]:
            value.doc_string = ""
            del value.metadata_props[:]
        for node in graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
    for function in model.functions:
        function.doc_string = ""
        del function.metadata_props[:]
        for node in function.node:
            node.doc_string = ""
            del node.metadata_props[:]


def subgraphs(nodes: Iterable[Any]) -> Iterator[Any]:
    """Every subgraph (If/Loop/Scan bodies) under `nodes`, nested ones included."""
    from onnx import AttributeProto

    for node in nodes:
        for attribute in node.attribute:
            if attribute.type == AttributeProto.GRAPH:
                found = [attribute.g]
            elif attribute.type == AttributeProto.GRAPHS:
                found = list(attribute.graphs)
            else:
                continue
            for graph in found:
                yield graph
                yield from subgraphs(graph.node)
