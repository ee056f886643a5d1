"""Money and badge helpers for the operator's pages, in the operator's locale."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils import formats

register = template.Library()

# Lifecycle states and the badge colour the card gives them.
LIFECYCLE_BADGES = {"lead": "accent", "active": "ok", "at_risk": "warn", "churned": "bad"}


@register.filter
def money(value: Decimal | int | float | None, currency: str = "") -> str:
    """`19 990,00 RUB` in Russian, `19,990.00 RUB` in English; empty for no value."""
    if value is None or value == "":
        return ""
    number = formats.number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)
    return f"{number}\u00a0{currency}" if currency else number


@register.filter
def lifecycle_badge(state: str) -> str:
    return LIFECYCLE_BADGES.get(state, "")


@register.filter
def term_badge(level: str) -> str:
    """The badge of a purchase term by how near its end is (see selectors.Term.level)."""
    return {"urgent": "bad", "soon": "warn", "ok": "ok"}.get(level, "")


@register.simple_tag
def query_offset(offset: Any) -> str:
    return f"?offset={int(offset)}"
