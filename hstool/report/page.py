"""The HTML page: one self-contained file with inline CSS, no script and no external URL, that
reads on screen and prints cleanly."""

from __future__ import annotations

from collections.abc import Sequence

from hstool import __version__
from hstool.report.markup import Raw, el, join
from hstool.report.sections import Section

CSS = """
:root { --ink: #1a1a1a; --muted: #5f6368; --line: #d0d4d9; --flag: #c00000; --flagbg: #fdecec; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1180px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; border-bottom: 2px solid var(--ink); padding-bottom: 3px; margin-top: 36px; }
h3 { font-size: 15px; margin: 22px 0 6px; }
h4 { font-size: 13px; margin: 12px 0 4px; font-weight: 600; }
nav { font-size: 13px; margin: 6px 0 18px; }
nav a { margin-right: 14px; color: #0b57d0; text-decoration: none; }
.muted { color: var(--muted); font-weight: normal; }
.empty { color: var(--muted); font-style: italic; border: 1px dashed var(--line); padding: 10px 12px; }
.flagged { color: var(--flag); }
tr.flagged td { background: var(--flagbg); color: var(--flag); }
ul.flags li { color: var(--flag); }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 12.5px; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 11px; word-break: break-all; }
.figure { overflow-x: auto; margin: 6px 0; }
svg.plot { font-family: inherit; max-width: 100%; height: auto; }
svg.plot text { fill: #222; }
svg.defs { position: absolute; width: 0; height: 0; overflow: hidden; }
.thumbs { display: flex; flex-wrap: wrap; gap: 8px; }
figure { margin: 0; width: THUMBpx; font-size: 10.5px; line-height: 1.25; break-inside: avoid; }
svg.thumb { display: block; background: #000; image-rendering: auto; }
figure.text { border: 1px solid var(--line); padding: 3px 5px; }
figure.maps { width: auto; max-width: calc(3 * THUMBpx + 6px); }
.pair { display: flex; gap: 3px; }
figcaption span { display: block; overflow-wrap: anywhere; }
figcaption .why { color: var(--flag); }
.gallery { break-inside: auto; }
@media print {
  nav { display: none; }
  body { max-width: none; padding: 0; font-size: 11px; }
  h2 { break-after: avoid; }
  h3, h4 { break-after: avoid; }
  table, .figure, figure, svg { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


def page(title: str, sections: Sequence[Section], defs: Raw, thumb_size: int) -> str:
    nav = el("nav", *[el("a", s.title, href=f"#{s.anchor}") for s in sections])
    head = join(
        [
            Raw('<meta charset="utf-8">'),
            Raw('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            # Nothing in this page may load from anywhere: no scripts, no connections, images from data: only.
            Raw(
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            ),
            Raw(f'<meta name="generator" content="hs {__version__}">'),
            el("title", title),
            el("style", Raw(CSS.replace("THUMB", str(thumb_size)))),
        ]
    )
    body = join(
        [defs, el("h1", title), el("p", f"hs {__version__} report", cls="muted"), nav, *[s.html() for s in sections]]
    )
    return "<!DOCTYPE html>\n" + el("html", el("head", head), el("body", body), lang="en") + "\n"
