"""Every route x every HTTP method x every persona: nothing written, nothing private read,
without the permission.

The routes come from the URL resolver (the API and the operator UI; the Django admin has its
own per-model permission checks, tested in tests/test_admin.py), and every path of the OpenAPI
schema must be among them, so a new route is walked without anyone remembering to add it. A
route whose path parameter the test cannot fill fails with a message naming it.

Each request runs in a savepoint rolled back afterwards, so every request sees the same
records. After it, every table is compared with the snapshot taken before:

- anonymous and no-permission requests change nothing at all;
- an answer of 400 or more changes nothing (no half-written record);
- any other change touches only models the persona may add, change or delete, or records
  that only say who did what (SIDE_EFFECT_MODELS);
- the body never shows a private marker (a customer's name, email, ticket message, survey
  comment, invitation token) to a persona without a permission that allows reading it.

About 3,900 requests: 40-50 s on SQLite on an idle two-core machine (only a request that wrote
a row, by the database's own change counter, is compared table by table).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import Model
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient

from accounts.models import User
from customers.models import Customer, DataExportRecord
from telephony.models import Call, Direction
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    PhoneFactory,
    ProductCategoryFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TicketFactory,
    TicketMessageFactory,
)
from tests.personas import issue_api_token
from tickets.models import TicketAttachment, TicketMessage

pytestmark = pytest.mark.django_db

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
PERSONAS = (
    "anonymous",
    "no_permission_user",
    "integration_reader",
    "other_team_operator",
    "operator",
    "supervisor",
    "admin_user",
)
# Personas that may never change anything.
POWERLESS = {"anonymous", "no_permission_user"}
# Not walked: the Django admin (its own permission checks per model, tests/test_admin.py).
SKIPPED_PREFIXES = ("admin/",)
# Routes anyone may use by design; walked with a made-up token, so they too must change
# and show nothing.
PUBLIC_TOKEN_ROUTES = {"surveys:answer", "customers_public:unsubscribe"}
# Tables that change on any signed-in request (sessions, token bookkeeping, the lockout's
# record of sign-ins and sign-outs): not compared.
UNCOMPARED_TABLES = {
    "django_session",
    "authtoken_token",
    "axes_accesslog",
    "axes_accessattempt",
    "axes_accessfailurelog",
}
# Records that only say who did what, or figures derived from other rows: written as a side
# effect of a permitted request.
SIDE_EFFECT_MODELS = {
    "admin.logentry",
    "auditlog.logentry",
    "tickets.ticketevent",
    "api.idempotencykey",
    "webhooks.webhookdelivery",
    # What is kept of a customer's history for the card (customers.values, customers.tallies).
    "customers.valuetodate",
    "customers.ownedproduct",
    "customers.customertally",
}
SIDE_EFFECT_APPS = {"metrics"}
# Legitimate refusals; a redirect counts only when it goes to the login page.
REFUSALS = {401, 403, 404, 405}


@dataclass(frozen=True)
class Marker:
    """A private text, and the permissions any one of which allows reading it."""

    text: str
    allowed_by: tuple[str, ...]


EXPORT = "customers.export_customer_data"


@dataclass
class World:
    objects: dict[str, Model]
    markers: list[Marker]
    token: str


@pytest.fixture
def world(db: None, settings: Settings, tmp_path: Path) -> World:
    settings.MEDIA_ROOT = tmp_path / "media"
    customer = CustomerFactory.create(full_name="Quxwalk Markerova", external_id="walk-ext-1")
    contact = PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    EmailFactory.create(customer=customer, value="quxwalk.marker@example.com")
    category = ProductCategoryFactory.create()
    product = ProductFactory.create(category=category)
    purchase = PurchaseFactory.create(customer=customer, product=product)
    ticket = TicketFactory.create(customer=customer)
    message = TicketMessageFactory.create(
        ticket=ticket, author_kind=TicketMessage.Author.CUSTOMER, body="quxwalk-message-body"
    )
    attachment = TicketAttachment(
        message=message, filename="walk.txt", content_type="text/plain", size=16
    )
    attachment.file.save("walk.txt", ContentFile(b"quxwalk-attached"), save=False)
    attachment.save()
    survey = SurveyFactory.create()
    invitation = SurveyInvitationFactory.create(survey=survey, customer=customer)
    response = SurveyResponseFactory.create(
        invitation=invitation, score=4, comment="quxwalk-survey-comment"
    )
    objects: dict[str, Model] = {
        "customer": customer,
        "contactpoint": contact,
        "category": category,
        "product": product,
        "purchase": purchase,
        "interest": InterestFactory.create(customer=customer, product=product),
        "interaction": InteractionFactory.create(customer=customer),
        "offer": OfferFactory.create(customer=customer, product=product),
        "reminder": ReminderFactory.create(purchase=purchase),
        "ticket": ticket,
        "attachment": attachment,
        "survey": survey,
        "invitation": invitation,
        "response": response,
        "call": Call.objects.create(
            call_id="walk-call-1",
            direction=Direction.INBOUND,
            caller="+79123456789",
            called="+74950000000",
            rang_at=timezone.now(),
        ),
    }
    markers = [
        Marker("Quxwalk", ("customers.view_customer", EXPORT)),
        Marker("quxwalk.marker@example.com", ("customers.view_contactpoint", EXPORT)),
        Marker("quxwalk-message-body", ("tickets.view_ticketmessage", EXPORT)),
        Marker("quxwalk-survey-comment", ("surveys.view_surveyresponse", EXPORT)),
        # Even an export leaves the token out: it answers the survey as the customer.
        Marker(invitation.token, ("surveys.view_invitation_token",)),
    ]
    return World(objects=objects, markers=markers, token=invitation.token)


# --- Routes ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    template: str
    params: tuple[str, ...]


def _params(pattern: Any) -> tuple[str, ...]:
    regex = pattern.regex
    return tuple(regex.groupindex)


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = namespace + (f"{entry.namespace}:" if entry.namespace else "")
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), inner)
        elif isinstance(entry, URLPattern):
            template = prefix + str(entry.pattern)
            if template.startswith(SKIPPED_PREFIXES):
                continue
            resolver_params = _params(entry.pattern)
            if "format" in resolver_params:  # the router's `.json` twin of a route
                continue
            assert entry.name, f"route {template!r} has no name: the walk cannot reverse it"
            yield Route(namespace + entry.name, template, resolver_params)


def routes() -> list[Route]:
    seen: dict[str, Route] = {}
    for route in _walk(get_resolver().url_patterns):
        seen.setdefault(route.name, route)
    return list(seen.values())


def _param_value(route: Route, param: str, world: World) -> Any:
    objects = world.objects
    if route.name in PUBLIC_TOKEN_ROUTES and param == "token":
        return "not-a-real-token-0123456789abcdef"
    if param == "customer_id":
        return objects["customer"].pk
    if param == "contact_id":
        return objects["contactpoint"].pk
    if param == "key":  # upserts: a key no record has, so a PUT would create one
        return "walk-new-key"
    if param == "attachment_id":
        return objects["attachment"].pk
    if param == "table":
        return "kpis"
    if param == "pk":
        if route.name.startswith("tickets:"):
            return objects["ticket"].pk
        if route.name.startswith("telephony:"):
            return objects["call"].pk
        basename = route.name.split(":")[-1].split("-")[0]
        if basename in objects:
            return objects[basename].pk
    pytest.fail(f"route {route.name} ({route.template}): no value for its parameter {param!r}")


def url_of(route: Route, world: World) -> str:
    kwargs = {param: _param_value(route, param, world) for param in route.params}
    return reverse(route.name, kwargs=kwargs)


def test_every_schema_path_is_a_walked_route(world: World) -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    walked = [url_of(route, world) for route in routes()]
    for path in schema["paths"]:
        pattern = re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")
        assert any(pattern.match(url) for url in walked), f"{path} is not walked"


# --- The database, before and after -------------------------------------------------------


def _tables() -> list[str]:
    return sorted(set(connection.introspection.table_names()) - UNCOMPARED_TABLES)


def snapshot(tables: list[str]) -> dict[str, int]:
    quote = connection.ops.quote_name
    state = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT * FROM {quote(table)}")  # names from the schema
            state[table] = hash(repr(sorted(map(repr, cursor.fetchall()))))
    return state


def write_counter() -> int:
    """Rows inserted, updated or deleted so far on this connection: cheap, one query."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COALESCE(SUM(n_tup_ins + n_tup_upd + n_tup_del), 0)"
                " FROM pg_stat_xact_user_tables"
            )
        else:
            cursor.execute("SELECT total_changes()")
        return int(cursor.fetchone()[0])


def _models_by_table() -> dict[str, type[Model]]:
    found: dict[str, type[Model]] = {}
    for model in apps.get_models(include_auto_created=True):
        owner = model._meta.auto_created or model  # an M2M table belongs to its model
        found[model._meta.db_table] = owner  # type: ignore[assignment]
    return found


def _may_write(user: User | None, model: type[Model]) -> bool:
    meta = model._meta
    if meta.label_lower in SIDE_EFFECT_MODELS or meta.app_label in SIDE_EFFECT_APPS:
        return True
    if model is DataExportRecord:
        return user is not None and user.has_perm(EXPORT)
    if user is None:
        return False
    return any(
        user.has_perm(f"{meta.app_label}.{action}_{meta.model_name}")
        for action in ("add", "change", "delete")
    ) or (model is Customer and user.has_perm("customers.erase_customer_data"))


# --- The walk -----------------------------------------------------------------------------


def _payload(world: World) -> dict[str, Any]:
    """One body for every write: enough fields for most endpoints to accept it."""
    objects = world.objects
    return {
        "full_name": "Walk Written",
        "body": "walk-written",
        "author_kind": "operator",
        "is_internal": True,
        "subject": "Walk written",
        "channel": "phone",
        "status": "open",
        "priority": "high",
        "text": "walk-written",
        "summary": "walk-written",
        "direction": "inbound",
        "customer": objects["customer"].pk,
        "survey": objects["survey"].pk,
        "product": objects["product"].pk,
        "cause": "walk",
        "kind": "phone",
        "value": "+7 912 000-00-01",
        "name": "Walk written",
        "amount": "10.00",
        "currency": "RUB",
        "assignee": "",
        "score": 5,
        "confirm": "on",
    }


def _client(user: User | None, *, api: bool) -> APIClient:
    client = APIClient()
    if user is None:
        return client
    if api:
        client.credentials(HTTP_AUTHORIZATION=f"Token {issue_api_token(user)}")
    else:
        client.force_login(user)
    return client


def _refused(response: Any) -> bool:
    if response.status_code in REFUSALS:
        return True
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


@pytest.fixture
def schema_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The public schema is the same for every persona: generate it once (seconds each)."""
    generate = SchemaGenerator.get_schema
    built: dict[bool, Any] = {}

    def cached(self: SchemaGenerator, request: Any = None, public: bool = False) -> Any:
        if public not in built:
            built[public] = generate(self, request=request, public=public)
        return built[public]

    monkeypatch.setattr(SchemaGenerator, "get_schema", cached)


@pytest.mark.usefixtures("schema_built_once")
def test_no_route_writes_or_shows_private_data_without_the_permission(
    world: World, request: pytest.FixtureRequest
) -> None:
    users: dict[str, User | None] = {
        persona: None if persona == "anonymous" else request.getfixturevalue(persona)
        for persona in PERSONAS
    }
    clients = {
        persona: {api: _client(user, api=api) for api in (True, False)}
        for persona, user in users.items()
    }
    tables = _tables()
    by_table = _models_by_table()
    before = snapshot(tables)  # after the logins, which stamp last_login
    payload = _payload(world)
    walked = [(route, url_of(route, world)) for route in routes()]
    problems: list[str] = []
    requests = 0
    for persona, user in users.items():
        cookies = {api: SimpleCookie(clients[persona][api].cookies) for api in (True, False)}
        for _route, url in walked:
            api = url.startswith("/api/")
            client = clients[persona][api]
            for method in METHODS:
                client.cookies = SimpleCookie(cookies[api])  # a logout must not last
                try:
                    response, after = _request(client, method, url, payload, api, tables)
                except Exception as exc:  # noqa: BLE001 - a server error is a finding too
                    problems.append(f"{persona} {method} {url}: raised {exc!r}")
                    continue
                requests += 1
                where = f"{persona} {method} {url} -> {response.status_code}"
                changed = set() if after is None else {t for t in tables if after[t] != before[t]}
                problems += _write_problems(where, persona, user, response, changed, by_table)
                problems += _read_problems(where, user, response, world)

    assert problems == [], "\n".join(problems)
    assert requests == len(PERSONAS) * len(walked) * len(METHODS)


def _request(
    client: APIClient, method: str, url: str, payload: dict[str, Any], api: bool, tables: list[str]
) -> tuple[Any, dict[str, int] | None]:
    """One request in a savepoint that is rolled back; the tables as the request left them."""
    with transaction.atomic():
        counted = write_counter()
        response = client.generic(
            method,
            url,
            data=_encode(payload, api=api, method=method),
            content_type="application/json" if api else "application/x-www-form-urlencoded",
        )
        # Only a request that wrote a row is compared table by table (which ones changed?).
        after = snapshot(tables) if write_counter() != counted else None
        transaction.set_rollback(True)
    return response, after


def _encode(payload: dict[str, Any], *, api: bool, method: str) -> str:
    # Every method carries the body, as an attacker's would: a HEAD with a body once wrote.
    if api:
        return json.dumps(payload)
    return urlencode({key: value for key, value in payload.items() if value is not None})


def _write_problems(
    where: str,
    persona: str,
    user: User | None,
    response: Any,
    changed: set[str],
    by_table: dict[str, type[Model]],
) -> list[str]:
    if not changed:
        return []
    if persona in POWERLESS:
        return [f"{where}: wrote {sorted(changed)} without any permission"]
    if response.status_code >= 400:
        return [f"{where}: answered an error but wrote {sorted(changed)}"]
    forbidden = sorted(
        table for table in changed if table not in by_table or not _may_write(user, by_table[table])
    )
    return [f"{where}: wrote {forbidden} without the permission"] if forbidden else []


def _read_problems(where: str, user: User | None, response: Any, world: World) -> list[str]:
    body = getattr(response, "content", b"").decode("utf-8", "replace")
    if not body:
        return []
    return [
        f"{where}: shows {marker.text!r} without {' or '.join(marker.allowed_by)}"
        for marker in world.markers
        if marker.text in body
        and not (user is not None and any(user.has_perm(p) for p in marker.allowed_by))
    ]


def test_head_with_a_body_only_reads(world: World, operator: User) -> None:
    """The original hole: HEAD with a body to a ticket's messages stored a message."""
    client = _client(operator, api=True)
    ticket = world.objects["ticket"]
    count = TicketMessage.objects.count()

    response = client.generic(
        "HEAD",
        f"/api/v1/tickets/{ticket.pk}/messages/",
        data='{"body": "x", "author_kind": "operator", "is_internal": true}',
        content_type="application/json",
    )

    assert response.status_code == 200
    assert TicketMessage.objects.count() == count


def test_invitation_tokens_reach_only_the_token_permission(
    world: World, operator: User, supervisor: User, integration: User
) -> None:
    from tests.api_fixtures import grant

    sender = grant(
        integration,
        "surveys.view_surveyinvitation",
        "surveys.view_invitation_token",
        group_name="Survey senders",
    )
    staff = [_client(user, api=True) for user in (operator, supervisor)]
    delivery = _client(sender, api=True)

    for client in staff:
        listed = client.get("/api/v1/invitations/")
        assert listed.status_code == 200
        assert world.token not in listed.content.decode()
        assert "token" not in listed.json()["results"][0]
    assert delivery.get("/api/v1/invitations/").json()["results"][0]["token"] == world.token
