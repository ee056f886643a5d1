"""`markup` escapes as Django's `format_html` does."""

from __future__ import annotations

from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st

from core.markup import escaped, joined, markup

values = st.one_of(
    st.text(),
    st.text().map(mark_safe),
    st.integers(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.none(),
    st.sampled_from(["<script>", "a & b", "\"quoted\" 'single'", "x > y"]),
)


@given(first=values, second=values)
def test_markup_is_format_html(first: Any, second: Any) -> None:
    template = '<span title="{}">{}</span>'
    assert markup(template, first, second) == format_html(template, first, second)
    assert isinstance(markup(template, first, second), SafeString)


def test_markup_keeps_safe_pieces_and_translates_lazy_ones() -> None:
    inner = markup("<b>{}</b>", "<i>")
    assert markup("<p>{}</p>", inner) == "<p><b>&lt;i&gt;</b></p>"
    assert escaped(gettext_lazy("Phone")) == "Phone"
    assert joined([inner, markup("{}", "&")]) == "<b>&lt;i&gt;</b>&amp;"
    assert isinstance(joined([]), SafeString)
