"""Project pages: the home page and the health check load balancers poll."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError
from django.test import Client
from django.urls import reverse

from tests.factories import CustomerFactory, SLAPolicyFactory
from tickets.services import assign_ticket, open_ticket

pytestmark = pytest.mark.django_db


def test_the_home_page_renders(client: Client) -> None:
    response = client.get(reverse("home"))

    assert response.status_code == 200
    assert "Customer service CRM" in response.content.decode()


def test_the_home_page_refuses_a_post(client: Client) -> None:
    assert client.post(reverse("home")).status_code == 405


def test_the_health_check_answers_ok_in_one_query(
    client: Client, django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(1):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"
    assert response.json().get("cache", "ok") == "ok"
    assert "no-cache" in response["Cache-Control"]


def test_the_health_check_refuses_a_post(client: Client) -> None:
    assert client.post("/healthz").status_code == 405


def test_an_unreachable_database_makes_the_health_check_fail(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    class DeadConnection:
        def cursor(self) -> None:
            raise OperationalError("connection refused")

    monkeypatch.setattr("crm.views.connection", DeadConnection())

    response = client.get("/healthz")

    assert response.status_code == 503
    # Said apart from the cache, and without the error's text (an anonymous caller).
    assert response.json()["status"] == "error"
    assert response.json()["database"] == "unavailable"
    assert "refused" not in response.content.decode()


def test_an_unreachable_redis_degrades_the_health_check_without_details(
    client: Client, settings: Any
) -> None:
    # Nothing listens on port 9 of the loopback: the connection is refused at once.
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.FailSoftRedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "unavailable"}
    assert "127.0.0.1" not in response.content.decode()


def test_the_operators_open_tickets_on_the_home_page_show_their_sla(
    client: Client, operator: Any
) -> None:
    SLAPolicyFactory.create(first_response_minutes=60, resolution_minutes=480)
    ticket = open_ticket(customer=CustomerFactory.create(), subject="Noise", channel="phone")
    assign_ticket(ticket=ticket, assignee=operator, actor=operator)
    client.force_login(operator)

    html = client.get(reverse("home")).content.decode()

    assert "Noise" in html
    assert '<span class="badge ok">on time</span>' in html
    assert "reply by" in html
