"""Survey invitations go out through the reminder machinery with the same guarantees."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.core import mail
from kombu.exceptions import OperationalError

from core.outbox.engine import Outcome, deliver, due_rows, recover_expired_claims
from core.outbox.errors import TemporaryDeliveryError
from core.outbox.tasks import deliver_task
from customers.models import Channel, Interaction
from surveys.models import SurveyInvitation
from surveys.services import create_invitation
from tests.delivery_fixtures import (  # noqa: F401
    RecordingBackend,
    eager_celery,
    moscow,
    recording_backend,
)
from tests.factories import CustomerFactory, EmailFactory, PhoneFactory, SurveyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("recording_backend")]

CREATED = moscow(2026, 3, 2, 10, 0)
NOON = moscow(2026, 3, 2, 12, 0)


def due_ids(*, now: dt.datetime) -> list[int]:
    return list(due_rows("survey_invitation", now=now).values_list("pk", flat=True))


def make_invitation(**customer_fields: object) -> SurveyInvitation:
    customer = CustomerFactory.create(**customer_fields)
    survey = SurveyFactory.create(kind="NPS")
    return SurveyInvitation.objects.create(survey=survey, customer=customer, created_at=CREATED)


def test_email_invitation_carries_the_question_and_the_absolute_link() -> None:
    invitation = make_invitation()
    EmailFactory.create(customer=invitation.customer)
    assert deliver("survey_invitation", invitation.pk, now=NOON).status == Outcome.SENT
    [message] = mail.outbox
    assert f"https://crm.example.com/s/{invitation.token}/" in message.body
    assert "How likely are you to recommend us" in message.body
    assert "https://crm.example.com/u/" in message.body
    invitation.refresh_from_db()
    assert (invitation.delivery_status, invitation.sent_at, invitation.attempts) == (
        "sent",
        NOON,
        1,
    )
    assert Interaction.objects.get(customer=invitation.customer).kind == Interaction.Kind.SURVEY


def test_sms_invitation_in_russian() -> None:
    invitation = make_invitation(language="ru", preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=invitation.customer)
    deliver("survey_invitation", invitation.pk, now=NOON)
    [sms] = RecordingBackend.sent
    assert "Насколько вероятно" in sms.text
    assert f"/s/{invitation.token}/" in sms.text
    invitation.refresh_from_db()
    assert invitation.delivery_channel == Channel.SMS


def test_an_expired_invitation_is_never_sent() -> None:
    invitation = make_invitation()
    EmailFactory.create(customer=invitation.customer)
    late = invitation.expires_at + dt.timedelta(minutes=1)
    assert deliver("survey_invitation", invitation.pk, now=late).status == Outcome.SKIPPED
    invitation.refresh_from_db()
    assert invitation.delivery_status == "skipped"
    assert invitation.last_error == "The invitation expired unsent."
    assert mail.outbox == []


def test_no_consent_or_no_contact_skips_with_the_reason() -> None:
    silent = make_invitation(consent_reminders=False)
    EmailFactory.create(customer=silent.customer)
    unreachable = make_invitation()
    for invitation in (silent, unreachable):
        assert deliver("survey_invitation", invitation.pk, now=NOON).status == "skipped"
    silent.refresh_from_db()
    assert silent.last_error == "The customer does not consent to reminders."
    assert mail.outbox == []


def test_quiet_hours_hold_the_invitation_until_morning() -> None:
    invitation = make_invitation()
    EmailFactory.create(customer=invitation.customer)
    outcome = deliver("survey_invitation", invitation.pk, now=moscow(2026, 3, 2, 23, 0))
    assert outcome.status == Outcome.DEFERRED
    assert outcome.retry_at == moscow(2026, 3, 3, 9, 0)
    invitation.refresh_from_db()
    assert (invitation.delivery_status, invitation.attempts) == ("pending", 0)
    assert deliver("survey_invitation", invitation.pk, now=outcome.retry_at).status == "sent"


def test_fails_twice_then_succeeds() -> None:
    invitation = make_invitation(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=invitation.customer)
    RecordingBackend.failures = [TemporaryDeliveryError("timeout"), TemporaryDeliveryError("503")]
    first = deliver("survey_invitation", invitation.pk, now=NOON)
    second = deliver("survey_invitation", invitation.pk, now=first.retry_at)
    third = deliver("survey_invitation", invitation.pk, now=second.retry_at)
    assert [first.status, second.status, third.status] == ["retry", "retry", "sent"]
    assert second.retry_at - first.retry_at == dt.timedelta(seconds=120)  # type: ignore[operator]
    invitation.refresh_from_db()
    assert (invitation.delivery_status, invitation.attempts) == ("sent", 3)
    assert len(RecordingBackend.sent) == 1


def test_always_failing_ends_failed_with_the_reason() -> None:
    invitation = make_invitation(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=invitation.customer)
    RecordingBackend.failures = [TemporaryDeliveryError(f"timeout {n}") for n in range(5)]
    now = NOON
    for _attempt in range(3):
        now = deliver("survey_invitation", invitation.pk, now=now).retry_at or now
    invitation.refresh_from_db()
    assert (invitation.delivery_status, invitation.last_error) == ("failed", "timeout 2")
    assert invitation.sent_at is None


def test_a_claim_left_by_a_dead_worker_is_recovered_and_sent_at_means_sent(settings) -> None:
    settings.OUTBOX_CLAIM_LEASE_SECONDS = 45
    invitation = make_invitation()
    EmailFactory.create(customer=invitation.customer)
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        delivery_status="sending", claimed_at=NOON, claim_token=uuid.uuid4(), attempts=1
    )
    assert SurveyInvitation.objects.get(pk=invitation.pk).sent_at is None
    assert recover_expired_claims("survey_invitation", now=NOON + dt.timedelta(seconds=30)) == 0
    later = NOON + dt.timedelta(seconds=50)
    assert recover_expired_claims("survey_invitation", now=later) == 1
    assert due_ids(now=later) == [invitation.pk]
    assert deliver("survey_invitation", invitation.pk, now=later).status == "sent"
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert (invitation.sent_at, invitation.claimed_at, invitation.attempts) == (later, None, 2)


@pytest.mark.usefixtures("eager_celery")
def test_creating_an_invitation_sends_it_after_commit(
    django_capture_on_commit_callbacks,
) -> None:
    customer = CustomerFactory.create()
    EmailFactory.create(customer=customer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invitation, created = create_invitation(survey=SurveyFactory.create(), customer=customer)
    assert created and len(callbacks) == 1
    invitation.refresh_from_db()
    # Delivered now unless the test runs inside the quiet hours; never lost either way.
    assert invitation.delivery_status in {"sent", "pending"}
    assert invitation.delivery_status == "pending" or len(mail.outbox) == 1


def test_creating_an_invitation_survives_a_dead_broker(
    django_capture_on_commit_callbacks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broker_down(*args: object, **kwargs: object) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(deliver_task, "apply_async", broker_down)
    customer = CustomerFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        invitation, created = create_invitation(survey=SurveyFactory.create(), customer=customer)
    assert created
    invitation.refresh_from_db()
    assert invitation.delivery_status == "pending"
    assert invitation.pk in due_ids(now=invitation.created_at + dt.timedelta(minutes=1))


def test_an_existing_invitation_is_not_enqueued_again(django_capture_on_commit_callbacks) -> None:
    survey, customer = SurveyFactory.create(), CustomerFactory.create()
    create_invitation(survey=survey, customer=customer, cause="ticket:1")
    with django_capture_on_commit_callbacks() as callbacks:
        create_invitation(survey=survey, customer=customer, cause="ticket:1")
    assert callbacks == []


def test_the_sweep_offers_a_failed_invitation_again_only_after_its_back_off() -> None:
    invitation = make_invitation(preferred_channel=Channel.SMS)
    PhoneFactory.create(customer=invitation.customer)
    assert due_ids(now=CREATED) == [invitation.pk]
    RecordingBackend.failures = [TemporaryDeliveryError("timeout")] * 2
    deliver("survey_invitation", invitation.pk, now=CREATED)
    assert due_ids(now=CREATED + dt.timedelta(seconds=54)) == []
    assert due_ids(now=CREATED + dt.timedelta(seconds=60)) == [invitation.pk]
    deliver("survey_invitation", invitation.pk, now=CREATED + dt.timedelta(seconds=60))
    # Two attempts: 60 s + 120 s since creation (due a few seconds early: clocks drift).
    assert due_ids(now=CREATED + dt.timedelta(seconds=174)) == []
    assert due_ids(now=CREATED + dt.timedelta(seconds=180)) == [invitation.pk]
