"""The OpenAPI schema: generated without warnings, served locally, and honoured by the API.

schemathesis generates requests from the schema (bounded and deterministic) and checks that
no answer is a 5xx and every answer matches what the schema promises.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from accounts.tokens import issue_token
from tests.factories import (
    CustomerFactory,
    PhoneFactory,
    PurchaseFactory,
    ReminderFactory,
    SurveyResponseFactory,
    TicketFactory,
    UserFactory,
)

# Enough to reach every operation with valid and invalid data in about a minute.
MAX_EXAMPLES = 6


def test_schema_generates_without_warnings(tmp_path: Any) -> None:
    target = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    text = target.read_text()
    for path in (
        "/api/v1/customers/lookup/",
        "/api/v1/customers/{id}/export/",
        "/api/v1/customers/{id}/erase/",
        "/api/v1/customers/by-external-id/{key}/",
        "/api/v1/purchases/bulk/",
        "/api/v1/tickets/{id}/status/",
        "/api/v1/offers/{id}/respond/",
        "/api/v1/telephony/events/",
    ):
        assert path in text, path


def test_every_request_body_is_json_only_and_errors_carry_a_code() -> None:
    document = json.loads(
        OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
    )
    writes = 0
    # PBX scripts written for Zammad's CTI API post forms: the one endpoint that reads them.
    also_forms = {("post", "/api/v1/telephony/events/")}

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is not None:
                writes += 1
                wanted = {"application/json"}
                if (method, path) in also_forms:
                    wanted.add("application/x-www-form-urlencoded")
                assert set(body["content"]) == wanted, (method, path)
            if method in {"post", "put", "patch"}:
                assert "415" in operation["responses"], (method, path)
    error = document["components"]["schemas"]["Error"]

    assert writes > 30
    assert set(error["required"]) == {"detail", "code"}


def test_schema_says_which_fields_only_named_actions_change() -> None:
    """An offer's answer is recorded by respond/ and an interaction's operator is the caller:
    the schema shows those fields read-only, and respond/ takes the answer."""
    document = SchemaGenerator().get_schema(request=None, public=True)
    components = document["components"]["schemas"]
    for component, fields in (
        ("Offer", ("status", "responded_at", "operator", "purchase")),
        ("Interaction", ("operator",)),
    ):
        properties = components[component]["properties"]
        for field in fields:
            assert properties[field].get("readOnly"), (component, field)
    respond = document["paths"]["/api/v1/offers/{id}/respond/"]["post"]
    body = respond["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    answer = components[body.rsplit("/", 1)[-1]]
    assert set(answer["properties"]) == {"status", "purchase"}
    assert answer["required"] == ["status"]


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served_without_a_cdn(anonymous: APIClient) -> None:
    schema = anonymous.get("/api/schema/")
    docs = anonymous.get("/api/docs/")

    assert schema.status_code == 200
    assert docs.status_code == 200
    page = docs.content.decode()
    assert "cdn" not in page.lower()
    assert "/static/drf_spectacular_sidecar/" in page


def _load_schema() -> Any:
    document = SchemaGenerator().get_schema(request=None, public=True)
    # Examples and fuzzing; the coverage phase alone would take minutes over ~70 operations.
    config = SchemathesisConfig.from_dict(
        {"phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}}}
    )
    loaded = schemathesis.openapi.from_dict(
        json.loads(OpenApiJsonRenderer().render(document)), config=config
    )
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """The WSGI handler closes "old" connections after each request, as in production; in
    a test that would close the connection holding the test's transaction (Django's own
    test client switches this off the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(db: None, keep_test_connection: None) -> str:
    """A superuser's token, so that every operation is reached past its permission check;
    and a little data, so that some generated ids exist."""
    user = UserFactory.create(username="fuzzer", is_superuser=True)
    customer = CustomerFactory.create()
    PhoneFactory.create(customer=customer)
    PurchaseFactory.create(customer=customer)
    ReminderFactory.create()
    TicketFactory.create(customer=customer)
    SurveyResponseFactory.create()
    return issue_token(user=user)[1]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_honours_its_schema(case: Any, token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        checks=[not_a_server_error, response_schema_conformance],
    )
