"""Survey pages: the card's "send survey" action, and the public answer page `/s/<token>/`.

The answer page needs no login and speaks the customer's language: one tap, one answer.

Whoever holds the link may answer, so the page shows nothing about the customer but their first
name, is rate limited per client address and per token, is never cached or indexed, and does not
pass its address on in the Referer header to other sites. Within the site the browser sends it
(`Referrer-Policy: same-origin`): with `no-referrer` a browser sends `Origin: null` on the
answer's POST, and CSRF protection rightly refuses that.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from core.client_address import client_address
from core.dates import site_today
from customers.models import Customer
from customers.views import card_action, operator_required
from surveys.forms import AnswerForm, SendSurveyForm
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from surveys.services import create_invitation, record_response

# Tokens are URL-safe base64 (`secrets.token_urlsafe`); anything else is not one of ours.
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# Defaults of settings.SURVEY_ANSWER_RATE_LIMIT: requests per client address and per token
# within the window. Generous for a person tapping twice, tight for a script walking tokens.
DEFAULT_RATE_LIMIT = {"per_ip": 60, "per_token": 20, "window_seconds": 600}
# The link never leaves the site in a Referer, and the form's POST still carries its Origin.
REFERRER_POLICY = "same-origin"


@dataclass(frozen=True)
class Limits:
    per_ip: int
    per_token: int
    window_seconds: int


def _limits() -> Limits:
    configured = {**DEFAULT_RATE_LIMIT, **getattr(settings, "SURVEY_ANSWER_RATE_LIMIT", {})}
    return Limits(
        per_ip=int(configured["per_ip"]),
        per_token=int(configured["per_token"]),
        window_seconds=int(configured["window_seconds"]),
    )


def _hit(key: str, window: int) -> int:
    """Count one request under `key` within a fixed window; return the count so far."""
    cache.add(key, 0, timeout=window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        return 1


def _rate_limited(request: HttpRequest, token: str) -> bool:
    limits = _limits()
    # The respondent's address behind the trusted proxies, not the proxy's (one bucket for all).
    address = hashlib.sha256((client_address(request) or "unknown").encode()).hexdigest()
    by_ip = _hit(f"survey-answer:ip:{address}", limits.window_seconds)
    # Hashed: whatever was typed into the URL becomes a safe, fixed-length cache key.
    token_key = hashlib.sha256(token.encode()).hexdigest()
    by_token = _hit(f"survey-answer:token:{token_key}", limits.window_seconds)
    return by_ip > limits.per_ip or by_token > limits.per_token


def _language(request: HttpRequest, invitation: SurveyInvitation | None) -> str:
    """The language asked for with ?lang=, else the customer's, else the site's."""
    available = {code for code, _name in settings.LANGUAGES}
    asked = request.GET.get("lang") or request.POST.get("lang")
    if asked in available:
        return str(asked)
    if invitation is not None and invitation.customer.language in available:
        return invitation.customer.language
    return settings.LANGUAGE_CODE


def first_name(invitation: SurveyInvitation) -> str:
    """The only thing about the customer the page may show; nothing for a company or erased one."""
    customer = invitation.customer
    if customer.anonymised_at is not None or customer.kind != customer.Kind.PERSON:
        return ""
    parts = customer.full_name.split()
    return parts[0] if parts else ""


def _page(
    request: HttpRequest,
    template: str,
    *,
    language: str,
    status: int = 200,
    invitation: SurveyInvitation | None = None,
    form: AnswerForm | None = None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    with translation.override(language):
        context = {
            **(extra or {}),
            "language": language,
            "languages": settings.LANGUAGES,
            "form": form,
            "name": first_name(invitation) if invitation is not None else "",
            "question": invitation.survey.question_for(language) if invitation else "",
            "survey": invitation.survey if invitation is not None else None,
            "scale_hint": _scale_hint(invitation.survey) if invitation is not None else None,
        }
        response = render(request, template, context, status=status)
        response["Content-Language"] = language
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = REFERRER_POLICY
    return response


def _scale_hint(survey: Survey) -> tuple[str, str]:
    """What the two ends of the scale mean, in the active language."""
    if survey.kind == Survey.Kind.NPS:
        return _("Not at all likely"), _("Extremely likely")
    if survey.kind == Survey.Kind.CES:
        easy, hard = _("Very easy"), _("Very difficult")
        return (hard, easy) if survey.easy_end == Survey.EasyEnd.HIGH else (easy, hard)
    return _("Very dissatisfied"), _("Very satisfied")


def _invitation(token: str) -> SurveyInvitation | None:
    if not TOKEN_SHAPE.match(token):
        return None
    return (
        SurveyInvitation.objects.select_related("survey", "customer", "response")
        .filter(token=token)
        .first()
    )


def csrf_failure(request: HttpRequest, token: str) -> HttpResponse:
    """An answer refused for its CSRF token (a page open for long, cookies blocked): nothing
    was recorded; say so in the page's layout and language, and offer the link again."""
    invitation = _invitation(token)
    language = _language(request, invitation)
    retry = f"{request.path}?{urlencode({'lang': language})}"
    response = _page(
        request,
        "surveys/form_expired.html",
        language=language,
        status=403,
        invitation=invitation,
        extra={"retry_url": retry},
    )
    add_never_cache_headers(response)
    return response


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """Show the question, take one answer, thank the customer."""
    if _rate_limited(request, token):
        response = _page(request, "surveys/rate_limited.html", language=_language(request, None))
        response.status_code = 429
        response["Retry-After"] = str(_limits().window_seconds)
        return response
    invitation = _invitation(token)
    if invitation is None:
        return _page(
            request, "surveys/not_found.html", language=_language(request, None), status=404
        )
    language = _language(request, invitation)
    try:
        answered = invitation.response is not None
    except SurveyResponse.DoesNotExist:
        answered = False
    if answered:
        return _page(request, "surveys/answered.html", language=language, invitation=invitation)
    if invitation.is_expired(timezone.now()):
        return _page(
            request, "surveys/closed.html", language=language, status=410, invitation=invitation
        )
    with translation.override(language):
        form = AnswerForm(request.POST or None, survey=invitation.survey)
        valid = request.method == "POST" and form.is_valid()
    if request.method == "GET" or not valid:
        status = 400 if request.method == "POST" else 200
        return _page(
            request,
            "surveys/answer.html",
            language=language,
            status=status,
            invitation=invitation,
            form=form,
        )
    try:
        _response, created = record_response(
            invitation=invitation,
            score=form.cleaned_data["score"],
            comment=form.cleaned_data["comment"],
        )
    except ValidationError as error:
        with translation.override(language):
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        return _page(
            request,
            "surveys/answer.html",
            language=language,
            status=400,
            invitation=invitation,
            form=form,
        )
    if not created:
        # Answered a moment ago (a second tab, a double tap): the first answer stands.
        return _page(request, "surveys/answered.html", language=language, invitation=invitation)
    return _page(request, "surveys/thanks.html", language=language, invitation=invitation)


# --- The card's action ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@operator_required("surveys.add_surveyinvitation")
def send_survey(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Invite the customer to a survey now, at most once per survey and day from the card."""

    def perform(request: HttpRequest, customer: Customer, form: forms.Form) -> object:
        data = form.cleaned_data
        today = site_today()
        invitation, created = create_invitation(
            survey=data["survey"],
            customer=customer,
            cause=f"card:{today.isoformat()}",
            operator=request.user,
            personalized=True,
            delivery_channel=data["delivery_channel"],
        )
        if not created:
            raise ValidationError({"survey": _("The customer was already sent this survey today.")})
        return invitation

    return card_action(
        request,
        customer_id,
        action_key="send_survey",
        form_class=SendSurveyForm,
        perform=perform,
        title=_("Send survey"),
        success_message=_("Survey invitation created; it goes out with the next delivery."),
    )
