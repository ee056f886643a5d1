# ruff: noqa: RUF001 - Russian mail is the point of this module
"""Bad mail is kept and re-ingestible; the MTA pipe command; the admin action."""

from __future__ import annotations

import io
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts.models import User
from email_channel.models import Mailbox, QuarantinedEmail
from email_channel.services import ingest_email, reingest_quarantined
from tests.email_channel.conftest import corpus
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


def test_quarantined_mail_ingests_after_the_fix(mailbox: Mailbox) -> None:
    # A message whose From was lost in transit; the admin restores it in the raw source.
    raw = corpus("no_from.eml")
    item = ingest_email(raw, mailbox=mailbox).quarantined
    assert item is not None

    again = reingest_quarantined(item=item, actor=None)
    assert again.outcome == "quarantined"
    assert QuarantinedEmail.objects.count() == 1  # still one entry, not a second

    QuarantinedEmail.objects.filter(pk=item.pk).update(raw=b"From: fixed@client.example\n" + raw)
    item.refresh_from_db()
    result = reingest_quarantined(item=item, actor=None)

    assert result.outcome == "ticket"
    item.refresh_from_db()
    assert item.reingested_at is not None
    assert item.email == result.email
    assert Ticket.objects.get().messages.get().body == "Nobody signed this."


def test_admin_lists_quarantine_and_reingests(mailbox: Mailbox, admin_user: User) -> None:
    item = ingest_email(corpus("malformed_mime.eml"), mailbox=mailbox).quarantined
    assert item is not None
    client = Client()
    client.force_login(admin_user)
    changelist = reverse("admin:email_channel_quarantinedemail_changelist")

    page = client.get(changelist)
    assert page.status_code == 200
    assert "StartBoundaryNotFoundDefect" in page.content.decode()

    response = client.post(
        changelist, {"action": "reingest", "_selected_action": [item.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "still fails" in response.content.decode()


def test_command_reads_the_message_from_stdin(
    mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(corpus("koi8r_new.eml")))
    monkeypatch.setattr(sys, "stdin", stdin)
    out = StringIO()

    call_command("ingest_email", "--mailbox", "support", stdout=out)

    ticket = Ticket.objects.get()
    assert out.getvalue().strip() == f"ticket ticket {ticket.pk}"
    assert ticket.subject == "Не приходит счёт"


def test_command_refuses_an_unknown_mailbox(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No mailbox named 'nope'"):
        call_command("ingest_email", "--mailbox", "nope", "--file", "/dev/null")


def test_seed_demo_has_the_support_mailbox_the_pipe_needs(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    call_command("seed_demo", "--customers", "5", "--seed", "3", stdout=StringIO())
    stdin = io.TextIOWrapper(io.BytesIO(corpus("windows1251_new.eml")))
    monkeypatch.setattr(sys, "stdin", stdin)

    call_command("ingest_email", "--mailbox", "support", stdout=StringIO())

    mailbox = Mailbox.objects.get(name="support")
    assert mailbox.address == "support@example.com"
    assert Ticket.objects.get(subject="Возврат заказа").team == mailbox.team
