"""Scale features of hs predict/embed: shards + hs merge, --resume after a failure, kill -9 and
Ctrl-C, all compared byte for byte with an uninterrupted, unsharded run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import ROOT
from onnx_models import TinyModel, write_manifest
from PIL import Image


@pytest.fixture
def case(tmp_path):
    rng = np.random.default_rng(5)
    (tmp_path / "images").mkdir()
    paths = []
    for i in range(40):
        paths.append(f"images/{i:03d}.png")
        Image.fromarray(rng.integers(0, 256, (9 + i % 3, 10), dtype=np.uint8)).save(tmp_path / paths[-1])
    write_manifest(tmp_path, [f"id{i:03d}" for i in range(40)], paths)
    TinyModel(["a", "b", "c"], size=(8, 8)).save(tmp_path / "model.onnx")
    return tmp_path, paths


def _both(name: str) -> list[str]:
    return ["-o", f"{name}.csv", "--embeddings", f"{name}.npy"]


def _same_files(folder, a: str, b: str, suffixes=(".csv", ".npy", ".ids.csv")) -> None:
    for suffix in suffixes:
        assert (folder / f"{a}{suffix}").read_bytes() == (folder / f"{b}{suffix}").read_bytes(), suffix


@pytest.mark.parametrize("count", [3, 8])
def test_shards_merged_equal_one_run(run_hs, case, count):
    folder, paths = case
    (folder / paths[17]).write_bytes(b"\x89PNG\r\n\x1a\n broken")  # one skipped image, in a middle shard
    common = ["--batch-size", "6", "--workers", "0", "--on-error", "skip", "-q"]
    assert run_hs("predict", "model.onnx", "manifest.csv", *_both("one"), *common).returncode == 0
    for i in range(count):
        res = run_hs("predict", "model.onnx", "manifest.csv", *_both(f"s{i}"), "--shard", f"{i}/{count}", *common)
        assert res.returncode == 0, res.stderr
    sizes = [json.loads((folder / f"s{i}.csv.meta.json").read_text())["images"]["selected"] for i in range(count)]
    assert sum(sizes) == 40 and (count < 7 or 0 in sizes)  # 7 batches: 8 shards leave one empty
    shuffled = [f"s{i}" for i in reversed(range(count))]  # the order given does not matter
    res = run_hs("merge", "-o", "merged.csv", *[f"{s}.csv" for s in shuffled])
    assert res.returncode == 0, res.stderr
    assert run_hs("merge", "-o", "merged.npy", *[f"{s}.npy" for s in shuffled]).returncode == 0
    _same_files(folder, "merged", "one")
    assert (folder / "merged.csv.errors.csv").read_bytes() == (folder / "one.csv.errors.csv").read_bytes()
    meta = json.loads((folder / "merged.csv.meta.json").read_text())
    assert meta["selection"]["shard"] is None and meta["images"] == {"selected": 40, "written": 39, "skipped": 1}
    assert [m["shard"] for m in meta["merged_from"]] == [f"{i}/{count}" for i in range(count)]


def test_merge_refuses_what_is_not_one_run(run_hs, case):
    folder, _ = case
    TinyModel(["a", "b", "c"], size=(8, 8), seed=9).save(folder / "other.onnx")
    opts = ["--workers", "0", "--batch-size", "4"]
    for i in range(3):
        assert (
            run_hs("predict", "model.onnx", "manifest.csv", "-o", f"s{i}.csv", "--shard", f"{i}/3", *opts).returncode
            == 0
        )
    assert run_hs("predict", "other.onnx", "manifest.csv", "-o", "x1.csv", "--shard", "1/3", *opts).returncode == 0
    assert (
        run_hs(
            "predict", "model.onnx", "manifest.csv", "-o", "b1.csv", "--shard", "1/3", *opts, "--batch-size", "8"
        ).returncode
        == 0
    )
    assert run_hs("predict", "model.onnx", "manifest.csv", "-o", "whole.csv", *opts).returncode == 0
    cases = [
        (["s0.csv", "s1.csv"], "shard 2/3 is missing"),
        (["s0.csv", "s1.csv", "s1.csv", "s2.csv"], "like s1.csv"),
        (["s0.csv", "x1.csv", "s2.csv"], "its model"),
        (["s0.csv", "b1.csv", "s2.csv"], "its batch size"),
        (["s0.csv", "whole.csv"], "not a shard"),
        (["s0.csv", "manifest.csv"], "sidecar"),
    ]
    for shards, message in cases:
        res = run_hs("merge", "-o", "m.csv", *shards)
        assert res.returncode == 1 and message in res.stderr.decode(), (shards, res.stderr)
        assert not (folder / "m.csv").exists()
    (folder / "s1.csv").write_text((folder / "s1.csv").read_text().rsplit("\n", 2)[0] + "\n")  # drop a row
    res = run_hs("merge", "-o", "m.csv", "s0.csv", "s1.csv", "s2.csv")
    assert res.returncode == 1 and b"sidecar says" in res.stderr
    assert run_hs("merge", "-o", "s0.csv", "s0.csv", "s1.csv", "s2.csv").returncode == 1  # output is an input
    # A damaged sidecar is one clear line, not an internal error.
    (folder / "s2.csv.meta.json").write_text('{"schema": "hs.preds/1", "rows": ')
    res = run_hs("merge", "-o", "m.csv", "s0.csv", "s1.csv", "s2.csv")
    lines = res.stderr.decode().strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1 and "not a valid .meta.json sidecar" in lines[0], lines


def test_resume_after_a_failure_computes_only_the_rest(run_hs, case):
    folder, paths = case
    good = (folder / paths[30]).read_bytes()
    (folder / paths[30]).write_bytes(good[:40])  # corrupt: the run stops in its 4th chunk
    opts = ["--batch-size", "4", "--chunk-size", "8", "--workers", "0"]
    # Without --resume a failed run leaves nothing behind, not even its hidden work folder.
    res = run_hs("predict", "model.onnx", "manifest.csv", *_both("r"), *opts)
    assert res.returncode == 1 and b"corrupt" in res.stderr
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith((".r", "r."))) == []
    # With --resume the finished chunks are kept for the next try.
    res = run_hs("predict", "model.onnx", "manifest.csv", *_both("r"), *opts, "--resume")
    assert res.returncode == 1 and b"corrupt" in res.stderr
    assert not (folder / "r.csv").exists() and not (folder / "r.npy").exists()
    assert sorted(p.name for p in (folder / ".r.csv.parts").glob("chunk-*")) == [
        f"chunk-00000{i}.npz" for i in range(3)
    ]
    (folder / paths[30]).write_bytes(good)  # fixed; the manifest itself is unchanged
    res = run_hs("predict", "model.onnx", "manifest.csv", *_both("r"), *opts, "--resume", "--batch-size", "8")
    assert res.returncode == 2 and b"differs in batch_size" in res.stderr  # not the same computation
    res = run_hs("predict", "model.onnx", "manifest.csv", *_both("r"), *opts, "--resume")
    assert res.returncode == 0, res.stderr
    assert b"resuming: 24 of 40 images already done" in res.stderr
    assert (
        run_hs(
            "predict", "model.onnx", "manifest.csv", *_both("fresh"), "--batch-size", "4", "--workers", "0"
        ).returncode
        == 0
    )
    _same_files(folder, "r", "fresh")
    assert not (folder / ".r.csv.parts").exists()


def _start(folder, *args) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen(
        [sys.executable, "-m", "hstool", *args], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def _wait_for_chunks(proc: subprocess.Popen, parts, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(parts.glob("chunk-*.npz"))) < count:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no chunks written"
        time.sleep(0.005)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has stopped running
    except OSError:
        return True


@pytest.fixture
def long_case(tmp_path):
    """240 rows (one image, repeated) processed two images per chunk: slow enough to
    interrupt, and every chunk is a separate file."""
    image = np.random.default_rng(2).integers(0, 256, (12, 12), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "x.png")
    write_manifest(tmp_path, [f"r{i:04d}" for i in range(240)], ["x.png"] * 240)
    TinyModel(["a", "b"], size=(8, 8)).save(tmp_path / "model.onnx")
    return tmp_path


SLOW = ["--batch-size", "1", "--chunk-size", "2"]


@pytest.mark.slow
def test_kill_9_then_resume_equals_an_uninterrupted_run(run_hs, long_case):
    folder = long_case
    proc = _start(folder, "predict", "model.onnx", "manifest.csv", *_both("k"), *SLOW, "--workers", "1")
    _wait_for_chunks(proc, folder / ".k.csv.parts", 3)
    workers = _children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    # Whatever the killed run's helper processes print ends up here once they are gone: no
    # warnings from multiprocessing's resource tracker about leaked shared memory or semaphores.
    after = proc.stderr.read()
    assert b"leaked" not in after and b"resource_tracker" not in after, after
    assert not (folder / "k.csv").exists() and not (folder / "k.npy").exists()  # nothing looks complete
    done = len(list((folder / ".k.csv.parts").glob("chunk-*.npz")))
    assert 3 <= done < 120
    # The decoding workers notice their parent is gone and stop (no orphans on a cluster node).
    deadline = time.monotonic() + 10
    while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert workers and all(_gone(w) for w in workers)
    res = run_hs("predict", "model.onnx", "manifest.csv", *_both("k"), *SLOW, "--workers", "1", "--resume")
    assert res.returncode == 0, res.stderr
    assert f"resuming: {2 * done} of 240".encode() in res.stderr
    # The reference: one uninterrupted run (chunk size does not change the batches, only what is saved).
    assert (
        run_hs("predict", "model.onnx", "manifest.csv", *_both("ref"), "--batch-size", "1", "--workers", "0").returncode
        == 0
    )
    _same_files(folder, "k", "ref")


@pytest.mark.slow
def test_ctrl_c_exits_130_and_writes_nothing_final(long_case):
    folder = long_case
    proc = _start(folder, "predict", "model.onnx", "manifest.csv", *_both("c"), *SLOW, "--workers", "1")
    _wait_for_chunks(proc, folder / ".c.csv.parts", 2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    message = proc.stderr.read().decode()
    assert "interrupted" in message and "kept in" in message and "--resume" in message, message
    assert not [p for p in folder.iterdir() if p.name.startswith("c.")]  # no c.csv, c.npy, sidecars
    assert list((folder / ".c.csv.parts").glob("chunk-*.npz"))  # the work done is kept for --resume
    assert not list(folder.rglob("*.partial"))  # no half-written chunk or output
