"""The one form that parses a metrics query string (`from`, `to` and the slices) into
`MetricFilters`: the dashboard, its CSV export and the API all use it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from customers.models import Channel, Customer, ProductCategory
from metrics.periods import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    MetricFilters,
    Period,
    default_period,
)

PERSONALIZED_CHOICES = [
    ("", _("All")),
    ("true", _("Personalised")),
    ("false", _("Not personalised")),
]


class MetricFilterForm(forms.Form):
    """`from`, `to` (YYYY-MM-DD), channel, operator, category, segment, personalized."""

    from_ = forms.DateField(label=_("From"), required=False, input_formats=["%Y-%m-%d"])
    to = forms.DateField(label=_("To"), required=False, input_formats=["%Y-%m-%d"])
    channel = forms.ChoiceField(
        label=_("Channel"), required=False, choices=[("", _("All")), *Channel.choices]
    )
    operator = forms.ModelChoiceField(
        label=_("Operator"),
        required=False,
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        empty_label=_("All"),
    )
    category = forms.ModelChoiceField(
        label=_("Product category"),
        required=False,
        queryset=ProductCategory.objects.order_by("name"),
        empty_label=_("All"),
    )
    segment = forms.ChoiceField(
        label=_("Segment"), required=False, choices=[("", _("All")), *Customer.Segment.choices]
    )
    personalized = forms.ChoiceField(
        label=_("Personalised"), required=False, choices=PERSONALIZED_CHOICES
    )

    def __init__(self, data: Any = None, *args: Any, **kwargs: Any) -> None:
        # "from" is a Python keyword: the field is from_ and reads the "from" parameter.
        if data is not None:
            data = data.copy()
            if "from" in data:
                data["from_"] = data.get("from")
        super().__init__(data, *args, **kwargs)
        self.fields["from_"].widget = forms.DateInput(attrs={"type": "date"})
        self.fields["to"].widget = forms.DateInput(attrs={"type": "date"})

    def add_prefix(self, field_name: str) -> str:
        # Render the field as name="from" so that the form's GET query matches the API's.
        return "from" if field_name == "from_" else super().add_prefix(field_name)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("from_"), cleaned.get("to")
        if "from_" in self.errors or "to" in self.errors:
            return cleaned
        if start is None and end is None:
            period = default_period()
        elif start is None:
            assert end is not None
            period = Period(start=end - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1), end=end)
        elif end is None:
            period = Period(start=start, end=start + dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1))
        else:
            period = Period(start=start, end=end)
        if period.end < period.start:
            self.add_error("to", _("The end date cannot be before the start date."))
        elif period.days > MAX_PERIOD_DAYS:
            self.add_error(
                "to",
                _("The period cannot be longer than %(days)s days.") % {"days": MAX_PERIOD_DAYS},
            )
        cleaned["period"] = period
        return cleaned

    def api_errors(self) -> dict[str, list[str]]:
        """Errors keyed by the query parameter names (from, not from_)."""
        return {
            ("from" if key == "from_" else key): [str(message) for message in messages]
            for key, messages in self.errors.items()
        }

    def filters(self) -> MetricFilters:
        """The parsed filters; call after is_valid()."""
        data = self.cleaned_data
        personalized = {"true": True, "false": False}.get(data.get("personalized") or "")
        operator = data.get("operator")
        category = data.get("category")
        return MetricFilters(
            period=data["period"],
            channel=data.get("channel") or "",
            operator_id=operator.pk if operator else None,
            category_id=category.pk if category else None,
            segment=data.get("segment") or "",
            personalized=personalized,
        )
