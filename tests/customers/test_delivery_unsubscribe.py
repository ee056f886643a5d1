"""The unsubscribe page: a signed link, no login, in the customer's language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from customers.delivery.unsubscribe import unsubscribe_token, unsubscribe_url
from customers.models import ContactPoint
from tests.factories import CustomerFactory, EmailFactory

pytestmark = pytest.mark.django_db


def url_for(contact: ContactPoint) -> str:
    return reverse("customers_public:unsubscribe", args=[unsubscribe_token(contact)])


def test_the_link_asks_first_and_changes_nothing_on_get(client: Client) -> None:
    contact = EmailFactory.create(value="anna@example.com")
    response = client.get(url_for(contact))
    assert response.status_code == 200
    assert b"anna@example.com" in response.content and b"<form" in response.content
    contact.refresh_from_db()
    assert contact.opted_out_at is None


def test_posting_opts_the_address_out_without_a_login(client: Client) -> None:
    contact = EmailFactory.create()
    other = EmailFactory.create(customer=contact.customer, is_primary=False)
    response = client.post(url_for(contact))
    assert response.status_code == 200
    assert b"You are unsubscribed" in response.content
    contact.refresh_from_db()
    other.refresh_from_db()
    assert contact.opted_out_at is not None
    assert other.opted_out_at is None


def test_one_click_post_from_a_mail_client_needs_no_csrf_token() -> None:
    contact = EmailFactory.create()
    client = Client(enforce_csrf_checks=True)
    assert client.post(url_for(contact), {"List-Unsubscribe": "One-Click"}).status_code == 200
    contact.refresh_from_db()
    assert contact.opted_out_at is not None


def test_the_page_speaks_the_customers_language(client: Client) -> None:
    contact = EmailFactory.create(customer=CustomerFactory.create(language="ru"))
    response = client.post(url_for(contact))
    assert "Вы отписались" in response.content.decode()
    assert response["Content-Language"] == "ru"


def test_an_already_opted_out_address_says_so(client: Client) -> None:
    contact = EmailFactory.create()
    client.post(url_for(contact))
    response = client.get(url_for(contact))
    assert b"already unsubscribed" in response.content


@pytest.mark.parametrize("token", ["garbage", "eyJjcCI6MX0:1abc:bad"])
def test_a_forged_or_damaged_token_is_refused(client: Client, token: str) -> None:
    response = client.post(reverse("customers_public:unsubscribe", args=[token]))
    assert response.status_code == 400
    assert b"This link does not work" in response.content
    assert not ContactPoint.objects.filter(opted_out_at__isnull=False).exists()


def test_a_token_for_a_changed_address_no_longer_works(client: Client) -> None:
    contact = EmailFactory.create(value="old@example.com")
    url = url_for(contact)
    contact.value = "new@example.com"
    contact.save()
    assert client.post(url).status_code == 400


def test_other_methods_are_refused(client: Client) -> None:
    assert client.delete(url_for(EmailFactory.create())).status_code == 405


def test_the_absolute_link_starts_with_the_site_url(settings) -> None:
    settings.SITE_URL = "https://crm.example.com"
    assert unsubscribe_url(EmailFactory.create()).startswith("https://crm.example.com/u/")


def test_the_page_uses_a_bounded_number_of_queries(
    client: Client,
    django_assert_max_num_queries,
) -> None:
    url = url_for(EmailFactory.create())
    with django_assert_max_num_queries(5):
        client.post(url)


def test_the_link_does_not_carry_the_address_readably() -> None:
    import base64

    contact = EmailFactory.create(value="anna.secret@example.com")
    token = unsubscribe_token(contact)
    payload = token.split(":")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))

    for text in (token, decoded.decode(errors="replace")):
        assert "anna" not in text and "example.com" not in text


def test_the_link_expires(client: Client, settings) -> None:
    import datetime as dt
    from unittest import mock

    from django.utils import timezone

    settings.UNSUBSCRIBE_LINK_MAX_AGE_DAYS = 180
    contact = EmailFactory.create()
    sent = timezone.now() - dt.timedelta(days=181)
    with mock.patch("django.core.signing.time.time", return_value=sent.timestamp()):
        old = reverse("customers_public:unsubscribe", args=[unsubscribe_token(contact)])
    young = timezone.now() - dt.timedelta(days=179)
    with mock.patch("django.core.signing.time.time", return_value=young.timestamp()):
        recent = reverse("customers_public:unsubscribe", args=[unsubscribe_token(contact)])

    assert client.post(old).status_code == 400
    contact.refresh_from_db()
    assert contact.opted_out_at is None
    assert client.post(recent).status_code == 200


def test_a_link_stops_working_when_the_address_changes(client: Client) -> None:
    contact = EmailFactory.create(value="old@example.com")
    url = url_for(contact)
    contact.value = "new@example.com"
    contact.save()

    assert client.post(url).status_code == 400


def test_links_of_the_first_format_still_work_until_they_expire(client: Client) -> None:
    """Messages already sent carry {"cp", "v"} links: they keep working within the age."""
    from django.core import signing

    contact = EmailFactory.create()
    first_format = signing.dumps(
        {"cp": contact.pk, "v": contact.normalised_value}, salt="customers.unsubscribe"
    )

    assert client.post(f"/u/{first_format}/").status_code == 200
    contact.refresh_from_db()
    assert contact.opted_out_at is not None
