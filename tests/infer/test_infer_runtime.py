"""Opening hs models with ONNX Runtime: provider selection, the model contract, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx_models import TinyModel

from hstool.errors import InputError, OptionError, UsageError
from hstool.infer.runtime import CPU, CUDA, Device, cuda_options, load_model, provider_plan, provider_used


def cuda_really_works() -> bool:
    """True only where onnxruntime can actually run on a GPU (never on the development machine)."""
    import onnxruntime as ort

    return CUDA in ort.get_available_providers() and _cuda_session_runs()


def _cuda_session_runs() -> bool:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = TinyModel(["a", "b"]).save(f"{folder}/m.onnx")
        try:
            return load_model(str(path), device="cuda").provider == CUDA
        except UsageError:
            return False


# -- provider selection: pure logic --------------------------------------------------------------
@pytest.mark.parametrize(
    "text, kind, gpu", [("auto", "auto", 0), ("CPU", "cpu", 0), ("cuda", "cuda", 0), ("cuda:3", "cuda", 3)]
)
def test_device_parse(text, kind, gpu):
    device = Device.parse(text)
    assert (device.kind, device.gpu) == (kind, gpu)


@pytest.mark.parametrize("text", ["gpu", "cuda:", "cuda:x", "tpu", ""])
def test_device_parse_refuses_unknown(text):
    with pytest.raises(OptionError, match="^device='.*': choose auto, cpu, cuda or cuda:N"):
        Device.parse(text)


def test_provider_plan():
    with_cuda = ["TensorrtExecutionProvider", CUDA, CPU]
    assert provider_plan(Device.parse("cpu"), with_cuda) == [CPU]
    assert provider_plan(Device.parse("auto"), with_cuda) == [CUDA, CPU]
    assert provider_plan(Device.parse("auto"), [CPU]) == [CPU]
    assert provider_plan(Device.parse("cuda:1"), with_cuda) == [CUDA, CPU]
    with pytest.raises(UsageError, match="no CUDA provider.*onnxruntime-gpu"):
        provider_plan(Device.parse("cuda"), [CPU])


def test_provider_used_reads_what_the_session_runs():
    # onnxruntime falls back to CPU silently when CUDA cannot start: auto accepts it, cuda refuses.
    assert provider_used(Device.parse("auto"), [CPU]) == CPU
    assert provider_used(Device.parse("auto"), [CUDA, CPU]) == CUDA
    assert provider_used(Device.parse("cuda"), [CUDA, CPU]) == CUDA
    with pytest.raises(UsageError, match="could not start") as err:
        provider_used(Device.parse("cuda"), [CPU])
    assert "\n" not in str(err.value)


def test_cuda_options_name_the_gpu():
    assert cuda_options(Device.parse("cuda:2"))["device_id"] == "2"
    assert cuda_options(Device.parse("cuda"))["device_id"] == "0"


# -- real sessions --------------------------------------------------------------------------------
def test_load_model_reads_the_contract(tmp_path):
    model = TinyModel(["normal", "pneumonia"], size=(12, 10), channels=3, embedding_dim=5)
    loaded = load_model(str(model.save(tmp_path / "m.onnx")), device="cpu", threads=1)
    info = loaded.info
    assert loaded.provider == CPU
    options = loaded.session.get_session_options()
    assert options.intra_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert info.task == "binary" and info.class_names == ("normal", "pneumonia")
    assert info.preprocessing.size == (12, 10) and info.preprocessing.channels == 3
    assert info.embedding_dim == 5 and info.architecture == "tiny-test-cnn"
    assert len(info.sha256) == 64
    probs, emb = loaded.run(np.full((2, 3, 12, 10), 0.5, dtype=np.float32))
    assert probs.shape == (2, 2) and emb.shape == (2, 5)


def test_auto_uses_the_provider_that_really_runs(tmp_path):
    loaded = load_model(str(TinyModel(["a", "b"]).save(tmp_path / "m.onnx")), device="auto")
    assert loaded.provider == loaded.session.get_providers()[0]


def test_device_cuda_without_a_usable_gpu_is_one_line_error(tmp_path):
    if cuda_really_works():
        pytest.skip("this machine has a working CUDA provider")
    with pytest.raises(UsageError) as err:
        load_model(str(TinyModel(["a", "b"]).save(tmp_path / "m.onnx")), device="cuda")
    assert str(err.value).startswith("device cuda: the CUDA provider could not start") and "\n" not in str(err.value)


def test_model_without_metadata_is_refused(tmp_path):
    path = TinyModel(["a", "b"]).save(tmp_path / "plain.onnx", metadata={})
    with pytest.raises(InputError) as err:
        load_model(str(path), device="cpu")
    message = str(err.value)
    assert "not exported by hs train" in message and "hs.schema=hs.model/1" in message and "hs.input_size" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "change, match",
    [
        ({"hs.schema": "hs.model/2"}, "not an hs model"),
        ({"hs.task": "regression"}, "hs.task"),
        ({"hs.class_names": "normal"}, "JSON list"),
        ({"hs.class_names": json.dumps(["a", "a"])}, "repeats"),
        ({"hs.input_size": json.dumps([9, 9])}, "input 'image' has shape"),
        ({"hs.embedding_dim": "7"}, "hs.embedding_dim"),
    ],
)
def test_inconsistent_metadata_is_refused(tmp_path, change, match):
    model = TinyModel(["a", "b"])
    path = model.save(tmp_path / "m.onnx", metadata={**model.metadata(), **change})
    with pytest.raises(InputError, match=match):
        load_model(str(path), device="cpu")


def test_class_count_must_match_the_output(tmp_path):
    model = TinyModel(["a", "b", "c"])
    path = model.save(
        tmp_path / "m.onnx", metadata={**model.metadata(), "hs.class_names": json.dumps(["a", "b", "c", "d"])}
    )
    with pytest.raises(InputError, match="4 classes"):
        load_model(str(path), device="cpu")


def test_binary_needs_two_classes(tmp_path):
    model = TinyModel(["a", "b", "c"])
    path = model.save(tmp_path / "m.onnx", metadata={**model.metadata(), "hs.task": "binary"})
    with pytest.raises(InputError, match="binary model needs 2"):
        load_model(str(path), device="cpu")


def test_missing_and_unreadable_model_files(tmp_path):
    with pytest.raises(InputError, match="no such model file"):
        load_model(str(tmp_path / "absent.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(InputError, match="not a readable ONNX model"):
        load_model(str(tmp_path / "junk.onnx"))


def test_threads_must_not_be_negative(tmp_path):
    with pytest.raises(OptionError, match="^threads=-1: must be 0"):
        load_model(str(TinyModel(["a", "b"]).save(tmp_path / "m.onnx")), threads=-1)
