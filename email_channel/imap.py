"""The IMAP poller: fetch what is new in a mailbox's folder, ingest it, mark it done.

Exactly once rests on two things. The mailbox remembers the last UID it ingested (valid only
within one UIDVALIDITY; a new one starts the folder over), so a normal poll fetches only new
mail. And ingest itself refuses a Message-ID it already stored for the mailbox (a unique
constraint), so a poller killed between storing a message and recording its UID, or two
pollers working the same folder, store it once. Mail is flagged (or moved) a batch at a time;
mail a killed poller ingested but never marked is marked by the next poll. Memory is bounded
by fetching in batches of EMAIL_IMAP_BATCH messages, whatever the backlog (bench/poller_bench.py
measures it with 10,000 messages waiting).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from imapclient import IMAPClient

from email_channel.models import Mailbox
from email_channel.services import ingest_email

logger = logging.getLogger(__name__)

# Set on every message the product ingested, so people using the same mailbox in a mail client
# see what the CRM already took (and a poller whose state was lost can skip it).
INGESTED_FLAG = "$CrmIngested"
SEEN = b"\\Seen"


@dataclass
class PollResult:
    mailbox: str
    fetched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


@contextmanager
def connect(mailbox: Mailbox) -> Iterator[IMAPClient]:
    """A logged-in IMAP connection to the mailbox's server, closed afterwards."""
    client = IMAPClient(
        mailbox.imap_host,
        port=mailbox.imap_port,
        ssl=mailbox.imap_tls,
        timeout=settings.EMAIL_IMAP_TIMEOUT_SECONDS,
    )
    try:
        client.login(mailbox.imap_user, mailbox.imap_password())
        yield client
    finally:
        try:
            client.logout()
        except Exception:
            logger.debug("IMAP logout of %s failed", mailbox.name, exc_info=True)


def _new_uids(client: IMAPClient, mailbox: Mailbox) -> list[int]:
    info = client.select_folder(mailbox.imap_folder)
    uidvalidity = int(info[b"UIDVALIDITY"])
    if mailbox.imap_uidvalidity != uidvalidity:
        # The folder was recreated (or this is the first poll): UIDs start over; what was
        # already ingested is recognised by its Message-ID.
        logger.info("mailbox %s: UIDVALIDITY %s, starting the folder over", mailbox, uidvalidity)
        Mailbox.objects.filter(pk=mailbox.pk).update(imap_uidvalidity=uidvalidity, imap_last_uid=0)
        mailbox.imap_uidvalidity, mailbox.imap_last_uid = uidvalidity, 0
    # "n:*" always matches the last message, even below n: filter again.
    found = client.search(["UID", f"{mailbox.imap_last_uid + 1}:*", "NOT", "DELETED"])
    return sorted(uid for uid in found if uid > mailbox.imap_last_uid)


def _ingested_not_marked(client: IMAPClient, mailbox: Mailbox) -> list[int]:
    """Mail at or below the recorded UID (so ingested) that was never flagged or moved.

    A batch is marked after its last message is ingested, but progress is recorded per
    message: a poller killed mid-batch (or losing the server before marking it) leaves up to a
    batch of mail ingested and unmarked, which the search for new mail no longer sees.
    """
    if mailbox.imap_last_uid <= 0:
        return []
    criteria = ["UID", f"1:{mailbox.imap_last_uid}", "NOT", "DELETED"]
    if not mailbox.imap_done_folder:  # moved mail is gone from the folder; flagged mail stays
        criteria += ["UNKEYWORD", INGESTED_FLAG]
    return sorted(client.search(criteria))


def _mark_done(client: IMAPClient, mailbox: Mailbox, uids: list[int]) -> None:
    if mailbox.imap_done_folder:
        client.move(uids, mailbox.imap_done_folder)
    else:
        client.add_flags(uids, [INGESTED_FLAG, SEEN])


def poll_mailbox(mailbox: Mailbox, *, limit: int | None = None) -> PollResult:
    """Ingest the mail that arrived in the mailbox's folder since the last poll.

    Bad mail is quarantined by ingest and counts as done: it never stops the poller.
    """
    result = PollResult(mailbox=mailbox.name)
    batch_size = max(1, int(settings.EMAIL_IMAP_BATCH))
    with connect(mailbox) as client:
        if mailbox.imap_done_folder and not client.folder_exists(mailbox.imap_done_folder):
            client.create_folder(mailbox.imap_done_folder)
        uids = _new_uids(client, mailbox)
        left_unmarked = _ingested_not_marked(client, mailbox)
        for start in range(0, len(left_unmarked), batch_size):
            _mark_done(client, mailbox, left_unmarked[start : start + batch_size])
        if limit is not None:
            uids = uids[:limit]
        for start in range(0, len(uids), batch_size):
            batch = uids[start : start + batch_size]
            # BODY.PEEK[]: fetching does not mark the mail read; marking is ours, after ingest.
            fetched = client.fetch(batch, ["BODY.PEEK[]"])
            for uid in batch:
                data = fetched.get(uid)
                if data is None:  # expunged meanwhile by someone else
                    continue
                raw = data.get(b"BODY[]") or b""
                outcome = ingest_email(bytes(raw), mailbox=mailbox, imap_uid=uid)
                result.fetched += 1
                result.count(outcome.outcome)
                _record_progress(mailbox, uid)
            _mark_done(client, mailbox, [uid for uid in batch if uid in fetched])
            del fetched
    Mailbox.objects.filter(pk=mailbox.pk).update(last_polled_at=timezone.now())
    return result


def _record_progress(mailbox: Mailbox, uid: int) -> None:
    # Never backwards: a slower poller finishing an older batch leaves the newer mark alone.
    Mailbox.objects.filter(pk=mailbox.pk, imap_last_uid__lt=uid).update(imap_last_uid=uid)
    mailbox.imap_last_uid = max(mailbox.imap_last_uid, uid)


def poll_all_mailboxes() -> list[PollResult]:
    """Poll every active mailbox with an IMAP host; one failing server does not stop the rest."""
    results = []
    for mailbox in Mailbox.objects.filter(is_active=True).exclude(imap_host="").order_by("id"):
        try:
            results.append(poll_mailbox(mailbox))
        except Exception:
            logger.exception("polling mailbox %s failed", mailbox.name)
    return results
