"""Writes about customers that touch more than one row or carry a rule.

Views, the API, the admin, tasks and commands call these; none of them re-implements a rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.models import (
    Channel,
    ContactPoint,
    Customer,
    Interaction,
    Offer,
    Product,
    Purchase,
    Reminder,
)
from customers.signals import send_rows_written

if TYPE_CHECKING:
    from accounts.models import User

ContactData = Mapping[str, Any]

# How many of the customers who already have a contact a warning names.
DUPLICATE_CUSTOMERS_NAMED = 5


class DuplicateContact(ValidationError):
    """A contact another customer already has; added only when the caller says so deliberately.

    `customers` maps each error key (as in the message dict) to the customers who have it.
    """

    def __init__(self, customers: dict[str, list[Customer]]) -> None:
        self.customers = customers
        super().__init__(
            {
                key: [
                    ValidationError(
                        _("Another customer already has this contact: %(customers)s.")
                        % {
                            "customers": ", ".join(
                                f"{other.full_name} (#{other.pk})"
                                for other in others[:DUPLICATE_CUSTOMERS_NAMED]
                            )
                        },
                        code="duplicate_contact",
                    )
                ]
                for key, others in customers.items()
            }
        )

    @property
    def customer_ids(self) -> list[int]:
        return sorted({other.pk for others in self.customers.values() for other in others})


def customers_with_contacts(
    contacts: Iterable[tuple[str, str]], *, exclude_customer_id: int | None = None
) -> dict[tuple[str, str], list[Customer]]:
    """Who already has each (kind, normalised value): one query through the contacts' index."""
    wanted = list(contacts)
    if not wanted:
        return {}
    condition = Q()
    for kind, value in wanted:
        condition |= Q(kind=kind, normalised_value=value)
    found = (
        ContactPoint.objects.filter(condition).select_related("customer").order_by("customer_id")
    )
    if exclude_customer_id is not None:
        found = found.exclude(customer_id=exclude_customer_id)
    owners: dict[tuple[str, str], list[Customer]] = {}
    for contact in found:
        owners.setdefault((contact.kind, contact.normalised_value), []).append(contact.customer)
    return owners


@transaction.atomic
def create_customer(
    *,
    full_name: str,
    contact_points: Iterable[ContactData] = (),
    allow_duplicate_contact: bool = False,
    **fields: Any,
) -> Customer:
    """Create a customer with their contact points, all or nothing.

    The first contact of each kind becomes primary unless one is marked so. A bad contact
    raises ValidationError keyed `contact_points` with the index of the offending item; a
    contact another customer has raises DuplicateContact unless `allow_duplicate_contact`.
    """
    customer = Customer(full_name=full_name, **fields)
    customer.full_clean()
    customer.save()
    add_contact_points(
        customer=customer,
        contact_points=contact_points,
        allow_duplicate_contact=allow_duplicate_contact,
    )
    return customer


@transaction.atomic
def add_contact_points(
    *,
    customer: Customer,
    contact_points: Iterable[ContactData],
    allow_duplicate_contact: bool = False,
) -> list[ContactPoint]:
    """Add contact points to a customer, all or none; errors name the item.

    Errors are keyed like `contact_points[1].value`. A contact marked primary demotes the
    customer's previous primary of its kind; otherwise the first of a kind becomes primary.
    A contact another customer already has (a family's landline, a typo, the same person
    twice) raises DuplicateContact unless `allow_duplicate_contact` says it is meant.
    """
    items = [dict(item) for item in contact_points]
    stored: set[tuple[str, str]] = set()
    primary_kinds: set[str] = set()
    if customer.pk:
        for kind, value, is_primary in customer.contact_points.values_list(
            "kind", "normalised_value", "is_primary"
        ):
            stored.add((kind, value))
            if is_primary:
                primary_kinds.add(kind)
    marked_primary = [item.get("kind") for item in items if item.get("is_primary")]
    created: list[ContactPoint] = []
    created_index: dict[int, int] = {}
    seen: set[tuple[str, str]] = set()
    errors: dict[str, Any] = {}
    for index, item in enumerate(items):
        contact = ContactPoint(customer=customer, **item)
        try:
            contact.full_clean(exclude=["customer"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"contact_points[{index}].{field}"] = messages
            continue
        key = (contact.kind, contact.normalised_value)
        # Caught here, so that the unique constraints never surface as an IntegrityError.
        if key in stored:
            errors[f"contact_points[{index}].value"] = [_("The customer already has this contact.")]
            continue
        if key in seen:
            errors[f"contact_points[{index}].value"] = [_("This contact is given twice.")]
            continue
        if contact.is_primary and marked_primary.count(contact.kind) > 1:
            errors[f"contact_points[{index}].is_primary"] = [
                _("Only one contact of each kind can be primary.")
            ]
            continue
        seen.add(key)
        if contact.kind not in primary_kinds and contact.kind not in marked_primary:
            contact.is_primary = True
        if contact.is_primary:
            primary_kinds.add(contact.kind)
        created_index[id(contact)] = index
        created.append(contact)
    if errors:
        raise ValidationError(errors)
    if not allow_duplicate_contact:
        owners = customers_with_contacts(
            ((contact.kind, contact.normalised_value) for contact in created),
            exclude_customer_id=customer.pk,
        )
        shared = {
            f"contact_points[{created_index[id(contact)]}].value": owners[key]
            for contact in created
            if (key := (contact.kind, contact.normalised_value)) in owners
        }
        if shared:
            raise DuplicateContact(shared)
    demote = {contact.kind for contact in created if contact.is_primary}
    if customer.pk and demote:
        customer.contact_points.filter(kind__in=demote, is_primary=True).update(is_primary=False)
    for contact in created:
        contact.save()
    return created


@transaction.atomic
def set_primary_contact(*, contact: ContactPoint) -> ContactPoint:
    """Make `contact` the customer's primary contact of its kind, demoting the previous one."""
    ContactPoint.objects.filter(
        customer_id=contact.customer_id, kind=contact.kind, is_primary=True
    ).exclude(pk=contact.pk).update(is_primary=False)
    contact.is_primary = True
    contact.save(update_fields=["is_primary", "normalised_value"])
    return contact


# --- Writes from the operator's card ------------------------------------------------------------
# Each takes the acting operator: the interaction or offer records who did it, and contact edits
# go to the admin's history (LogEntry), so "who changed this number?" has an answer.


def _check_owned(customer: Customer, field: str, obj: Any) -> None:
    """Refuse an object of another customer: a forged id in a form is an error, not a write.
    (Offers and interests also refuse it in their model's clean(), whoever saves them.)"""
    if obj is not None and obj.customer_id != customer.pk:
        messages = {
            "interaction": _("The contact is from another customer."),
            "purchase": _("The purchase belongs to another customer."),
        }
        raise ValidationError({field: messages.get(field, _("This belongs to another customer."))})


@transaction.atomic
def log_interaction(
    *,
    customer: Customer,
    actor: User,
    channel: str,
    direction: str,
    summary: str,
    kind: str = Interaction.Kind.CONTACT,
    started_at: dt.datetime | None = None,
    personalized: bool = True,
    contact_address: str = "",
) -> Interaction:
    """Record a contact with the customer, made by `actor` (personalised: from the card).

    A contact the operator logs was answered by them, so it counts as answered at its start.
    """
    started = started_at or timezone.now()
    interaction = Interaction(
        customer=customer,
        kind=kind,
        channel=channel,
        direction=direction,
        summary=summary.strip(),
        started_at=started,
        answered_at=started if direction == Interaction.Direction.INBOUND else None,
        operator=actor,
        personalized=personalized,
        contact_address=contact_address,
    )
    if kind == Interaction.Kind.CONTACT and not interaction.summary:
        raise ValidationError({"summary": _("Say in a few words what the contact was about.")})
    interaction.full_clean()
    interaction.save()
    return interaction


@transaction.atomic
def add_note(
    *, customer: Customer, actor: User, text: str, at: dt.datetime | None = None
) -> Interaction:
    """Add an internal note to the customer's timeline."""
    if not text.strip():
        raise ValidationError({"text": _("Write the note.")})
    note = Interaction(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        channel=Channel.INTERNAL,
        direction=Interaction.Direction.INTERNAL,
        summary=text.strip(),
        started_at=at or timezone.now(),
        operator=actor,
        personalized=True,
    )
    note.full_clean()
    note.save()
    return note


@transaction.atomic
def record_offer(
    *,
    customer: Customer,
    actor: User,
    reason: str,
    status: str = Offer.Status.OFFERED,
    product: Product | None = None,
    rule: str = Offer.Rule.MANUAL,
    interaction: Interaction | None = None,
    purchase: Purchase | None = None,
    at: dt.datetime | None = None,
) -> Offer:
    """Record that an offer was made (and, if already known, accepted or declined).

    The interaction and purchase must be this customer's; a purchase only goes with an
    accepted offer. The offer is marked on the interaction as personalised work.
    """
    _check_owned(customer, "interaction", interaction)
    _check_owned(customer, "purchase", purchase)
    if purchase is not None and status != Offer.Status.ACCEPTED:
        raise ValidationError({"purchase": _("Only an accepted offer leads to a purchase.")})
    if product is None and not reason.strip():
        raise ValidationError({"reason": _("Name the product or say what was offered.")})
    now = at or timezone.now()
    offer = Offer(
        customer=customer,
        product=product,
        rule=rule,
        reason=reason.strip() or str(product),
        status=status,
        offered_at=now,
        responded_at=None if status == Offer.Status.OFFERED else now,
        operator=actor,
        interaction=interaction,
        purchase=purchase,
    )
    offer.full_clean()
    offer.save()
    if interaction is not None and not interaction.personalized:
        interaction.personalized = True
        interaction.save(update_fields=["personalized", "updated_at"])
    return offer


@transaction.atomic
def respond_to_offer(
    *,
    offer: Offer,
    actor: User,
    status: str,
    purchase: Purchase | None = None,
    at: dt.datetime | None = None,
) -> Offer:
    """Record the customer's answer to an offer still open: accepted (maybe a purchase) or not."""
    offer = Offer.objects.select_for_update().get(pk=offer.pk)
    if status not in {Offer.Status.ACCEPTED, Offer.Status.DECLINED}:
        raise ValidationError({"status": _("Choose accepted or declined.")})
    if offer.status != Offer.Status.OFFERED:
        raise ValidationError({"status": _("The customer has already answered this offer.")})
    customer = Customer(pk=offer.customer_id)
    _check_owned(customer, "purchase", purchase)
    if purchase is not None and status != Offer.Status.ACCEPTED:
        raise ValidationError({"purchase": _("Only an accepted offer leads to a purchase.")})
    offer.status = status
    offer.responded_at = at or timezone.now()
    offer.purchase = purchase
    if offer.operator_id is None:
        offer.operator = actor
    offer.full_clean()
    offer.save(update_fields=["status", "responded_at", "purchase", "operator"])
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[offer],
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["status", "responded_at", "purchase"]}}],
        single_object=True,
    )
    return offer


# Reminders that have not gone out (pending, or failed and waiting for another try).
CANCELLABLE_REMINDER_STATUSES = (Reminder.DeliveryStatus.PENDING, Reminder.DeliveryStatus.FAILED)


@transaction.atomic
def cancel_reminders(*, reminder_ids: Iterable[int], actor: User) -> list[int]:
    """Cancel the reminders among these that have not gone out; return the ids cancelled.

    One conditional UPDATE: a worker sending one at this moment wins or loses cleanly. Each
    cancellation is recorded in the admin history under `actor`.
    """
    waiting = Reminder.objects.select_for_update().filter(
        pk__in=list(reminder_ids), delivery_status__in=CANCELLABLE_REMINDER_STATUSES
    )
    cancelled = list(waiting.values_list("pk", flat=True))
    if not cancelled:
        return []
    Reminder.objects.filter(
        pk__in=cancelled, delivery_status__in=CANCELLABLE_REMINDER_STATUSES
    ).update(delivery_status=Reminder.DeliveryStatus.CANCELLED, updated_at=timezone.now())
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=Reminder.objects.filter(pk__in=cancelled),
        action_flag=CHANGE,
        change_message=[{"changed": {"fields": ["delivery_status"]}}],
    )
    return cancelled


@transaction.atomic
def save_contact_point(
    *,
    customer: Customer,
    actor: User,
    kind: str,
    value: str,
    messenger: str = "",
    label: str = "",
    is_primary: bool = False,
    contact: ContactPoint | None = None,
    allow_duplicate_contact: bool = False,
) -> ContactPoint:
    """Add a contact point to the customer, or change `contact` (which must be theirs).

    Marking it primary demotes the previous primary of its kind; the first contact of a kind is
    primary anyway. Errors (a value that does not parse, a duplicate) name the field; a value
    another customer has raises DuplicateContact (keyed `value`) unless
    `allow_duplicate_contact`.
    """
    if contact is not None:
        _check_owned(customer, "contact", contact)
    target = contact if contact is not None else ContactPoint(customer=customer)
    before = (target.kind, target.normalised_value) if contact is not None else None
    target.kind = kind
    target.value = value
    target.messenger = messenger if kind == ContactPoint.Kind.MESSENGER else ""
    target.label = label
    target.normalise()
    duplicate = (
        ContactPoint.objects.filter(
            customer=customer, kind=kind, normalised_value=target.normalised_value
        )
        .exclude(pk=target.pk)
        .exists()
    )
    if duplicate:
        raise ValidationError({"value": _("The customer already has this contact.")})
    # Only a new value is checked: correcting the label of a shared landline is no new duplicate.
    if not allow_duplicate_contact and before != (kind, target.normalised_value):
        owners = customers_with_contacts(
            [(kind, target.normalised_value)], exclude_customer_id=customer.pk
        )
        if owners:
            raise DuplicateContact({"value": next(iter(owners.values()))})
    has_primary = (
        ContactPoint.objects.filter(customer=customer, kind=kind, is_primary=True)
        .exclude(pk=target.pk)
        .exists()
    )
    if is_primary and has_primary:
        ContactPoint.objects.filter(customer=customer, kind=kind, is_primary=True).exclude(
            pk=target.pk
        ).update(is_primary=False)
    target.is_primary = is_primary or not has_primary
    target.full_clean()
    target.save()
    LogEntry.objects.log_actions(
        user_id=actor.pk,
        queryset=[target],
        action_flag=CHANGE if contact is not None else ADDITION,
        change_message=(
            [{"changed": {"fields": ["kind", "value", "messenger", "label", "is_primary"]}}]
            if contact is not None
            else [{"added": {}}]
        ),
        single_object=True,
    )
    return target


@transaction.atomic(savepoint=False)  # one statement, or a get_or_create of its own
def record_call_interaction(
    *,
    call_id: str,
    customer_id: int | None,
    direction: str,
    started_at: dt.datetime,
    answered_at: dt.datetime | None,
    ended_at: dt.datetime | None,
    operator_id: int | None,
    contact_address: str,
    interaction_id: int | None = None,
    previous_started_at: dt.datetime | None = None,
) -> int:
    """Create or bring up to date the timeline entry of a telephone call, by its call ID;
    returns its id.

    The PBX's call ID (`external_id` on the phone channel) marks the entry as measured by the
    telephony: the waiting time and abandonment metrics read only such entries. Given the
    entry's id (the call record keeps it), one UPDATE writes it while it stays with its
    customer; the metrics' rollups hear of the days it touched (`previous_started_at` and
    now) through `rows_written`, and the customers' tallies of the customer it left and the
    one it joined when it moved (an unknown caller linked to a customer: a read of whose it
    was, then the UPDATE).
    """
    values: dict[str, Any] = {
        "customer_id": customer_id,
        "direction": direction,
        "started_at": started_at,
        "answered_at": answered_at,
        "ended_at": ended_at,
        "operator_id": operator_id,
        "contact_address": contact_address,
    }
    if interaction_id is not None:
        entry = Interaction.objects.filter(
            pk=interaction_id, channel=Channel.PHONE, external_id=call_id
        )
        left: list[int | None] = []
        stays = Q(customer_id=customer_id) if customer_id is not None else Q(customer__isnull=True)
        updated = entry.filter(stays).update(**values, updated_at=timezone.now())
        if not updated:
            left = list(entry.values_list("customer_id", flat=True))
            updated = entry.update(**values, updated_at=timezone.now()) if left else 0
        if updated:
            row = {
                **values,
                "id": interaction_id,
                "kind": Interaction.Kind.CONTACT,
                "channel": Channel.PHONE,
                "external_id": call_id,
            }
            before = (
                [
                    {
                        **row,
                        "started_at": previous_started_at or started_at,
                        "customer_id": left[0] if left else customer_id,
                    }
                ]
                if previous_started_at or left
                else []
            )
            send_rows_written(Interaction, [*before, row], counts_unchanged=not left)
            return interaction_id
    interaction, _created = Interaction.objects.select_for_update().get_or_create(
        channel=Channel.PHONE,
        external_id=call_id,
        defaults={"kind": Interaction.Kind.CONTACT, **values},
    )
    for name, value in values.items():
        setattr(interaction, name, value)
    if not _created:
        interaction.save()
    return interaction.pk
