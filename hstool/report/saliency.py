"""Saliency in the report (`hs report --saliency DIR`, the folder `hs saliency` wrote): the
overlay beside each gallery thumbnail, and the mean map of each high- and low-error cluster.

Given a model.onnx instead of a folder, the report computes occlusion maps itself (hs saliency's
defaults) for the images it shows, in a temporary folder.

A cluster's mean map averages its members' maps after scaling each by its own largest absolute
value (so every image weighs the same, whatever its score), drawn over the mean of the same
members' images at the maps' geometry: where, on average, the model looks in that cluster.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from hstool.data.images import load_image
from hstool.data.preprocess import Preprocessing
from hstool.errors import HsError, InputError
from hstool.io.table_format import TableFormat
from hstool.report.markup import Raw, el
from hstool.report.thumbs import thumbnail
from hstool.saliency.index import SaliencyIndex
from hstool.saliency.overlay import grey_of, normalised, overlay


@dataclass(frozen=True)
class ClusterMean:
    method: str
    uri: str
    n_maps: int
    n_members: int


@dataclass(frozen=True)
class SaliencyMaps:
    index: SaliencyIndex
    scratch: tempfile.TemporaryDirectory[str] | None = None  # maps computed for this report only

    def close(self) -> None:
        if self.scratch is not None:
            self.scratch.cleanup()

    def overlays(self) -> dict[str, list[tuple[str, Path]]]:
        """image_id -> [(method, overlay PNG)], methods in index order."""
        out: dict[str, list[tuple[str, Path]]] = {}
        for method in self.index.methods:
            for image_id, path in self.index.files(method, "overlay").items():
                out.setdefault(image_id, []).append((method, path))
        return out

    def cluster_means(self, ids: list[str], images: dict[str, tuple[str, Path]], size: int) -> list[ClusterMean]:
        """One mean map per method over the members `ids` that have a map."""
        means = []
        # Methods whose maps cover the same members at the same size share one mean image
        # (occlusion and Grad-CAM usually do): each member is decoded once, not once per method.
        greys: dict[tuple[tuple[str, ...], tuple[int, ...]], np.ndarray] = {}
        for method in self.index.methods:
            files = self.index.files(method, "map")
            maps = [self.index.load_map(files[i]) for i in ids if i in files]
            if not maps:
                continue
            shape = maps[0].shape
            if any(m.shape != shape for m in maps):
                raise InputError(
                    f"{self.index.source.name}: the {method} maps differ in shape; rerun hs saliency with one model"
                )
            heat = np.mean([normalised(m) for m in maps], axis=0)
            members = tuple(i for i in ids if i in files and i in images)
            if (members, shape) not in greys:
                greys[members, shape] = _mean_image([images[i][1] for i in members], shape)
            grey = greys[members, shape]
            thumb = thumbnail(overlay(grey, heat).astype(np.float32) / 255.0, size)
            means.append(ClusterMean(method, thumb.uri or "", len(maps), len(ids)))
        return means


def computed_maps(
    model: str, manifest: str, root: str | None, ids: list[str], id_col: str, fmt: TableFormat
) -> SaliencyMaps:
    """Occlusion maps (hs saliency's defaults) for `ids`, in a temporary folder that lives as
    long as the report is being built. The manifest is read with `id_col` and `fmt`; the ids
    file written here follows them (hs saliency reads both tables alike)."""
    from hstool.saliency.index import read_index
    from hstool.saliency.run import SaliencyOptions, run_saliency

    scratch = tempfile.TemporaryDirectory(prefix="hs-report-saliency-")
    folder = Path(scratch.name)
    pl.DataFrame({id_col: ids}).write_csv(folder / "ids.csv", separator=fmt.delimiter or ",")
    options = SaliencyOptions(ids=str(folder / "ids.csv"), root=root, id_col=id_col, table_format=fmt)
    try:
        run_saliency(model, manifest, str(folder / "maps"), options)
    except BaseException:
        scratch.cleanup()
        raise
    return SaliencyMaps(read_index(str(folder / "maps")), scratch)


def _mean_image(paths: list[Path], shape: tuple[int, ...]) -> np.ndarray:
    """The mean grey image at the maps' geometry; mid-grey when no image can be read."""
    fit = Preprocessing(size=(int(shape[0]), int(shape[1])), channels=1)
    greys = []
    for path in paths:
        try:
            greys.append(grey_of(fit.apply(load_image(path))))
        except HsError:  # an unreadable image is left out of the mean (its thumbnail says why)
            continue
    return np.mean(greys, axis=0) if greys else np.full(shape, 0.5)


def mean_figures(means: list[ClusterMean], size: int) -> list[Raw]:
    """A figure per method: the mean overlay and what it averages."""
    return [
        el(
            "figure",
            el("img", src=m.uri, width=size, height=size, alt=f"mean {m.method} saliency", cls="thumb"),
            el(
                "figcaption",
                el("span", f"mean {m.method} saliency"),
                el("span", f"{m.n_maps} of {m.n_members} members"),
            ),
        )
        for m in means
    ]
