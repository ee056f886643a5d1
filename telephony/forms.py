"""The caller log's form: which customer called from an unknown number."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class LinkCallForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.all(),
        widget=forms.NumberInput(attrs={"min": 1, "class": "narrow"}),
        label=_("Customer number"),
        error_messages={"invalid_choice": _("No customer has this number.")},
    )
