"""`markup(template, *args)`: Django's `format_html`, without its per-argument overhead.

`format_html` passes each argument through `conditional_escape`, whose `escape` is wrapped by
`keep_lazy` (a scan of the arguments for lazy strings on every call), then `mark_safe`
(another such wrapper). The card's rows (issue 18) call it a dozen times per row: a third of
a row's time. Here an argument with `__html__` (a SafeString, a form's widget) gives its own
markup and anything else is `html.escape(str(value))`, which is what Django's `escape` does;
a lazy string is translated first, as `conditional_escape` does. Same output, compared with
`format_html` on generated text in tests/core/test_markup.py.
"""

from __future__ import annotations

import html
from typing import Any

from django.utils.functional import Promise
from django.utils.safestring import SafeString


def escaped(value: Any) -> str:
    """`conditional_escape(value)`: its own markup if it has any, else escaped text."""
    if isinstance(value, Promise):
        value = str(value)
    markup_of = getattr(value, "__html__", None)
    if markup_of is not None:
        return str(markup_of())
    return html.escape(str(value))


def markup(template: str, *args: Any) -> SafeString:
    """`format_html(template, *args)` (positional arguments, as the rows use it)."""
    return SafeString(template.format(*map(escaped, args)))


def joined(pieces: Any) -> SafeString:
    """Pieces of markup (each a SafeString from `markup`) as one."""
    return SafeString("".join(pieces))
