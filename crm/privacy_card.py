"""The card's privacy actions, for the privacy role only: download the export, erase.

Registered from CrmConfig.ready() (they read every app, so they live with the project). Both
call crm.privacy's services, which record the export and log the erasure with the acting user.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import User
from crm.privacy import erase_customer, export_customer_data
from customers.card import CardAction, register_action
from customers.models import Customer, DataExportRecord
from customers.views import card_action, is_htmx, operator_required

EXPORT_PERMISSION = "customers.export_customer_data"
ERASE_PERMISSION = "customers.erase_customer_data"


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # operator_required let only signed-in staff through
    return user


@require_GET
@operator_required(EXPORT_PERMISSION)
def export_panel(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The action's panel: what the export holds, and the link that downloads it."""
    customer = get_object_or_404(Customer, pk=customer_id)
    template = "crm/privacy_export.html" if is_htmx(request) else "crm/privacy_export_page.html"
    return render(request, template, {"customer": customer})


@require_GET
@operator_required(EXPORT_PERMISSION)
def export_download(request: HttpRequest, customer_id: int) -> HttpResponse:
    """The customer's data as a JSON file; the export is recorded (path: card)."""
    customer = get_object_or_404(Customer, pk=customer_id)
    data = export_customer_data(
        customer=customer, actor=_actor(request), path=DataExportRecord.Path.CARD
    )
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}-data.json"'
    return response


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand: the name, contacts and texts of this customer are erased for good."
        )
    )

    def __init__(self, *args: Any, customer: Customer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


@require_http_methods(["GET", "POST"])
@operator_required(ERASE_PERMISSION)
def erase(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Right to erasure from the card, through crm.privacy.erase_customer."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        return erase_customer(customer=customer, actor=_actor(request))

    return card_action(
        request,
        customer_id,
        action_key="erase_data",
        form_class=EraseForm,
        perform=perform,
        title=_("Erase personal data"),
        success_message=_("Personal data erased."),
    )


app_name = "privacy_card"

urlpatterns = [
    path("<int:customer_id>/privacy/export/", export_panel, name="export"),
    path("<int:customer_id>/privacy/export/download/", export_download, name="download"),
    path("<int:customer_id>/privacy/erase/", erase, name="erase"),
]


def register() -> None:
    """Put the privacy actions on the card; only holders of the permissions see them."""
    register_action(
        CardAction(
            key="export_data",
            label=gettext_lazy("Export data"),
            position=90,
            url_name="privacy_card:export",
            permission=EXPORT_PERMISSION,
        )
    )
    register_action(
        CardAction(
            key="erase_data",
            label=gettext_lazy("Erase personal data"),
            position=95,
            url_name="privacy_card:erase",
            permission=ERASE_PERMISSION,
            refreshes=("identity", "contacts"),
        )
    )
