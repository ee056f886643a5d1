"""Template filters that print a figure with its interval the same way everywhere."""

from __future__ import annotations

from typing import Any

from django import template
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
    return number_format(value, DECIMALS, use_l10n=True)


@register.filter
def interval(estimate: Estimate) -> str:
    if estimate.ci_low is None or estimate.ci_high is None:
        return ""
    return f"{figure(estimate.ci_low)} – {figure(estimate.ci_high)}"  # noqa: RUF001 - a range


@register.filter
def lookup(mapping: dict[str, Any], key: str) -> Any:
    return mapping.get(key)


@register.filter
def p_value(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else number_format(value, 3, use_l10n=True)
