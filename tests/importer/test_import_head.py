"""The import's head (activation, picked column, two columns, swap) and preprocessing: the ONNX
nodes it adds against independent NumPy/SciPy arithmetic, for random widths and scores."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from scipy.special import expit, softmax

from hstool.errors import InputError, UsageError
from hstool.importer.graph import Affine
from hstool.importer.head import resolve_head
from hstool.importer.options import read_names


def run_head(head, scores: np.ndarray) -> np.ndarray:
    nodes, inits = head.nodes("scores", "probabilities", "h/")
    graph = helper.make_graph(
        nodes,
        "head",
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", scores.shape[1]])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", head.width_out])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)])
    model.ir_version = 8
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"scores": scores})[0]


def expected(scores: np.ndarray, activation: str, pick: int | None, swap: bool) -> np.ndarray:
    """The same, written independently with SciPy."""
    s = scores.astype(np.float64)
    if activation == "softmax":
        s = softmax(s, axis=1)
    elif activation == "sigmoid":
        s = expit(s)
    if pick is not None or s.shape[1] == 1:
        p = s[:, pick if pick is not None else 0]
        return np.stack([1 - p, p], axis=1)
    return s[:, ::-1] if swap else s


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(1, 6),
    activation=st.sampled_from(["sigmoid", "softmax", "none"]),
    pick=st.one_of(st.none(), st.integers(0, 5)),
    swap=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_head_nodes_match_scipy(width, activation, pick, swap, seed):
    names = tuple(f"c{i}" for i in range(width)) if width > 1 else ("neg", "pos")
    pick = None if width == 1 or pick is None or pick >= width else pick
    swap = swap and width == 2 and pick is None and activation != "sigmoid"
    scores = np.random.default_rng(seed).normal(0, 3, (5, width)).astype(np.float32)
    if activation == "none":  # probabilities: of exclusive classes, or independent findings when picked
        scores = (
            expit(scores).astype(np.float32)
            if pick is not None or width == 1
            else softmax(scores, axis=1).astype(np.float32)
        )
    if activation == "softmax" and width == 1:
        with pytest.raises(UsageError, match="softmax over one column"):
            resolve_head(1, activation, independent=False, class_names=None, positive=None, pick=None, output="y")
        return
    independent = activation == "sigmoid"
    if independent and width > 1 and pick is None:
        with pytest.raises(UsageError, match="independent findings"):
            resolve_head(width, activation, independent=True, class_names=names, positive=None, pick=None, output="y")
        return
    head = resolve_head(
        width,
        activation,
        independent=independent,
        class_names=names,
        positive=names[0] if swap else None,
        pick=names[pick] if pick is not None else None,
        output="y",
    )
    want = expected(scores, activation, pick, swap)
    got = run_head(head, scores)
    assert got.shape == want.shape == (5, head.width_out)
    assert np.max(np.abs(got - want)) < 1e-6
    assert np.max(np.abs(head.probabilities(scores) - want)) < 1e-12
    assert np.allclose(got.sum(axis=1), 1, atol=1e-6)  # binary and multi-class rows are distributions
    if head.task == "binary":
        assert head.positive == head.class_names[1]


@settings(max_examples=30, deadline=None)
@given(
    low=st.floats(-2000, 100),
    span=st.floats(0.5, 4000),
    mean=st.floats(-1, 1),
    std=st.floats(0.1, 3),
    seed=st.integers(0, 2**16),
)
def test_inserted_preprocessing_equals_the_recorded_normalisation(low, span, mean, std, seed):
    """[0, 1] pixels through x * span + low, then (x - mean) / std, equal (x - m') / s' with the
    m' and s' that hs.mean / hs.std record."""
    from hstool.importer.options import ImportOptions
    from hstool.importer.run import resolve_preprocessing

    class Source:
        label, input, input_shape = "src", "x", ("N", 3, 4, 4)

    options = ImportOptions(input_range=(low, low + span), mean=(mean,) * 3, std=(std,) * 3)
    prep, affine = resolve_preprocessing(Source(), options)  # type: ignore[arg-type]
    x = np.random.default_rng(seed).random((2, 3, 4, 4), dtype=np.float32)
    direct = ((x.astype(np.float64) * span + low) - mean) / std
    assert isinstance(affine, Affine)
    assert np.allclose(affine.apply(x), direct, rtol=1e-5, atol=1e-3 * max(1.0, abs(low) + span) / std)
    recorded = prep.normalise(x.astype(np.float64))
    assert np.allclose(recorded, direct, rtol=1e-6, atol=1e-6 * (abs(low) + span) / std)


def test_class_names_file(tmp_path):
    (tmp_path / "findings.txt").write_text("Atelectasis\n\n Effusion \nPneumothorax\n")
    assert read_names(str(tmp_path / "findings.txt")) == ("Atelectasis", "Effusion", "Pneumothorax")
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(InputError, match=r"empty.txt: holds no class names"):
        read_names(str(tmp_path / "empty.txt"))
    with pytest.raises(InputError, match=r"absent.txt: cannot read the class names"):
        read_names(str(tmp_path / "absent.txt"))
