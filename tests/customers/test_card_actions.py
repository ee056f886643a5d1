"""Actions on the card: htmx partial updates, form errors, foreign ids refused, roles."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from customers.models import ContactPoint, Customer, Interaction, Offer
from tests.factories import (
    CustomerFactory,
    InteractionFactory,
    OfferFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    TicketFactory,
)

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory.create(full_name="Anna Ivanova")


def url(name: str, customer: Customer, *args: Any) -> str:
    return reverse(name, args=[customer.pk, *args])


# --- log contact and notes ---------------------------------------------------------------------


def test_a_logged_contact_is_personalised_and_swapped_into_the_timeline(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    response = operator_client.post(
        url("customers:log_contact", customer),
        {"channel": "phone", "direction": "inbound", "summary": "Asked about the warranty"},
        headers=HTMX,
    )

    assert response.status_code == 200
    contact = Interaction.objects.get(customer=customer)
    assert contact.personalized and contact.operator == operator
    assert contact.answered_at == contact.started_at
    html = response.content.decode()
    assert "Contact logged." in html
    assert 'id="section-timeline" class="panel card-section w-full" hx-swap-oob="true"' in html
    assert "Asked about the warranty" in html


def test_a_contact_without_summary_is_a_form_error_and_no_record(
    operator_client: Client, customer: Customer
) -> None:
    response = operator_client.post(
        url("customers:log_contact", customer),
        {"channel": "phone", "direction": "inbound", "summary": ""},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "Say in a few words what the contact was about." in response.content.decode()
    assert not Interaction.objects.exists()


def test_an_unknown_channel_is_a_form_error(operator_client: Client, customer: Customer) -> None:
    response = operator_client.post(
        url("customers:log_contact", customer),
        {"channel": "pigeon", "direction": "inbound", "summary": "Hi"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert not Interaction.objects.exists()


def test_without_javascript_an_action_redirects_to_the_card(
    operator_client: Client, customer: Customer
) -> None:
    form = operator_client.get(url("customers:log_contact", customer))
    assert form.status_code == 200 and "<html" in form.content.decode()

    done = operator_client.post(
        url("customers:log_contact", customer),
        {"channel": "chat", "direction": "inbound", "summary": "Chat about delivery"},
    )
    bad = operator_client.post(url("customers:log_contact", customer), {"channel": "chat"})

    assert done["Location"] == url("customers:card", customer)
    assert bad.status_code == 400


def test_the_action_form_opens_in_place_for_htmx(
    operator_client: Client, customer: Customer
) -> None:
    html = operator_client.get(
        url("customers:log_contact", customer), headers=HTMX
    ).content.decode()

    assert "<html" not in html and 'name="summary"' in html


def test_a_note_lands_on_the_timeline(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    response = operator_client.post(
        url("customers:add_note", customer), {"text": "Prefers calls after 18:00"}, headers=HTMX
    )

    note = Interaction.objects.get(customer=customer)
    assert note.kind == Interaction.Kind.NOTE and note.operator == operator
    assert "Prefers calls after 18:00" in response.content.decode()


def test_actions_are_refused_to_a_user_without_the_role(
    client: Client, integration: User, customer: Customer
) -> None:
    client.force_login(integration)

    for name in ("customers:log_contact", "customers:add_note", "customers:record_offer"):
        assert client.post(url(name, customer), {"summary": "x"}, headers=HTMX).status_code == 403
    assert not Interaction.objects.exists()


def test_an_action_on_an_unknown_customer_is_a_404(operator_client: Client) -> None:
    response = operator_client.post("/customers/999999/contact/", {"summary": "x"}, headers=HTMX)

    assert response.status_code == 404


def test_an_action_takes_a_bounded_number_of_queries(
    operator_client: Client, customer: Customer, django_assert_max_num_queries: Any
) -> None:
    for _ in range(40):
        InteractionFactory.create(customer=customer)

    # Auth, the customer, full_clean's constraint checks, the insert, the refreshed timeline.
    with django_assert_max_num_queries(26):
        operator_client.post(
            url("customers:log_contact", customer),
            {"channel": "phone", "direction": "inbound", "summary": "Again"},
            headers=HTMX,
        )


# --- offers ------------------------------------------------------------------------------------


def test_an_offer_is_recorded_with_its_rule_and_refreshes_the_offers(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    product = ProductFactory.create(name="Care+")
    contact = InteractionFactory.create(customer=customer, personalized=False)

    response = operator_client.post(
        url("customers:record_offer", customer),
        {
            "product": product.pk,
            "rule": "warranty_extension",
            "reason": "Warranty ends in 12 days",
            "status": "offered",
            "interaction": contact.pk,
        },
        headers=HTMX,
    )

    assert response.status_code == 200
    offer = Offer.objects.get(customer=customer)
    assert (offer.rule, offer.operator, offer.interaction) == (
        "warranty_extension",
        operator,
        contact,
    )
    contact.refresh_from_db()
    assert contact.personalized
    assert 'id="section-offers"' in response.content.decode()


def test_an_offer_naming_another_customers_contact_is_refused(
    operator_client: Client, customer: Customer
) -> None:
    strangers_call = InteractionFactory.create()

    response = operator_client.post(
        url("customers:record_offer", customer),
        {
            "rule": "manual",
            "reason": "Bundle",
            "status": "offered",
            "interaction": strangers_call.pk,
        },
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not Offer.objects.exists()


def test_an_accepted_offer_may_link_the_customers_purchase_only(
    operator_client: Client, customer: Customer
) -> None:
    own = PurchaseFactory.create(customer=customer)
    foreign = PurchaseFactory.create()
    data = {"rule": "manual", "reason": "Bundle", "status": "accepted"}

    bad = operator_client.post(
        url("customers:record_offer", customer), {**data, "purchase": foreign.pk}, headers=HTMX
    )
    not_accepted = operator_client.post(
        url("customers:record_offer", customer),
        {**data, "status": "offered", "purchase": own.pk},
        headers=HTMX,
    )
    good = operator_client.post(
        url("customers:record_offer", customer), {**data, "purchase": own.pk}, headers=HTMX
    )

    assert (bad.status_code, not_accepted.status_code, good.status_code) == (422, 422, 200)
    assert Offer.objects.get().purchase == own


def test_an_offer_needs_a_product_or_a_reason(operator_client: Client, customer: Customer) -> None:
    response = operator_client.post(
        url("customers:record_offer", customer),
        {"rule": "manual", "status": "offered"},
        headers=HTMX,
    )

    assert response.status_code == 422
    assert "Name the product or say what was offered." in response.content.decode()


def test_the_customers_answer_to_an_open_offer_is_recorded(
    operator_client: Client, customer: Customer
) -> None:
    offer = OfferFactory.create(customer=customer)

    response = operator_client.post(
        url("customers:offer_response", customer),
        {"offer": offer.pk, "status": "declined"},
        headers=HTMX,
    )

    offer.refresh_from_db()
    assert response.status_code == 200
    assert offer.status == Offer.Status.DECLINED and offer.responded_at is not None


def test_another_customers_offer_cannot_be_answered_from_this_card(
    operator_client: Client, customer: Customer
) -> None:
    foreign = OfferFactory.create()

    response = operator_client.post(
        url("customers:offer_response", customer),
        {"offer": foreign.pk, "status": "accepted"},
        headers=HTMX,
    )

    foreign.refresh_from_db()
    assert response.status_code == 422
    assert foreign.status == Offer.Status.OFFERED


# --- contacts ----------------------------------------------------------------------------------


def test_a_contact_point_is_added_primary_and_logged(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    PhoneFactory.create(customer=customer, value="+7 912 000-00-01")

    response = operator_client.post(
        url("customers:add_contact", customer),
        {"kind": "phone", "value": "8 912 345 67 89", "label": "work", "is_primary": "on"},
        headers=HTMX,
    )

    assert response.status_code == 200
    phones = {c.normalised_value: c.is_primary for c in customer.contact_points.all()}
    assert phones == {"+79123456789": True, "+79120000001": False}
    assert LogEntry.objects.filter(user=operator).exists()
    assert "+7 912 345-67-89" in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "phone", "value": "12ab"}, "is not a valid phone number"),
        ({"kind": "email", "value": "no-at-sign"}, "is not a valid email address"),
        ({"kind": "messenger", "value": "@anna"}, "Choose the messenger."),
        ({"kind": "phone", "value": "+7 912 000-00-01"}, "already has this contact"),
    ],
)
def test_a_bad_contact_is_a_form_error_and_no_record(
    operator_client: Client, customer: Customer, data: dict[str, str], message: str
) -> None:
    PhoneFactory.create(customer=customer, value="+7 912 000-00-01")

    response = operator_client.post(url("customers:add_contact", customer), data, headers=HTMX)

    assert response.status_code == 422
    assert message in response.content.decode()
    assert customer.contact_points.count() == 1


def test_a_contact_point_is_corrected_in_place(operator_client: Client, customer: Customer) -> None:
    phone = PhoneFactory.create(customer=customer, value="+7 912 000-00-01")

    form = operator_client.get(url("customers:edit_contact", customer, phone.pk), headers=HTMX)
    response = operator_client.post(
        url("customers:edit_contact", customer, phone.pk),
        {"kind": "phone", "value": "+7 912 000-00-02", "is_primary": "on"},
        headers=HTMX,
    )

    phone.refresh_from_db()
    assert "+7 912 000-00-01" in form.content.decode()
    assert response.status_code == 200
    assert phone.normalised_value == "+79120000002"


def test_another_customers_contact_cannot_be_edited_from_this_card(
    operator_client: Client, customer: Customer
) -> None:
    strangers = PhoneFactory.create()

    response = operator_client.post(
        url("customers:edit_contact", customer, strangers.pk),
        {"kind": "phone", "value": "+7 912 000-00-02"},
        headers=HTMX,
    )

    assert response.status_code == 404
    assert ContactPoint.objects.get(pk=strangers.pk).value == strangers.value


# --- lists behind the "all N" links ------------------------------------------------------------


def test_the_timeline_pages_with_htmx_and_without(
    operator_client: Client, customer: Customer, django_assert_max_num_queries: Any
) -> None:
    now = timezone.now()
    for minutes in range(30):
        InteractionFactory.create(
            customer=customer,
            summary=f"call {minutes}",
            started_at=now - dt.timedelta(minutes=minutes + 10),
        )
    timeline = url("customers:timeline", customer)

    with django_assert_max_num_queries(8):
        rows = operator_client.get(timeline, {"offset": 10}, headers=HTMX).content.decode()
    page = operator_client.get(timeline, {"offset": "junk"}).content.decode()

    assert "<html" not in rows and "call 10<" in rows and "call 9<" not in rows
    assert f"{timeline}?offset=35" not in rows and "<tr" in rows
    assert "<html" in page and "call 0<" in page and "?offset=25" in page


def test_the_purchases_and_tickets_lists_are_paged(
    operator_client: Client, customer: Customer
) -> None:
    for _ in range(3):
        PurchaseFactory.create(customer=customer)
        TicketFactory.create(customer=customer)

    purchases = operator_client.get(url("customers:purchases", customer))
    tickets = operator_client.get(reverse("ticket_card:list", args=[customer.pk]))

    assert purchases.context["page"].count == 3 and tickets.context["page"].count == 3


def test_the_home_page_lists_recent_cards_and_my_open_tickets(
    operator_client: Client, customer: Customer, operator: User
) -> None:
    TicketFactory.create(customer=customer, subject="Broken hinge", assignee=operator)
    operator_client.get(url("customers:card", customer))

    html = operator_client.get(reverse("home")).content.decode()

    assert "Anna Ivanova" in html and "Broken hinge" in html


LIST_PAGES = ["customers:timeline", "customers:purchases", "ticket_card:list"]


@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_list_page_takes_a_bounded_number_of_queries(
    operator_client: Client, customer: Customer, name: str, django_assert_max_num_queries: Any
) -> None:
    for _ in range(30):
        InteractionFactory.create(customer=customer)
        PurchaseFactory.create(customer=customer)
        TicketFactory.create(customer=customer)

    with django_assert_max_num_queries(10):
        response = operator_client.get(reverse(name, args=[customer.pk]), {"offset": 5})

    assert response.status_code == 200
    assert response.context["page"].offset == 5


@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_list_page_of_an_unknown_customer_is_a_404(operator_client: Client, name: str) -> None:
    assert operator_client.get(reverse(name, args=[999999])).status_code == 404


@pytest.mark.parametrize("name", LIST_PAGES)
def test_a_list_page_is_refused_without_the_role(
    client: Client, integration: User, customer: Customer, name: str
) -> None:
    client.force_login(integration)

    assert client.get(reverse(name, args=[customer.pk])).status_code == 403
