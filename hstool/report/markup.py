"""Building HTML and SVG with every value escaped by construction.

`el("td", value)` escapes `value`; only `Raw` strings (markup built here) pass through. Values
from input files (ids, labels, group names, cluster ids) therefore can never become markup:
a label `<script>` renders as the text `<script>`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

_VOID = {"br", "hr", "img", "meta", "col", "input", "link"}


class Raw(str):
    """Markup that is already safe (built by `el` or written in this package)."""

    __slots__ = ()


def esc(value: Any) -> Raw:
    """Escape any value as text (quotes included, so it is also safe inside attributes)."""
    if isinstance(value, Raw):
        return value
    return Raw(html.escape("" if value is None else str(value), quote=True))


def _attr_name(name: str) -> str:
    # Python keywords and hyphens: cls -> class, aria_label -> aria-label, text_anchor -> text-anchor.
    return "class" if name == "cls" else name.rstrip("_").replace("_", "-")


def _attr_value(value: Any) -> str:
    if isinstance(value, float):
        return num(value)
    return html.escape(str(value), quote=True)


def el(tag: str, *children: Any, **attrs: Any) -> Raw:
    """An element; children are escaped unless `Raw`; None/False attributes are left out."""
    parts = [f"<{tag}"]
    for name, value in attrs.items():
        if value is None or value is False:
            continue
        if value is True:
            parts.append(f" {_attr_name(name)}")
        else:
            parts.append(f' {_attr_name(name)}="{_attr_value(value)}"')
    parts.append(">")
    if tag in _VOID:
        return Raw("".join(parts))
    parts.append(join(children))
    parts.append(f"</{tag}>")
    return Raw("".join(parts))


def join(children: Iterable[Any]) -> Raw:
    """Concatenate children (escaping those that are not `Raw`); lists are flattened."""
    out = []
    for child in children:
        if child is None:
            continue
        if isinstance(child, (list, tuple)):
            out.append(join(child))
        else:
            out.append(esc(child))
    return Raw("".join(out))


def num(value: float, digits: int = 2) -> str:
    """A coordinate for SVG: short, fixed precision, and identical across runs."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
