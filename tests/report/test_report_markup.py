"""Escaping by construction: values become text, only markup built by `el` passes through."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hstool.report.markup import Raw, el, esc, join, num


def test_children_and_attributes_are_escaped():
    out = el("td", "<script>alert(1)</script>", title='x" onmouseover="y')
    assert out == '<td title="x&quot; onmouseover=&quot;y">&lt;script&gt;alert(1)&lt;/script&gt;</td>'


def test_raw_passes_through_and_nesting_is_not_double_escaped():
    inner = el("b", "a & b")
    assert el("p", inner) == "<p><b>a &amp; b</b></p>"
    assert join(["<", Raw("<br>"), None, ["x", ["&"]]]) == "&lt;<br>x&amp;"


def test_attribute_names_and_flags():
    assert el("svg", aria_label="l", cls="c", text_anchor="end", hidden=True, skipped=None, off=False) == (
        '<svg aria-label="l" class="c" text-anchor="end" hidden></svg>'
    )
    assert el("img", src="data:,") == '<img src="data:,">'


def test_num_is_short_and_stable():
    assert [num(0.0), num(-0.0001), num(1.5), num(2.0), num(1 / 3)] == ["0", "0", "1.5", "2", "0.33"]


@given(st.text())
def test_escaped_text_never_contains_markup_characters(text):
    out = esc(text)
    assert "<" not in out and ">" not in out and '"' not in out
    assert el("span", text).count("<") == 2
