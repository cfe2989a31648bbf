"""The parallel decode pipeline: same pixels as load_batch, in order, failures reported, no leaks."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from hstool.data.preprocess import Preprocessing, load_batch
from hstool.errors import OptionError, UsageError
from hstool.infer import decode_pool
from hstool.infer.decode_pool import DecodePool
from hstool.workers import default_workers


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """24 PNGs of mixed sizes and modes (grey 8-bit, grey 16-bit, RGB)."""
    folder = tmp_path_factory.mktemp("pipe")
    rng = np.random.default_rng(3)
    paths = []
    for i in range(24):
        h, w = 9 + i % 5, 11 + i % 3
        if i % 3 == 0:
            im = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        elif i % 3 == 1:
            im = Image.fromarray(rng.integers(0, 65536, (h, w), dtype=np.uint16))
        else:
            im = Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))
        paths.append(folder / f"{i:02d}.png")
        im.save(paths[-1])
    return paths


PREP = Preprocessing(size=(8, 6), channels=1)


def _batches(n, size):
    return [list(range(a, min(a + size, n))) for a in range(0, n, size)]


@pytest.mark.parametrize("workers", [0, 2])
def test_batches_come_back_in_order_with_load_batch_pixels(images, workers):
    expected = load_batch(images, PREP)
    order = _batches(len(images), 5)[::-1]  # any order of batches, uneven last one
    with DecodePool(images, PREP, batch_size=5, workers=workers, prefetch=2) as pool:
        got = [(b.rows.copy(), b.images.copy(), b.failed) for b in pool.decode(order)]
    assert [rows.tolist() for rows, _, _ in got] == order
    for rows, pixels, failed in got:
        assert not failed
        np.testing.assert_array_equal(pixels, expected[rows])


def test_failures_are_reported_per_row_and_zero_filled(tmp_path, images):
    bad = tmp_path / "bad.png"
    bad.write_bytes(images[0].read_bytes()[:60])  # truncated PNG
    paths = [images[0], bad, tmp_path / "missing.png", images[1]]
    with DecodePool(paths, PREP, batch_size=4, workers=1) as pool:
        (batch,) = [(b.failed, b.ok.copy(), b.images.copy()) for b in pool.decode([[0, 1, 2, 3]])]
    failed, ok, pixels = batch
    assert sorted(failed) == [1, 2]
    assert failed[1].startswith("corrupt") and failed[2].startswith("no such file")
    assert str(tmp_path) not in failed[1]  # the reason, without the path
    assert ok.tolist() == [True, False, False, True]
    assert not pixels[1].any() and not pixels[2].any()
    np.testing.assert_array_equal(pixels[[0, 3]], load_batch([images[0], images[1]], PREP))


def test_shared_memory_is_released(images):
    with DecodePool(images, PREP, batch_size=4, workers=1) as pool:
        names = [b.name for b in pool._blocks]
        assert all(os.path.exists(f"/dev/shm/{n}") for n in names)
        next(iter(pool.decode([[0, 1]])))
    assert not any(os.path.exists(f"/dev/shm/{n}") for n in names)
    assert not pool._procs


def test_too_little_shared_memory_is_a_clear_error(images, monkeypatch):
    class Usage:
        free = 1000

    monkeypatch.setattr(decode_pool.shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(UsageError, match="use workers 0"):
        with DecodePool(images, PREP, batch_size=64, workers=2):
            pass


def test_bad_settings_are_refused(images):
    for kwargs, match in [
        ({"batch_size": 0, "workers": 0}, "^batch_size=0: must be at least 1"),
        ({"batch_size": 1, "workers": -1}, "^workers=-1: must be 0"),
        ({"batch_size": 1, "workers": 1, "prefetch": 0}, "^prefetch=0: must be at least 1"),
    ]:
        with pytest.raises(OptionError, match=match):
            DecodePool(images, PREP, **kwargs)


def test_default_workers_is_bounded():
    assert 1 <= default_workers() <= 8
