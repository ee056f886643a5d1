"""Admin actions that read every app: a customer's data export and erasure (privacy role).

They join the customers admin here because `customers` imports no other app; the permissions
they need are CustomerAdmin's `has_export_permission` / `has_erase_permission`.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import User
from crm.privacy import erase_customer, export_customer_data
from customers.models import Customer, DataExportRecord


@admin.action(description=_("Export personal data (JSON)"), permissions=["export"])
def export_personal_data(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Customer]
) -> HttpResponse:
    """Download the selected customers' exports, each recorded with the acting admin."""
    actor = request.user
    assert isinstance(actor, User)  # the admin lets only signed-in staff in
    exports = [
        export_customer_data(customer=customer, actor=actor, path=DataExportRecord.Path.ADMIN)
        for customer in queryset.order_by("pk")
    ]
    body = json.dumps(exports[0] if len(exports) == 1 else exports, cls=DjangoJSONEncoder)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    name = f"customer-data-{timezone.now():%Y%m%d-%H%M%S}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.action(description=_("Erase personal data (irreversible)"), permissions=["erase"])
def erase_personal_data(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Customer]
) -> None:
    """Anonymise the selected customers through the erasure service."""
    actor = request.user
    assert isinstance(actor, User)
    count = 0
    for customer in queryset.order_by("pk"):
        erase_customer(customer=customer, actor=actor)
        count += 1
    model_admin.message_user(
        request,
        ngettext(
            "Personal data of %(count)d customer erased.",
            "Personal data of %(count)d customers erased.",
            count,
        )
        % {"count": count},
        messages.SUCCESS,
    )


customer_admin = admin.site.get_model_admin(Customer)
customer_admin.actions = (
    *(customer_admin.actions or ()),
    export_personal_data,
    erase_personal_data,
)
