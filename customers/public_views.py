"""The unsubscribe page: a signed link from an email opts that address out, no login needed."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from customers.delivery.unsubscribe import contact_for_token, opt_out_contact


# The signed token is the credential; mail clients send RFC 8058 one-click POSTs without a
# CSRF token, so the view must accept them.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm (link scanners must not unsubscribe anyone); POST opts out."""
    contact = contact_for_token(token)
    if contact is None:
        return render(request, "customers/unsubscribe_invalid.html", status=400)
    with translation.override(contact.customer.language):
        if request.method == "POST":
            opt_out_contact(contact=contact)
            response = render(request, "customers/unsubscribe_done.html", {"contact": contact})
        else:
            response = render(
                request,
                "customers/unsubscribe.html",
                {"contact": contact, "already": contact.opted_out_at is not None},
            )
        response["Content-Language"] = contact.customer.language
        response["X-Robots-Tag"] = "noindex"
        return response
