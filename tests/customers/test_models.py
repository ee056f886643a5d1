"""Customer-side models: the invariants they keep on save and in the database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction

from customers.models import ContactPoint, Customer, Interaction, Interest, Offer, Reminder
from customers.selectors import customers_by_contact, customers_by_email, customers_by_phone
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    InterestFactory,
    OfferFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)


# --- ContactPoint ----------------------------------------------------------------------------


def test_saving_a_phone_stores_its_e164_beside_what_was_typed() -> None:
    phone = PhoneFactory.create(value="8 (912) 345-67-89")

    phone.refresh_from_db()
    assert phone.value == "8 (912) 345-67-89"
    assert phone.normalised_value == "+79123456789"


def test_saving_an_email_stores_it_lower_case() -> None:
    email = EmailFactory.create(value=" Anna.Ivanova@Example.COM ")

    email.refresh_from_db()
    assert email.normalised_value == "anna.ivanova@example.com"


def test_a_whatsapp_handle_is_normalised_as_a_phone() -> None:
    contact = ContactPoint.objects.create(
        customer=CustomerFactory.create(),
        kind=ContactPoint.Kind.MESSENGER,
        messenger=ContactPoint.Messenger.WHATSAPP,
        value="8 912 345-67-89",
    )

    assert contact.normalised_value == "+79123456789"


def test_a_telegram_handle_loses_its_at_sign_and_case() -> None:
    contact = ContactPoint.objects.create(
        customer=CustomerFactory.create(),
        kind=ContactPoint.Kind.MESSENGER,
        messenger=ContactPoint.Messenger.TELEGRAM,
        value="@Anna_Ivanova",
    )

    assert contact.normalised_value == "anna_ivanova"


def test_changing_the_value_renormalises_on_save() -> None:
    phone = PhoneFactory.create(value="+7 912 345-67-89")

    phone.value = "8 (912) 000-11-22"
    phone.save()

    phone.refresh_from_db()
    assert phone.normalised_value == "+79120001122"


def test_an_unparsable_phone_is_refused_naming_value_and_nothing_is_saved() -> None:
    customer = CustomerFactory.create()
    contact = ContactPoint(customer=customer, kind=ContactPoint.Kind.PHONE, value="8 (912) 345")

    with pytest.raises(ValidationError) as caught:
        contact.save()

    assert set(caught.value.message_dict) == {"value"}
    assert not ContactPoint.objects.filter(customer=customer).exists()


def test_full_clean_reports_an_unparsable_email_on_value() -> None:
    contact = ContactPoint(
        customer=CustomerFactory.create(), kind=ContactPoint.Kind.EMAIL, value="anna@"
    )

    with pytest.raises(ValidationError) as caught:
        contact.full_clean()

    assert caught.value.message_dict == {"value": ["“anna@” is not a valid email address."]}


def test_one_number_in_two_spellings_cannot_be_saved_twice_for_one_customer() -> None:
    first = PhoneFactory.create(value="+7 912 345-67-89")
    again = ContactPoint(
        customer=first.customer, kind=ContactPoint.Kind.PHONE, value="8 (912) 345 67 89"
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        again.save()

    assert ContactPoint.objects.filter(customer=first.customer).count() == 1


def test_full_clean_reports_a_contact_the_customer_already_has() -> None:
    first = PhoneFactory.create(value="+7 912 345-67-89")
    again = ContactPoint(
        customer=first.customer, kind=ContactPoint.Kind.PHONE, value="8 (912) 345 67 89"
    )

    with pytest.raises(ValidationError) as caught:
        again.full_clean()

    assert caught.value.message_dict[NON_FIELD_ERRORS] == [
        "This customer already has this contact."
    ]


def test_a_customer_has_one_primary_contact_per_kind() -> None:
    phone = PhoneFactory.create(value="+79123456789", is_primary=True)
    second = ContactPoint(
        customer=phone.customer, kind=ContactPoint.Kind.PHONE, value="+79120001122", is_primary=True
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()


def test_secondary_contacts_and_primaries_of_other_kinds_are_allowed() -> None:
    phone = PhoneFactory.create(value="+79123456789", is_primary=True)

    PhoneFactory.create(customer=phone.customer, value="+79120001122", is_primary=False)
    PhoneFactory.create(customer=phone.customer, value="+79120001133", is_primary=False)
    EmailFactory.create(customer=phone.customer, is_primary=True)

    assert phone.customer.contact_points.filter(is_primary=True).count() == 2


def test_two_customers_may_share_a_number_and_any_spelling_finds_both() -> None:
    husband = PhoneFactory.create(value="+7 912 345-67-89").customer
    wife = PhoneFactory.create(value="8 912 3456789").customer
    PhoneFactory.create(value="+7 912 000-11-22")  # someone else

    for spelling in ("89123456789", "+7 (912) 345-67-89", "912 345 67 89"):
        assert set(customers_by_phone(spelling)) == {husband, wife}


def test_a_customer_with_the_number_twice_is_found_once() -> None:
    phone = PhoneFactory.create(value="+7 912 345-67-89")
    ContactPoint.objects.create(
        customer=phone.customer,
        kind=ContactPoint.Kind.MESSENGER,
        messenger=ContactPoint.Messenger.WHATSAPP,
        value="89123456789",
    )

    assert list(customers_by_phone("8 912 345 67 89")) == [phone.customer]


def test_a_whatsapp_number_finds_its_customer_by_phone() -> None:
    customer = CustomerFactory.create()
    ContactPoint.objects.create(
        customer=customer,
        kind=ContactPoint.Kind.MESSENGER,
        messenger=ContactPoint.Messenger.WHATSAPP,
        value="+79123456789",
    )

    assert list(customers_by_phone("8 (912) 345-67-89")) == [customer]


def test_email_lookup_ignores_case() -> None:
    email = EmailFactory.create(value="Anna.Ivanova@Example.com")
    EmailFactory.create(value="boris@example.com")

    assert list(customers_by_email("ANNA.IVANOVA@example.COM")) == [email.customer]
    assert list(customers_by_contact(" anna.ivanova@EXAMPLE.com ")) == [email.customer]


def test_contact_lookup_reads_digits_as_a_phone() -> None:
    phone = PhoneFactory.create(value="+7 912 345-67-89")

    assert list(customers_by_contact("8 912 345 67 89")) == [phone.customer]


@pytest.mark.parametrize("garbage", ["", "   ", "abc", "12", "anna@", "@"])
def test_contact_lookup_on_garbage_finds_nobody(garbage: str) -> None:
    PhoneFactory.create(value="+7 912 345-67-89")
    EmailFactory.create(value="anna@example.com")

    assert list(customers_by_contact(garbage)) == []


def test_phone_lookup_refuses_text_that_is_no_phone() -> None:
    with pytest.raises(ValidationError):
        customers_by_phone("abc")


# --- Customer --------------------------------------------------------------------------------


def test_an_external_id_belongs_to_one_customer() -> None:
    CustomerFactory.create(external_id="SHOP-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory.create(external_id="SHOP-1")


def test_many_customers_may_have_no_external_id() -> None:
    CustomerFactory.create_batch(3, external_id="")

    assert Customer.objects.filter(external_id="").count() == 3


def test_the_database_refuses_a_customer_without_a_name() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Customer.objects.create(full_name="")


def test_a_customer_is_created_with_only_a_name() -> None:
    customer = Customer.objects.create(full_name="Anna Ivanova")

    customer.full_clean()
    assert customer.lifecycle == Customer.Lifecycle.LEAD
    assert customer.language == "en"
    assert not customer.is_anonymised


# --- Interest, Offer, Interaction ------------------------------------------------------------


def test_a_converted_interest_without_closing_time_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        InterestFactory.create(status=Interest.Status.CONVERTED, closed_at=None)


def test_an_open_interest_with_a_closing_time_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        InterestFactory.create(status=Interest.Status.OPEN, closed_at=T0)


def test_only_a_converted_interest_links_to_a_purchase() -> None:
    purchase = PurchaseFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        InterestFactory.create(
            customer=purchase.customer,
            purchase=purchase,
            status=Interest.Status.DISMISSED,
            closed_at=T0,
        )

    converted = InterestFactory.create(
        customer=purchase.customer,
        purchase=purchase,
        status=Interest.Status.CONVERTED,
        closed_at=T0,
    )
    assert converted.pk is not None


def test_an_interest_names_a_product_or_describes_itself() -> None:
    with pytest.raises(ValidationError):
        InterestFactory.build(
            product=None, description="", customer=CustomerFactory.create()
        ).full_clean()

    described = InterestFactory.create(product=None, description="A red kettle")
    assert described.pk is not None


def test_full_clean_explains_a_converted_interest_without_closing_time() -> None:
    interest = InterestFactory.build(
        customer=CustomerFactory.create(),
        product=ProductFactory.create(),
        status=Interest.Status.CONVERTED,
        closed_at=None,
    )

    with pytest.raises(ValidationError) as caught:
        interest.full_clean()

    assert "A converted or dismissed interest has a closing time." in caught.value.messages


def test_an_answered_offer_has_a_response_time() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(status=Offer.Status.ACCEPTED, responded_at=None)


def test_only_an_accepted_offer_links_to_a_purchase() -> None:
    purchase = PurchaseFactory.create()

    with pytest.raises(IntegrityError), transaction.atomic():
        OfferFactory.create(
            customer=purchase.customer,
            purchase=purchase,
            status=Offer.Status.DECLINED,
            responded_at=T0,
        )


def test_an_interaction_cannot_be_answered_before_it_started() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory.create(
            started_at=T0, answered_at=T0 - dt.timedelta(seconds=1), ended_at=None
        )


def test_an_interaction_cannot_end_before_it_was_answered() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory.create(
            started_at=T0,
            answered_at=T0 + dt.timedelta(minutes=2),
            ended_at=T0 + dt.timedelta(minutes=1),
        )


def test_an_interaction_cannot_end_before_it_started() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        InteractionFactory.create(
            started_at=T0, answered_at=None, ended_at=T0 - dt.timedelta(seconds=1)
        )


def test_an_inbound_call_left_before_an_answer_is_abandoned_after_its_wait() -> None:
    call = InteractionFactory.create(
        started_at=T0, answered_at=None, ended_at=T0 + dt.timedelta(seconds=95)
    )

    assert call.is_abandoned
    assert call.waiting_time == dt.timedelta(seconds=95)


def test_an_answered_call_is_not_abandoned_and_waited_until_the_answer() -> None:
    call = InteractionFactory.create(
        started_at=T0,
        answered_at=T0 + dt.timedelta(seconds=40),
        ended_at=T0 + dt.timedelta(minutes=5),
    )

    assert not call.is_abandoned
    assert call.waiting_time == dt.timedelta(seconds=40)


def test_a_call_still_ringing_is_not_abandoned_and_has_no_waiting_time_yet() -> None:
    call = InteractionFactory.create(started_at=T0, answered_at=None, ended_at=None)

    assert not call.is_abandoned
    assert call.waiting_time is None


def test_an_outbound_unanswered_call_is_neither_abandoned_nor_waiting() -> None:
    call = InteractionFactory.create(
        direction=Interaction.Direction.OUTBOUND,
        started_at=T0,
        answered_at=None,
        ended_at=T0 + dt.timedelta(seconds=30),
    )

    assert not call.is_abandoned
    assert call.waiting_time is None


# --- Reminder --------------------------------------------------------------------------------


def test_the_same_reminder_for_a_purchase_cannot_exist_twice() -> None:
    reminder = ReminderFactory.create(due_on=dt.date(2026, 1, 1))

    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderFactory.create(
            purchase=reminder.purchase, kind=reminder.kind, due_on=reminder.due_on
        )


def test_a_purchase_gets_reminders_of_one_kind_on_different_days_and_other_kinds() -> None:
    reminder = ReminderFactory.create(kind=Reminder.Kind.WARRANTY, due_on=dt.date(2026, 1, 1))

    ReminderFactory.create(
        purchase=reminder.purchase, kind=Reminder.Kind.WARRANTY, due_on=dt.date(2026, 1, 24)
    )
    ReminderFactory.create(
        purchase=reminder.purchase, kind=Reminder.Kind.SUPPORT, due_on=dt.date(2026, 1, 1)
    )

    assert reminder.purchase.reminders.count() == 3


def test_a_reminder_without_customer_takes_the_purchase_owner() -> None:
    purchase = PurchaseFactory.create()

    reminder = Reminder.objects.create(
        purchase=purchase, kind=Reminder.Kind.WARRANTY, due_on=dt.date(2026, 1, 1)
    )

    assert reminder.customer == purchase.customer


def test_a_reminder_for_another_customers_purchase_is_refused() -> None:
    reminder = ReminderFactory.build(
        purchase=PurchaseFactory.create(), customer=CustomerFactory.create()
    )

    with pytest.raises(ValidationError) as caught:
        reminder.full_clean()

    assert "purchase" in caught.value.message_dict


def test_a_sent_reminder_has_a_sending_time() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderFactory.create(delivery_status=Reminder.DeliveryStatus.SENT, sent_at=None)
