"""The admin: every model registered, every page a bounded number of queries, and the rules.

Query bounds are checked the way they fail in practice: a page is measured with a few rows and
again with many, and must read the same number of queries both times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import OPERATORS
from accounts.tokens import issue_token
from customers.admin import RECENT_PURCHASES_SHOWN
from customers.models import ContactPoint, Customer, CustomerAlias, Purchase
from metrics.models import (
    CLVModelFit,
    FactRollup,
    FactRollupDay,
    MetricSnapshot,
    PurchaseDay,
    PurchaseDayRollup,
    PurchaseDaysBuild,
)
from surveys.forms import SurveyForm
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests.factories import (
    CLVModelFitFactory,
    CustomerFactory,
    EmailFactory,
    InteractionFactory,
    InterestFactory,
    MetricSnapshotFactory,
    OfferFactory,
    PhoneFactory,
    ProductFactory,
    PurchaseFactory,
    ReminderFactory,
    SLAPolicyFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    TagFactory,
    TeamFactory,
    TicketFactory,
    TicketMessageFactory,
    UserFactory,
)
from tickets.models import (
    Priority,
    SLAPolicy,
    Status,
    Ticket,
    TicketContact,
    TicketEvent,
    TicketMessage,
)

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("accounts", "customers", "tickets", "surveys", "metrics")

# Generous ceilings: the real guard is that the count does not change with the number of rows.
CHANGELIST_MAX_QUERIES = 10
FORM_PAGE_MAX_QUERIES = 12
FEW, MANY = 3, 30
AUTOCOMPLETE_PAGE_SIZE = 20  # django.contrib.admin.views.autocomplete.AutocompleteJsonView


# --- Rows for every model, each with every foreign key its list shows -------------------------


def _customer_row(i: int) -> None:
    customer = CustomerFactory.create()
    PhoneFactory.create(customer=customer)
    EmailFactory.create(customer=customer)
    PurchaseFactory.create(customer=customer)
    PurchaseFactory.create(customer=customer, status=Purchase.Status.REFUNDED)
    customer.tags.add(TagFactory.create())


def _tag_row(i: int) -> None:
    TagFactory.create().customers.add(CustomerFactory.create())


def _team_row(i: int) -> None:
    UserFactory.create(team=TeamFactory.create())


def _user_row(i: int) -> None:
    UserFactory.create(team=TeamFactory.create(), groups=[OPERATORS])


def _product_row(i: int) -> None:
    ProductFactory.create(successor=ProductFactory.create())


def _ticket_row(i: int) -> None:
    TicketFactory.create(
        assignee=UserFactory.create(), team=TeamFactory.create(), status=Status.OPEN
    )


def _ticket_message_row(i: int) -> None:
    TicketMessageFactory.create(
        author_kind=TicketMessage.Author.OPERATOR, author_user=UserFactory.create()
    )


def _ticket_event_row(i: int) -> None:
    TicketEvent.objects.create(
        ticket=TicketFactory.create(),
        kind=TicketEvent.Kind.CREATED,
        actor=UserFactory.create(),
        to_value="new",
    )


def _ticket_contact_row(i: int) -> None:
    interaction = InteractionFactory.create()
    TicketContact.objects.create(
        ticket=TicketFactory.create(customer=interaction.customer), interaction=interaction
    )


def _invitation_row(i: int) -> None:
    invitation = SurveyInvitationFactory.create()
    if i % 2:
        SurveyResponseFactory.create(invitation=invitation)


ROW_BUILDERS: dict[type[Model], Callable[[int], object]] = {
    User: _user_row,
    apps.get_model("accounts", "Team"): _team_row,
    apps.get_model("accounts", "ApiToken"): lambda i: issue_token(
        user=UserFactory.create(is_staff=False), name=f"token {i}"
    )[0],
    Customer: _customer_row,
    ContactPoint: lambda i: PhoneFactory.create(),
    apps.get_model("customers", "Tag"): _tag_row,
    apps.get_model("customers", "ProductCategory"): lambda i: ProductFactory.create(),
    apps.get_model("customers", "Product"): _product_row,
    Purchase: lambda i: PurchaseFactory.create(),
    apps.get_model("customers", "Interest"): lambda i: InterestFactory.create(),
    apps.get_model("customers", "Interaction"): lambda i: InteractionFactory.create(
        operator=UserFactory.create()
    ),
    apps.get_model("customers", "Offer"): lambda i: OfferFactory.create(
        operator=UserFactory.create()
    ),
    apps.get_model("customers", "Reminder"): lambda i: ReminderFactory.create(),
    apps.get_model("customers", "DataExportRecord"): lambda i: apps.get_model(
        "customers", "DataExportRecord"
    ).objects.create(
        customer=CustomerFactory.create(),
        customer_number=i + 1,
        actor=UserFactory.create(),
        path="admin",
    ),
    Ticket: _ticket_row,
    TicketMessage: _ticket_message_row,
    TicketEvent: _ticket_event_row,
    TicketContact: _ticket_contact_row,
    SLAPolicy: lambda i: SLAPolicyFactory.create(name=f"Policy {i}", is_active=False),
    Survey: lambda i: SurveyFactory.create(kind=list(Survey.Kind)[i % 3]),
    SurveyInvitation: _invitation_row,
    SurveyResponse: lambda i: SurveyResponseFactory.create(
        comment="Quick help", sentiment="positive"
    ),
    MetricSnapshot: lambda i: MetricSnapshotFactory.create(
        day=timezone.localdate() - dt.timedelta(days=i + 1)
    ),
    CLVModelFit: lambda i: CLVModelFitFactory.create(),
    FactRollup: lambda i: FactRollup.objects.create(
        family="inbound", day=timezone.localdate() - dt.timedelta(days=i + 2), a0=i
    ),
    FactRollupDay: lambda i: FactRollupDay.objects.create(
        family="inbound", day=timezone.localdate() - dt.timedelta(days=i + 2)
    ),
    PurchaseDay: lambda i: PurchaseDay.objects.create(
        customer=CustomerFactory.create(),
        day=timezone.localdate() - dt.timedelta(days=i + 1),
        lines=1,
        revenue=10,
    ),
    PurchaseDaysBuild: lambda i: PurchaseDaysBuild.objects.create(time_zone="UTC"),
    CustomerAlias: lambda i: CustomerAlias.objects.create(
        customer=CustomerFactory.create(), merged_customer_id=100000 + i, full_name="Old name"
    ),
    PurchaseDayRollup: lambda i: PurchaseDayRollup.objects.create(
        day=timezone.localdate() - dt.timedelta(days=i + 2), lag=1, customers=i + 1
    ),
}
ALL_MODELS = list(ROW_BUILDERS)
# History and computed figures are only read in the admin.
READ_ONLY_MODELS = {
    CustomerAlias,
    TicketEvent,
    apps.get_model("customers", "DataExportRecord"),
    MetricSnapshot,
    CLVModelFit,
    FactRollup,
    FactRollupDay,
    PurchaseDay,
    PurchaseDaysBuild,
    PurchaseDayRollup,
}


def _url(model: type[Model], view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _label(model: type[Model]) -> str:
    return model._meta.label


@pytest.fixture
def admin_client_(client: Client, admin_user: User) -> Client:
    client.force_login(admin_user)
    return client


# --- Registration and query bounds ------------------------------------------------------------


def test_every_model_of_the_project_is_registered() -> None:
    project_models = {
        model for app in PROJECT_APPS for model in apps.get_app_config(app).get_models()
    }
    unregistered = {_label(m) for m in project_models if not admin.site.is_registered(m)}
    assert unregistered == set()
    # And the query-bound tests below cover every one of them.
    assert set(ROW_BUILDERS) == project_models


@pytest.mark.parametrize("model", ALL_MODELS, ids=_label)
def test_changelist_queries_do_not_grow_with_rows(
    admin_client_: Client,
    django_assert_max_num_queries: Any,
    model: type[Model],
) -> None:
    url = _url(model, "changelist")
    build = ROW_BUILDERS[model]
    for i in range(FEW):
        build(i)
    admin_client_.get(url)  # warm the per-process caches (content types) before counting

    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES) as few:
        response = admin_client_.get(url)
    assert response.status_code == 200
    _assert_lists_every_row(response, model)

    for i in range(FEW, MANY):
        build(i)
    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES) as many:
        response = admin_client_.get(url)
    assert response.status_code == 200
    _assert_lists_every_row(response, model)
    assert len(many) == len(few), _new_queries(few, many)


def _assert_lists_every_row(response: Any, model: type[Model]) -> None:
    changelist = response.context["cl"]
    assert changelist.result_count == model._default_manager.count() >= FEW
    assert len(changelist.result_list) == changelist.result_count


def _new_queries(few: Any, many: Any) -> str:
    seen = {query["sql"] for query in few.captured_queries}
    extra = [query["sql"] for query in many.captured_queries if query["sql"] not in seen]
    return "queries that appeared with more rows:\n" + "\n".join(extra[:5])


@pytest.mark.parametrize("model", ALL_MODELS, ids=_label)
def test_add_page_renders_within_a_query_bound(
    admin_client_: Client, django_assert_max_num_queries: Any, model: type[Model]
) -> None:
    with django_assert_max_num_queries(FORM_PAGE_MAX_QUERIES):
        response = admin_client_.get(_url(model, "add"))
    assert response.status_code == (403 if model in READ_ONLY_MODELS else 200)


@pytest.mark.parametrize("model", ALL_MODELS, ids=_label)
def test_change_page_renders_within_a_query_bound(
    admin_client_: Client, django_assert_max_num_queries: Any, model: type[Model]
) -> None:
    ROW_BUILDERS[model](0)
    obj = model._default_manager.order_by("-pk").first()
    assert obj is not None
    with django_assert_max_num_queries(FORM_PAGE_MAX_QUERIES):
        response = admin_client_.get(_url(model, "change", obj.pk))
    assert response.status_code == 200


def _count_change_page_queries(client: Client, url: str, capture: Any) -> tuple[int, Any]:
    client.get(url)
    with capture(FORM_PAGE_MAX_QUERIES) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


def test_customer_page_queries_do_not_grow_with_history(
    admin_client_: Client, django_assert_max_num_queries: Any
) -> None:
    customer = CustomerFactory.create()
    url = _url(Customer, "change", customer.pk)

    def add_history(n: int) -> None:
        for _ in range(n):
            PurchaseFactory.create(customer=customer)
            PhoneFactory.create(customer=customer, is_primary=False)

    add_history(FEW)
    few, _response = _count_change_page_queries(admin_client_, url, django_assert_max_num_queries)
    add_history(MANY - FEW)
    many, response = _count_change_page_queries(admin_client_, url, django_assert_max_num_queries)

    assert many == few
    purchases = next(
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is Purchase
    )
    # Only the latest purchases are on the page; the link leads to the rest.
    assert len(purchases.forms) == RECENT_PURCHASES_SHOWN
    newest = Purchase.objects.filter(customer=customer).order_by("-purchased_at", "-id")[0]
    assert purchases.forms[0].instance == newest
    assert f"?customer__id__exact={customer.pk}" in response.content.decode()


def test_ticket_page_queries_do_not_grow_with_conversation(
    admin_client_: Client, django_assert_max_num_queries: Any
) -> None:
    ticket = TicketFactory.create()
    url = _url(Ticket, "change", ticket.pk)

    def add_conversation(n: int) -> None:
        for _ in range(n):
            TicketMessageFactory.create(
                ticket=ticket,
                author_kind=TicketMessage.Author.OPERATOR,
                author_user=UserFactory.create(),
            )
            TicketEvent.objects.create(
                ticket=ticket, kind=TicketEvent.Kind.ASSIGNED, actor=UserFactory.create()
            )
            interaction = InteractionFactory.create(customer=ticket.customer)
            TicketContact.objects.create(ticket=ticket, interaction=interaction)

    add_conversation(FEW)
    few, _response = _count_change_page_queries(admin_client_, url, django_assert_max_num_queries)
    add_conversation(MANY - FEW)
    many, response = _count_change_page_queries(admin_client_, url, django_assert_max_num_queries)

    assert many == few
    counts = {
        inline.formset.model: len(inline.formset.forms)
        for inline in response.context["inline_admin_formsets"]
    }
    assert counts == {TicketMessage: MANY, TicketEvent: MANY, TicketContact: MANY}


@pytest.mark.parametrize(
    ("model", "field_name", "build"),
    [
        (Ticket, "purchase", lambda: PurchaseFactory.create()),
        (SurveyResponse, "invitation", lambda: SurveyInvitationFactory.create()),
        (Ticket, "customer", lambda: CustomerFactory.create()),
    ],
    ids=["purchase", "invitation", "customer"],
)
def test_autocomplete_queries_do_not_grow_with_results(
    admin_client_: Client,
    django_assert_max_num_queries: Any,
    model: type[Model],
    field_name: str,
    build: Callable[[], object],
) -> None:
    """Autocomplete prints each result; a result named after its relations must not query."""
    params: dict[str, Any] = {
        "app_label": model._meta.app_label,
        "model_name": model._meta.model_name,
        "field_name": field_name,
        "term": "",
    }
    url = reverse("admin:autocomplete")
    for _ in range(FEW):
        build()
    admin_client_.get(url, params)
    with django_assert_max_num_queries(FORM_PAGE_MAX_QUERIES) as few:
        response = admin_client_.get(url, params)
    assert len(response.json()["results"]) == FEW
    for _ in range(MANY - FEW):
        build()
    with django_assert_max_num_queries(FORM_PAGE_MAX_QUERIES) as many:
        response = admin_client_.get(url, params)
    assert len(response.json()["results"]) == AUTOCOMPLETE_PAGE_SIZE
    assert len(many) == len(few)


# --- Customers ----------------------------------------------------------------------------------


@pytest.fixture
def anna() -> Customer:
    """A customer with a phone and an email, beside another customer who must not match."""
    other = CustomerFactory.create(full_name="Boris Petrov", external_id="C-888")
    ContactPoint.objects.create(customer=other, kind="phone", value="+7 912 000-00-01")
    ContactPoint.objects.create(customer=other, kind="email", value="boris@example.com")
    customer = CustomerFactory.create(full_name="Anna Ivanova", external_id="C-777")
    ContactPoint.objects.create(
        customer=customer, kind="phone", value="8 912 345 67 89", is_primary=True
    )
    ContactPoint.objects.create(
        customer=customer, kind="email", value="Anna.Ivanova@Example.com", is_primary=True
    )
    return customer


def _search(client: Client, model: type[Model], term: str) -> list[Any]:
    response = client.get(_url(model, "changelist"), {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    "spelling", ["+7 912 345-67-89", "8 (912) 345-67-89", "79123456789", "+79123456789"]
)
def test_customer_search_finds_a_phone_in_any_spelling(
    admin_client_: Client, anna: Customer, spelling: str
) -> None:
    assert _search(admin_client_, Customer, spelling) == [anna]


@pytest.mark.parametrize(
    "term", ["ANNA.IVANOVA@EXAMPLE.COM", "anna.ivanova@example.com", "C-777", "Ivanova"]
)
def test_customer_search_finds_email_in_any_case_external_id_and_name(
    admin_client_: Client, anna: Customer, term: str
) -> None:
    assert _search(admin_client_, Customer, term) == [anna]


def test_customer_search_by_unknown_phone_finds_nobody(
    admin_client_: Client, anna: Customer
) -> None:
    assert _search(admin_client_, Customer, "+7 912 999-99-99") == []


def test_contact_point_search_finds_a_phone_in_any_spelling(
    admin_client_: Client, anna: Customer
) -> None:
    found = _search(admin_client_, ContactPoint, "8 (912) 345-67-89")
    assert [(c.customer_id, c.normalised_value) for c in found] == [(anna.pk, "+79123456789")]


def test_customer_list_shows_primary_contacts_and_completed_purchases(
    admin_client_: Client, anna: Customer
) -> None:
    PurchaseFactory.create(customer=anna, amount=Decimal("100.00"))
    PurchaseFactory.create(customer=anna, amount=Decimal("250.50"))
    PurchaseFactory.create(customer=anna, amount=Decimal("999.00"), status=Purchase.Status.REFUNDED)
    response = admin_client_.get(_url(Customer, "changelist"), {"q": "C-777"})
    page = response.content.decode()
    assert "+7 912 345-67-89" in page
    assert "anna.ivanova@example.com" in page
    (row,) = response.context["cl"].result_list
    assert row.completed_purchase_count == 2
    assert row.default_currency_revenue == Decimal("350.50")


def test_lifecycle_action_marks_customers_and_logs_it(
    admin_client_: Client, admin_user: User, anna: Customer
) -> None:
    response = admin_client_.post(
        _url(Customer, "changelist"),
        {"action": "mark_churned", "_selected_action": [anna.pk]},
        follow=True,
    )
    assert response.status_code == 200
    anna.refresh_from_db()
    assert anna.lifecycle == Customer.Lifecycle.CHURNED
    assert LogEntry.objects.filter(
        user=admin_user, object_id=str(anna.pk), action_flag=CHANGE
    ).exists()
    assert Customer.objects.exclude(pk=anna.pk).get().lifecycle == Customer.Lifecycle.ACTIVE


def test_new_contact_in_the_customer_form_becomes_primary_of_its_kind(
    admin_client_: Client,
) -> None:
    customer = CustomerFactory.create()
    url = _url(Customer, "change", customer.pk)
    data = _form_data(admin_client_.get(url))
    data.update(
        {
            "contact_points-TOTAL_FORMS": 1,
            "contact_points-0-kind": "phone",
            "contact_points-0-value": "8 (912) 345-67-89",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, _errors(response)
    contact = customer.contact_points.get()
    assert (contact.normalised_value, contact.is_primary) == ("+79123456789", True)


def test_one_number_spelled_twice_in_the_customer_form_is_an_error(
    admin_client_: Client,
) -> None:
    customer = CustomerFactory.create()
    url = _url(Customer, "change", customer.pk)
    data = _form_data(admin_client_.get(url))
    data.update(
        {
            "contact_points-TOTAL_FORMS": 2,
            "contact_points-0-kind": "phone",
            "contact_points-0-value": "8 (912) 345-67-89",
            "contact_points-1-kind": "phone",
            "contact_points-1-value": "+7 912 345 67 89",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    (contacts,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is ContactPoint
    ]
    assert contacts.errors[1] == {"value": ["This contact is given twice."]}
    assert not customer.contact_points.exists()


def test_two_new_primary_phones_in_the_customer_form_are_an_error(
    admin_client_: Client,
) -> None:
    customer = CustomerFactory.create()
    url = _url(Customer, "change", customer.pk)
    data = _form_data(admin_client_.get(url))
    data["contact_points-TOTAL_FORMS"] = 2
    for index, number in enumerate(["+7 912 345-67-89", "+7 912 345-67-90"]):
        data[f"contact_points-{index}-kind"] = "phone"
        data[f"contact_points-{index}-value"] = number
        data[f"contact_points-{index}-is_primary"] = "on"
    response = admin_client_.post(url, data)
    assert response.status_code == 200
    (contacts,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is ContactPoint
    ]
    assert contacts.errors[1] == {"is_primary": ["Only one contact of each kind can be primary."]}
    assert not customer.contact_points.exists()


# --- Tickets ------------------------------------------------------------------------------------


def _resolved_ticket() -> Ticket:
    now = timezone.now()
    return TicketFactory.create(
        status=Status.RESOLVED, created_at=now - dt.timedelta(hours=1), resolved_at=now
    )


def _run_action(client: Client, action: str, *tickets: Ticket) -> list[Any]:
    response = client.post(
        _url(Ticket, "changelist"),
        {"action": action, "_selected_action": [t.pk for t in tickets]},
        follow=True,
    )
    assert response.status_code == 200
    return list(response.context["messages"])


def test_resolve_action_resolves_an_open_ticket_and_records_who_did_it(
    admin_client_: Client, admin_user: User
) -> None:
    ticket = TicketFactory.create(status=Status.OPEN)
    notes = _run_action(admin_client_, "mark_resolved", ticket)

    ticket.refresh_from_db()
    assert ticket.status == Status.RESOLVED
    assert ticket.resolved_at is not None
    event = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.STATUS)
    assert (event.from_value, event.to_value, event.actor) == ("open", "resolved", admin_user)
    assert [n.level for n in notes] == [messages.SUCCESS]


def test_illegal_move_leaves_the_ticket_and_warns_while_moving_the_others(
    admin_client_: Client,
) -> None:
    new = TicketFactory.create()
    resolved = _resolved_ticket()
    notes = _run_action(admin_client_, "close", new, resolved)

    new.refresh_from_db()
    resolved.refresh_from_db()
    assert new.status == Status.NEW
    assert resolved.status == Status.CLOSED
    assert not TicketEvent.objects.filter(ticket=new).exists()
    (warning,) = [n for n in notes if n.level == messages.WARNING]
    assert f"#{new.pk}" in warning.message
    assert f"#{resolved.pk}" not in warning.message
    assert "cannot go from “New” to “Closed”" in warning.message


def test_reopen_counts_a_reopen_and_refuses_a_ticket_that_is_not_resolved(
    admin_client_: Client,
) -> None:
    resolved = _resolved_ticket()
    pending = TicketFactory.create(status=Status.PENDING)
    notes = _run_action(admin_client_, "reopen", resolved, pending)

    resolved.refresh_from_db()
    pending.refresh_from_db()
    assert (resolved.status, resolved.reopened_count, resolved.resolved_at) == ("open", 1, None)
    assert pending.status == Status.PENDING
    assert any(n.level == messages.WARNING and f"#{pending.pk}" in n.message for n in notes)


def test_status_is_not_editable_on_the_ticket_form(admin_client_: Client) -> None:
    ticket = TicketFactory.create(status=Status.OPEN)
    url = _url(Ticket, "change", ticket.pk)
    response = admin_client_.get(url)
    form = response.context["adminform"].form
    assert "status" not in form.fields
    assert "resolved_at" not in form.fields

    data = _form_data(response)
    data.update({"status": Status.CLOSED, "subject": "Renamed"})
    response = admin_client_.post(url, data)
    assert response.status_code == 302, _errors(response)
    ticket.refresh_from_db()
    assert (ticket.status, ticket.subject) == (Status.OPEN, "Renamed")


def test_new_ticket_opens_through_the_service_in_the_chosen_status(
    admin_client_: Client, admin_user: User
) -> None:
    SLAPolicyFactory.create(
        priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=240
    )
    customer = CustomerFactory.create()
    url = _url(Ticket, "add")
    response = admin_client_.get(url)
    status_field = response.context["adminform"].form.fields["status"]
    assert [value for value, _label in status_field.choices] == ["new", "open", "pending"]

    data = _form_data(response)
    data.update(
        {
            "customer": customer.pk,
            "subject": "Broken screen",
            "channel": "phone",
            "status": Status.OPEN,
            "priority": Priority.HIGH,
            "messages-TOTAL_FORMS": 1,
            "messages-0-author_kind": "operator",
            "messages-0-body": "The screen is cracked.",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, _errors(response)

    ticket = Ticket.objects.get(subject="Broken screen")
    assert ticket.status == Status.OPEN
    assert ticket.resolution_due_at == ticket.created_at + dt.timedelta(minutes=240)
    created = TicketEvent.objects.get(ticket=ticket, kind=TicketEvent.Kind.CREATED)
    assert created.actor == admin_user
    assert list(ticket.messages.values_list("body", flat=True)) == ["The screen is cracked."]


def test_operator_reply_in_the_conversation_is_the_first_response(
    admin_client_: Client, admin_user: User
) -> None:
    ticket = TicketFactory.create(status=Status.OPEN)
    TicketMessageFactory.create(ticket=ticket)
    url = _url(Ticket, "change", ticket.pk)
    data = _form_data(admin_client_.get(url))
    data.update(
        {
            "messages-TOTAL_FORMS": 2,
            "messages-1-author_kind": "operator",
            "messages-1-body": "We are sending a courier.",
        }
    )
    response = admin_client_.post(url, data)
    assert response.status_code == 302, _errors(response)

    ticket.refresh_from_db()
    reply = ticket.messages.get(author_kind="operator")
    assert reply.author_user == admin_user
    assert ticket.first_response_at == reply.created_at
    assert ticket.messages.count() == 2


def test_changing_assignee_and_priority_on_the_form_records_both_and_moves_the_sla(
    admin_client_: Client, admin_user: User, operator: User
) -> None:
    SLAPolicyFactory.create(
        priority=Priority.URGENT, first_response_minutes=15, resolution_minutes=90
    )
    ticket = TicketFactory.create(status=Status.OPEN)
    url = _url(Ticket, "change", ticket.pk)
    data = _form_data(admin_client_.get(url))
    data.update({"assignee": operator.pk, "priority": Priority.URGENT})

    response = admin_client_.post(url, data)

    assert response.status_code == 302, _errors(response)
    ticket.refresh_from_db()
    assert (ticket.assignee, ticket.priority) == (operator, Priority.URGENT)
    assert ticket.resolution_due_at == ticket.created_at + dt.timedelta(minutes=90)
    kinds = set(ticket.events.filter(actor=admin_user).values_list("kind", flat=True))
    assert kinds == {TicketEvent.Kind.ASSIGNED, TicketEvent.Kind.PRIORITY}


@pytest.mark.parametrize("term", ["#{pk}", "{pk}", " #{pk} "])
def test_ticket_search_finds_a_ticket_by_its_number(admin_client_: Client, term: str) -> None:
    # Subjects without digits: a bare number also matches subjects that contain it.
    TicketFactory.create_batch(3, subject="Noise in the line")
    ticket = TicketFactory.create(subject="Printer jam")
    assert _search(admin_client_, Ticket, term.format(pk=ticket.pk)) == [ticket]


def test_ticket_search_by_customer_external_id_and_subject(admin_client_: Client) -> None:
    mine = TicketFactory.create(
        subject="Printer jam", customer=CustomerFactory.create(external_id="C-42")
    )
    TicketFactory.create(subject="Slow delivery")
    assert _search(admin_client_, Ticket, "C-42") == [mine]
    assert _search(admin_client_, Ticket, "printer") == [mine]
    assert _search(admin_client_, Ticket, "#99999999999999999999999") == []


# --- Surveys ------------------------------------------------------------------------------------


def test_survey_form_stores_one_question_per_language_and_defaults_the_scale() -> None:
    form = SurveyForm(
        data={
            "name": "After support",
            "kind": "CSAT",
            "question_en": "  How did we do?  ",
            "question_ru": "",
            "easy_end": "high",
            "trigger": "manual",
            "delay_days": 0,
            "invitation_ttl_days": 14,
        }
    )
    assert form.is_valid(), form.errors
    assert form.fields["question_ru"].label == "Question (Russian)"
    survey = form.save()
    survey.refresh_from_db()
    assert survey.questions == {"en": "How did we do?"}
    assert (survey.scale_min, survey.scale_max, survey.satisfied_threshold) == (1, 5, 4)
    assert survey.question_for("ru") != "How did we do?"  # the built-in Russian question


def test_survey_form_shows_stored_questions_and_clears_a_blanked_one() -> None:
    survey = SurveyFactory.create(
        kind="NPS", questions={"en": "Recommend us?", "ru": "Порекомендуете?"}
    )
    form = SurveyForm(instance=survey)
    assert form["question_en"].value() == "Recommend us?"
    assert form["question_ru"].value() == "Порекомендуете?"

    data = {name: form[name].value() for name in form.fields}
    data.update({"question_ru": "", "repeat_after_days": ""})
    form = SurveyForm(data=data, instance=survey)
    assert form.is_valid(), form.errors
    form.save()
    survey.refresh_from_db()
    assert survey.questions == {"en": "Recommend us?"}
    assert (survey.scale_min, survey.scale_max) == (0, 10)


def test_survey_admin_adds_a_survey_with_questions_and_kind_defaults(
    admin_client_: Client,
) -> None:
    response = admin_client_.post(
        _url(Survey, "add"),
        {
            "name": "Effort",
            "kind": "CES",
            "is_active": "on",
            "question_en": "Was it easy?",
            "question_ru": "Было легко?",
            "scale_min": "",
            "scale_max": "",
            "satisfied_threshold": "",
            "easy_end": "high",
            "trigger": "ticket_resolved",
            "delay_days": 0,
            "invitation_ttl_days": 14,
        },
    )
    assert response.status_code == 302, _errors(response)
    survey = Survey.objects.get(name="Effort")
    assert survey.questions == {"en": "Was it easy?", "ru": "Было легко?"}
    assert (survey.scale_min, survey.scale_max, survey.satisfied_threshold) == (1, 7, 5)


def test_invitation_list_shows_whether_it_was_answered(admin_client_: Client) -> None:
    answered = SurveyResponseFactory.create(score=4).invitation
    waiting = SurveyInvitationFactory.create()
    response = admin_client_.get(_url(SurveyInvitation, "changelist"), {"answered": "no"})
    assert list(response.context["cl"].result_list) == [waiting]
    response = admin_client_.get(_url(SurveyInvitation, "change", answered.pk))
    page = response.content.decode()
    assert answered.token in page
    assert "token" not in response.context["adminform"].form.fields


def test_new_invitation_about_a_ticket_takes_its_operator_and_channel(
    admin_client_: Client,
) -> None:
    survey = SurveyFactory.create()
    ticket = TicketFactory.create(assignee=UserFactory.create(), channel="chat")
    response = admin_client_.post(
        _url(SurveyInvitation, "add"),
        {
            "survey": survey.pk,
            "customer": ticket.customer_id,
            "ticket": ticket.pk,
            "delivery_channel": "email",
        },
    )
    assert response.status_code == 302, _errors(response)
    invitation = SurveyInvitation.objects.get()
    assert (invitation.operator, invitation.channel, invitation.cause) == (
        ticket.assignee,
        "chat",
        f"ticket:{ticket.pk}",
    )
    assert len(invitation.token) >= 40


def test_responses_filter_by_survey_kind_and_sentiment(admin_client_: Client) -> None:
    nps = SurveyResponseFactory.create(
        invitation=SurveyInvitationFactory.create(survey=SurveyFactory.create(kind="NPS")),
        score=9,
        comment="Great",
        sentiment="positive",
    )
    SurveyResponseFactory.create(score=2, comment="Slow", sentiment="negative")
    url = _url(SurveyResponse, "changelist")
    by_kind = admin_client_.get(url, {"invitation__survey__kind__exact": "NPS"})
    by_sentiment = admin_client_.get(url, {"sentiment__exact": "positive"})
    assert list(by_kind.context["cl"].result_list) == [nps]
    assert list(by_sentiment.context["cl"].result_list) == [nps]


# --- Roles --------------------------------------------------------------------------------------


def test_operator_sees_customers_but_may_not_add_an_sla_policy(
    client: Client, operator: User
) -> None:
    CustomerFactory.create()
    client.force_login(operator)
    assert client.get(_url(Customer, "changelist")).status_code == 200
    assert client.get(_url(SLAPolicy, "changelist")).status_code == 200
    assert client.get(_url(SLAPolicy, "add")).status_code == 403
    assert client.get(_url(MetricSnapshot, "changelist")).status_code == 403


def test_supervisor_may_add_an_sla_policy(client: Client, supervisor: User) -> None:
    client.force_login(supervisor)
    assert client.get(_url(SLAPolicy, "add")).status_code == 200


def test_user_list_filters_by_role_and_team(admin_client_: Client, operator: User) -> None:
    UserFactory.create(username="someone", team=TeamFactory.create(name="Elsewhere"))
    url = _url(User, "changelist")
    by_role = admin_client_.get(url, {"groups__id__exact": operator.groups.get().pk})
    by_team = admin_client_.get(url, {"team__id__exact": str(operator.team_id)})
    assert list(by_role.context["cl"].result_list) == [operator]
    assert list(by_team.context["cl"].result_list) == [operator]
    assert "Operators" in by_role.content.decode()


def test_user_form_edits_team_language_and_time_zone(admin_client_: Client, operator: User) -> None:
    response = admin_client_.get(_url(User, "change", operator.pk))
    fields = response.context["adminform"].form.fields
    assert {"team", "language", "time_zone"} <= set(fields)


# --- Helpers ------------------------------------------------------------------------------------


def _form_data(response: Any) -> dict[str, Any]:
    """What a browser posts back from an admin form page untouched, inline forms included."""
    assert response.status_code == 200
    data = _field_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
        for inline_form in formset.initial_forms:
            data.update(_field_data(inline_form))
    return data


def _field_data(form: forms.BaseForm) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        key = form.add_prefix(name)
        value = form[name].value()
        if isinstance(field, forms.SplitDateTimeField):
            moment = timezone.localtime(value) if value else None
            data[f"{key}_0"] = moment.date().isoformat() if moment else ""
            data[f"{key}_1"] = moment.time().isoformat(timespec="seconds") if moment else ""
        elif isinstance(field, forms.BooleanField):
            if value:
                data[key] = "on"
        elif isinstance(value, list | tuple):
            data[key] = list(value)
        else:
            data[key] = "" if value is None else value
    return data


def _errors(response: Any) -> Any:
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return response.status_code
    inline_errors = [inline.formset.errors for inline in context["inline_admin_formsets"]]
    return context["adminform"].form.errors, inline_errors
