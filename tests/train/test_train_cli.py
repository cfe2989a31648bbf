"""`hs train` from the command line: bad input gives one line and no model; DDP with torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from train_helpers import one_thread, separable_set  # noqa: F401  (one_thread is a fixture)

pytestmark = pytest.mark.usefixtures("one_thread")
QUICK = ("--epochs", "1", "--workers", "0", "--batch-size", "16", "--no-epoch-weights")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return separable_set(tmp_path_factory.mktemp("cli"), n_per_class=12)


def one_line_error(result, code: int, *fragments: str) -> None:
    assert result.returncode == code, result.stderr
    err = result.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("hs: error: "), err
    for fragment in fragments:
        assert fragment in err, err
    assert result.stdout == b""


def rewrite(manifest, name, keep) -> str:
    lines = manifest.read_text().splitlines()
    path = manifest.parent / name
    path.write_text("\n".join(keep(lines)) + "\n")
    return str(path)


@pytest.mark.slow  # the first in-process torch import of a session takes seconds
def test_bad_inputs_fail_before_training_and_leave_no_model(run_hs, tiny, tmp_path):
    out = tmp_path / "out"
    missing = rewrite(tiny, "missing.csv", lambda ls: ls + [f"gone{i},images/gone{i}.png,0,a" for i in range(4)])
    one_line_error(
        run_hs("train", missing, "-o", str(out)),
        1,
        "4 of 28 image files are missing (first: 'gone0' (images/gone0.png)",
    )
    no_labels = rewrite(tiny, "nolabels.csv", lambda ls: [",".join(l.split(",")[:2]) for l in ls])
    one_line_error(run_hs("train", no_labels, "-o", str(out)), 1, "no 'label' column")
    one_class = rewrite(tiny, "oneclass.csv", lambda ls: [l for l in ls if ",1," not in l])
    one_line_error(run_hs("train", one_class, "-o", str(out)), 1, "at least two classes")
    no_train = rewrite(tiny, "notrain.csv", lambda ls: [ls[0] + ",split"] + [l + ",test" for l in ls[1:]])
    one_line_error(run_hs("train", no_train, "-o", str(out)), 1, "no rows have split 'train'")
    one_line_error(
        run_hs("train", str(tiny), "-o", str(out), "--arch", "vgg16"), 2, "--arch 'vgg16': unknown architecture"
    )
    one_line_error(run_hs("train", str(tiny), "-o", str(out), "--subsample", "subclass=a"), 2, "COL=VALUE:FRAC")
    one_line_error(
        run_hs("train", str(tiny), "-o", str(out), "--weights", "nothere.pt"), 1, "hs never downloads weights"
    )
    (tmp_path / "afile").write_text("x")
    one_line_error(run_hs("train", str(tiny), "-o", str(tmp_path / "afile" / "out")), 1, "cannot write there")
    assert not out.exists() or not list(out.rglob("model.*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(run_hs, tiny, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        one_line_error(run_hs("train", str(tiny), "-o", str(locked / "run")), 1, "cannot write there")
    finally:
        locked.chmod(0o700)


@pytest.mark.slow
def test_run_refuses_an_earlier_run_then_force_and_resume(run_hs, tiny, tmp_path):
    out = str(tmp_path / "run")
    first = run_hs("train", str(tiny), "-o", out, *QUICK, "--val-frac", "0.25")
    assert first.returncode == 0, first.stderr
    assert first.stdout == b""
    assert "epoch 1/1" in first.stderr.decode() and (tmp_path / "run" / "model.onnx").exists()
    one_line_error(run_hs("train", str(tiny), "-o", out, *QUICK), 1, "holds an earlier run; pass --resume")
    one_line_error(
        run_hs("train", str(tiny), "-o", out, *QUICK, "--val-frac", "0.25", "--lr", "0.01", "--resume"),
        2,
        "options differ from the run being resumed (lr: 0.0001 then, 0.01 now)",
    )
    assert (tmp_path / "run" / "model.onnx").exists()  # refused before anything was removed
    again = run_hs("train", str(tiny), "-o", out, *QUICK, "--val-frac", "0.25", "--epochs", "2", "--resume", "--quiet")
    assert again.returncode == 0 and again.stderr == b""
    assert json.loads((tmp_path / "run" / "model.onnx.meta.json").read_text())["epochs_run"] == 2
    forced = run_hs("train", str(tiny), "-o", out, *QUICK, "--val-frac", "0", "--force", "--quiet")
    assert forced.returncode == 0
    assert (tmp_path / "run" / "train_log.csv").read_text().count("\n") == 2  # header + the new run's one epoch


@pytest.mark.slow
def test_torchrun_two_cpu_processes(tiny, tmp_path):
    out = tmp_path / "ddp"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            "2",
            "-m",
            "hstool",
            "train",
            str(tiny),
            "-o",
            str(out),
            *QUICK,
            "--epochs",
            "2",
            "--device",
            "cpu",
            "--val-frac",
            "0.25",
        ],
        capture_output=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    meta = json.loads((out / "model.onnx.meta.json").read_text())
    assert meta["world_size"] == 2 and meta["epochs_run"] == 2 and meta["n_train"] == 18
    # Only rank 0 reports and writes: one line per epoch, one log row per epoch.
    assert result.stderr.decode().count("epoch 1/2") == 1
    assert (out / "train_log.csv").read_text().count("\n") == 3
