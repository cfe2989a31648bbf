"""read_manifest: columns, ids as text, path resolution and the root boundary, splits, labels."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from hstool.data.manifest import Manifest, read_manifest
from hstool.errors import InputError


@pytest.fixture
def root(tmp_path) -> Path:
    """tmp/data/{a.png, sub/b.png, c.png}: the files need not be images for these tests."""
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    for name in ("a.png", "sub/b.png", "c.png"):
        (data / name).write_bytes(b"x")
    return data


def write(folder: Path, text: str, name: str = "manifest.csv") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_reads_table_paths_and_provenance(root):
    text = "image_id,path,label,split,sex\n00012,a.png,1,train,F\n00013,sub/b.png,0,test,M\n"
    path = write(root, text)
    manifest = read_manifest(path)
    assert isinstance(manifest, Manifest)
    assert manifest.ids == ["00012", "00013"]
    assert manifest.paths == [root.resolve() / "a.png", root.resolve() / "sub" / "b.png"]
    assert all(p.is_absolute() for p in manifest.paths)
    assert manifest.root == root.resolve()
    assert manifest.labels == ["1", "0"] and manifest.classes == ["0", "1"]
    assert manifest.metadata_columns == ["sex"]
    assert manifest.source.sha256 == hashlib.sha256(text.encode()).hexdigest() and manifest.source.rows == 2
    manifest.check_files()
    test = manifest.where_split("test")
    assert test.ids == ["00013"] and test.paths == [root.resolve() / "sub" / "b.png"]


def test_paths_relative_to_root_option_and_absolute_inside(root, tmp_path):
    elsewhere = tmp_path / "lists"
    elsewhere.mkdir()
    path = write(elsewhere, f"image_id,path\n1,a.png\n2,{root / 'c.png'}\n")
    manifest = read_manifest(path, root=str(root))
    assert manifest.paths == [root.resolve() / "a.png", root.resolve() / "c.png"]
    with pytest.raises(InputError, match="^root .*nowhere: no such folder"):
        read_manifest(path, root=str(tmp_path / "nowhere"))


@pytest.mark.parametrize("bad", ["../secret.png", "sub/../../secret.png", "/etc/passwd"])
def test_paths_leaving_the_root_are_refused(root, bad):
    path = write(root, f"image_id,path\n1,a.png\n2,{bad}\n")
    with pytest.raises(InputError, match=r"manifest.csv, line 3, column 'path': .* resolves outside the root") as info:
        read_manifest(path)
    assert "\n" not in str(info.value)


def test_symlinks_are_resolved(root, tmp_path):
    (tmp_path / "secret.png").write_bytes(b"s")
    os.symlink(tmp_path / "secret.png", root / "link.png")
    os.symlink(tmp_path, root / "linkdir")
    os.symlink(root / "a.png", root / "inside.png")
    for bad in ("link.png", "linkdir/secret.png"):
        with pytest.raises(InputError, match="line 2, column 'path'.*resolves outside the root"):
            read_manifest(write(root, f"image_id,path\n1,{bad}\n"))
    manifest = read_manifest(write(root, "image_id,path\n1,inside.png\n"))
    assert manifest.paths == [root.resolve() / "a.png"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("image_id,path\n1,a.png\n1,c.png\n", r"line 3, column 'image_id': image_id '1' repeats line 2"),
        ("image_id,path\n1,a.png\n2,\n", r"line 3, column 'path': empty path"),
        ("image_id,file\n1,a.png\n", r"no column 'path'"),
        ("image_id,path,split\n1,a.png,train\n2,c.png,Test\n", r"line 3, column 'split': 'Test' is not a split"),
        ("image_id,path,split\n1,a.png,train\n2,c.png,\n", r"line 3, column 'split': empty value is not a split"),
    ],
)
def test_bad_manifests(root, text, message):
    with pytest.raises(InputError, match=message):
        read_manifest(write(root, text))


def test_require_label(root):
    no_label = write(root, "image_id,path\n1,a.png\n2,c.png\n", "n.csv")
    assert read_manifest(no_label).labels is None
    with pytest.raises(InputError, match="n.csv: the manifest has no 'label' column"):
        read_manifest(no_label, require_label=True)
    empty = write(root, "image_id,path,label\n1,a.png,cat\n2,c.png,\n", "e.csv")
    assert read_manifest(empty).labels == ["cat", None]  # allowed unless labels are required
    with pytest.raises(InputError, match=r"e.csv, line 3, column 'label': empty label \(1 rows\)"):
        read_manifest(empty, require_label=True)
    single = write(root, "image_id,path,label\n1,a.png,cat\n2,c.png,cat\n", "s.csv")
    with pytest.raises(InputError, match="every row has the class 'cat'; a classifier needs at least two"):
        read_manifest(single, require_label=True)
    numeric = write(root, "image_id,path,label\n1,a.png,10\n2,c.png,2\n3,sub/b.png,2\n", "k.csv")
    assert read_manifest(numeric, require_label=True).classes == ["2", "10"]


def test_check_files_reports_missing_in_one_line(root):
    rows = "".join(f"m{i},missing{i}.png\n" for i in range(5))
    manifest = read_manifest(write(root, "image_id,path\nok,a.png\n" + rows))
    assert manifest.missing_files() == [1, 2, 3, 4, 5]
    with pytest.raises(InputError) as info:
        manifest.check_files()
    message = str(info.value)
    assert "5 of 6 image files are missing" in message
    assert "'m0' (missing0.png), 'm1' (missing1.png), 'm2' (missing2.png), ..." in message
    assert "m3" not in message and "\n" not in message


def test_parquet_manifest(root):
    import polars as pl

    pl.DataFrame({"image_id": ["7"], "path": ["a.png"], "label": [1]}).write_parquet(root / "m.parquet")
    manifest = read_manifest(str(root / "m.parquet"))
    assert manifest.labels == ["1"] and manifest.paths == [root.resolve() / "a.png"]
