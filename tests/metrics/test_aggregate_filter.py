"""metrics.aggregate_filter: an aggregate restricted after it was built counts the rows both
its own filter and the added condition select (the one place that relies on Django's private
AggregateFilter: a Django upgrade that changes it fails here first)."""

from __future__ import annotations

import pytest
from django.db.models import Count, Q

from customers.models import Customer
from metrics.aggregate_filter import condition_of, restricted
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_restricted_aggregate_counts_the_rows_both_conditions_select() -> None:
    for name, segment in [("Anna", "enterprise"), ("Anton", "consumer"), ("Boris", "enterprise")]:
        CustomerFactory.create(full_name=name, segment=segment)
    enterprise = Count("pk", filter=Q(segment="enterprise"))
    row = Customer.objects.aggregate(
        enterprise=enterprise,
        enterprise_a=restricted(enterprise, Q(full_name__startswith="A")),
        a=restricted(Count("pk"), Q(full_name__startswith="A")),
    )
    assert row == {"enterprise": 2, "enterprise_a": 1, "a": 2}
    # The original is left as it was.
    assert condition_of(enterprise) == Q(segment="enterprise")


def test_no_condition_leaves_the_aggregate_alone() -> None:
    count = Count("pk")
    assert restricted(count, None) is count
    assert restricted(count, Q()) is count
    assert condition_of(count) is None
