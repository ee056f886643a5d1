"""The PBX's client, with the token `create_api_token --group Telephony` prints."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

EVENTS_URL = "/api/v1/telephony/events/"


@pytest.fixture
def pbx_token(db: None) -> str:
    out = io.StringIO()
    call_command(
        "create_api_token", "pbx-main", "--create-user", "--group", "Telephony", stdout=out
    )
    return out.getvalue().strip()


@pytest.fixture
def pbx(pbx_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {pbx_token}")
    return client


PostEvent = Callable[..., Any]


@pytest.fixture
def post_event(pbx: APIClient) -> PostEvent:
    """POST one event as JSON; returns the response (asserting nothing)."""

    def send(**fields: Any) -> Any:
        return pbx.post(EVENTS_URL, fields, format="json")

    return send
