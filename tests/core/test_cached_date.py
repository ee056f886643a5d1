"""`cached_date` prints what Django's `date` filter prints, for any value, format and language."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.template import Context, Template
from django.utils import timezone, translation
from hypothesis import given, settings
from hypothesis import strategies as st

from core.cached_date import cached_date, compiled

NAMED = ("SHORT_DATETIME_FORMAT", "SHORT_DATE_FORMAT", "DATETIME_FORMAT", "DATE_FORMAT")
# Literal formats with every specifier the module reads, escapes, and ones it leaves to Django.
LITERAL = ("d.m.Y H:i", "j n y G:i:s", "g:i a A", "h f P", r"\Y\e\s: Y", "D, d M Y", "N j, Y P")
ZONES = ("Europe/Moscow", "Asia/Vladivostok", "America/New_York", "UTC")

moments = st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=dt.UTC)
)
# The hours the 12-hour words are about: midnight, noon, on the hour and not.
round_moments = st.builds(
    lambda day, hour, minute: dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC),
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)),
    st.sampled_from([0, 1, 11, 12, 13, 23]),
    st.sampled_from([0, 5, 30]),
)


def both(value: object, format_name: str) -> tuple[str, str]:
    """What `date` and `cached_date` render in a template (localtime, escaping and all)."""
    context = Context({"value": value, "format": format_name})
    django = Template("{{ value|date:format }}").render(context)
    ours = Template("{% load cached_date %}{{ value|cached_date:format }}").render(context)
    return django, ours


@settings(max_examples=150, deadline=None)
@given(
    value=st.one_of(moments, round_moments),
    format_name=st.sampled_from(NAMED + LITERAL),
    language=st.sampled_from(["en", "ru"]),
    zone=st.sampled_from(ZONES),
)
def test_a_datetime_prints_as_djangos_date_filter_prints_it(
    value: dt.datetime, format_name: str, language: str, zone: str
) -> None:
    with translation.override(language), timezone.override(zoneinfo.ZoneInfo(zone)):
        django, ours = both(value, format_name)
    assert ours == django


@settings(max_examples=60, deadline=None)
@given(
    value=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)),
    format_name=st.sampled_from(("SHORT_DATE_FORMAT", "DATE_FORMAT", r"\Y\e\s: Y", "D, d M Y")),
    language=st.sampled_from(["en", "ru"]),
)
def test_a_date_prints_as_djangos_date_filter_prints_it(
    value: dt.date, format_name: str, language: str
) -> None:
    with translation.override(language):
        django, ours = both(value, format_name)
    assert ours == django


def test_a_time_format_on_a_date_is_refused_as_django_refuses_it() -> None:
    for render in ("date", "cached_date"):
        template = Template(f"{{% load cached_date %}}{{{{ value|{render}:'d.m.Y H:i' }}}}")
        with pytest.raises(TypeError, match="time-related format specifiers"):
            template.render(Context({"value": dt.date(2026, 3, 5)}))


def test_what_is_not_a_date_is_djangos_to_print() -> None:
    assert both(None, "SHORT_DATE_FORMAT") == ("", "")
    assert both("not a date", "SHORT_DATE_FORMAT") == ("", "")
    assert cached_date("", "SHORT_DATE_FORMAT") == ""


def test_the_russian_short_formats_are_read_without_django() -> None:
    """The card's two formats are compiled in both languages (no fallback per row)."""
    for language in ("en", "ru"):
        for name in ("SHORT_DATETIME_FORMAT", "SHORT_DATE_FORMAT"):
            assert compiled(name, language) is not None
    with translation.override("ru"):
        moment = dt.datetime(2026, 3, 5, 9, 7, tzinfo=dt.UTC)
        assert both(moment, "SHORT_DATETIME_FORMAT")[1] == "05.03.2026 12:07"
