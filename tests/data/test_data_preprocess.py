"""Preprocessing: resize modes (shape, aspect, values), channel conversion, the resize filter
against torch's antialiased bilinear, normalisation, model metadata round trip, load_batch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hstool.data.images import load_image
from hstool.data.preprocess import RESIZE_MODES, Preprocessing, load_batch, parse_size
from hstool.errors import InputError, UsageError


def test_same_size_stretch_is_exact_identity():
    image = np.random.default_rng(0).random((9, 13, 3), dtype=np.float32)
    out = Preprocessing(size=(9, 13), channels=3).apply(image)
    assert out.dtype == np.float32 and out.shape == (3, 9, 13)
    np.testing.assert_array_equal(out, image.transpose(2, 0, 1))


def test_pad_letterboxes_and_keeps_the_aspect_ratio():
    wide = np.full((20, 40, 1), 0.7, np.float32)  # aspect 1:2 into a square
    out = Preprocessing(size=(28, 28), resize="pad").apply(wide)[0]
    assert out.shape == (28, 28)
    # scaled to 14 x 28, centred: rows 7..20 hold the image, the rest is black
    np.testing.assert_allclose(out[7:21], 0.7, atol=1e-6)
    assert (out[:7] == 0).all() and (out[21:] == 0).all()
    tall = np.full((40, 10, 1), 0.3, np.float32)
    out = Preprocessing(size=(20, 20), resize="pad").apply(tall)[0]
    # scaled to 20 x 5, columns 7..11 (the extra column of padding goes right)
    np.testing.assert_allclose(out[:, 7:12], 0.3, atol=1e-6)
    assert (out[:, :7] == 0).all() and (out[:, 12:] == 0).all()


def test_crop_keeps_the_centre():
    image = np.full((10, 30, 1), 0.2, np.float32)
    image[:, 10:20] = 0.8  # the centre third; crop to a square keeps exactly it
    out = Preprocessing(size=(5, 5), resize="crop").apply(image)[0]
    np.testing.assert_allclose(out, 0.8, atol=1e-6)
    odd = np.arange(7 * 4, dtype=np.float32).reshape(7, 4, 1) / 27  # 7 rows -> centre 4 rows: 1..4
    np.testing.assert_array_equal(Preprocessing(size=(4, 4), resize="crop").apply(odd)[0], odd[1:5, :, 0])
    stretched = Preprocessing(size=(5, 5), resize="stretch").apply(image)[0]
    assert stretched[:, 0].max() < 0.5  # stretching keeps the dark sides


def test_resize_matches_torch_antialiased_bilinear():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    for (h, w), (height, width) in [((100, 80), (28, 28)), ((13, 17), (40, 31)), ((64, 64), (64, 32))]:
        image = rng.random((h, w), dtype=np.float32)
        ours = Preprocessing(size=(height, width)).apply(image)[0]
        reference = torch.nn.functional.interpolate(
            torch.from_numpy(image)[None, None],
            size=(height, width),
            mode="bilinear",
            antialias=True,
            align_corners=False,
        )[0, 0].numpy()
        np.testing.assert_allclose(ours, reference, rtol=0, atol=2e-5)


def test_channel_conversion():
    grey = np.random.default_rng(2).random((6, 6, 1), dtype=np.float32)
    out = Preprocessing(size=(6, 6), channels=3).apply(grey)
    assert out.shape == (3, 6, 6)
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], grey[:, :, 0])
    colour = np.empty((4, 4, 3), np.float32)
    colour[:] = (0.2, 0.4, 0.6)
    luma = Preprocessing(size=(4, 4), channels=1).apply(colour)
    np.testing.assert_allclose(luma, 0.299 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6, atol=1e-6)
    assert Preprocessing(size=(4, 4)).apply(colour[:, :, 0]).shape == (1, 4, 4)  # 2-D input
    with pytest.raises(ValueError, match="expected an image of shape"):
        Preprocessing(size=(4, 4)).apply(np.zeros((4, 4, 2)))


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 40),
    w=st.integers(1, 40),
    height=st.integers(1, 32),
    width=st.integers(1, 32),
    mode=st.sampled_from(RESIZE_MODES),
    channels=st.sampled_from([1, 3]),
    source_channels=st.sampled_from([1, 3]),
    seed=st.integers(0, 2**16),
)
def test_apply_property_shape_dtype_range(h, w, height, width, mode, channels, source_channels, seed):
    image = np.random.default_rng(seed).random((h, w, source_channels), dtype=np.float32)
    out = Preprocessing(size=(height, width), channels=channels, resize=mode).apply(image)
    assert out.shape == (channels, height, width) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_normalise_numpy_and_torch():
    prep = Preprocessing(size=(2, 2), channels=3, mean=(0.5, 0.25, 0.0), std=(0.5, 0.25, 2.0))
    batch = np.random.default_rng(3).random((4, 3, 2, 2), dtype=np.float32)
    expected = (batch - np.array([0.5, 0.25, 0.0])[:, None, None]) / np.array([0.5, 0.25, 2.0])[:, None, None]
    out = prep.normalise(batch)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(prep.normalise(batch[0]), expected[0], rtol=1e-6)
    torch = pytest.importorskip("torch")
    np.testing.assert_allclose(prep.normalise(torch.from_numpy(batch)).numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="expected 3 channel"):
        prep.normalise(np.zeros((1, 1, 2, 2), np.float32))


def test_metadata_round_trip_and_errors():
    prep = Preprocessing(
        size=(224, 192), channels=3, resize="pad", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)
    )
    props = prep.to_metadata()
    assert props == {
        "hs.input_size": "[224, 192]",
        "hs.channels": "3",
        "hs.resize": "pad",
        "hs.mean": "[0.485, 0.456, 0.406]",
        "hs.std": "[0.229, 0.224, 0.225]",
    }
    assert all(isinstance(v, str) for v in props.values())
    assert Preprocessing.from_metadata(props) == prep
    default = Preprocessing(size=(28, 28))
    assert default.mean == (0.0,) and default.std == (1.0,)
    assert Preprocessing.from_metadata(default.to_metadata()) == default
    with pytest.raises(InputError, match="model.onnx: metadata lacks hs.resize, hs.std; .*re-export"):
        Preprocessing.from_metadata(
            {k: v for k, v in props.items() if k not in ("hs.resize", "hs.std")}, source="model.onnx"
        )
    with pytest.raises(InputError, match="invalid preprocessing metadata"):
        Preprocessing.from_metadata({**props, "hs.input_size": "[224"})
    with pytest.raises(InputError, match="invalid preprocessing metadata .*channels 2"):
        Preprocessing.from_metadata({**props, "hs.channels": "2"})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"size": (0, 5)}, "two positive integers"),
        ({"size": "28"}, "two positive integers"),
        ({"size": (28.5, 28)}, "two positive integers"),
        ({"size": (5, 5), "channels": 2}, "must be 1 .grey. or 3"),
        ({"size": (5, 5), "resize": "zoom"}, "choose one of stretch, pad, crop"),
        ({"size": (5, 5), "channels": 3, "mean": (0.5,)}, "need 3 value"),
        ({"size": (5, 5), "std": (0.0,)}, "std positive"),
    ],
)
def test_invalid_preprocessing(kwargs, message):
    with pytest.raises(UsageError, match=message):
        Preprocessing(**kwargs)


def test_parse_size():
    assert parse_size("28") == (28, 28)
    assert parse_size("224x192") == (224, 192) == parse_size("224,192")
    for bad in ("0", "a", "1x2x3", "-4"):
        with pytest.raises(UsageError):
            parse_size(bad)


def test_load_batch_mixes_formats(data_dir):
    folder = data_dir / "xray-fixtures"
    paths = [folder / "00000001_000.png", folder / "16747_3_1.jpg", folder / "Fake_MONOHR1.dcm"]
    prep = Preprocessing(size=(32, 24), channels=3, resize="crop")
    batch = load_batch(paths, prep)
    assert batch.shape == (3, 3, 32, 24) and batch.dtype == np.float32
    for i, path in enumerate(paths):
        np.testing.assert_array_equal(batch[i], prep.apply(load_image(path)))
    assert load_batch([], prep).shape == (0, 3, 32, 24)
