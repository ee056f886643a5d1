"""The click-to-call request to the PBX, sent by a worker (never inside a web request)."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from accounts.models import User
from telephony.models import Call

logger = logging.getLogger(__name__)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Only the configured URL is ever requested: a redirect is not followed anywhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def click_to_call_url() -> str:
    """The configured PBX URL, refused unless it is plain http(s) with a host."""
    url = settings.TELEPHONY_CLICK_TO_CALL_URL
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImproperlyConfigured("TELEPHONY_CLICK_TO_CALL_URL must be an http(s) URL.")
    return url


def send_click_to_call(*, extension: str, number: str, call_id: str) -> int:
    """POST {"from": extension, "to": number, "callId": ...} to the PBX; its HTTP status."""
    body = json.dumps({"from": extension, "to": number, "callId": call_id}).encode()
    request = urllib.request.Request(
        click_to_call_url(),
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    timeout = settings.TELEPHONY_CLICK_TO_CALL_TIMEOUT_SECONDS
    try:
        with _opener.open(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@shared_task(
    name="telephony.click_to_call",
    autoretry_for=(urllib.error.URLError, TimeoutError, ConnectionError),
    retry_backoff=True,
    max_retries=3,
)
def click_to_call_task(call_id: int, operator_id: int) -> int:
    """Ask the PBX to connect the operator's extension with the call's number."""
    call = Call.objects.get(pk=call_id)
    operator = User.objects.get(pk=operator_id)
    status = send_click_to_call(
        extension=operator.phone_extension, number=call.remote_number, call_id=call.call_id
    )
    if status >= 400:
        logger.warning("click-to-call for call %s answered HTTP %s", call_id, status)
    return status
