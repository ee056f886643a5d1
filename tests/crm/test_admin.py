"""The project's admin: every model of every app registered, every list, add and change page
and autocomplete a bounded number of queries.

Query bounds are checked the way they fail in practice: a page is measured with a few rows and
again with many, and must read the same number of queries both times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.roles import OPERATORS
from accounts.tokens import issue_token
from customers.models import ContactPoint, Customer, CustomerAlias, Purchase
from metrics.models import (
    CLVModelFit,
    FactRollup,
    FactRollupDay,
    MetricSnapshot,
    PurchaseDay,
    PurchaseDayRollup,
    PurchaseDaysBuild,
    ResolutionTimeRollup,
)
from surveys.models import Survey, SurveyInvitation, SurveyResponse
from tests.admin_fixtures import FEW, FORM_PAGE_MAX_QUERIES, MANY, admin_url
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
from tickets.models import SLAPolicy, Status, Ticket, TicketContact, TicketEvent, TicketMessage

pytestmark = pytest.mark.django_db

PROJECT_APPS = ("accounts", "customers", "tickets", "surveys", "metrics")

# Generous ceilings: the real guard is that the count does not change with the number of rows.
CHANGELIST_MAX_QUERIES = 10
AUTOCOMPLETE_PAGE_SIZE = 20  # django.contrib.admin.views.autocomplete.AutocompleteJsonView


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
    ResolutionTimeRollup: lambda i: ResolutionTimeRollup.objects.create(
        day=timezone.localdate() - dt.timedelta(days=i + 2),
        personalized=False,
        bucket=100,
        tickets=i + 1,
    ),
    apps.get_model("customers", "ProductCoPurchase"): lambda i: apps.get_model(
        "customers", "ProductCoPurchase"
    ).objects.create(
        product=ProductFactory.create(), other_product=ProductFactory.create(), customers=i + 1
    ),
    apps.get_model("customers", "CoPurchaseState"): lambda i: apps.get_model(
        "customers", "CoPurchaseState"
    ).objects.create(),
    apps.get_model("customers", "ValueToDate"): lambda i: apps.get_model(
        "customers", "ValueToDate"
    ).objects.create(
        customer=CustomerFactory.create(),
        currency="RUB",
        revenue=10,
        purchases=1,
        orders=1,
        first_purchase_at=timezone.now(),
        last_purchase_at=timezone.now(),
        margin_purchases=0,
        time_zone="UTC",
    ),
    apps.get_model("customers", "CustomerTally"): lambda i: apps.get_model(
        "customers", "CustomerTally"
    ).objects.create(customer=CustomerFactory.create(), purchases=i, interactions=i),
    apps.get_model("customers", "OwnedProduct"): lambda i: apps.get_model(
        "customers", "OwnedProduct"
    ).objects.create(
        customer=CustomerFactory.create(),
        product=ProductFactory.create(),
        last_bought_at=timezone.now(),
    ),
    apps.get_model("tickets", "TicketAttachment"): lambda i: apps.get_model(
        "tickets", "TicketAttachment"
    ).objects.create(
        # A name in the storage, not a file: the admin never opens it.
        message=TicketMessageFactory.create(),
        file=f"attachments/test/{i}.txt",
        filename=f"{i}.txt",
        content_type="text/plain",
        size=1,
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
    ResolutionTimeRollup,
    apps.get_model("customers", "ProductCoPurchase"),
    apps.get_model("customers", "CoPurchaseState"),
    apps.get_model("customers", "ValueToDate"),
    apps.get_model("customers", "OwnedProduct"),
    apps.get_model("customers", "CustomerTally"),
    apps.get_model("tickets", "TicketAttachment"),
}


def _label(model: type[Model]) -> str:
    return model._meta.label


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
    url = admin_url(model, "changelist")
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
        response = admin_client_.get(admin_url(model, "add"))
    assert response.status_code == (403 if model in READ_ONLY_MODELS else 200)


@pytest.mark.parametrize("model", ALL_MODELS, ids=_label)
def test_change_page_renders_within_a_query_bound(
    admin_client_: Client, django_assert_max_num_queries: Any, model: type[Model]
) -> None:
    ROW_BUILDERS[model](0)
    obj = model._default_manager.order_by("-pk").first()
    assert obj is not None
    with django_assert_max_num_queries(FORM_PAGE_MAX_QUERIES):
        response = admin_client_.get(admin_url(model, "change", obj.pk))
    assert response.status_code == 200


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
