"""Sending reminders: channel choice, consent, quiet hours, retries and exactly-once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core import mail
from django.utils import timezone

from core.outbox.engine import Outcome, deliver, due_rows, recover_expired_claims
from core.outbox.errors import PermanentDeliveryError, TemporaryDeliveryError
from core.outbox.tasks import deliver_task
from customers.models import Channel, ContactPoint, Interaction, Reminder
from tests.delivery_fixtures import (  # noqa: F401
    RecordingBackend,
    eager_celery,
    moscow,
    recording_backend,
)
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recording_backend")]

DUE = dt.date(2026, 3, 2)
NOON = moscow(2026, 3, 2, 12, 0)


def make_reminder(**customer_fields: object) -> Reminder:
    customer = CustomerFactory.create(**customer_fields)
    product = ProductFactory.create(name="Coffee machine X1")
    purchase = PurchaseFactory.create(customer=customer, product=product)
    return ReminderFactory.create(purchase=purchase, due_on=DUE, ends_on=DUE + dt.timedelta(days=7))


def test_email_reminder_goes_out_with_text_html_and_unsubscribe_link() -> None:
    reminder = make_reminder()
    email = EmailFactory.create(customer=reminder.customer, value="Anna@Example.com")
    assert deliver("reminder", reminder.pk, now=NOON).status == Outcome.SENT
    [message] = mail.outbox
    assert message.to == ["Anna@Example.com"]
    assert message.subject == "Your warranty ends soon: Coffee machine X1"
    assert "ends in 7 days" in message.body
    assert "https://crm.example.com/u/" in message.body
    html, mimetype = message.alternatives[0]  # type: ignore[attr-defined]
    assert mimetype == "text/html" and "https://crm.example.com/u/" in str(html)
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.sent_at, reminder.attempts) == ("sent", NOON, 1)
    assert (reminder.channel, reminder.contact_address) == ("email", email.value)


def test_a_sent_reminder_shows_on_the_customer_timeline() -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer)
    deliver("reminder", reminder.pk, now=NOON)
    interaction = Interaction.objects.get(customer=reminder.customer)
    assert interaction.kind == Interaction.Kind.REMINDER
    assert interaction.direction == Interaction.Direction.OUTBOUND
    assert interaction.channel == Channel.EMAIL
    assert "Warranty ends" in interaction.summary
    assert interaction.started_at == NOON


def test_russian_customer_gets_the_russian_email() -> None:
    reminder = make_reminder(language="ru")
    EmailFactory.create(customer=reminder.customer)
    deliver("reminder", reminder.pk, now=NOON)
    assert mail.outbox[0].subject == "Скоро закончится гарантия: Coffee machine X1"
    assert "через 7 дней" in mail.outbox[0].body


def test_sms_is_used_when_preferred() -> None:
    reminder = make_reminder(preferred_channel=Channel.SMS)
    EmailFactory.create(customer=reminder.customer)
    PhoneFactory.create(customer=reminder.customer, value="8 912 345-67-89")
    deliver("reminder", reminder.pk, now=NOON)
    assert mail.outbox == []
    [sms] = RecordingBackend.sent
    assert sms.to == "+79123456789" and sms.channel == "sms"
    assert "Coffee machine X1" in sms.text
    assert sms.idempotency_key == f"{reminder.idempotency_key.hex}-sms"


def test_falls_back_to_another_channel_when_the_preferred_has_no_contact() -> None:
    reminder = make_reminder(preferred_channel=Channel.EMAIL)
    PhoneFactory.create(customer=reminder.customer)
    deliver("reminder", reminder.pk, now=NOON)
    reminder.refresh_from_db()
    assert reminder.channel == Channel.SMS
    assert len(RecordingBackend.sent) == 1


def test_an_opted_out_address_is_never_used() -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer, opted_out_at=timezone.now())
    PhoneFactory.create(customer=reminder.customer)
    deliver("reminder", reminder.pk, now=NOON)
    assert mail.outbox == []
    assert [m.channel for m in RecordingBackend.sent] == ["sms"]


def test_no_usable_contact_skips_with_the_reason() -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer, opted_out_at=timezone.now())
    outcome = deliver("reminder", reminder.pk, now=NOON)
    reminder.refresh_from_db()
    assert outcome.status == reminder.delivery_status == Reminder.DeliveryStatus.SKIPPED
    assert "opted out" in reminder.last_error
    assert mail.outbox == []


def test_no_consent_means_no_reminder() -> None:
    reminder = make_reminder(consent_reminders=False)
    EmailFactory.create(customer=reminder.customer)
    deliver("reminder", reminder.pk, now=NOON)
    reminder.refresh_from_db()
    assert reminder.delivery_status == Reminder.DeliveryStatus.SKIPPED
    assert reminder.last_error == "The customer does not consent to reminders."
    assert mail.outbox == []


def test_anonymised_customer_is_skipped() -> None:
    reminder = make_reminder(anonymised_at=timezone.now())
    EmailFactory.create(customer=reminder.customer)
    assert deliver("reminder", reminder.pk, now=NOON).status == Outcome.SKIPPED


def test_a_reminder_whose_term_has_ended_is_cancelled() -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer)
    late = moscow(2026, 3, 10, 12, 0)
    assert deliver("reminder", reminder.pk, now=late).status == Outcome.CANCELLED
    assert mail.outbox == []


def test_quiet_hours_defer_to_the_morning_in_the_customers_zone() -> None:
    # 22:00 in Moscow is 04:00 next day in Vladivostok (UTC+10): quiet until 09:00 there.
    reminder = make_reminder(time_zone="Asia/Vladivostok")
    EmailFactory.create(customer=reminder.customer)
    evening = moscow(2026, 3, 2, 22, 0)
    outcome = deliver("reminder", reminder.pk, now=evening)
    morning = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=10)))
    assert outcome.status == Outcome.DEFERRED and outcome.retry_at == morning
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.next_attempt_at, reminder.attempts) == (
        "pending",
        morning,
        0,
    )
    assert deliver("reminder", reminder.pk, now=morning).status == Outcome.SENT


def test_quiet_hours_use_the_site_zone_when_the_customer_has_none() -> None:
    reminder = make_reminder(time_zone="")
    EmailFactory.create(customer=reminder.customer)
    outcome = deliver("reminder", reminder.pk, now=moscow(2026, 3, 2, 8, 59))
    assert outcome.retry_at == moscow(2026, 3, 2, 9, 0)
    assert deliver("reminder", reminder.pk, now=moscow(2026, 3, 2, 9, 0)).status == "sent"


def test_a_reminder_for_a_later_day_waits_for_that_morning() -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer)
    outcome = deliver("reminder", reminder.pk, now=moscow(2026, 3, 1, 12, 0))
    assert outcome.retry_at == moscow(2026, 3, 2, 9, 0)
    assert mail.outbox == []


def test_fails_twice_then_succeeds_with_growing_back_off() -> None:
    reminder = make_reminder(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=reminder.customer)
    RecordingBackend.failures = [
        TemporaryDeliveryError("gateway timeout"),
        TemporaryDeliveryError("gateway answered 503"),
    ]
    first = deliver("reminder", reminder.pk, now=NOON)
    assert first.status == Outcome.RETRY and first.retry_at == NOON + dt.timedelta(seconds=60)
    # A task that arrives early (a duplicate, the sweep) does nothing.
    early = deliver("reminder", reminder.pk, now=NOON + dt.timedelta(seconds=30))
    assert early.status == Outcome.DEFERRED
    second = deliver("reminder", reminder.pk, now=first.retry_at)
    assert second.retry_at == first.retry_at + dt.timedelta(seconds=120)
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.attempts, reminder.last_error) == (
        "pending",
        2,
        "gateway answered 503",
    )
    assert deliver("reminder", reminder.pk, now=second.retry_at).status == Outcome.SENT
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.attempts, reminder.last_error) == ("sent", 3, "")
    assert len(RecordingBackend.sent) == 1


def test_always_failing_ends_failed_with_the_reason() -> None:
    reminder = make_reminder(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=reminder.customer)
    RecordingBackend.failures = [TemporaryDeliveryError(f"timeout {n}") for n in range(5)]
    now = NOON
    outcomes = []
    for _attempt in range(3):
        outcome = deliver("reminder", reminder.pk, now=now)
        outcomes.append(outcome.status)
        now = outcome.retry_at or now
    assert outcomes == ["retry", "retry", "failed"]
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.attempts, reminder.last_error) == (
        "failed",
        3,
        "timeout 2",
    )
    assert deliver("reminder", reminder.pk, now=now).status == Outcome.NOT_CLAIMED
    assert RecordingBackend.sent == []


def test_a_permanent_error_fails_at_once() -> None:
    reminder = make_reminder(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=reminder.customer)
    RecordingBackend.failures = [PermanentDeliveryError("sms gateway answered 400")]
    assert deliver("reminder", reminder.pk, now=NOON).status == Outcome.FAILED
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.last_error) == ("failed", "sms gateway answered 400")


def test_a_sent_reminder_is_never_sent_again() -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer)
    deliver("reminder", reminder.pk, now=NOON)
    assert deliver("reminder", reminder.pk, now=NOON).status == Outcome.NOT_CLAIMED
    assert len(mail.outbox) == 1


def test_a_claim_left_by_a_dead_worker_is_recovered_within_the_lease_and_sent_once(
    settings,
) -> None:
    settings.OUTBOX_CLAIM_LEASE_SECONDS = 45
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer)
    Reminder.objects.filter(pk=reminder.pk).update(
        delivery_status="sending", claimed_at=NOON, claim_token=uuid.uuid4(), attempts=1
    )
    assert recover_expired_claims("reminder", now=NOON + dt.timedelta(seconds=44)) == 0
    assert deliver("reminder", reminder.pk, now=NOON).status == Outcome.NOT_CLAIMED
    later = NOON + dt.timedelta(seconds=46)
    assert recover_expired_claims("reminder", now=later) == 1
    assert list(due_rows("reminder", now=later).values_list("pk", flat=True)) == [reminder.pk]
    assert deliver("reminder", reminder.pk, now=later).status == Outcome.SENT
    reminder.refresh_from_db()
    assert (reminder.attempts, len(mail.outbox)) == (2, 1)


def test_due_ids_leave_out_future_days_and_waiting_retries() -> None:
    due = make_reminder()
    tomorrow = make_reminder()
    Reminder.objects.filter(pk=tomorrow.pk).update(due_on=DUE + dt.timedelta(days=1))
    waiting = make_reminder()
    Reminder.objects.filter(pk=waiting.pk).update(next_attempt_at=NOON + dt.timedelta(hours=1))
    assert list(due_rows("reminder", now=NOON).values_list("pk", flat=True)) == [due.pk]


@pytest.mark.usefixtures("eager_celery")
def test_an_inline_task_leaves_the_retry_to_the_sweep_instead_of_raising() -> None:
    reminder = make_reminder(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=reminder.customer)
    RecordingBackend.failures = [TemporaryDeliveryError("gateway timeout")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(timezone, "now", lambda: NOON)
        deliver_task.delay(kind="reminder", pk=reminder.pk)
    reminder.refresh_from_db()
    assert (reminder.delivery_status, reminder.attempts) == ("pending", 1)
    assert reminder.next_attempt_at == NOON + dt.timedelta(seconds=60)


def test_claim_and_send_run_in_a_bounded_number_of_queries(
    django_assert_max_num_queries,
) -> None:
    reminder = make_reminder()
    EmailFactory.create(customer=reminder.customer)
    ContactPoint.objects.filter(customer=reminder.customer).update(label="home")
    with django_assert_max_num_queries(12):
        deliver("reminder", reminder.pk, now=NOON)


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize(
    ("kind", "english_subject"),
    [
        ("warranty", "Your warranty ends soon"),
        ("support", "Your support contract ends soon"),
        ("renewal", "Your subscription is due for renewal"),
    ],
)
def test_every_kind_renders_in_every_language(
    kind: str, english_subject: str, language: str
) -> None:
    reminder = make_reminder(language=language)
    Reminder.objects.filter(pk=reminder.pk).update(kind=kind)
    EmailFactory.create(customer=reminder.customer)
    PhoneFactory.create(customer=reminder.customer)
    assert deliver("reminder", reminder.pk, now=NOON).status == Outcome.SENT
    [message] = mail.outbox
    assert (message.subject.startswith(english_subject)) == (language == "en")
    assert "Coffee machine X1" in message.body and "{%" not in message.body
    html = str(message.alternatives[0][0])  # type: ignore[attr-defined]
    assert "Coffee machine X1" in html and "{%" not in html


def test_messenger_delivery_names_the_messenger() -> None:
    reminder = make_reminder(preferred_channel=Channel.MESSENGER)
    ContactPoint.objects.create(
        customer=reminder.customer,
        kind=ContactPoint.Kind.MESSENGER,
        messenger=ContactPoint.Messenger.TELEGRAM,
        value="@anna_ivanova",
    )
    deliver("reminder", reminder.pk, now=NOON)
    [message] = RecordingBackend.sent
    assert (message.channel, message.messenger) == ("messenger", "telegram")
    assert message.to == "anna_ivanova"
