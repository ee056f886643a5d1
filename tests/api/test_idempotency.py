"""Idempotency-Key on POST: retries replay the first answer instead of writing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.utils import timezone

from accounts.models import User
from core.api.idempotency import prune_expired_keys, take_over_abandoned_key
from core.api.models import IdempotencyKey
from customers.models import Customer
from tests.api_fixtures import ClientFor

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"
BODY = {"full_name": "Anna", "contact_points": [{"kind": "phone", "value": "+79123456789"}]}


def test_same_key_and_body_replays_the_first_response(
    client_for: ClientFor, operator: User
) -> None:
    client = client_for(operator)

    first = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    second = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_same_key_with_another_body_is_422(client_for: ClientFor, operator: User) -> None:
    client = client_for(operator)
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    response = client.post(
        URL, {**BODY, "full_name": "Boris"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 422
    assert "Idempotency-Key" in response.data["detail"]
    assert Customer.objects.count() == 1


def test_a_key_still_in_flight_is_409(client_for: ClientFor, operator: User) -> None:
    client = client_for(operator)
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    IdempotencyKey.objects.update(
        response_status=None,
        response_body=None,
        leased_until=timezone.now() + dt.timedelta(seconds=30),
    )

    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_key_in_flight"


def test_keys_are_per_user_and_expire(
    client_for: ClientFor, operator: User, other_team_operator: User
) -> None:
    client_for(operator).post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    other = client_for(other_team_operator).post(
        URL, {**BODY, "contact_points": []}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    IdempotencyKey.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    after_expiry = client_for(operator).post(
        URL, {**BODY, "contact_points": []}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert other.status_code == 201
    assert after_expiry.status_code == 201
    assert Customer.objects.count() == 3


def test_validation_errors_are_replayed_too(client_for: ClientFor, operator: User) -> None:
    client = client_for(operator)

    first = client.post(URL, {"full_name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="bad")
    second = client.post(URL, {"full_name": ""}, format="json", HTTP_IDEMPOTENCY_KEY="bad")

    assert first.status_code == second.status_code == 400
    assert second["Idempotent-Replayed"] == "true"


def test_overlong_key_is_a_400(client_for: ClientFor, operator: User) -> None:
    response = client_for(operator).post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k" * 300)

    assert response.status_code == 400
    assert not Customer.objects.exists()


def test_prune_deletes_only_expired_keys(client_for: ClientFor, operator: User) -> None:
    now = timezone.now()
    client = client_for(operator)
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="old")
    client.post(URL, {**BODY, "contact_points": []}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyKey.objects.filter(key="old").update(expires_at=now - dt.timedelta(hours=1))

    assert prune_expired_keys(now=now) == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_action_posts_are_idempotent(client_for: ClientFor, operator: User) -> None:
    from tests.factories import TicketFactory

    ticket = TicketFactory.create()
    client = client_for(operator)
    url = f"/api/v1/tickets/{ticket.pk}/messages/"

    client.post(url, {"body": "Hello"}, format="json", HTTP_IDEMPOTENCY_KEY="m1")
    client.post(url, {"body": "Hello"}, format="json", HTTP_IDEMPOTENCY_KEY="m1")

    assert ticket.messages.count() == 1


def test_the_housekeeping_job_removes_expired_keys(client_for: ClientFor, operator: User) -> None:
    from crm.jobs import run_job

    client_for(operator).post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="old")
    client_for(operator).post(
        URL, {"full_name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="fresh"
    )
    IdempotencyKey.objects.filter(key="old").update(
        expires_at=timezone.now() - dt.timedelta(minutes=1)
    )

    assert run_job("idempotency_keys") == {"deleted": 1}
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/",
        "/api/v1/customers/by-external-id/NOPE/",
        "/api/v1/purchases/bulk/",
        "/api/v1/customers/lookup/",
    ],
)
def test_options_never_fails(client_for: ClientFor, admin_user: User, path: str) -> None:
    response = client_for(admin_user).options(path)

    assert response.status_code in {200, 404}


def test_a_server_error_frees_the_key(client_for: ClientFor, operator: User, monkeypatch) -> None:
    import customers.api.serializers

    def explode(**kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(customers.api.serializers.services, "create_customer", explode)
    client = client_for(operator)
    client.raise_request_exception = False

    response = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert response.status_code == 500
    assert not IdempotencyKey.objects.exists()


def _abandon(key: str, *, lease_left: dt.timedelta) -> None:
    """Make `key` look like the key of a request whose worker died mid-flight: no answer
    stored, and nothing it wrote survived (its transaction never committed)."""
    IdempotencyKey.objects.filter(key=key).update(
        response_status=None, response_body=None, leased_until=timezone.now() + lease_left
    )
    Customer.objects.all().delete()


def test_a_retry_after_the_lease_takes_over_an_abandoned_key(
    client_for: ClientFor, operator: User
) -> None:
    client = client_for(operator)
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    _abandon("k", lease_left=-dt.timedelta(seconds=1))

    retry = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    replay = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert retry.status_code == 201
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == retry.json()
    assert Customer.objects.count() == 1
    record = IdempotencyKey.objects.get()
    assert (record.response_status, record.leased_until) == (201, None)


def test_a_retry_within_the_lease_is_409(client_for: ClientFor, operator: User) -> None:
    client = client_for(operator)
    client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    _abandon("k", lease_left=dt.timedelta(seconds=5))

    retry = client.post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert retry.status_code == 409
    assert not Customer.objects.exists()


def test_only_one_retry_takes_over_an_abandoned_key(operator: User) -> None:
    now = timezone.now()
    IdempotencyKey.objects.create(
        user=operator,
        key="k",
        request_method="POST",
        request_path=URL,
        request_fingerprint="f",
        created_at=now - dt.timedelta(minutes=5),
        expires_at=now + dt.timedelta(hours=23),
        leased_until=now - dt.timedelta(minutes=3),
    )
    # Two retries read the abandoned row at the same moment; each then tries to take it.
    first, second = IdempotencyKey.objects.get(), IdempotencyKey.objects.get()

    assert take_over_abandoned_key(record=first, now=now) is True
    assert take_over_abandoned_key(record=second, now=now) is False
    assert first.leased_until is not None
    assert IdempotencyKey.objects.get().leased_until == first.leased_until > now


def test_a_request_whose_key_was_taken_over_does_not_store_its_answer(
    client_for: ClientFor, operator: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request that outlived its lease: the retry owns the key; the late answer is dropped."""
    import core.api.idempotency as idempotency

    real_claim = idempotency.claim_key

    def claim_then_lose_the_lease(**kwargs: object) -> IdempotencyKey:
        record = real_claim(**kwargs)  # type: ignore[arg-type]
        stale = IdempotencyKey.objects.get(pk=record.pk)
        later = timezone.now() + dt.timedelta(seconds=settings.API_IDEMPOTENCY_LEASE_SECONDS + 1)
        assert idempotency.take_over_abandoned_key(record=stale, now=later)
        return record

    monkeypatch.setattr(idempotency, "claim_key", claim_then_lose_the_lease)

    client_for(operator).post(URL, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")

    record = IdempotencyKey.objects.get()
    assert record.response_status is None
    assert record.leased_until is not None
