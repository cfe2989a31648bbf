"""From the source's scores to the contract's `probabilities`: which columns, which activation,
which class names. One `Head` drives both the ONNX nodes added to the graph and the NumPy
computation of what they must give (the parity reference), so the two cannot drift apart.

- One column (a single logit or probability): a binary model, [1 - p, p], p for class_names[1].
- Several columns and softmax (or probabilities summing to 1): a binary (2) or multi-class model.
- Several independent findings (sigmoid, e.g. 14 chest X-ray findings): hs.model/1 holds one
  task, so `pick` chooses one finding and the model becomes binary ["no X", "X"]; import once per
  finding to audit several. `pick` on a softmax output gives one class against the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hstool.errors import UsageError

BINARY = "binary"
MULTICLASS = "multiclass"


@dataclass(frozen=True)
class Head:
    activation: str  # applied by hs: sigmoid, softmax or none
    width: int  # columns of the source's output
    findings: tuple[str, ...]  # names of those columns
    column: int | None  # the picked column, or None
    swap: bool  # a two-column output whose positive class is the first column
    task: str
    class_names: tuple[str, ...]  # of the imported model
    positive: str  # '' for multi-class

    @property
    def width_out(self) -> int:
        return len(self.class_names)

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """What the imported model must give for the source's scores (N, width), in float64."""
        s = np.asarray(scores, dtype=np.float64)
        if self.column is not None:
            if self.activation == "softmax":
                return _two_columns(_softmax(s)[:, self.column])
            s = s[:, self.column : self.column + 1]
        if s.shape[1] == 1:
            z = s[:, 0]
            return _two_columns(_sigmoid(z) if self.activation == "sigmoid" else z)
        p = _softmax(s) if self.activation == "softmax" else s
        return p[:, ::-1] if self.swap else p

    def nodes(self, scores: str, out: str, prefix: str) -> tuple[list[Any], list[Any]]:
        """ONNX nodes (and their constant initializers) from `scores` (N, width) to `out`."""
        from onnx import helper, numpy_helper

        nodes: list[Any] = []
        inits: list[Any] = []

        def const(name: str, value: Any, dtype: Any = np.int64) -> str:
            inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), f"{prefix}{name}"))
            return f"{prefix}{name}"

        def node(op: str, inputs: list[str], name: str, **attrs: Any) -> str:
            nodes.append(helper.make_node(op, inputs, [f"{prefix}{name}"], name=f"{prefix}{name}", **attrs))
            return f"{prefix}{name}"

        def column(x: str, j: int) -> str:
            return node("Slice", [x, const("start", [j]), const("end", [j + 1]), const("axis", [1])], "column")

        x = scores
        if self.column is not None:
            if self.activation == "softmax":
                x = column(node("Softmax", [x], "softmax", axis=1), self.column)
                return nodes + _binary_from_p(x, out, const, node), inits
            x = column(x, self.column)
        if self.width_out == 2 and (self.column is not None or self.width == 1):
            if self.activation == "sigmoid":
                # [sigmoid(-z), sigmoid(z)] = [1 - p, p], each without cancellation (as hs train exports).
                both = node("Concat", [node("Neg", [x], "neg"), x], "logits2", axis=1)
                nodes.append(helper.make_node("Sigmoid", [both], [out], name=f"{prefix}sigmoid"))
                return nodes, inits
            return nodes + _binary_from_p(x, out, const, node), inits
        if self.activation == "softmax":
            x = node("Softmax", [x], "softmax", axis=1)
        if self.swap:
            x = node("Gather", [x, const("order", [1, 0])], "swap", axis=1)
        nodes.append(helper.make_node("Identity", [x], [out], name=f"{prefix}probabilities"))
        return nodes, inits


def _binary_from_p(p: str, out: str, const: Any, node: Any) -> list[Any]:
    from onnx import helper

    negative = node("Sub", [const("one", [[1.0]], np.float32), p], "one_minus_p")
    return [helper.make_node("Concat", [negative, p], [out], name=out + "/concat", axis=1)]


def resolve_head(
    width: int,
    activation: str,
    *,
    independent: bool,
    class_names: tuple[str, ...] | None,
    positive: str | None,
    pick: str | None,
    output: str,
) -> Head:
    """Check the naming options against the output's width and decide the task. `activation`
    is already resolved (sigmoid, softmax or none); `independent`: the columns are separate
    findings (sigmoid logits, or the output of a Sigmoid), not classes that exclude each other."""
    if width == 1:
        names = class_names or ("0", "1")
        if len(names) != 2:
            raise UsageError(
                f"class names {','.join(names)}: output '{output}' has 1 column (one score, for the positive "
                "class), so give 2 names, negative first"
            )
        if activation == "softmax":
            raise UsageError(
                f"activation softmax: output '{output}' has 1 column, and a softmax over one column is always 1; "
                "a single logit takes sigmoid"
            )
        if pick is not None:
            raise UsageError(f"pick {pick!r}: output '{output}' has 1 column, there is nothing to pick")
        _check_positive(positive, names)
        return Head(activation, 1, names, None, False, BINARY, names, names[1])
    names = class_names or tuple(str(i) for i in range(width))
    if len(names) != width:
        raise UsageError(
            f"class names {','.join(names)}: {len(names)} names for output '{output}', which has {width} columns; "
            "give one name per column, in column order"
        )
    if pick is not None:
        if pick not in names:
            raise UsageError(f"pick {pick!r}: not one of the class names ({', '.join(names)})")
        if positive is not None and positive != pick:
            raise UsageError(f"positive {positive!r} with pick {pick!r}: the picked finding is the positive class")
        binary = (f"no {pick}", pick)
        return Head(activation, width, names, names.index(pick), False, BINARY, binary, pick)
    if independent:
        raise UsageError(
            f"output '{output}' holds {width} independent findings (sigmoid): an hs model has one task; "
            f"pick one finding to audit ({', '.join(names[:4])}{', ...' if width > 4 else ''})"
        )
    if width == 2:
        _check_positive(positive, names, allow_first=True)
        swap = positive is not None and positive == names[0]
        ordered = (names[1], names[0]) if swap else names
        return Head(activation, 2, names, None, swap, BINARY, ordered, ordered[1])
    if positive is not None:
        raise UsageError(
            f"positive {positive!r}: output '{output}' has {width} classes; a positive class needs 2, "
            "or pick one class against the rest"
        )
    return Head(activation, width, names, None, False, MULTICLASS, names, "")


def _check_positive(positive: str | None, names: tuple[str, ...], *, allow_first: bool = False) -> None:
    allowed = names if allow_first else names[1:]
    if positive is not None and positive not in allowed:
        order = (
            "" if allow_first else " (the single score is for the second name: order the names [negative, positive])"
        )
        raise UsageError(f"positive {positive!r}: not among the class names {', '.join(allowed)}{order}")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def _softmax(s: np.ndarray) -> np.ndarray:
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _two_columns(p: np.ndarray) -> np.ndarray:
    return np.stack([1.0 - p, p], axis=1)
