"""`hs manifest folder|npz|idx|check` and the library builders behind them."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hstool.data.build import manifest_from_idx, manifest_from_npz
from hstool.data.folder import manifest_from_folder
from hstool.data.manifest import read_manifest
from hstool.errors import InputError, OptionError, OutputError, UsageError

FASHION = "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,Sneaker,Bag,Ankle boot"


def png(path: Path, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 4), value).save(path, format="PNG")


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


# ---------------------------------------------------------------------------- folder


def test_folder_tree(tmp_path, run_hs):
    tree = tmp_path / "xrays"
    for rel in ("normal/b.png", "normal/a.PNG", "normal/deep/c.jpg", "pneumonia/x.dcm", "pneumonia/y.npy"):
        png(tree / rel)  # content does not matter here: files are listed by extension
    (tree / "normal" / ".hidden.png").write_bytes(b"x")
    (tree / ".cache").mkdir()
    png(tree / ".cache" / "z.png")
    (tree / "pneumonia" / "notes.txt").write_text("not an image")
    result = run_hs("manifest", "folder", "xrays", "-o", "xrays/manifest.csv")
    assert result.returncode == 0, result.stderr
    assert result.stdout == b""
    assert b"5 images; label normal: 3, pneumonia: 2" in result.stderr
    text = (tree / "manifest.csv").read_text()
    assert text.splitlines() == [
        "image_id,path,label",
        "normal/a,normal/a.PNG,normal",
        "normal/b,normal/b.png,normal",
        "normal/deep/c,normal/deep/c.jpg,normal",
        "pneumonia/x,pneumonia/x.dcm,pneumonia",
        "pneumonia/y,pneumonia/y.npy,pneumonia",
    ]
    meta = json.loads((tree / "manifest.csv.meta.json").read_text())
    assert meta["schema"] == "hs.manifest/1" and meta["rows"] == 5 and meta["classes"] == {"normal": 3, "pneumonia": 2}
    manifest = read_manifest(str(tree / "manifest.csv"), require_label=True)
    manifest.check_files()
    # To stdout, paths are relative to the current folder.
    result = run_hs("manifest", "folder", "xrays")
    assert result.stdout.decode().splitlines()[1] == "normal/a,xrays/normal/a.PNG,normal"


def test_folder_split_dirs_and_unlabelled(tmp_path):
    for rel in ("train/cat/1.png", "train/dog/2.png", "test/cat/3.png"):
        png(tmp_path / "s" / rel)
    built = manifest_from_folder(str(tmp_path / "s"), manifest_dir=tmp_path, split_dirs=True)
    assert built.table.rows() == [
        ("test/cat/3", "s/test/cat/3.png", "cat", "test"),
        ("train/cat/1", "s/train/cat/1.png", "cat", "train"),
        ("train/dog/2", "s/train/dog/2.png", "dog", "train"),
    ]
    png(tmp_path / "s" / "other" / "cat" / "4.png")
    with pytest.raises(InputError, match="with split_dirs every image must be under"):
        manifest_from_folder(str(tmp_path / "s"), manifest_dir=tmp_path, split_dirs=True)
    for name in ("1.png", "2.png"):
        png(tmp_path / "flat" / name)
    assert manifest_from_folder(str(tmp_path / "flat"), manifest_dir=tmp_path).table.columns == ["image_id", "path"]


def test_folder_errors(tmp_path):
    png(tmp_path / "mixed" / "cls" / "a.png")
    png(tmp_path / "mixed" / "loose.png")
    with pytest.raises(InputError, match="mixed/loose.png is not in a class folder"):
        manifest_from_folder(str(tmp_path / "mixed"), manifest_dir=tmp_path)
    png(tmp_path / "dup" / "c" / "a.png")
    png(tmp_path / "dup" / "c" / "a.jpg")
    with pytest.raises(InputError, match="share the image_id 'c/a'"):
        manifest_from_folder(str(tmp_path / "dup"), manifest_dir=tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no image files"):
        manifest_from_folder(str(tmp_path / "empty"), manifest_dir=tmp_path)
    with pytest.raises(UsageError, match="is not inside .* the manifest's folder"):
        manifest_from_folder(str(tmp_path / "dup"), manifest_dir=tmp_path / "empty")
    png(tmp_path / "outside.png")
    (tmp_path / "linked" / "c").mkdir(parents=True)
    (tmp_path / "linked" / "c" / "l.png").symlink_to(tmp_path / "outside.png")
    with pytest.raises(InputError, match="symbolic link to a file outside"):
        manifest_from_folder(str(tmp_path / "linked"), manifest_dir=tmp_path / "linked")


# ---------------------------------------------------------------------------- npz


@pytest.fixture
def tiny_npz(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    arrays = {
        "train_images": rng.integers(0, 256, (5, 6, 7), dtype=np.uint8),
        "train_labels": np.array([[0], [1], [1], [0], [2]], np.uint8),
        "test_images": rng.integers(0, 256, (3, 6, 7), dtype=np.uint8),
        "test_labels": np.array([[2], [1], [0]], np.uint8),
    }
    np.savez(tmp_path / "tiny.npz", **arrays)
    return tmp_path / "tiny.npz"


def test_npz_writes_pngs_and_manifest(tiny_npz, tmp_path):
    built = manifest_from_npz(str(tiny_npz), str(tmp_path / "out"), limit=4)
    rows = built.table.rows()
    assert [r[0] for r in rows] == [
        "train_00000",
        "train_00001",
        "train_00002",
        "train_00003",
        "test_00000",
        "test_00001",
        "test_00002",
    ]
    assert rows[0] == ("train_00000", "images/train_00000.png", "0", "train")
    with np.load(tiny_npz) as source:
        for image_id, path, label, split in rows:
            index = int(image_id.split("_")[1])
            np.testing.assert_array_equal(pixels(tmp_path / "out" / path), source[f"{split}_images"][index])
            assert label == str(int(source[f"{split}_labels"][index, 0]))
    manifest = read_manifest(str(tmp_path / "out" / "manifest.csv"), require_label=True)
    manifest.check_files()
    assert manifest.where_split("test").ids == ["test_00000", "test_00001", "test_00002"]
    meta = json.loads((tmp_path / "out" / "manifest.csv.meta.json").read_text())
    assert meta["splits"] == {"test": 3, "train": 4} and meta["inputs"][0]["rows"] == 7
    named = manifest_from_npz(str(tiny_npz), str(tmp_path / "named"), splits=["test"], class_names=["a", "b", "c"])
    assert named.table["label"].to_list() == ["c", "b", "a"] and named.table["split"].to_list() == ["test"] * 3


def test_npz_output_is_deterministic(tiny_npz, tmp_path):
    first = manifest_from_npz(str(tiny_npz), str(tmp_path / "a"))
    second = manifest_from_npz(str(tiny_npz), str(tmp_path / "b"))
    assert first.meta == second.meta
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) == 10
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_npz_refuses_non_empty_out_dir_unless_forced(tiny_npz, tmp_path, run_hs):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = run_hs("manifest", "npz", str(tiny_npz), "--out-dir", "out")
    assert result.returncode == 1
    assert (
        result.stderr.decode()
        == "hs: error: --out-dir out: is not empty; choose a new folder, or pass --force to write into it\n"
    )
    assert not (tmp_path / "out" / "manifest.csv").exists()
    result = run_hs("manifest", "npz", str(tiny_npz), "--out-dir", "out", "--force", "--splits", "test", "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"
    assert len((tmp_path / "out" / "manifest.csv").read_text().splitlines()) == 3
    assert json.loads((tmp_path / "out" / "manifest.csv.meta.json").read_text())["command"].startswith(
        "hs manifest npz"
    )


def test_npz_errors(tiny_npz, tmp_path):
    with pytest.raises(InputError, match="no val_images/val_labels arrays .found: test_images"):
        manifest_from_npz(str(tiny_npz), str(tmp_path / "o1"), splits=["val"])
    with pytest.raises(OptionError, match="^splits='dev': choose among train, val, test"):
        manifest_from_npz(str(tiny_npz), str(tmp_path / "o2"), splits=["dev"])
    with pytest.raises(InputError, match="class index 2 has no name .2 class_names given"):
        manifest_from_npz(str(tiny_npz), str(tmp_path / "o3"), class_names=["a", "b"])
    with pytest.raises(OptionError, match="^limit=0: must be at least 1"):
        manifest_from_npz(str(tiny_npz), str(tmp_path / "o4"), limit=0)
    np.savez(
        tmp_path / "multi.npz", train_images=np.zeros((2, 3, 3), np.uint8), train_labels=np.zeros((2, 14), np.uint8)
    )
    with pytest.raises(InputError, match=r"labels of shape \(2, 14\) \(multi-label\?\)"):
        manifest_from_npz(str(tmp_path / "multi.npz"), str(tmp_path / "o5"))
    np.savez(tmp_path / "floats.npz", train_images=np.zeros((2, 3, 3), np.float32), train_labels=np.zeros(2, np.uint8))
    with pytest.raises(InputError, match="images of type float32; expected uint8 or uint16"):
        manifest_from_npz(str(tmp_path / "floats.npz"), str(tmp_path / "o6"))
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(InputError, match="bad.npz: not a readable .npz"):
        manifest_from_npz(str(tmp_path / "bad.npz"), str(tmp_path / "o7"))
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 8))  # nothing written on error


def test_npz_real_pneumoniamnist_rows(data_dir, tmp_path):
    npz = data_dir / "pneumoniamnist" / "pneumoniamnist.npz"
    built = manifest_from_npz(
        str(npz), str(tmp_path / "pm"), splits=["train", "test"], limit=3, class_names=["normal", "pneumonia"]
    )
    assert built.table.height == 6
    with np.load(npz) as source:
        for image_id, path, label, split in built.table.rows():
            index = int(image_id.split("_")[1])
            np.testing.assert_array_equal(pixels(tmp_path / "pm" / path), source[f"{split}_images"][index])
            assert label == ["normal", "pneumonia"][int(source[f"{split}_labels"][index, 0])]
    from hstool.data.images import load_image

    assert load_image(tmp_path / "pm" / "images" / "train_00000.png").shape == (28, 28, 1)


# ---------------------------------------------------------------------------- idx


def idx_bytes(array: np.ndarray) -> bytes:
    return (
        b"\x00\x00\x08"
        + bytes([array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + array.astype(np.uint8).tobytes()
    )


def test_idx_real_fashion_mnist(data_dir, run_hs, tmp_path):
    folder = data_dir / "fashion-mnist"
    images, labels = folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    result = run_hs(
        "manifest",
        "idx",
        str(images),
        str(labels),
        "--out-dir",
        "fm",
        "--split",
        "test",
        "--limit",
        "20",
        "--class-names",
        FASHION,
    )
    assert result.returncode == 0, result.stderr
    table = read_manifest(str(tmp_path / "fm" / "manifest.csv"), require_label=True).table
    assert table.height == 20 and table["split"].unique().to_list() == ["test"]
    # The first five test items of Fashion-MNIST, as published: 9 2 1 1 6.
    assert table["label"].head(5).to_list() == ["Ankle boot", "Pullover", "Trouser", "Trouser", "Shirt"]
    # Oracle: parse the idx file by hand (16-byte header, then 28x28 uint8 images).
    raw = np.frombuffer(gzip.decompress(images.read_bytes())[16 : 16 + 20 * 784], np.uint8).reshape(20, 28, 28)
    for i, path in enumerate(table["path"]):
        np.testing.assert_array_equal(pixels(tmp_path / "fm" / path), raw[i])


def test_idx_uncompressed_without_split_and_errors(tmp_path):
    images = np.arange(3 * 4 * 5).reshape(3, 4, 5) % 256
    (tmp_path / "i.idx").write_bytes(idx_bytes(images))
    (tmp_path / "l.idx").write_bytes(idx_bytes(np.array([1, 0, 1])))
    built = manifest_from_idx(str(tmp_path / "i.idx"), str(tmp_path / "l.idx"), str(tmp_path / "out"))
    assert built.table.rows() == [
        ("img_00000", "images/img_00000.png", "1"),
        ("img_00001", "images/img_00001.png", "0"),
        ("img_00002", "images/img_00002.png", "1"),
    ]
    np.testing.assert_array_equal(pixels(tmp_path / "out" / "images" / "img_00002.png"), images[2])
    (tmp_path / "l2.idx").write_bytes(idx_bytes(np.array([1, 0])))
    with pytest.raises(InputError, match="3 images but 2 labels"):
        manifest_from_idx(str(tmp_path / "i.idx"), str(tmp_path / "l2.idx"), str(tmp_path / "o1"))
    (tmp_path / "cut.idx").write_bytes(idx_bytes(images)[:-7])
    with pytest.raises(InputError, match="cut.idx: truncated"):
        manifest_from_idx(str(tmp_path / "cut.idx"), str(tmp_path / "l.idx"), str(tmp_path / "o2"))
    (tmp_path / "junk.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(InputError, match="junk.idx: not an idx file"):
        manifest_from_idx(str(tmp_path / "junk.idx"), str(tmp_path / "l.idx"), str(tmp_path / "o3"))
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"\x00" * 20)
    with pytest.raises(InputError, match="bad.gz: corrupt gzip"):
        manifest_from_idx(str(tmp_path / "bad.gz"), str(tmp_path / "l.idx"), str(tmp_path / "o4"))
    with pytest.raises(OptionError, match="^split='dev': choose one of train, val, test"):
        manifest_from_idx(str(tmp_path / "i.idx"), str(tmp_path / "l.idx"), str(tmp_path / "o5"), split="dev")
    with pytest.raises(OutputError, match="is a file"):
        manifest_from_idx(str(tmp_path / "i.idx"), str(tmp_path / "l.idx"), str(tmp_path / "i.idx"))


# ---------------------------------------------------------------------------- check, help


def test_check_command(tmp_path, run_hs):
    png(tmp_path / "a.png")
    (tmp_path / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    (tmp_path / "ok.csv").write_text("image_id,path,label\n1,a.png,0\n2,a.png,1\n")
    result = run_hs("manifest", "check", "ok.csv", "--labels", "--decode")
    assert result.returncode == 0 and result.stderr == b"ok.csv: ok, 2 images; label 0: 1, 1: 1; every file decoded\n"
    (tmp_path / "bad.csv").write_text("image_id,path\n1,a.png\n2,b.png\n3,gone.png\n")
    result = run_hs("manifest", "check", "bad.csv")
    assert result.returncode == 1
    assert result.stderr.decode().startswith(
        "hs: error: bad.csv: 1 of 3 image files are missing (first: '3' (gone.png))"
    )
    (tmp_path / "bad.csv").write_text("image_id,path\n1,a.png\n2,b.png\n")
    result = run_hs("manifest", "check", "-", "--decode", input=(tmp_path / "bad.csv").read_bytes())
    assert result.returncode == 1
    assert (
        result.stderr.decode().startswith("hs: error: <stdin>, line 3, column 'path': ")
        and "b.png: corrupt" in result.stderr.decode()
    )
    assert result.stderr.count(b"\n") == 1


def test_help_stays_light():
    code = (
        "import sys, hstool.cli.app; heavy = {'numpy', 'polars', 'PIL', 'pydicom', 'torch', 'scipy'} & set(sys.modules);"
        "print(sorted(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "[]", out.stderr
