"""Customer endpoints that read other apps: caller-ID lookup, data export and erasure.

They live with the project, not in `customers`, because `customers` imports no other app.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connections, router
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.fields import SkipField
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.users import acting_user
from core.api.exceptions import InvalidParameter, django_error_to_dict
from core.api.idempotency import IdempotentPostMixin
from core.api.permissions import HasPermissions
from crm.privacy import erase_customer, export_customer_data
from customers.api.serializers import CustomerSerializer, LookupResultSerializer
from customers.contacts import normalise_email, normalise_phone
from customers.models import Customer, DataExportRecord, Purchase
from customers.selectors import caller_contacts
from tickets.models import ACTIVE_STATUSES, Ticket

# A number shared by more customers than this (a switchboard) is not one caller.
LOOKUP_MAX_RESULTS = 20


def lookup_customers(*, phone: str = "", email: str = "") -> QuerySet[Customer]:
    """Customers reachable at this phone (any spelling) or email, with their call summary.

    One query: the (kind, normalised_value) index finds the contacts; open tickets and the
    last purchase are subqueries of the same statement. Raises ValidationError on a value
    that is no phone or email.
    """
    contacts = caller_contacts(phone=phone, email=email)
    open_tickets = (
        Ticket.objects.filter(customer=OuterRef("pk"), status__in=ACTIVE_STATUSES)
        .order_by()
        .values("customer")
        .annotate(count=Count("pk"))
        .values("count")
    )
    last_purchase = Purchase.objects.filter(
        customer=OuterRef("pk"), status=Purchase.Status.COMPLETED
    ).order_by("-purchased_at", "-id")
    return (
        Customer.objects.filter(pk__in=contacts.values("customer_id"))
        .annotate(
            open_tickets_count=Coalesce(
                Subquery(open_tickets, output_field=IntegerField()), Value(0)
            ),
            last_purchase_at=Subquery(last_purchase.values("purchased_at")[:1]),
            last_purchase_amount=Subquery(last_purchase.values("amount")[:1]),
            last_purchase_currency=Subquery(last_purchase.values("currency")[:1]),
            last_purchase_product=Subquery(last_purchase.values("product__name")[:1]),
        )
        .only("id", "full_name", "company")
        .order_by("-id")[:LOOKUP_MAX_RESULTS]
    )


# The columns lookup_rows() reads, in the order of LookupRow's fields.
LOOKUP_COLUMNS = (
    "id",
    "full_name",
    "company",
    "open_tickets_count",
    "last_purchase_at",
    "last_purchase_amount",
    "last_purchase_currency",
    "last_purchase_product",
)
# Values that stand for the caller's while the statement is compiled: a valid phone and email
# that no other parameter of the statement equals.
_SAMPLE = {"phone": "+79000000000", "email": "lookup-sample@compiled.invalid"}


@dataclass(frozen=True)
class LookupRow:
    """One customer found by lookup_rows(), as LookupResultSerializer reads it."""

    id: int
    full_name: str
    company: str
    open_tickets_count: int
    last_purchase_at: Any
    last_purchase_amount: Any
    last_purchase_currency: str | None
    last_purchase_product: str | None

    @property
    def pk(self) -> int:
        return self.id


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where the caller's normalised value goes in params
    query: Any
    expressions: list[Any]
    order: tuple[int, ...]  # the statement's column for each of LOOKUP_COLUMNS


_compiled: dict[tuple[str, str, str], _Compiled] = {}
_compiled_lock = threading.Lock()


def _compile(kind: str, alias: str) -> _Compiled:
    sample = _SAMPLE[kind]
    normalised = normalise_phone(sample) if kind == "phone" else normalise_email(sample)
    queryset = lookup_customers(**{kind: sample}).values_list(*LOOKUP_COLUMNS)
    compiler = queryset.query.get_compiler(using=alias)
    sql, params = compiler.as_sql()
    slots = tuple(i for i, param in enumerate(params) if param == normalised)
    if len(slots) != 1:  # the statement changed shape: refuse rather than guess
        raise RuntimeError(f"lookup statement has {len(slots)} places for the caller's value")
    if connections[alias].vendor == "postgresql":
        sql, params, slots = _constants_inlined(sql, params, slots[0], alias)
    query = queryset.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    return _Compiled(
        sql=sql,
        params=tuple(params),
        slots=slots,
        query=query,
        expressions=[column[0] for column in compiler.select],
        order=tuple(names.index(name) for name in LOOKUP_COLUMNS),
    )


def _constants_inlined(
    sql: str, params: list[Any] | tuple[Any, ...], slot: int, alias: str
) -> tuple[str, list[Any], tuple[int, ...]]:
    """The statement with its constants (statuses, kinds, the 0 of no tickets) written into
    it as literals and the caller's value its only parameter.

    PostgreSQL keeps a prepared statement's generic plan only when its estimated cost is no
    more than the custom plans'. With `status = $5` a parameter, the generic plan guesses the
    share of completed purchases (a default 0.5 %) and costs each last-purchase probe four
    times the custom plan's, so every ring was planned again: 1.4 ms a lookup, against 0.35
    ms from the cached plan. With the constants in the text both plans see the same
    statement. The literals are quoted by psycopg (`compose_sql`); none comes from a caller.
    """
    ops: Any = connections[alias].ops  # the PostgreSQL backend's (compose_sql)
    literal = ops.compose_sql("%s", [params[slot]])
    composed = ops.compose_sql(sql, list(params))
    if composed.count(literal) != 1:  # the caller's value is not told apart: keep it as it is
        return sql, list(params), (slot,)
    before, after = composed.split(literal)
    # The composed text is a statement again: a literal % must not read as a placeholder.
    return before.replace("%", "%%") + "%s" + after.replace("%", "%%"), [params[slot]], (0,)


def lookup_rows(*, phone: str = "", email: str = "") -> list[LookupRow]:
    """lookup_customers() without building and compiling its statement on every ring.

    The caller-ID path is the API's hottest: its one statement is compiled by the ORM once per
    process (and database, and phone or email), then only the caller's normalised value
    changes; PostgreSQL plans it once per connection. Raises ValidationError on a value that
    is no phone or email, as the queryset does.
    """
    kind = "phone" if phone else "email"
    value = normalise_phone(phone) if phone else normalise_email(email)
    alias = router.db_for_read(Customer)
    connection = connections[alias]
    key = (alias, connection.vendor, kind)
    compiled = _compiled.get(key)
    if compiled is None:
        with _compiled_lock:
            compiled = _compiled.get(key) or _compile(kind, alias)
            _compiled[key] = compiled
    params = list(compiled.params)
    for slot in compiled.slots:
        params[slot] = value
    # On PostgreSQL planned once per connection (core/postgresql: the plan cost the server
    # four times the execution); elsewhere a plain cursor.
    prepared = getattr(connection, "prepared_cursor", None)
    with prepared() if prepared is not None else connection.cursor() as cursor:
        cursor.execute(compiled.sql, params)
        rows: Any = cursor.fetchall()
    compiler = compiled.query.get_compiler(connection=connection)
    converters = compiler.get_converters(compiled.expressions)
    if converters:
        rows = compiler.apply_converters(rows, converters)
    return [LookupRow(*(row[i] for i in compiled.order)) for row in rows]


class LookupQuerySerializer(serializers.Serializer):
    """The lookup's query parameters. The view reads them with `lookup_query()`, which
    answers as this serializer does without building one per ring."""

    phone = serializers.CharField(required=False, max_length=64)
    email = serializers.CharField(required=False, max_length=254)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("phone")) == bool(attrs.get("email")):
            raise serializers.ValidationError({"non_field_errors": [_either_message()]})
        return attrs


def _either_message() -> str:
    """Translated in the language of the request that gets it."""
    return _("Give either phone or email.")


# The query's fields bound once (a serializer deep-copies its declared fields each time it
# is made: a sixth of the lookup's time). Fields keep no state of a validation: threads share
# them.
_QUERY_FIELDS = tuple(LookupQuerySerializer().fields.values())


def lookup_query(params: Any) -> dict[str, str]:
    """The validated `phone` or `email` of a lookup's query string; InvalidParameter with the
    errors LookupQuerySerializer gives (field errors first, then "either ... or")."""
    values: dict[str, str] = {}
    errors: dict[str, Any] = {}
    for query_field in _QUERY_FIELDS:
        name = str(query_field.field_name)
        try:
            values[name] = query_field.run_validation(query_field.get_value(params))
        except serializers.ValidationError as exc:
            errors[name] = exc.detail
        except SkipField:
            pass
    if errors:
        raise InvalidParameter(errors)
    if bool(values.get("phone")) == bool(values.get("email")):
        raise InvalidParameter({"non_field_errors": [_either_message()]})
    return values


# One serializer for every answer, its fields bound once: DRF deep-copies a serializer's declared
# fields for each new instance (and a list's child per call), a fifth of the lookup's time.
# It only reads the rows it is given, so threads may share it.
_LOOKUP_RESULT = LookupResultSerializer()


class CustomerLookupView(APIView):
    """Caller ID: who is calling from this number (or writing from this address)?"""

    permission_classes = [HasPermissions]
    required_permissions = ("customers.view_customer",)

    @extend_schema(
        tags=["customers"],
        operation_id="customers_lookup",
        parameters=[
            OpenApiParameter("phone", OpenApiTypes.STR, description="Any spelling of a phone."),
            OpenApiParameter("email", OpenApiTypes.STR, description="An email address."),
        ],
        responses={200: LookupResultSerializer(many=True)},
        description=(
            "The customers reachable at a phone number in any spelling (`+7 912 345-67-89`, "
            "`8 (912) 3456789`, ...) or at an email address, with the number of open tickets, "
            "the last purchase and the card's URL. One indexed query; the fastest endpoint."
        ),
    )
    def get(self, request: Request) -> Response:
        query = lookup_query(request.query_params)
        try:
            found = lookup_rows(phone=query.get("phone", ""), email=query.get("email", ""))
        except DjangoValidationError as exc:
            field = "phone" if query.get("phone") else "email"
            raise InvalidParameter({field: django_error_to_dict(exc)["non_field_errors"]}) from exc
        return Response([_LOOKUP_RESULT.to_representation(row) for row in found])


class CustomerExportView(APIView):
    """Right of access: everything the CRM holds about one customer."""

    permission_classes = [HasPermissions]
    # Its own permission (a privacy officer's): reading a card is not reading everything.
    required_permissions = ("customers.export_customer_data",)

    @extend_schema(
        tags=["privacy"],
        operation_id="customers_export",
        responses={200: OpenApiTypes.OBJECT},
        description=(
            "Identity, contacts, purchases, interests, interactions, offers, reminders, "
            "tickets and their public messages, survey invitations and answers, as JSON. "
            "Requires `customers.export_customer_data`; every export is recorded "
            "(`DataExportRecord`: who, when, which customer, path `api`)."
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        customer = get_object_or_404(Customer, pk=pk)
        return Response(
            export_customer_data(
                customer=customer, actor=acting_user(request), path=DataExportRecord.Path.API
            )
        )


class CustomerEraseView(IdempotentPostMixin, APIView):
    """Right to erasure: anonymise the customer; idempotent."""

    permission_classes = [HasPermissions]
    required_permissions = ("customers.erase_customer_data",)

    @extend_schema(
        tags=["privacy"],
        operation_id="customers_erase",
        request=None,
        responses={200: CustomerSerializer},
        description=(
            "Anonymise the customer: name, company, notes, external ID, contacts, and the free "
            "texts they wrote are removed; purchases, ticket times and scores stay for the "
            "aggregates. Logged with the acting user. Calling it again changes nothing."
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        customer = get_object_or_404(Customer, pk=pk)
        customer = erase_customer(customer=customer, actor=acting_user(request))
        customer = Customer.objects.prefetch_related("contact_points", "tags").get(pk=customer.pk)
        return Response(CustomerSerializer(customer).data)
