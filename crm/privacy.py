"""A customer's personal data across every app: export (right of access) and erasure.

Erasure anonymises rather than deletes: purchases keep their amounts and dates, tickets their
timestamps, surveys their scores, so the aggregates (CLV, resolution times, CSAT) stay
correct while nothing left identifies the person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry as AuditLogEntry
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import Storage
from django.db import transaction
from django.db.models import (
    CharField,
    Count,
    Field,
    JSONField,
    Model,
    Q,
    QuerySet,
    TextField,
)
from django.utils import timezone

from accounts.models import User
from core.api.models import IdempotencyKey
from core.outbox.models import DeliveryStatus
from customers.models import (
    ContactPoint,
    Customer,
    CustomerAlias,
    DataExportRecord,
    Interaction,
    Interest,
    Offer,
    Purchase,
    Reminder,
    Tag,
)
from email_channel.models import EmailMessage, Mailbox, QuarantinedEmail
from surveys.models import SurveyInvitation, SurveyResponse
from telephony.models import Call, CallEvent
from tickets.models import Ticket, TicketAttachment, TicketMessage
from webhooks.models import WebhookDelivery

logger = logging.getLogger(__name__)

# What replaces a free text the customer wrote; not empty, so that "has a comment" and the
# comment's sentiment still count in the aggregates.
ERASED_TEXT = "[erased]"
ERASED_NAME = "Anonymised customer {id}"
ERASURE_LOG_MESSAGE = "Personal data erased (right to erasure)."
EXPORT_FORMAT_VERSION = 1


def _rows(queryset: QuerySet[Any]) -> list[dict[str, Any]]:
    return list(queryset.order_by("pk").values())


def export_customer(*, customer: Customer) -> dict[str, Any]:
    """Everything the CRM holds about one customer, as JSON-ready dictionaries."""
    identity: dict[str, Any] = dict(Customer.objects.filter(pk=customer.pk).values().get())
    identity["tags"] = list(customer.tags.order_by("name").values_list("name", flat=True))
    tickets = Ticket.objects.filter(customer=customer)
    invitations = SurveyInvitation.objects.filter(customer=customer)
    return {
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": timezone.now(),
        "customer": identity,
        "contact_points": _rows(ContactPoint.objects.filter(customer=customer)),
        "purchases": _rows(Purchase.objects.filter(customer=customer)),
        "interests": _rows(Interest.objects.filter(customer=customer)),
        "interactions": _rows(Interaction.objects.filter(customer=customer)),
        "offers": _rows(Offer.objects.filter(customer=customer)),
        "reminders": _rows(Reminder.objects.filter(customer=customer)),
        "tickets": _rows(tickets),
        "ticket_messages": _rows(
            TicketMessage.objects.filter(ticket__customer=customer).exclude(is_internal=True)
        ),
        # The mail of the customer's tickets (headers; the text is the ticket message's) and the
        # files that came with or went to them (described; the files are fetched from the card).
        "email_messages": _rows(EmailMessage.objects.filter(ticket__customer=customer)),
        "ticket_attachments": [
            {key: value for key, value in row.items() if key != "file"}
            for row in _rows(
                TicketAttachment.objects.filter(message__ticket__customer=customer).exclude(
                    message__is_internal=True
                )
            )
        ],
        "survey_invitations": [
            {key: value for key, value in row.items() if key != "token"}
            for row in _rows(invitations)
        ],
        "survey_responses": _rows(SurveyResponse.objects.filter(invitation__customer=customer)),
    }


@transaction.atomic
def export_customer_data(*, customer: Customer, actor: User, path: str) -> dict[str, Any]:
    """The customer's export for `actor`, recorded (who, when, which customer, which path).

    Every exporter (API, admin, card) calls this, never `export_customer` directly.
    """
    DataExportRecord.objects.create(
        customer=customer, customer_number=customer.pk, actor=actor, path=path
    )
    logger.info("Customer %s exported by user %s through %s", customer.pk, actor.pk, path)
    return export_customer(customer=customer)


@transaction.atomic
def erase_customer(*, customer: Customer, actor: User, at: Any = None) -> Customer:
    """Anonymise a customer and every copy of their data; a second call changes nothing.

    Keeps the rows aggregates read; logs the erasure with the acting user.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.anonymised_at is not None:
        return customer
    now = at or timezone.now()
    owned = _owned_rows(customer)
    audit_entries = list(_audit_entries(owned, customer))
    needles = _needles(customer, owned, audit_entries)
    scrub = _scrubber(needles)

    # The erasure's own writes must not copy the old values into the audit history.
    with disable_auditlog():
        _erase_owned_rows(customer=customer, owned=owned, scrub=scrub, now=now)
        _erase_emails(customer=customer)
        _erase_attachments(owned=owned)
        _erase_tags(customer)
        ContactPoint.objects.filter(customer=customer).delete()
        customer.refresh_from_db()
        customer.anonymised_at = now
        customer.save()
    # The texts blanked above feed no metric (a comment stays non-empty, its sentiment
    # stays), so the metrics' daily rollups of these rows remain right: no invalidation.
    _erase_audit_history(entries=audit_entries, owned=owned, scrub=scrub, customer=customer)
    _erase_admin_log(owned=owned, scrub=scrub, customer=customer)
    _erase_webhook_deliveries(customer=customer, owned=owned, scrub=scrub)
    _erase_call_events(owned=owned)
    # Every address the customer has or had (contacts, their history, their mail's senders).
    _erase_quarantined_mail(addresses={n for n in needles if "@" in n}, owned=owned)
    _erase_idempotent_answers(customer=customer, scrub=scrub)
    AuditLogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(Customer),
        object_pk=str(customer.pk),
        object_id=customer.pk,
        object_repr=str(customer),
        action=AuditLogEntry.Action.UPDATE,
        changes={"anonymised_at": ["None", str(now)]},
        actor=actor,
    )
    _log(actor=actor, obj=customer, message=ERASURE_LOG_MESSAGE)
    logger.info("Customer %s erased by user %s", customer.pk, actor.pk)
    return customer


# -- What belongs to the customer, found from the app registry -------------------------------

# Fields replaced whole whatever they hold: texts the customer wrote or that locate them.
# Every other text of the customer's rows keeps its words but loses the customer's names,
# contacts and identifiers (an operator reply "Dear Anna, ..." becomes "Dear [erased], ...").
WHOLE_FIELDS: dict[tuple[type[Model], str], str] = {
    (Ticket, "subject"): ERASED_TEXT,
    (Interaction, "summary"): "",
    (Interaction, "contact_address"): "",
    (Reminder, "contact_address"): "",
    (CustomerAlias, "full_name"): ERASED_TEXT,
    # Both ends of the customer's calls: one is their number (the other the company's line).
    (Call, "caller"): "",
    (Call, "called"): "",
    # The customer's mail: the subject they or we wrote, the quoted history and signature. The
    # addresses are erased by direction (`_erase_emails`): an outbound mail's sender is ours.
    (EmailMessage, "subject"): ERASED_TEXT,
    (EmailMessage, "quoted_text"): ERASED_TEXT,
}
# The shortest name part or identifier searched for in other texts: shorter ones ("Al") would
# erase ordinary words.
MIN_NEEDLE_LENGTH = 3
MAX_PATH_DEPTH = 3


def customer_paths() -> dict[type[Model], str]:
    """Every model whose rows belong to a customer, with the lookup from it to the customer.

    Walks the app registry through foreign keys (a ticket message belongs to its ticket's
    customer: `ticket__customer`), so a new model is covered without being named here.
    """
    paths: dict[type[Model], str] = {Customer: ""}
    level: list[type[Model]] = [Customer]
    for _depth in range(MAX_PATH_DEPTH):
        found: list[type[Model]] = []
        for model in apps.get_models():
            if model in paths:
                continue
            for field in model._meta.get_fields():
                if not (field.many_to_one or field.one_to_one) or not field.concrete:
                    continue
                target = field.related_model
                if target in level and target not in found:
                    prefix = paths[target]
                    paths[model] = f"{field.name}__{prefix}" if prefix else field.name
                    found.append(model)
                    break
        level = found
    return paths


def _owned_rows(customer: Customer) -> dict[type[Model], list[Model]]:
    rows: dict[type[Model], list[Model]] = {}
    for model, path in customer_paths().items():
        lookup = {"pk": customer.pk} if not path else {path: customer.pk}
        found = list(model._base_manager.filter(**lookup).order_by("pk"))
        if found:
            rows[model] = found
    return rows


def _text_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The fields of `model` that can hold free text: no choices, no keys."""
    return [
        field
        for field in model._meta.concrete_fields
        if isinstance(field, CharField | TextField | JSONField)
        and not field.choices
        and not field.primary_key
    ]


def _needles(
    customer: Customer, owned: dict[type[Model], list[Model]], audit_entries: list[Any]
) -> set[str]:
    """The strings that identify the customer: names (now and before), contacts, identifiers."""
    needles = {customer.full_name, customer.company, customer.external_id}
    needles.update(part for part in re.split(r"[\s,.;()\"']+", customer.full_name))
    for contact in ContactPoint.objects.filter(customer=customer):
        needles.update({contact.value, contact.normalised_value})
        if contact.kind == ContactPoint.Kind.EMAIL:
            needles.add(contact.normalised_value.split("@")[0])
    for model, rows in owned.items():
        for row in rows:
            for field in _text_fields(model):
                value = getattr(row, field.attname)
                if field.name == "external_id" or (model, field.name) in WHOLE_FIELDS:
                    needles.add(value or "")
    needles.update(tag.name for tag in _own_tags(customer))
    needles.update(_mail_addresses(customer, owned))
    for entry in audit_entries:
        # Names and contacts the customer had before: an old webhook payload may still quote them.
        model = entry.content_type.model_class()
        if model in (Customer, ContactPoint, CustomerAlias):
            texts = {field.name for field in _text_fields(model)} - {"time_zone"}
            for name, values in (entry.changes or {}).items():
                if name in texts and isinstance(values, list):
                    needles.update(str(value) for value in values if value not in (None, "None"))
    return {needle.strip() for needle in needles if len(needle.strip()) >= MIN_NEEDLE_LENGTH}


def _scrubber(needles: set[str]) -> Callable[[Any], Any]:
    """A function replacing every needle (whole words, any case) in a text or a JSON value."""
    if not needles:
        return lambda value: value
    ordered = sorted(needles, key=len, reverse=True)
    pattern = re.compile(
        "|".join(rf"(?<!\w){re.escape(needle)}(?!\w)" for needle in ordered), re.IGNORECASE
    )

    def scrub(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(ERASED_TEXT, value)
        if isinstance(value, list):
            return [scrub(item) for item in value]
        if isinstance(value, dict):
            return {key: scrub(item) for key, item in value.items()}
        return value

    return scrub


def _erase_owned_rows(
    *,
    customer: Customer,
    owned: dict[type[Model], list[Model]],
    scrub: Callable[[Any], Any],
    now: Any,
) -> None:
    """Rewrite the texts of every row of the customer, with UPDATEs (no save() side effects)."""
    for model, rows in owned.items():
        for row in rows:
            changes: dict[str, Any] = {}
            for field in _text_fields(model):
                value = getattr(row, field.attname)
                new = _erased_value(model, row, field, value, scrub)
                if new != value:
                    changes[field.attname] = new
            if changes:
                if any(field.name == "updated_at" for field in model._meta.concrete_fields):
                    changes["updated_at"] = now
                model._base_manager.filter(pk=row.pk).update(**changes)
    # What the customer wrote themselves goes whole, not only their names.
    TicketMessage.objects.filter(
        ticket__customer=customer, author_kind=TicketMessage.Author.CUSTOMER
    ).update(body=ERASED_TEXT)
    SurveyResponse.objects.filter(invitation__customer=customer).exclude(comment="").update(
        comment=ERASED_TEXT
    )
    Interest.objects.filter(customer=customer).exclude(description="").update(
        description=ERASED_TEXT, updated_at=now
    )


def _erased_value(
    model: type[Model], row: Model, field: Field[Any, Any], value: Any, scrub: Callable[[Any], Any]
) -> Any:
    if value in (None, ""):
        return value
    if model is Customer:
        return ERASED_NAME.format(id=row.pk) if field.name == "full_name" else ""
    if model is Interaction and field.name == "external_id":
        # The call's or chat's id in its system marks a contact measured by the PBX or the chat,
        # which waiting time and abandonment read: it stays set (an id of its own, unique per
        # channel) so that the aggregates stay as they were.
        return f"erased-{row.pk}"
    if field.name == "external_id":
        return ""
    if (model, field.name) in WHOLE_FIELDS:
        return WHOLE_FIELDS[(model, field.name)]
    return scrub(value)


def _mail_addresses(customer: Customer, owned: dict[type[Model], list[Model]]) -> set[str]:
    """The addresses the customer's mail came from or went to (their contacts may differ)."""
    addresses: set[str] = set()
    for row in owned.get(EmailMessage, []):
        if not isinstance(row, EmailMessage):
            continue
        if row.direction == EmailMessage.Direction.INBOUND:
            addresses.update({row.from_address, row.reply_to_address})
        else:
            addresses.update(str(address) for address in row.to_addresses or [])
    addresses.update(
        ContactPoint.objects.filter(customer=customer, kind=ContactPoint.Kind.EMAIL).values_list(
            "normalised_value", flat=True
        )
    )
    own = set(Mailbox.objects.values_list("address", flat=True))
    return {address.strip() for address in addresses if address and address not in own}


def _erase_emails(*, customer: Customer) -> None:
    """The mail of the customer's tickets keeps its dates and delivery state, not who or what.

    The inbound sender and every recipient go (copies included: they are the customer's
    correspondents); a reply still waiting in the outbox is cancelled, as it would go out to
    an address the erasure removed.
    """
    emails = EmailMessage.objects.filter(ticket__customer=customer)
    emails.filter(direction=EmailMessage.Direction.INBOUND).update(
        from_address="", reply_to_address=""
    )
    emails.filter(direction=EmailMessage.Direction.OUTBOUND).update(to_addresses=[])
    emails.update(cc_addresses=[])
    emails.filter(
        direction=EmailMessage.Direction.OUTBOUND, delivery_status=DeliveryStatus.PENDING
    ).update(delivery_status=DeliveryStatus.CANCELLED, next_attempt_at=None)


def _erase_attachments(*, owned: dict[type[Model], list[Model]]) -> None:
    """The files of the customer's tickets are deleted, rows and stored files alike; the files
    go once the erasure committed (a rolled back erasure keeps them)."""
    rows = [row for row in owned.get(TicketAttachment, []) if isinstance(row, TicketAttachment)]
    for row in rows:
        if row.file.name:
            transaction.on_commit(partial(_delete_file, row.file.storage, row.file.name))
    TicketAttachment.objects.filter(pk__in=[row.pk for row in rows]).delete()


def _delete_file(storage: Storage, name: str) -> None:
    """Delete a stored file; a storage that fails is logged (the row is gone: an orphan file,
    found by the name in the log), never an error for the erasure that already committed."""
    try:
        storage.delete(name)
    except Exception:
        logger.exception("attachment file %s of an erased customer could not be deleted", name)


def _erase_quarantined_mail(*, addresses: set[str], owned: dict[type[Model], list[Model]]) -> None:
    """Quarantined raw mail from the customer, or re-ingested into their tickets, is deleted:
    raw mail cannot be anonymised in part. Matched by the sender's address (From header) and
    by the mail it was ingested as."""
    emails = [row.pk for row in owned.get(EmailMessage, [])]
    condition = Q(email__in=emails)
    for address in addresses:
        condition |= Q(from_header__icontains=address)
    QuarantinedEmail.objects.filter(condition).delete()


def _erase_tags(customer: Customer) -> None:
    """Delete the tags only this customer carries (one may name them); detach shared ones."""
    own_ids = [tag.pk for tag in _own_tags(customer)]
    customer.tags.clear()
    Tag.objects.filter(pk__in=own_ids, customers__isnull=True).delete()


def _own_tags(customer: Customer) -> list[Tag]:
    """The customer's tags that no other customer carries."""
    mine = Tag.objects.filter(customers=customer).values("pk")
    return list(
        Tag.objects.filter(pk__in=mine).annotate(holders=Count("customers")).filter(holders=1)
    )


# -- Copies outside the customer's rows --------------------------------------------------------


def _owned_keys(owned: dict[type[Model], list[Model]]) -> dict[int, list[str]]:
    """Content type id -> object ids of the customer's rows (what generic logs point at)."""
    keys: dict[int, list[str]] = {}
    for model, rows in owned.items():
        content_type = ContentType.objects.get_for_model(model)
        keys[content_type.pk] = [str(row.pk) for row in rows]
    return keys


def _generic_filter(owned: dict[type[Model], list[Model]], field: str) -> Q:
    condition = Q(pk__in=[])
    for content_type_id, ids in _owned_keys(owned).items():
        condition |= Q(content_type_id=content_type_id, **{f"{field}__in": ids})
    return condition


def _audit_entries(owned: dict[type[Model], list[Model]], customer: Customer) -> QuerySet[Any]:
    """The history of the customer's rows, and of rows of theirs deleted before (a phone
    removed last year): their entries name the customer in the foreign key's old or new value."""
    condition = _generic_filter(owned, "object_pk")
    for model, path in customer_paths().items():
        if path and "__" not in path:
            content_type = ContentType.objects.get_for_model(model)
            for index in (0, 1):  # auditlog keeps a change as [old, new], ids as text
                condition |= Q(
                    content_type=content_type, **{f"changes__{path}__{index}": str(customer.pk)}
                )
    return AuditLogEntry.objects.filter(condition).select_related("content_type")


def _erase_audit_history(
    *,
    entries: list[Any],
    owned: dict[type[Model], list[Model]],
    scrub: Callable[[Any], Any],
    customer: Customer,
) -> None:
    """Old and new values of free texts in the customer's history become [erased]."""
    # Entries written since the list was read (none: the erasure disables auditlog) and entries
    # of contact points deleted before are all among the rows' content types and ids.
    for entry in entries:
        model = entry.content_type.model_class()
        text_names = {field.name for field in _text_fields(model)} if model else set()
        changes = {}
        for name, values in (entry.changes or {}).items():
            if name in text_names or not isinstance(values, list):
                changes[name] = _erased_change(values)
            else:
                changes[name] = scrub(values)
        entry.changes = changes
        entry.changes_text = scrub(entry.changes_text)
        entry.serialized_data = None
        entry.additional_data = scrub(entry.additional_data)
        entry.object_repr = str(customer) if model is Customer else scrub(entry.object_repr)
    AuditLogEntry.objects.bulk_update(
        entries,
        ["changes", "changes_text", "serialized_data", "additional_data", "object_repr"],
        batch_size=500,
    )


def _erased_change(values: Any) -> Any:
    if isinstance(values, list):
        return [value if value in (None, "", "None") else ERASED_TEXT for value in values]
    if isinstance(values, dict):  # a many-to-many change: {"type", "operation", "objects"}
        return {**values, "objects": [ERASED_TEXT for _ in values.get("objects", [])]}
    return ERASED_TEXT


def _erase_admin_log(
    *, owned: dict[type[Model], list[Model]], scrub: Callable[[Any], Any], customer: Customer
) -> None:
    customer_type = ContentType.objects.get_for_model(Customer)
    entries = list(LogEntry.objects.filter(_generic_filter(owned, "object_id")))
    for entry in entries:
        is_customer = entry.content_type_id == customer_type.pk
        entry.object_repr = str(customer)[:200] if is_customer else scrub(entry.object_repr)
        entry.change_message = scrub(entry.change_message)
    LogEntry.objects.bulk_update(entries, ["object_repr", "change_message"], batch_size=500)


def _erase_webhook_deliveries(
    *, customer: Customer, owned: dict[type[Model], list[Model]], scrub: Callable[[Any], Any]
) -> None:
    """Deliveries about the customer (or their tickets and answers) lose the personal fields."""
    ticket_ids = [row.pk for row in owned.get(Ticket, [])]
    customer_ids = _customer_ids(customer)
    about_customer = (
        Q(event__startswith="customer.", payload__id__in=customer_ids)
        | Q(payload__customer__in=customer_ids)
        | Q(event__startswith="ticket.", payload__number__in=ticket_ids)
    )
    deliveries = list(WebhookDelivery.objects.filter(about_customer))
    for delivery in deliveries:
        payload = scrub(delivery.payload)
        if isinstance(payload, dict):  # the event's data; the envelope is built when sent
            for key, erased in WEBHOOK_PERSONAL_KEYS.items():
                if payload.get(key):
                    payload[key] = erased(customer)
        delivery.payload = payload
        delivery.response_body = scrub(delivery.response_body)
        delivery.last_error = scrub(delivery.last_error)
    WebhookDelivery.objects.bulk_update(
        deliveries, ["payload", "response_body", "last_error"], batch_size=500
    )


WEBHOOK_PERSONAL_KEYS: dict[str, Callable[[Customer], str]] = {
    "full_name": lambda customer: str(customer),
    "external_id": lambda customer: "",
    "subject": lambda customer: ERASED_TEXT,
}


def _erase_call_events(*, owned: dict[type[Model], list[Model]]) -> None:
    """The PBX's raw events of the customer's calls quote both numbers as the PBX spelt them;
    they hang on the call by its PBX id, not by a foreign key, so the registry walk misses them."""
    call_ids = [call.call_id for call in owned.get(Call, []) if isinstance(call, Call)]
    for event in CallEvent.objects.filter(call_id__in=call_ids):
        payload = dict(event.payload)
        for key in ("from", "to"):
            if payload.get(key):
                payload[key] = ERASED_TEXT
        if payload != event.payload:
            CallEvent.objects.filter(pk=event.pk).update(payload=payload)


def _erase_idempotent_answers(*, customer: Customer, scrub: Callable[[Any], Any]) -> None:
    """Stored API answers about the customer replay only their id after the erasure.

    Keys live for settings.API_IDEMPOTENCY_TTL_SECONDS, so the table is small enough to read.
    """
    customer_ids = _customer_ids(customer)
    markers = [f"/customers/{pk}/" for pk in customer_ids]
    changed = []
    for key in IdempotencyKey.objects.filter(response_body__isnull=False).iterator():
        body = key.response_body
        scrubbed = scrub(body)
        about = (
            scrubbed != body
            or any(marker in key.request_path for marker in markers)
            or (
                isinstance(body, dict) and ({body.get("customer"), _id_of(key)} & set(customer_ids))
            )
        )
        if about:
            key.response_body = (
                {"id": body.get("id"), "erased": True} if isinstance(body, dict) else None
            )
            key.request_path = scrub(key.request_path)
            changed.append(key)
    IdempotencyKey.objects.bulk_update(changed, ["response_body", "request_path"], batch_size=500)


def _customer_ids(customer: Customer) -> list[int]:
    """The customer's id and the ids of the customers merged into it."""
    merged = CustomerAlias.objects.filter(customer=customer)
    return [customer.pk, *merged.values_list("merged_customer_id", flat=True)]


def _id_of(key: IdempotencyKey) -> Any:
    """The id in the answer of a customer creation (POST .../customers/)."""
    body = key.response_body
    if key.request_path.rstrip("/").endswith("/customers") and isinstance(body, dict):
        return body.get("id")
    return None


def _log(*, actor: User, obj: Model, message: str) -> None:
    LogEntry.objects.create(
        user=actor,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action_flag=CHANGE,
        change_message=message,
    )
