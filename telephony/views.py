"""The caller log (/calls/): today's calls, missed and abandoned first, with call-back."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from telephony.forms import LinkCallForm
from telephony.selectors import caller_log, calls_visible_to
from telephony.services import link_call_to_customer, request_call_back


def _render_log(
    request: HttpRequest, *, forms: dict[int, LinkCallForm] | None = None, status: int = 200
) -> HttpResponse:
    assert request.user.is_authenticated
    calls = list(caller_log(user=request.user, day=timezone.localdate()))
    forms = forms or {}
    rows = [(call, forms.get(call.pk) or LinkCallForm(prefix=f"call{call.pk}")) for call in calls]
    context = {
        "rows": rows,
        "click_to_call": bool(settings.TELEPHONY_CLICK_TO_CALL_URL),
    }
    return render(request, "telephony/caller_log.html", context, status=status)


@require_GET
@login_required
@permission_required("telephony.view_call", raise_exception=True)
def log(request: HttpRequest) -> HttpResponse:
    """Today's calls of the operator's queue."""
    return _render_log(request)


@require_POST
@login_required
@permission_required("telephony.change_call", raise_exception=True)
def link(request: HttpRequest, pk: int) -> HttpResponse:
    """Link a call from an unknown number to the customer the operator names."""
    assert request.user.is_authenticated
    call = get_object_or_404(calls_visible_to(request.user), pk=pk)
    form = LinkCallForm(request.POST, prefix=f"call{pk}")
    if not form.is_valid():
        return _render_log(request, forms={pk: form}, status=400)
    link_call_to_customer(call=call, customer=form.cleaned_data["customer"], actor=request.user)
    messages.success(request, _("The call is now on the customer's card."))
    return redirect("telephony:log")


@require_POST
@login_required
@permission_required("telephony.view_call", raise_exception=True)
def call_back(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask the PBX to connect the operator's phone with the caller (click-to-call)."""
    assert request.user.is_authenticated
    call = get_object_or_404(calls_visible_to(request.user), pk=pk)
    try:
        sent = request_call_back(call=call, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("telephony:log")
    if sent:
        messages.success(request, _("Your phone will ring first, then the customer's."))
    else:
        messages.warning(request, _("The PBX could not be asked now; dial the number instead."))
    return redirect("telephony:log")
