"""The card's audit history section: "Olga changed phone from A to B, through the API".

Reads auditlog's entries of the customer and of their contacts, purchases, offers and tickets
(crm reads several apps, so the section lives here). Registered from CrmConfig.ready().
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry as AuditLogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet
from django.utils import translation
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from core.api.serializers import PlainRowSerializer, UTCDateTimeField
from core.audit import path_label, reverse_relations
from customers.card import CardContext, CardSection, register_section
from customers.models import ContactPoint, Customer, Offer, Purchase
from customers.selectors import customer_page
from tickets.models import Ticket

ENTRIES_SHOWN = 10
ACTIONS = dict(AuditLogEntry.Action.choices)
# Records of the customer whose history the card shows with the customer's own.
RECORDS: tuple[tuple[type[Model], str], ...] = (
    (ContactPoint, "customer"),
    (Purchase, "customer"),
    (Offer, "customer"),
    (Ticket, "customer"),
)


@dataclass(frozen=True)
class HistoryChange:
    field: str
    old: str
    new: str

    @property
    def text(self) -> str:
        """The line the card shows, in the active language: a record's creation lists every
        field it set, so the two phrasings are translated once per language, not per line."""
        changed, set_to = _phrases(get_language())
        if self.old:
            return changed % {"field": self.field, "old": self.old, "new": self.new}
        return set_to % {"field": self.field, "new": self.new}


@functools.lru_cache(maxsize=16)
def _phrases(language: str | None) -> tuple[str, str]:
    with translation.override(language):
        return (
            gettext("changed %(field)s from “%(old)s” to “%(new)s”"),
            gettext("set %(field)s to “%(new)s”"),
        )


@dataclass(frozen=True)
class HistoryEntry:
    at: Any
    actor: str
    path: str
    action: str
    record: str
    changes: list[HistoryChange]


def customer_history_entries(customer: Customer) -> QuerySet[AuditLogEntry]:
    """Audit entries of the customer and of their records still present, newest first."""
    condition = Q(content_type=ContentType.objects.get_for_model(Customer), object_id=customer.pk)
    for model, field in RECORDS:
        condition |= Q(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=model._base_manager.filter(**{field: customer.pk}).values("pk"),
        )
    return AuditLogEntry.objects.filter(condition).order_by("-timestamp", "-id")


@functools.lru_cache(maxsize=1024)
def _label_in(model: type[Model] | None, name: str, language: str | None) -> str:
    if model is None:
        return name
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name.replace("_", " ")
    return str(getattr(field, "verbose_name", name.replace("_", " ")))


@functools.cache
def _not_recorded(model: type[Model] | None) -> frozenset[str]:
    """Names in entries written before auditlog was kept to a model's own fields
    (`core.audit.track_own_fields_only`): other models' relations to it, never its data."""
    return frozenset(reverse_relations(model)) if model is not None else frozenset()


def _entry(entry: AuditLogEntry) -> HistoryEntry:
    model = entry.content_type.model_class()
    skipped = _not_recorded(model)
    # A field's verbose name in this language, looked up once (a creation lists some twenty).
    language = get_language()
    changes = []
    for name, values in (entry.changes or {}).items():
        if name in skipped:
            continue
        if isinstance(values, list) and len(values) == 2:
            old, new = ("" if value in (None, "None") else str(value) for value in values)
        else:  # a many-to-many change
            objects = values.get("objects", []) if isinstance(values, dict) else []
            old, new = "", f"{values.get('operation', '')} {', '.join(map(str, objects))}"
        changes.append(HistoryChange(field=_label_in(model, name, language), old=old, new=new))
    kind = str(model._meta.verbose_name) if model else entry.content_type.model
    return HistoryEntry(
        at=entry.timestamp,
        actor=entry.actor.get_full_name() or entry.actor.get_username()
        if entry.actor
        else str(_("system")),
        path=path_label(entry),
        action=str(ACTIONS.get(entry.action, "")),
        record=f"{kind}: {entry.object_repr}",
        changes=changes,
    )


def _history_entries(customer_id: int) -> QuerySet[AuditLogEntry]:
    customer = Customer(pk=customer_id)
    return customer_history_entries(customer).select_related("actor", "content_type")


def history_section(context: CardContext) -> dict[str, Any]:
    """The newest audit entries and their count: one query (content types are cached)."""
    models: list[type[Model]] = [Customer, *(model for model, _field in RECORDS)]
    content_types = tuple(ContentType.objects.get_for_model(model).pk for model in models)
    newest = customer_page(
        "history",
        _history_entries,
        context.customer.pk,
        offset=0,
        limit=ENTRIES_SHOWN,
        key=content_types,
    )
    return {"entries": [_entry(entry) for entry in newest.items], "count": newest.count}


class HistoryChangeSerializer(PlainRowSerializer):
    field = serializers.CharField()
    old = serializers.CharField(allow_blank=True)
    new = serializers.CharField(allow_blank=True)


class HistoryEntrySerializer(PlainRowSerializer):
    at = UTCDateTimeField()
    actor = serializers.CharField()
    path = serializers.CharField(help_text="operator UI, API, API token, admin, scheduled job")
    action = serializers.CharField()
    record = serializers.CharField()
    changes = HistoryChangeSerializer(many=True)


class CardHistorySerializer(serializers.Serializer):
    entries = HistoryEntrySerializer(many=True)
    count = serializers.IntegerField()


def register() -> None:
    register_section(
        CardSection(
            key="history",
            title=_("Change history"),
            position=90,
            template="crm/card_history.html",
            load=history_section,
            serializer=CardHistorySerializer,
            width="full",
            permission="customers.view_customer_history",
        )
    )
