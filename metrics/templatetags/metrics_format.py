"""Template filters that print a figure with its interval the same way everywhere."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.conf import settings
from django.utils.formats import number_format

from metrics.stats import Estimate

register = template.Library()

# One decimal reads well for percentages, scores, hours and minutes alike.
DECIMALS = 1


@register.filter
def figure(value: float | None) -> str:
    """A number with one decimal in the active locale; an em dash for no data."""
    if value is None:
        return "—"
    # number_format cuts a float's digits (3/7 = 42.857... printed 42.8): round half up first.
    return _grouped(value, DECIMALS)


def _grouped(value: float | Decimal, decimals: int) -> str:
    """Rounded half up (number_format alone cuts a float's digits: 3/7 = 42.857... printed
    42.8) and grouped in the active locale (1,234.5 / 1 234,5)."""
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    return number_format(rounded, decimals, use_l10n=True, force_grouping=True)


# Money on the dashboard: whole kopecks, with the currency after the grouped number.
MONEY_DECIMALS = 2


@register.filter
def amount(value: float | Decimal | None, currency: str) -> str:
    """Money in the active locale with its currency (19,990.00 RUB / 19 990,00 RUB)."""
    if value is None:
        return "—"
    return f"{_grouped(value, MONEY_DECIMALS)}\u00a0{currency}"


@register.filter
def kpi_figure(value: float | None, kpi: Any) -> str:
    """A tile's figure: money with its currency for CLV tiles, a plain figure otherwise."""
    if kpi.definition.unit == "currency":
        return amount(value, settings.DEFAULT_CURRENCY)
    return figure(value)


@register.filter
def interval(estimate: Estimate) -> str:
    if estimate.ci_low is None or estimate.ci_high is None:
        return ""
    return f"{figure(estimate.ci_low)} – {figure(estimate.ci_high)}"  # noqa: RUF001 - a range


@register.filter
def kpi_interval(estimate: Estimate, kpi: Any) -> str:
    """The tile's interval, in money for CLV tiles."""
    if estimate.ci_low is None or estimate.ci_high is None:
        return ""
    if kpi.definition.unit == "currency":
        currency = settings.DEFAULT_CURRENCY
        return f"{amount(estimate.ci_low, currency)} – {amount(estimate.ci_high, currency)}"  # noqa: RUF001
    return interval(estimate)


@register.filter
def lookup(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key)


@register.filter
def p_value(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else number_format(value, 3, use_l10n=True)
