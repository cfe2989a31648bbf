"""The batch grid, shards and chunks of an inference run (hstool.infer.chunks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.errors import OptionError, UsageError
from hstool.infer.chunks import ChunkResult, DiskChunks, Shard, parts_folder, plan_chunks


@pytest.mark.parametrize("text, index, count", [("0/1", 0, 1), ("3/4", 3, 4), (" 2 / 8 ", 2, 8)])
def test_shard_parse(text, index, count):
    assert Shard.parse(text) == Shard(index, count)


@pytest.mark.parametrize("text", ["4/4", "1/0", "-1/4", "1", "a/b", "1/2/3"])
def test_shard_parse_refuses(text):
    with pytest.raises(OptionError, match=r"^shard='.*': expected i/N"):
        Shard.parse(text)


@settings(max_examples=200, deadline=None)
@given(n=st.integers(0, 500), batch=st.integers(1, 40), chunk=st.integers(1, 100), count=st.integers(1, 12))
def test_shards_tile_the_manifest_on_the_global_batch_grid(n, batch, chunk, count):
    plans = [plan_chunks(n, batch_size=batch, chunk_size=chunk, shard=Shard(i, count)) for i in range(count)]
    whole = plan_chunks(n, batch_size=batch, chunk_size=chunk, shard=None)
    assert (whole.start, whole.end) == (0, n)
    # Contiguous, in order, covering every row once.
    assert plans[0].start == 0 and plans[-1].end == n
    assert all(a.end == b.start for a, b in zip(plans, plans[1:]))
    # Sizes differ by at most one batch.
    n_batches = [-(-p.rows // batch) for p in plans]
    assert max(n_batches) - min(n_batches) <= 1
    # Every batch of every shard is a batch of the unsharded run (same composition).
    reference = {tuple(b) for first, end in whole.chunks() for b in whole.batches(first, end)}
    for plan in plans:
        assert plan.chunk_size % batch == 0 and plan.chunk_size >= chunk
        rows = []
        for first, end in plan.chunks():
            for b in plan.batches(first, end):
                assert tuple(b) in reference
                rows.extend(b.tolist())
        assert rows == list(range(plan.start, plan.end))


def test_chunk_size_is_rounded_up_to_whole_batches():
    plan = plan_chunks(100, batch_size=8, chunk_size=10, shard=None)
    assert plan.chunk_size == 16
    assert plan.chunks()[:2] == [(0, 16), (16, 32)] and plan.chunks()[-1] == (96, 100)


@pytest.mark.parametrize("batch, chunk, match", [(0, 4, "^batch_size=0"), (4, 0, "^chunk_size=0")])
def test_plan_refuses_bad_sizes(batch, chunk, match):
    with pytest.raises(OptionError, match=match):
        plan_chunks(10, batch_size=batch, chunk_size=chunk, shard=None)


def _result(rows, k=2):
    rows = np.asarray(rows, dtype=np.int64)
    return ChunkResult(rows, np.full((len(rows), k), 0.5, np.float32), None, np.array([7], np.int64), ["corrupt: x"])


def test_disk_chunks_round_trip_and_partial_loads(tmp_path):
    store = DiskChunks(tmp_path / ".p.parts", {"a": 1}, resume=False, log=print)
    assert not store.has(0)
    store.save(0, _result([0, 1, 2]))
    assert store.has(0)
    full = store.load(0)
    assert full.rows.tolist() == [0, 1, 2] and full.probabilities.shape == (3, 2) and full.embedding is None
    assert full.failed_rows.tolist() == [7] and full.failed_reasons == ["corrupt: x"]
    only_rows = store.load(0, ("rows",))
    assert only_rows.probabilities is None and only_rows.failed_reasons is None
    store.finish()
    assert not (tmp_path / ".p.parts").exists()


def test_resume_keeps_a_matching_folder_and_refuses_another_run(tmp_path):
    folder = tmp_path / ".p.parts"
    DiskChunks(folder, {"batch_size": 4, "model_sha256": "m"}, resume=False, log=print).save(0, _result([0]))
    assert DiskChunks(folder, {"batch_size": 4, "model_sha256": "m"}, resume=True, log=print).has(0)
    with pytest.raises(UsageError, match=r"differs in batch_size \(batch_size: 4 then, 8 now\)"):
        DiskChunks(folder, {"batch_size": 8, "model_sha256": "m"}, resume=True, log=print)
    messages = []
    assert not DiskChunks(folder, {"batch_size": 8, "model_sha256": "m"}, resume=False, log=messages.append).has(0)
    assert "starting over" in messages[0]


def test_a_damaged_chunk_is_computed_again(tmp_path):
    store = DiskChunks(tmp_path / ".p.parts", {"a": 1}, resume=False, log=print)
    store.save(0, _result([0, 1]))
    store.save(1, _result([2, 3]))
    data = store._path(1).read_bytes()
    store._path(1).write_bytes(data[: len(data) // 2])  # torn, as after a power cut
    resumed = DiskChunks(tmp_path / ".p.parts", {"a": 1}, resume=True, log=print)
    assert resumed.has(0) and not resumed.has(1)
    assert not resumed._path(1).exists()


def test_parts_folder_is_hidden_next_to_the_output(tmp_path):
    assert parts_folder(tmp_path / "preds.csv") == tmp_path / ".preds.csv.parts"
