"""Authentication, roles, throttling and the token command."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import ApiToken, User
from accounts.roles import OPERATORS
from accounts.tokens import hash_key
from tests.api_fixtures import ClientFor, grant
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_bad_token_is_401(anonymous: APIClient) -> None:
    anonymous.credentials(HTTP_AUTHORIZATION="Token not-a-token")

    assert anonymous.get("/api/v1/customers/").status_code == 401


def test_session_login_works_for_the_browsable_api(operator: User) -> None:
    client = APIClient()
    client.force_login(operator)

    assert client.get("/api/v1/customers/").status_code == 200


def test_integration_gets_only_what_its_group_allows(
    client_for: ClientFor, integration: User
) -> None:
    customer = CustomerFactory.create()
    nothing = client_for(integration).get("/api/v1/customers/")
    reader = grant(integration, "customers.view_customer")
    client = client_for(reader)

    assert nothing.status_code == 403
    assert client.get(f"/api/v1/customers/{customer.pk}/").status_code == 200
    assert client.post("/api/v1/customers/", {"full_name": "X"}).status_code == 403
    assert client.get("/api/v1/tickets/").status_code == 403


def test_throttle_per_token(client_for: ClientFor, operator: User, settings) -> None:
    settings.API_THROTTLE_RATE = "3/minute"
    client = client_for(operator)

    codes = [client.get("/api/v1/customers/").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def _key(out: StringIO) -> str:
    """The key is the last word of the last line (a fixed contract, PRODUCT.md)."""
    return out.getvalue().strip().splitlines()[-1].split()[-1]


def test_create_api_token_command(operator: User) -> None:
    out = StringIO()

    call_command("create_api_token", "shop", "--create-user", "--group", OPERATORS, stdout=out)
    key = _key(out)
    again = StringIO()
    call_command("create_api_token", "shop", "--name", "bi", stdout=again)
    rotated = StringIO()
    call_command("create_api_token", "shop", "--rotate", stdout=rotated)

    shop = User.objects.get(username="shop")
    assert not shop.is_staff and not shop.has_usable_password()
    assert shop.groups.filter(name=OPERATORS).exists()
    # Only hashes are stored; every run issues a key of its own, --rotate revokes the others.
    assert len({key, _key(again), _key(rotated)}) == 3
    tokens = ApiToken.objects.filter(user=shop)
    assert sorted(tokens.values_list("name", flat=True)) == ["bi", "default", "default"]
    assert not tokens.filter(digest__in=[key, _key(again), _key(rotated)]).exists()
    assert list(tokens.filter(revoked_at__isnull=True).values_list("digest", flat=True)) == [
        hash_key(_key(rotated))
    ]
    for old, status in ((key, 401), (_key(again), 401), (_key(rotated), 200)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {old}")
        assert client.get("/api/v1/customers/").status_code == status


def test_create_api_token_with_an_expiry(db: None) -> None:
    out = StringIO()

    call_command(
        "create_api_token",
        "bi",
        "--create-user",
        "--name",
        "nightly",
        "--expires-days",
        "30",
        stdout=out,
    )

    token = ApiToken.objects.get(user__username="bi")
    assert token.name == "nightly"
    assert token.expires_at is not None
    assert 29 <= (token.expires_at - token.created_at).days <= 30
    assert token.digest == hash_key(_key(out))
    with pytest.raises(CommandError):
        call_command("create_api_token", "bi", "--expires-days", "0")


def test_create_api_token_refuses_unknown_user_and_group(db: None) -> None:
    with pytest.raises(CommandError):
        call_command("create_api_token", "ghost")
    with pytest.raises(CommandError):
        call_command("create_api_token", "ghost", "--create-user", "--group", "Nope")


LISTS = [
    "customers",
    "contact-points",
    "product-categories",
    "products",
    "purchases",
    "interests",
    "interactions",
    "offers",
    "reminders",
    "tickets",
    "surveys",
    "invitations",
    "responses",
]


@pytest.mark.parametrize("resource", LISTS)
def test_every_list_answers_in_a_bounded_number_of_queries(
    client_for: ClientFor, admin_user: User, resource: str, django_assert_max_num_queries
) -> None:
    from tests.factories import (
        EmailFactory,
        InteractionFactory,
        InterestFactory,
        OfferFactory,
        ReminderFactory,
        SurveyResponseFactory,
        TicketFactory,
    )

    for _ in range(8):
        customer = CustomerFactory.create()
        EmailFactory.create(customer=customer)
        InterestFactory.create(customer=customer)
        InteractionFactory.create(customer=customer)
        OfferFactory.create(customer=customer)
        ReminderFactory.create(purchase__customer=customer)
        TicketFactory.create(customer=customer)
        SurveyResponseFactory.create(invitation__customer=customer)
    client = client_for(admin_user)

    # token and user, the page, and at most two prefetches (contacts and tags; related products)
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/v1/{resource}/")

    assert response.status_code == 200
    assert response.data["results"]


@pytest.mark.parametrize("resource", LISTS)
def test_every_resource_is_401_for_anonymous(anonymous: APIClient, resource: str) -> None:
    assert anonymous.get(f"/api/v1/{resource}/").status_code == 401
    assert anonymous.post(f"/api/v1/{resource}/", {}, format="json").status_code in {401, 405}


@pytest.mark.parametrize("resource", LISTS)
def test_every_resource_is_403_for_a_user_without_its_permissions(
    client_for: ClientFor, integration: User, resource: str
) -> None:
    client = client_for(integration)

    assert client.get(f"/api/v1/{resource}/").status_code == 403
    assert client.post(f"/api/v1/{resource}/", {}, format="json").status_code in {403, 405}


def test_invalid_cursor_is_a_400_naming_it(client_for: ClientFor, operator: User) -> None:
    response = client_for(operator).get("/api/v1/customers/", {"cursor": "garbage"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_cursor"
    assert "cursor" in response.json()
