"""The card's "Merge duplicate" action: pick a likely duplicate and merge it into this customer."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from customers.card import card_sections
from customers.forms import MergeForm
from customers.merge import merge_customers
from customers.models import Customer
from customers.views import card_action, operator_required


@require_http_methods(["GET", "POST"])
@operator_required("customers.merge_customer")
def merge_duplicate(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Merge a likely duplicate into the card's customer; every section may change."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        other = Customer.objects.filter(pk=form.cleaned_data["other"]).first()
        if other is None:
            raise forms.ValidationError({"other": [_("That customer no longer exists.")]})
        return merge_customers(
            survivor=customer,
            other=other,
            actor=request.user,  # type: ignore[arg-type]
        )

    return card_action(
        request,
        customer_id,
        action_key="merge_duplicate",
        form_class=MergeForm,
        perform=perform,
        title=_("Merge duplicate"),
        success_message=_("Duplicate merged into this customer."),
        refreshes=tuple(section.key for section in card_sections()),
    )
