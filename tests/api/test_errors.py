"""Bad input is never a 500, and every API answer, errors included, is JSON in one shape."""

from __future__ import annotations

import base64
import json
from typing import Any

import django_filters
import pytest
from django.test import Client
from pytest_django.fixtures import Settings as Settings
from rest_framework.test import APIClient

from accounts.models import User
from crm.api_urls import router
from customers.api.views import CustomerViewSet
from customers.models import Customer
from tests.api_fixtures import ClientFor
from tests.factories import CustomerFactory, TicketFactory

pytestmark = pytest.mark.django_db

LISTS = [prefix for prefix, _viewset, _basename in router.registry]


def _filters() -> list[tuple[str, str, str]]:
    """(list, parameter, a value it cannot honour) for every boolean and date filter."""
    cases = []
    for prefix, viewset, _basename in router.registry:
        filterset = getattr(viewset, "filterset_class", None)
        if filterset is None:
            continue
        for name, filter_ in filterset.base_filters.items():
            if isinstance(filter_, django_filters.BooleanFilter):
                cases += [(prefix, name, "maybe"), (prefix, name, "")]
            elif isinstance(filter_, django_filters.IsoDateTimeFilter | django_filters.DateFilter):
                cases += [(prefix, name, ""), (prefix, name, "yesterday")]
    return cases


@pytest.fixture
def root(client_for: ClientFor, admin_user: User) -> APIClient:
    return client_for(admin_user)


@pytest.mark.parametrize("resource", LISTS)
def test_a_cursor_with_a_foreign_position_is_a_400_on_every_list(
    root: APIClient, resource: str
) -> None:
    cursor = base64.b64encode(b"p=abc").decode()  # cD1hYmM=

    response = root.get(f"/api/v1/{resource}/", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json() == {"cursor": [response.json()["cursor"][0]], "code": "invalid_cursor"}


def test_a_cursor_position_out_of_the_key_range_is_a_400(root: APIClient) -> None:
    cursor = base64.b64encode(b"p=" + b"9" * 30).decode()

    response = root.get("/api/v1/customers/", {"cursor": cursor})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"


def test_the_cursors_the_api_hands_out_still_page(root: APIClient) -> None:
    CustomerFactory.create_batch(3)

    first = root.get("/api/v1/customers/", {"page_size": 2}).json()
    second = root.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1


def test_json_nested_ten_thousand_levels_is_a_400(root: APIClient) -> None:
    body = '{"full_name": ' + "[" * 10_000 + "]" * 10_000 + "}"

    response = root.post("/api/v1/customers/", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert "deeper" in response.json()["detail"]
    assert not Customer.objects.exists()


def test_json_just_past_the_depth_limit_is_a_400_and_at_it_parses(
    root: APIClient, settings: Settings
) -> None:
    settings.API_JSON_MAX_DEPTH = 4
    at_limit = {"full_name": "Anna", "contact_points": [{"kind": "phone", "value": "+79123456789"}]}
    past_limit = {**at_limit, "tags": [[[["deep"]]]]}

    accepted = root.post("/api/v1/customers/", at_limit, format="json")
    refused = root.post("/api/v1/customers/", past_limit, format="json")

    assert accepted.status_code == 201
    assert refused.status_code == 400
    assert refused.json()["code"] == "parse_error"


@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_a_body_over_the_upload_limit_is_a_413_in_json(
    root: APIClient, idempotency_key: str | None
) -> None:
    body = json.dumps({"full_name": "x" * (3 * 1024 * 1024)})
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}

    response = root.post("/api/v1/customers/", body, content_type="application/json", **headers)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "request_too_large"
    assert not Customer.objects.exists()


def test_an_unknown_path_under_the_api_is_a_json_404(root: APIClient) -> None:
    response = root.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_an_unknown_path_elsewhere_keeps_the_html_page() -> None:
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def _boom(self: Any) -> Any:
    raise RuntimeError("the database went away")


def test_a_server_error_in_the_api_is_a_json_500(
    admin_user: User, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DEBUG = False
    monkeypatch.setattr(CustomerViewSet, "get_queryset", _boom)
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(admin_user)

    response = client.get("/api/v1/customers/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": response.json()["detail"], "code": "server_error"}


def test_a_server_error_outside_the_api_keeps_the_html_page(
    admin_user: User, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DEBUG = False
    monkeypatch.setattr("crm.views.render", lambda *args, **kwargs: _boom(None))
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    response = client.get("/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "full_name=Anna&contact_points=x"),
        (
            "multipart/form-data; boundary=b",
            '--b\r\nContent-Disposition: form-data; name="full_name"\r\n\r\nAnna\r\n--b--\r\n',
        ),
        ("text/plain", '{"full_name": "Anna"}'),
    ],
)
def test_a_body_that_is_not_json_is_a_415(root: APIClient, content_type: str, body: str) -> None:
    response = root.post("/api/v1/customers/", body, content_type=content_type)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Customer.objects.exists()


@pytest.mark.parametrize(("resource", "parameter", "value"), _filters())
def test_a_filter_value_the_list_cannot_honour_is_a_400_naming_it(
    root: APIClient, resource: str, parameter: str, value: str
) -> None:
    response = root.get(f"/api/v1/{resource}/", {parameter: value})

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_parameter"
    assert parameter in response.json()


def test_unassigned_maybe_and_an_empty_updated_since_are_400(root: APIClient) -> None:
    TicketFactory.create()

    maybe = root.get("/api/v1/tickets/", {"unassigned": "maybe"})
    empty = root.get("/api/v1/tickets/", {"updated_since": ""})
    honest = root.get("/api/v1/tickets/", {"unassigned": "true", "updated_since": "2020-01-01"})

    assert maybe.status_code == 400
    assert maybe.json() == {"unassigned": ["Use true or false."], "code": "invalid_parameter"}
    assert empty.status_code == 400
    assert list(empty.json()) == ["updated_since", "code"]
    assert honest.status_code == 200
    assert len(honest.json()["results"]) == 1


def test_the_operator_queue_still_reads_any_for_empty_filters(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)

    response = client.get("/tickets/", {"unassigned": "unknown", "updated_since": ""})

    assert response.status_code == 200


def test_an_unknown_record_is_a_404_with_its_code(root: APIClient) -> None:
    response = root.get("/api/v1/customers/999999/")

    assert response.status_code == 404
    assert response.json() == {"detail": response.json()["detail"], "code": "not_found"}


def test_field_errors_keep_their_shape_beside_the_code(root: APIClient) -> None:
    response = root.post("/api/v1/customers/", {"full_name": ""}, format="json")

    assert response.status_code == 400
    assert response.json() == {"full_name": [response.json()["full_name"][0]], "code": "invalid"}


def test_an_anonymous_request_is_a_401_with_its_code(anonymous: APIClient) -> None:
    response = anonymous.get("/api/v1/customers/")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_method_the_resource_lacks_is_a_405_with_its_code(root: APIClient) -> None:
    response = root.delete("/api/v1/tickets/")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/api/v1/customers/lookup/", {}, "invalid_parameter"),
        ("/api/v1/customers/lookup/", {"phone": "hello"}, "invalid_parameter"),
        ("/api/v1/metrics/", {"from": "abc"}, "invalid_parameter"),
        ("/api/v1/metrics/timeseries/", {"metric": "nope"}, "invalid_parameter"),
    ],
)
def test_views_of_their_own_answer_the_same_shape(
    root: APIClient, path: str, params: dict[str, str], code: str
) -> None:
    response = root.get(path, params)

    assert response.status_code == 400
    assert response.json()["code"] == code


def test_a_refused_bulk_request_carries_its_code(root: APIClient) -> None:
    response = root.post(
        "/api/v1/purchases/bulk/",
        {"items": [{"customer_external_id": "NOPE", "amount": "1.00"}]},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "customer_external_id" in response.json()["items"]["0"]


def test_a_time_filter_with_any_offset_python_reads_is_answered(root: APIClient) -> None:
    # Python reads offsets up to 24 h, PostgreSQL none beyond 15:59: the time used to reach the
    # database as given and fail there (and every later statement of the transaction).
    ticket = TicketFactory.create()

    far_east = root.get("/api/v1/tickets/", {"updated_since": "1095-03-21T09:31:47+17:00"})
    after = root.get("/api/v1/tickets/")

    assert far_east.status_code == 200, far_east.content
    assert [row["number"] for row in far_east.json()["results"]] == [ticket.pk]
    assert after.status_code == 200
