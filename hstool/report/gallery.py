"""Galleries of thumbnails: which images each gallery shows, a cap on distinct thumbnails, and
the markup. Every distinct image is embedded once (an SVG symbol holding a data URI) and
each gallery refers to it with <use>, so an error shown under three stratifiers and its
cluster costs one thumbnail, and the file size is bounded by --max-thumbnails."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hstool.report.markup import Raw, el, join, num
from hstool.report.thumbs import Thumb, render_thumbnails


@dataclass(frozen=True)
class Item:
    image_id: str
    caption: tuple[str, ...]  # lines under the thumbnail: id, label, score/outcome


@dataclass
class Gallery:
    title: str
    items: list[Item]
    total: int  # cases the gallery stands for (it shows a sample of them)
    omitted: int = 0  # sampled but dropped because --max-thumbnails was reached


@dataclass
class ThumbTable:
    """Distinct images across all galleries, in first-use order, at most `cap` of them."""

    cap: int
    size: int
    slots: dict[str, int] = field(default_factory=dict)
    thumbs: list[Thumb] = field(default_factory=list)
    shown_paths: dict[str, str] = field(default_factory=dict)
    capped: bool = False
    with_images: bool = False  # a manifest was given: draw thumbnails, not captions alone
    overlays: dict[str, list[tuple[str, Path]]] = field(default_factory=dict)  # image_id -> [(method, PNG)]
    overlay_thumbs: dict[tuple[int, str], Thumb] = field(default_factory=dict)  # (slot, method) -> overlay

    def admit(self, galleries: list[Gallery]) -> None:
        """Give each gallery item a slot; items beyond the cap are dropped (and counted)."""
        for gallery in galleries:
            kept = []
            for item in gallery.items:
                if item.image_id not in self.slots and len(self.slots) < self.cap:
                    self.slots[item.image_id] = len(self.slots)
                if item.image_id in self.slots:
                    kept.append(item)
                else:
                    gallery.omitted += 1
                    self.capped = True
            gallery.items = kept

    def render(self, paths: dict[str, tuple[str, Path]], workers: int | None) -> None:
        ids = list(self.slots)
        self.with_images = bool(paths)
        self.shown_paths = {i: paths[i][0] for i in ids if i in paths}
        self.thumbs = render_thumbnails([paths[i][1] if i in paths else None for i in ids], self.size, workers)
        keys = [(self.slots[i], method, png) for i in ids for method, png in self.overlays.get(i, [])]
        rendered = render_thumbnails([png for _, _, png in keys], self.size, workers)
        self.overlay_thumbs = {(slot, method): t for (slot, method, _), t in zip(keys, rendered)}

    def defs(self) -> Raw:
        """One hidden SVG holding every thumbnail as a symbol (placeholders included)."""
        symbols = []
        if not self.with_images:
            return Raw("")
        pictures = [(f"t{slot}", self.thumbs[slot]) for slot in self.slots.values()]
        pictures += [(f"o{slot}-{method}", thumb) for (slot, method), thumb in self.overlay_thumbs.items()]
        for name, thumb in pictures:
            if thumb.uri:
                w, h = thumb.width, thumb.height
                body = el("image", href=thumb.uri, width=w, height=h, preserveAspectRatio="xMidYMid meet")
            else:
                w = h = self.size
                body = join(
                    [
                        el("rect", width=w, height=h, fill="#eeeeee", stroke="#bbbbbb"),
                        el(
                            "text",
                            "image unavailable",
                            x=num(w / 2),
                            y=num(h / 2),
                            text_anchor="middle",
                            font_size=11,
                            fill="#666666",
                        ),
                    ]
                )
            symbols.append(el("symbol", body, id=name, viewBox=f"0 0 {w} {h}", preserveAspectRatio="xMidYMid meet"))
        return el(
            "svg", *symbols, xmlns="http://www.w3.org/2000/svg", width="0", height="0", cls="defs", aria_hidden="true"
        )

    def figure(self, item: Item) -> Raw:
        lines = [el("span", line) for line in item.caption]
        if not self.with_images:  # no manifest: captions only (the section says why)
            return el("figure", el("figcaption", *lines), cls="text")
        slot = self.slots[item.image_id]
        thumb = self.thumbs[slot]
        tip = self.shown_paths.get(item.image_id, item.image_id)
        picture = self._picture(f"t{slot}", tip, f"image {item.image_id}")
        if thumb.reason:
            lines.append(el("span", thumb.reason, cls="why"))
        maps = [m for m, _ in self.overlays.get(item.image_id, []) if (slot, m) in self.overlay_thumbs]
        if not maps:
            return el("figure", picture, el("figcaption", *lines))
        # The overlays sit beside the image, same size, so the eye can move between them.
        overlays = [self._picture(f"o{slot}-{m}", f"{m} saliency", f"{m} saliency of {item.image_id}") for m in maps]
        lines.append(el("span", "beside: " + ", ".join(maps) + " saliency", cls="muted"))
        return el("figure", el("div", picture, *overlays, cls="pair"), el("figcaption", *lines), cls="maps")

    def _picture(self, symbol: str, tip: str, label: str) -> Raw:
        s = self.size
        return el(
            "svg",
            el("title", tip),
            el("use", href=f"#{symbol}", width=s, height=s),
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {s} {s}",
            width=s,
            height=s,
            role="img",
            aria_label=label,
            cls="thumb",
        )

    def gallery(self, gallery: Gallery) -> Raw:
        shown = len(gallery.items)
        if gallery.total == 0:
            return el("div", el("h4", gallery.title, " ", el("span", "(none)", cls="muted")), cls="gallery")
        note = (
            f"{shown} of {gallery.total} shown (a seeded random sample)"
            if shown < gallery.total
            else f"all {gallery.total} shown"
        )
        if gallery.omitted:
            note += f"; {gallery.omitted} more sampled but left out: the report reached --max-thumbnails {self.cap}"
        body = el("div", *[self.figure(i) for i in gallery.items], cls="thumbs")
        return el("div", el("h4", gallery.title, " ", el("span", f"({note})", cls="muted")), body, cls="gallery")


def caption(row: Mapping[str, Any]) -> tuple[str, ...]:
    """Caption lines from a cases or clusters row: image_id, label, and score/pred and outcome
    when known."""
    lines = [str(row["image_id"]), f"label {row['label']}"]
    if row.get("score") is not None:
        lines.append(f"score {row['score']:.3f}" + (f" · {row['__outcome']}" if row.get("__outcome") else ""))
    elif row.get("pred") is not None:
        lines.append(f"pred {row['pred']}")
    return tuple(lines)
