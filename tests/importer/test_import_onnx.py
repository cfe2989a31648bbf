"""hs import of ONNX graphs made elsewhere (no torch): tiny foreign models built with the onnx
package, checked against their NumPy twin (tests/onnx_models.py) through hs predict and hs embed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import polars as pl
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx_models import TinyModel, foreign, write_manifest, write_pngs

from hstool.data.build import file_sha256
from hstool.data.preprocess import Preprocessing, load_batch
from hstool.errors import InputError, UsageError
from hstool.importer.options import ImportOptions
from hstool.importer.run import import_onnx

FIXTURES = Path(__file__).parent / "fixtures"
TOL = 1e-5  # onnxruntime float32 against the float64 twin on a few dozen terms


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(3)
    paths = write_pngs(folder, rng.integers(0, 256, (12, 8, 8), dtype=np.uint8))
    write_manifest(folder, [f"i{k:02d}" for k in range(len(paths))], paths)
    return folder


def predict_and_embed(run_hs, model: Path, images: Path, tmp_path: Path) -> tuple[pl.DataFrame, np.ndarray]:
    out = tmp_path / f"{model.stem}.preds.csv"
    res = run_hs(
        "predict",
        str(model),
        str(images / "manifest.csv"),
        "-o",
        str(out),
        "--embeddings",
        str(out) + ".npy",
        "--workers",
        "0",
        "-q",
    )
    assert res.returncode == 0, res.stderr.decode()
    return pl.read_csv(out, schema_overrides={"image_id": pl.String}), np.load(str(out) + ".npy")


def pixels(images: Path, model: Path) -> np.ndarray:
    meta = onnx.load(str(model)).metadata_props
    prep = Preprocessing.from_metadata({p.key: p.value for p in meta})
    paths = sorted((images / "images").glob("*.png"))
    return load_batch(paths, prep)


@pytest.mark.parametrize("batch_one", [False, True], ids=["dynamic-batch", "batch-of-1"])
def test_matmul_head_multiclass_matches_the_numpy_twin(run_hs, images, tmp_path, batch_one):
    tiny = TinyModel(["a", "b", "c"], seed=1)
    source = foreign(tiny, tmp_path / "foreign.onnx", batch_one=batch_one)
    res = run_hs("import", str(source), "-o", "model.onnx", "--activation", "softmax", "--class-names", "a,b,c")
    assert res.returncode == 0, res.stderr.decode()
    assert "multiclass" in res.stderr.decode() and "embedding 6 from 'embedding'" in res.stderr.decode()
    preds, emb = predict_and_embed(run_hs, tmp_path / "model.onnx", images, tmp_path)
    expected_p, expected_e = tiny.numpy_outputs(pixels(images, tmp_path / "model.onnx"))
    got = preds.select("p_a", "p_b", "p_c").to_numpy()
    assert np.max(np.abs(got - expected_p)) < TOL
    assert np.max(np.abs(emb - expected_e)) < TOL
    assert preds["pred"].to_list() == [tiny.class_names[i] for i in expected_p.argmax(axis=1)]


def test_imported_model_keeps_the_contract_and_no_local_paths(run_hs, tmp_path):
    tiny = TinyModel(["a", "b", "c"], seed=2)
    source = foreign(tiny, tmp_path / "foreign.onnx", activation="Softmax")
    assert b"/home/alice" in source.read_bytes()
    result = import_onnx(str(source), str(tmp_path / "model.onnx"), ImportOptions(mean=(0.25,), std=(2.0,)))
    data = (tmp_path / "model.onnx").read_bytes()
    assert b"/home/alice" not in data and str(tmp_path).encode() not in data
    model = onnx.load(str(tmp_path / "model.onnx"))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["hs.schema"] == "hs.model/1" and meta["hs.task"] == "multiclass"
    assert json.loads(meta["hs.class_names"]) == ["0", "1", "2"] and meta["hs.positive_class"] == ""
    assert json.loads(meta["hs.mean"]) == [0.25] and json.loads(meta["hs.std"]) == [2.0]
    record = json.loads(meta["hs.import"])
    assert record["source"] == {"file": "foreign.onnx", "format": "onnx", "sha256": file_sha256(source)}
    assert record["activation"] == "none" and record["output"] == "scores" and record["embedding"] == "embedding"
    assert result.max_abs_diff < 1e-4 and result.metadata == meta and result.path == tmp_path / "model.onnx"
    sidecar = json.loads((tmp_path / "model.onnx.meta.json").read_text())
    assert sidecar["schema"] == "hs.model/1" and sidecar["inputs"][0]["sha256"] == file_sha256(source)
    # The same import twice gives the same bytes.
    import_onnx(str(source), str(tmp_path / "again.onnx"), ImportOptions(mean=(0.25,), std=(2.0,)))
    assert (tmp_path / "again.onnx").read_bytes() == data


def test_input_range_maps_unit_pixels_onto_what_the_source_expects(run_hs, images, tmp_path):
    # A torchxrayvision-style network: expects [-1024, 1024], maps it back to [0, 1] itself.
    tiny = TinyModel(["0", "1"], seed=4)
    source = foreign(tiny, tmp_path / "xrv.onnx", scale=(-1024.0, 1024.0))
    res = run_hs("import", str(source), "-o", "model.onnx", "--activation", "softmax", "--input-range=-1024,1024")
    assert res.returncode == 0, res.stderr.decode()
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "model.onnx")).metadata_props}
    # x * 2048 - 1024 on [0, 1] pixels is (x - 0.5) / (1 / 2048): what hs.mean / hs.std record.
    assert json.loads(meta["hs.mean"]) == [0.5] and json.loads(meta["hs.std"]) == [1 / 2048]
    preds, emb = predict_and_embed(run_hs, tmp_path / "model.onnx", images, tmp_path)
    expected_p, expected_e = tiny.numpy_outputs(pixels(images, tmp_path / "model.onnx"))
    assert np.max(np.abs(preds["score"].to_numpy() - expected_p[:, 1])) < 1e-4
    assert np.max(np.abs(emb - expected_e)) < 1e-4


def test_multilabel_sigmoid_output_needs_a_pick(run_hs, images, tmp_path):
    names = [f"finding{i}" for i in range(5)]
    tiny = TinyModel(names, seed=5)
    source = foreign(tiny, tmp_path / "multilabel.onnx", activation="Sigmoid")
    res = run_hs("import", str(source), "-o", "model.onnx", "--class-names", ",".join(names))
    assert res.returncode == 2 and not (tmp_path / "model.onnx").exists()
    assert "5 independent findings (sigmoid)" in res.stderr.decode() and "pick" in res.stderr.decode()
    res = run_hs("import", str(source), "-o", "model.onnx", "--class-names", ",".join(names), "--pick", "finding3")
    assert res.returncode == 0, res.stderr.decode()
    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "model.onnx")).metadata_props}
    assert json.loads(meta["hs.class_names"]) == ["no finding3", "finding3"] and meta["hs.task"] == "binary"
    preds, _ = predict_and_embed(run_hs, tmp_path / "model.onnx", images, tmp_path)
    x = pixels(images, tmp_path / "model.onnx")
    _, embedding = tiny.numpy_outputs(x)
    logits = embedding @ tiny.cls_w + tiny.cls_b
    assert np.max(np.abs(preds["score"].to_numpy() - 1 / (1 + np.exp(-logits[:, 3])))) < TOL
    # Provenance: the preds sidecar carries the import record, and the report shows it.
    sidecar = json.loads((tmp_path / "model.preds.csv.meta.json").read_text())
    record = sidecar["model"]["import"]
    assert record["source"]["sha256"] == file_sha256(source) and record["options"]["pick"] == "finding3"
    labels = tmp_path / "labels.csv"
    labels.write_text("image_id,label\n" + "".join(f"i{k:02d},{k % 2}\n" for k in range(12)))
    res = run_hs("report", "-p", str(tmp_path / "model.preds.csv"), "-l", str(labels), "-o", "report.html", "-q")
    assert res.returncode == 0, res.stderr.decode()
    html = (tmp_path / "report.html").read_text()
    provenance = html[html.index('id="provenance"') :]
    assert file_sha256(source) in provenance and "finding3" in provenance and "multilabel.onnx" in provenance


def test_positive_first_column_swaps_a_two_class_softmax(tmp_path):
    tiny = TinyModel(["sick", "well"], seed=6)
    source = foreign(tiny, tmp_path / "two.onnx", activation="Softmax")
    out = tmp_path / "model.onnx"
    import_onnx(str(source), str(out), ImportOptions(class_names=("sick", "well"), positive="sick"))
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert json.loads(meta["hs.class_names"]) == ["well", "sick"] and meta["hs.positive_class"] == "sick"
    import onnxruntime as ort

    x = np.random.default_rng(0).random((3, 1, 8, 8), dtype=np.float32)
    probabilities, _ = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"image": x})
    expected, _ = tiny.numpy_outputs(x)
    assert np.max(np.abs(probabilities - expected[:, ::-1])) < TOL


# -- bad input -------------------------------------------------------------------------------
def test_a_file_that_is_not_onnx_is_refused(run_hs, tmp_path):
    res = run_hs("import", str(FIXTURES / "not_onnx.onnx"), "-o", "model.onnx", "--activation", "sigmoid")
    err = res.stderr.decode()
    assert res.returncode == 1 and err.count("\n") == 1 and not (tmp_path / "model.onnx").exists()
    assert err.startswith("hs: error: ") and "not_onnx.onnx: not an ONNX model" in err


@pytest.mark.parametrize(
    "options, message",
    [
        (ImportOptions(activation="softmax", embedding="no_such_tensor"), "embedding tensor 'no_such_tensor': no node"),
        (
            ImportOptions(activation="softmax", class_names=("a", "b")),
            "2 names for output 'logits', which has 3 columns",
        ),
        (ImportOptions(activation="softmax", output="nope"), "output 'nope': "),
        (ImportOptions(), "is computed by Add, not by Sigmoid or Softmax"),
        (ImportOptions(activation="none"), "outside [0, 1]"),
        (ImportOptions(activation="softmax", size=(16, 16)), "takes 8x8 images"),
        (ImportOptions(activation="softmax", channels=3), "takes 1 channel"),
        (ImportOptions(activation="softmax", positive="a", class_names=("a", "b", "c")), "a positive class needs 2"),
    ],
    ids=[
        "unknown-tensor",
        "class-names-width",
        "unknown-output",
        "activation-unknown",
        "logits-as-probabilities",
        "size",
        "channels",
        "positive-multiclass",
    ],
)
def test_bad_options_are_refused_and_nothing_is_written(tmp_path, options, message):
    source = foreign(TinyModel(["a", "b", "c"], seed=7), tmp_path / "foreign.onnx")
    with pytest.raises((UsageError, InputError), match=message.replace("[", r"\[").replace("(", r"\(")):
        import_onnx(str(source), str(tmp_path / "model.onnx"), options)
    assert list(tmp_path.iterdir()) == [source]


def test_an_activation_applied_twice_is_refused(tmp_path):
    source = foreign(TinyModel(["a", "b", "c"], seed=11), tmp_path / "softmaxed.onnx", activation="Softmax")
    with pytest.raises(UsageError, match=r"already comes out of Softmax.*activation none"):
        import_onnx(str(source), str(tmp_path / "model.onnx"), ImportOptions(activation="softmax"))
    assert not (tmp_path / "model.onnx").exists()


def test_an_output_that_is_not_2d_is_refused(run_hs, tmp_path):
    tiny = TinyModel(["a", "b"], seed=8)
    source = foreign(tiny, tmp_path / "foreign.onnx")
    model = onnx.load(str(source))
    model.graph.node.append(helper.make_node("Unsqueeze", ["logits", "axes"], ["logits3d"]))
    model.graph.initializer.append(numpy_helper.from_array(np.asarray([2], np.int64), "axes"))
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("logits3d", TensorProto.FLOAT, ["N", 2, 1]))
    onnx.save(model, str(tmp_path / "three_d.onnx"))
    res = run_hs(
        "import",
        str(tmp_path / "three_d.onnx"),
        "-o",
        "model.onnx",
        "--activation",
        "softmax",
        "--embedding",
        "embedding",
    )
    err = res.stderr.decode()
    assert res.returncode == 1 and err.count("\n") == 1 and not (tmp_path / "model.onnx").exists()
    assert "output 'logits3d' has shape (4, 2, 1)" in err and "hs needs (N, K) scores" in err


def test_several_outputs_need_a_choice(run_hs, tmp_path):
    source = foreign(TinyModel(["a", "b"], seed=9), tmp_path / "foreign.onnx")
    model = onnx.load(str(source))
    model.graph.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 6]))
    onnx.save(model, str(source))
    res = run_hs("import", str(source), "-o", "model.onnx", "--activation", "softmax")
    assert res.returncode == 2 and "has 2 outputs (logits, embedding)" in res.stderr.decode()
    res = run_hs("import", str(source), "-o", "model.onnx", "--activation", "softmax", "--output", "0")
    assert res.returncode == 0, res.stderr.decode()
    # The dropped output does not survive: only the contract's outputs.
    assert [o.name for o in onnx.load(str(tmp_path / "model.onnx")).graph.output] == ["probabilities", "embedding"]


def test_importing_an_onnx_model_never_imports_torch(tmp_path):
    import subprocess
    import sys

    from conftest import ROOT

    source = foreign(TinyModel(["a", "b"], seed=10), tmp_path / "foreign.onnx")
    probe = (
        "import sys\nfrom hstool.cli.app import app\n"
        f"sys.argv = ['hs', 'import', {str(source)!r}, '-o', {str(tmp_path / 'model.onnx')!r}, '--activation', 'softmax']\n"
        "try:\n    app()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
        "print('torch' in sys.modules)"
    )
    res = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    )
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout.decode().strip() == "False" and (tmp_path / "model.onnx").exists()
