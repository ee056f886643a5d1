"""`{{ value|cached_date:"SHORT_DATETIME_FORMAT" }}`: Django's `date` filter, with each format
compiled once per language.

Django's `date` filter looks the format up, splits it with a regular expression, builds a
`DateFormat` and calls one method per specifier, the 12-hour ones through gettext ("p.m.",
"noon"): about 18 µs a date on the machines the benchmarks ran on, where the same text costs
5. The card prints a date on every ticket, purchase, reminder and timeline row (issue 18).
Here the format named (or given) is split once per language into its literal pieces and
specifiers, the words it needs are translated then, and the numeric specifiers are read off
the value directly; any other specifier, and any value that is not a date or datetime, is
left to Django's filter, so the output is the same (tests/core/test_cached_date.py compares
both on generated values in every language).

Load it with `{% load cached_date %}` (registered in settings.TEMPLATES' `libraries`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.defaultfilters import date as django_date
from django.utils import formats, translation
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.translation import get_language

register = template.Library()

# A specifier's reader: a date or datetime (in the time zone to show) to its text.
Piece = Callable[[Any], str]
# Specifiers that need a time (Django refuses them for a plain date).
TIME_SPECIFIERS = frozenset("aAfgGhHisP")


def _hour12(value: Any) -> int:
    return value.hour % 12 or 12


# The specifiers read off the value: numbers only, the same in every language.
NUMERIC: dict[str, Piece] = {
    "d": lambda v: f"{v.day:02d}",
    "j": lambda v: str(v.day),
    "m": lambda v: f"{v.month:02d}",
    "n": lambda v: str(v.month),
    "y": lambda v: f"{v.year % 100:02d}",
    "Y": lambda v: f"{v.year:04d}",
    "H": lambda v: f"{v.hour:02d}",
    "G": lambda v: str(v.hour),
    "i": lambda v: f"{v.minute:02d}",
    "s": lambda v: f"{v.second:02d}",
    "g": lambda v: str(_hour12(v)),
    "h": lambda v: f"{_hour12(v):02d}",
}


def _words() -> dict[str, Piece]:
    """The 12-hour specifiers, their words as Django's own formatter says them in the active
    language (its catalogue, not the project's)."""
    night, day = (
        DateFormat(dt.datetime(2000, 1, 1, 0, 0)),
        DateFormat(dt.datetime(2000, 1, 1, 12, 0)),
    )
    am, pm, big_am, big_pm = night.a(), day.a(), night.A(), day.A()
    midnight, noon = night.P(), day.P()

    def hours_minutes(v: Any) -> str:
        return f"{_hour12(v)}:{v.minute:02d}" if v.minute else str(_hour12(v))

    def twelve_hour(v: Any) -> str:
        if v.minute == 0 and v.hour in (0, 12):
            return midnight if v.hour == 0 else noon
        return f"{hours_minutes(v)} {pm if v.hour > 11 else am}"

    return {
        "a": lambda v: pm if v.hour > 11 else am,
        "A": lambda v: big_pm if v.hour > 11 else big_am,
        "f": hours_minutes,
        "P": twelve_hour,
    }


@functools.lru_cache(maxsize=256)
def compiled(format_name: str, language: str | None) -> tuple[tuple[str | Piece, ...], bool] | None:
    """The format's pieces (literal text or a function of the value) and whether it needs a
    time; None if a specifier is not one this module reads (Django's filter then formats)."""
    with translation.override(language):
        format_string = str(formats.get_format(format_name))
        words = _words()
    pieces: list[str | Piece] = []
    for index, piece in enumerate(re_formatchars.split(format_string)):
        if index % 2:
            reader = NUMERIC.get(piece) or words.get(piece)
            if reader is None:
                return None
            pieces.append(reader)
        elif piece:
            pieces.append(re_escaped.sub(r"\1", piece))
    return tuple(pieces), any(c in TIME_SPECIFIERS for c in re_formatchars.findall(format_string))


@receiver(setting_changed)
def _formats_changed(**kwargs: Any) -> None:
    """A test that overrides a format setting or the languages sees its own formats."""
    compiled.cache_clear()


@register.filter(expects_localtime=True, is_safe=False)
def cached_date(value: Any, format_name: str = "DATE_FORMAT") -> str:
    """`value|date:format_name`, faster (see the module)."""
    if not isinstance(value, dt.date):
        return django_date(value, format_name)
    found = compiled(format_name, get_language())
    if found is None:
        return django_date(value, format_name)
    pieces, needs_time = found
    if needs_time and not isinstance(value, dt.datetime):
        return django_date(value, format_name)
    return "".join(piece if isinstance(piece, str) else piece(value) for piece in pieces)
