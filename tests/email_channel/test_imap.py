"""The IMAP poller against a real Dovecot: new mail once, marked done, never stopped by bad
mail, exactly once across a kill mid-batch, a UIDVALIDITY change and two pollers at once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections
from imapclient import IMAPClient
from pytest_django.fixtures import Settings

from accounts.models import User
from email_channel import imap
from email_channel.imap import INGESTED_FLAG, poll_mailbox
from email_channel.models import EmailMessage, Mailbox, QuarantinedEmail
from tests.delivery_fixtures import eager_celery  # noqa: F401 - fixture
from tests.email_channel.conftest import Dovecot, SmtpSink, corpus
from tickets.models import Ticket
from tickets.services import add_message


def new_request(n: int, sender: str = "client@example.org") -> bytes:
    return (
        f"From: Client {n} <{sender}>\r\nTo: support@example.com\r\nSubject: Request {n}\r\n"
        f"Message-ID: <request-{n}@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"\r\nPlease help with case {n}.\r\n"
    ).encode()


def flags_by_uid(dovecot: Dovecot, mailbox: Mailbox, folder: str = "INBOX") -> dict[int, set]:
    client = dovecot.client(mailbox.imap_user)
    try:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        if not uids:
            return {}
        return {uid: set(data[b"FLAGS"]) for uid, data in client.fetch(uids, ["FLAGS"]).items()}
    finally:
        client.logout()


@pytest.mark.django_db
def test_poll_ingests_new_mail_once_and_flags_it(imap_mailbox: Mailbox, dovecot: Dovecot) -> None:
    dovecot.append(imap_mailbox.imap_user, new_request(1), corpus("koi8r_new.eml"))

    result = poll_mailbox(imap_mailbox)

    assert (result.fetched, result.outcomes) == (2, {"ticket": 2})
    assert set(Ticket.objects.values_list("subject", flat=True)) == {
        "Request 1",
        "Не приходит счёт",  # noqa: RUF001
    }
    imap_mailbox.refresh_from_db()
    assert imap_mailbox.imap_last_uid == 2
    assert imap_mailbox.imap_uidvalidity is not None
    assert imap_mailbox.last_polled_at is not None
    for flags in flags_by_uid(dovecot, imap_mailbox).values():
        assert {INGESTED_FLAG.encode(), b"\\Seen"} <= flags
    assert EmailMessage.objects.filter(imap_uid=2).exists()

    assert poll_mailbox(imap_mailbox).fetched == 0
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_ingested_mail_is_moved_to_the_done_folder(imap_mailbox: Mailbox, dovecot: Dovecot) -> None:
    imap_mailbox.imap_done_folder = "CRM"
    imap_mailbox.save()
    dovecot.append(imap_mailbox.imap_user, new_request(1), new_request(2))

    poll_mailbox(imap_mailbox)

    assert flags_by_uid(dovecot, imap_mailbox) == {}
    assert len(flags_by_uid(dovecot, imap_mailbox, folder="CRM")) == 2
    assert Ticket.objects.count() == 2


@pytest.mark.django_db
def test_bad_mail_is_quarantined_and_the_poller_goes_on(
    imap_mailbox: Mailbox, dovecot: Dovecot, settings: Settings
) -> None:
    settings.EMAIL_IMAP_BATCH = 2  # three round trips for five messages
    dovecot.append(
        imap_mailbox.imap_user,
        new_request(1),
        corpus("malformed_mime.eml"),
        corpus("no_from.eml"),
        new_request(2),
        new_request(3),
    )

    result = poll_mailbox(imap_mailbox)

    assert result.outcomes == {"ticket": 3, "quarantined": 2}
    assert QuarantinedEmail.objects.count() == 2
    assert all(
        INGESTED_FLAG.encode() in flags for flags in flags_by_uid(dovecot, imap_mailbox).values()
    )


@pytest.mark.django_db
@pytest.mark.faults
def test_poller_killed_mid_batch_resumes_without_duplicates(
    imap_mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    dovecot.append(imap_mailbox.imap_user, *(new_request(n) for n in range(1, 6)))
    real_progress = imap._record_progress
    calls = {"n": 0}

    def killed_after_third_commit(mailbox: Mailbox, uid: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # message 3 is stored; its UID never recorded, nothing flagged
            raise SystemExit("killed")
        real_progress(mailbox, uid)

    monkeypatch.setattr(imap, "_record_progress", killed_after_third_commit)
    with pytest.raises(SystemExit):
        poll_mailbox(imap_mailbox)
    assert Ticket.objects.count() == 3
    imap_mailbox.refresh_from_db()
    assert imap_mailbox.imap_last_uid == 2

    monkeypatch.setattr(imap, "_record_progress", real_progress)
    result = poll_mailbox(imap_mailbox)

    assert result.outcomes == {"duplicate": 1, "ticket": 2}
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        f"Request {n}" for n in range(1, 6)
    ]


@pytest.mark.django_db
@pytest.mark.faults
@pytest.mark.parametrize("done_folder", ["", "CRM"])
def test_a_backlog_is_drained_in_batches_and_a_kill_leaves_nothing_unmarked(
    imap_mailbox: Mailbox,
    dovecot: Dovecot,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    done_folder: str,
) -> None:
    settings.EMAIL_IMAP_BATCH = 3
    imap_mailbox.imap_done_folder = done_folder
    imap_mailbox.save()
    dovecot.append(imap_mailbox.imap_user, *(new_request(n) for n in range(1, 9)))
    fetched: list[list[int]] = []
    real_fetch = IMAPClient.fetch

    def counted_fetch(client: IMAPClient, uids: list[int], *args: Any, **kwargs: Any) -> Any:
        fetched.append(list(uids))
        return real_fetch(client, uids, *args, **kwargs)

    monkeypatch.setattr(IMAPClient, "fetch", counted_fetch)
    real_progress = imap._record_progress
    calls = {"n": 0}

    def killed_after_fifth_commit(mailbox: Mailbox, uid: int) -> None:
        calls["n"] += 1
        if calls["n"] == 5:  # the second batch: 4 recorded, 5 stored, neither marked done
            raise SystemExit("killed")
        real_progress(mailbox, uid)

    monkeypatch.setattr(imap, "_record_progress", killed_after_fifth_commit)
    with pytest.raises(SystemExit):
        poll_mailbox(imap_mailbox)
    assert fetched == [[1, 2, 3], [4, 5, 6]]
    imap_mailbox.refresh_from_db()
    assert imap_mailbox.imap_last_uid == 4
    left = flags_by_uid(dovecot, imap_mailbox)
    assert sorted(uid for uid, flags in left.items() if INGESTED_FLAG.encode() in flags) == (
        [] if done_folder else [1, 2, 3]
    )

    monkeypatch.setattr(imap, "_record_progress", real_progress)
    fetched.clear()
    result = poll_mailbox(imap_mailbox)

    # The rest in batches of three; message 5 again, known by its Message-ID.
    assert fetched == [[5, 6, 7], [8]]
    assert result.outcomes == {"duplicate": 1, "ticket": 3}
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == sorted(
        f"Request {n}" for n in range(1, 9)
    )
    assert EmailMessage.objects.filter(direction="in").count() == 8
    # Every message marked done, including 4, which the killed poller ingested but never marked.
    if done_folder:
        assert flags_by_uid(dovecot, imap_mailbox) == {}
        assert len(flags_by_uid(dovecot, imap_mailbox, folder=done_folder)) == 8
    else:
        left = flags_by_uid(dovecot, imap_mailbox)
        assert len(left) == 8
        assert all(INGESTED_FLAG.encode() in flags for flags in left.values())


@pytest.mark.django_db
def test_new_uidvalidity_starts_over_without_duplicates(
    imap_mailbox: Mailbox, dovecot: Dovecot
) -> None:
    dovecot.append(imap_mailbox.imap_user, new_request(1), new_request(2))
    poll_mailbox(imap_mailbox)
    # As if the folder had been recreated: our UIDs mean nothing any more.
    Mailbox.objects.filter(pk=imap_mailbox.pk).update(imap_uidvalidity=1, imap_last_uid=999)
    imap_mailbox.refresh_from_db()
    dovecot.append(imap_mailbox.imap_user, new_request(3))

    result = poll_mailbox(imap_mailbox)

    assert result.outcomes == {"duplicate": 2, "ticket": 1}
    assert Ticket.objects.count() == 3
    imap_mailbox.refresh_from_db()
    assert imap_mailbox.imap_last_uid == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_pollers_at_once_store_each_message_once(
    imap_mailbox: Mailbox, dovecot: Dovecot
) -> None:
    dovecot.append(imap_mailbox.imap_user, *(new_request(n) for n in range(1, 11)))
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def poller() -> None:
        try:
            mailbox = Mailbox.objects.get(pk=imap_mailbox.pk)
            barrier.wait(timeout=30)
            poll_mailbox(mailbox)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=poller) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert Ticket.objects.count() == 10
    assert EmailMessage.objects.filter(direction="in").count() == 10


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.usefixtures("eager_celery")
def test_round_trip_reply_by_smtp_answer_by_imap_same_ticket(
    imap_mailbox: Mailbox, dovecot: Dovecot, smtp_sink: SmtpSink, operator: User
) -> None:
    dovecot.append(imap_mailbox.imap_user, new_request(1, sender="anna@example.org"))
    poll_mailbox(imap_mailbox)
    ticket = Ticket.objects.get()

    add_message(ticket=ticket, body="Fixed now?", author_kind="operator", author_user=operator)
    ours = smtp_sink.parsed()
    assert ours["To"] == "anna@example.org"
    assert ours["In-Reply-To"] == "<request-1@example.org>"
    answer = (
        f"From: Anna <anna@example.org>\r\nTo: support@example.com\r\n"
        f"Subject: Re: {ours['Subject']}\r\nMessage-ID: <answer-1@example.org>\r\n"
        f"In-Reply-To: {ours['Message-ID']}\r\n"
        f"References: {ours['References']} {ours['Message-ID']}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nYes, it works. Thank you!\r\n\r\n"
        f"On Tue, Support <support@example.com> wrote:\r\n> Fixed now?\r\n"
    ).encode()
    dovecot.append(imap_mailbox.imap_user, answer)

    result = poll_mailbox(imap_mailbox)

    assert result.outcomes == {"ticket": 1}
    assert Ticket.objects.count() == 1
    last = ticket.messages.order_by("id").last()
    assert last is not None
    assert (last.author_kind, last.body) == ("customer", "Yes, it works. Thank you!")
    assert EmailMessage.objects.get(message_id="answer-1@example.org").ticket_id == ticket.pk


@pytest.mark.django_db
def test_the_mail_job_polls_and_the_outbox_sweep_finds_lost_replies(
    imap_mailbox: Mailbox, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from django.utils import timezone

    from core.outbox import tasks
    from crm.jobs import run_job

    dovecot.append(imap_mailbox.imap_user, new_request(1))
    poll_mailbox_result = run_job("mail")
    ticket = Ticket.objects.get()
    # A reply recorded for sending whose task never reached the broker.
    EmailMessage.objects.create(
        mailbox=imap_mailbox,
        direction=EmailMessage.Direction.OUTBOUND,
        message_id="lost-1@example.com",
        to_addresses=["ivan@example.com"],
        ticket=ticket,
        created_at=timezone.now() - dt.timedelta(hours=1),
    )
    enqueued: list[str] = []

    def record(task: object, **kwargs: str) -> bool:
        enqueued.append(kwargs["kind"])
        return True

    monkeypatch.setattr(tasks, "enqueue", record)

    summary = run_job("mail")
    tasks.sweep()

    assert poll_mailbox_result["fetched"] == 1
    assert summary == {"mailboxes": 1, "fetched": 0}
    assert enqueued.count("ticket_reply") == 1
