"""`hs report --saliency`: overlays beside gallery thumbnails, a mean map per high/low-error
cluster, no script, and the folder's bad inputs."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import polars as pl
import pytest
from onnx_models import write_manifest, write_pngs
from PIL import Image
from report_study import write_study

from hstool.errors import InputError, UsageError
from hstool.report.build import ReportInputs, build_report
from hstool.report.context import ReportOptions
from hstool.saliency.index import INDEX_NAME, index_table, write_maps

N = 120


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The report study with 16 x 16 images, and occlusion maps for the even-numbered images:
    hot in the top-left corner for the high-error cluster's members, bottom-right otherwise."""
    folder = tmp_path_factory.mktemp("saliency_report")
    files = write_study(folder, n=N)
    ids = pl.read_csv(files["preds"])["image_id"].to_list()
    paths = write_pngs(folder, np.full((N, 16, 16), 100, dtype=np.uint8))
    write_manifest(folder, ids, paths)
    clusters = pl.read_csv(files["clusters"])
    high = set(clusters.filter(pl.col("role") == "high_error")["image_id"].to_list())
    mapped = ids[::2]
    maps = np.zeros((len(mapped), 16, 16), np.float32)
    for k, image_id in enumerate(mapped):
        if image_id in high:
            maps[k, :4, :4] = 1.0 + k  # scaled differently per image: the mean normalises each
        else:
            maps[k, -4:, -4:] = 0.5
    greys = np.full((len(mapped), 16, 16), 100 / 255)
    (folder / "maps").mkdir()
    rows = write_maps(folder / "maps", "occlusion", mapped, greys, maps, ["1"] * len(mapped), np.zeros(len(mapped)))
    (folder / "maps" / INDEX_NAME).write_text(index_table(rows).write_csv())
    inputs = ReportInputs(
        preds=str(files["preds"]),
        labels=str(files["labels"]),
        clusters=str(files["clusters"]),
        manifest=str(folder / "manifest.csv"),
        saliency=str(folder / "maps"),
    )
    report = build_report(inputs, ReportOptions(gallery_size=1000, montage_size=1000, workers=1))
    low = set(clusters.filter(pl.col("role") == "low_error")["image_id"].to_list())
    return folder, report, set(mapped), (high, low)


def decode(uri: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as im:
        return np.asarray(im.convert("RGB"), dtype=int)


def test_overlays_sit_beside_the_thumbnails_of_images_with_a_map(study):
    _, report, mapped, _ = study
    html = report.html
    assert "<script" not in html and not re.search(r'\s(?:src|href)="(?!#|data:)', html)
    figures = re.findall(r"<figure[^>]*>.*?</figure>", html.split('<section id="errors">')[1], re.S)
    assert figures
    for figure in figures:
        image_id = re.search(r'aria-label="image ([^"]+)"', figure).group(1)
        has_overlay = re.search(r'href="#o\d+-occlusion"', figure) is not None
        assert has_overlay == (image_id in mapped), image_id
        assert ('class="maps"' in figure) == has_overlay
    for slot in set(re.findall(r'href="#(o\d+-occlusion)"', html)):
        assert f'id="{slot}"' in html  # every overlay used is defined once


def test_each_marked_cluster_gets_its_mean_map(study):
    _, report, mapped, roles = study
    clusters = report.html.split('<section id="clusters">')[1].split("</section>")[0]
    means = re.findall(r'<img src="(data:image/png;base64,[^"]+)"[^>]*alt="mean occlusion saliency"', clusters)
    captions = re.findall(r"<span>(\d+) of (\d+) members</span>", clusters)
    assert len(means) == 2 and len(captions) == 2
    assert [(int(a), int(b)) for a, b in captions] == [(len(members & mapped), len(members)) for members in roles]
    # Section order: high-error cluster first (c0, no drain: hot top-left), then low-error (bottom-right).
    high, low = (decode(uri) for uri in means)
    for picture, hot, cold in ((high, (1, 1), (14, 14)), (low, (14, 14), (1, 1))):
        r, g, b = picture[hot]
        assert r > g + 100 and r > b + 100  # red where the mean map peaks
        assert len(set(picture[cold])) == 1  # grey where it is zero


def test_bad_saliency_inputs(study, tmp_path):
    folder, *_ = study
    base = {"preds": str(folder / "preds.csv"), "labels": str(folder / "labels.csv")}
    with pytest.raises(UsageError, match="pass the manifest too"):
        build_report(ReportInputs(**base, saliency=str(folder / "maps")), ReportOptions())
    with_manifest = {**base, "manifest": str(folder / "manifest.csv")}
    with pytest.raises(InputError, match="no index.csv there"):
        build_report(ReportInputs(**with_manifest, saliency=str(tmp_path)), ReportOptions())
    bad = pl.read_csv(folder / "maps" / INDEX_NAME).with_columns(pl.lit("lime").alias("method"))
    bad.write_csv(tmp_path / INDEX_NAME)
    with pytest.raises(InputError, match="unknown method 'lime'"):
        build_report(ReportInputs(**with_manifest, saliency=str(tmp_path)), ReportOptions())


def test_given_a_model_the_report_computes_occlusion_for_the_images_it_shows(study, tmp_path):
    import tempfile
    from pathlib import Path

    from onnx_models import TinyModel

    folder, *_ = study
    TinyModel(["0", "1"], size=(16, 16)).save(tmp_path / "model.onnx")
    before = set(Path(tempfile.gettempdir()).glob("hs-report-saliency-*"))
    inputs = ReportInputs(
        preds=str(folder / "preds.csv"),
        labels=str(folder / "labels.csv"),
        manifest=str(folder / "manifest.csv"),
        saliency=str(tmp_path / "model.onnx"),
    )
    report = build_report(inputs, ReportOptions(gallery_size=3, workers=1))
    shown = set(re.findall(r'aria-label="image ([^"]+)"', report.html))
    with_maps = set(re.findall(r'aria-label="occlusion saliency of ([^"]+)"', report.html))
    assert shown and with_maps == shown  # every image shown has its overlay, computed here
    assert set(Path(tempfile.gettempdir()).glob("hs-report-saliency-*")) == before  # scratch removed
    assert any(f["role"] == "saliency model" for f in report.meta["inputs"])


def test_computed_maps_read_the_manifest_with_the_report_s_table_options(study, tmp_path):
    """`--saliency model.onnx` with `--id-col case` and `;` files: the maps are computed too."""
    from onnx_models import TinyModel

    from hstool.audit.options import StratifyOptions
    from hstool.io.table_format import ColumnMap, TableFormat

    folder, *_ = study
    TinyModel(["0", "1"], size=(16, 16)).save(tmp_path / "model.onnx")
    # The manifest stays beside the images (paths must not leave its folder).
    theirs = {"preds.csv": tmp_path, "labels.csv": tmp_path, "manifest.csv": folder}
    for name, where in theirs.items():
        table = pl.read_csv(folder / name, infer_schema=False).rename({"image_id": "case"})
        table.write_csv(where / f"theirs_{name}", separator=";")
    inputs = ReportInputs(
        preds=str(tmp_path / "theirs_preds.csv"),
        labels=str(tmp_path / "theirs_labels.csv"),
        manifest=str(folder / "theirs_manifest.csv"),
        saliency=str(tmp_path / "model.onnx"),
    )
    stratify = StratifyOptions(columns=ColumnMap(id="case"), table_format=TableFormat(delimiter=";"))
    report = build_report(inputs, ReportOptions(gallery_size=3, workers=1, stratify=stratify))
    shown = set(re.findall(r'aria-label="image ([^"]+)"', report.html))
    with_maps = set(re.findall(r'aria-label="occlusion saliency of ([^"]+)"', report.html))
    assert shown and with_maps == shown
