import pytest

from tests.factories import (
    EmailFactory,
    InteractionFactory,
    InterestFactory,
    MetricSnapshotFactory,
    OfferFactory,
    PhoneFactory,
    ReminderFactory,
    SLAPolicyFactory,
    SurveyResponseFactory,
    TicketMessageFactory,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "factory",
    [
        PhoneFactory,
        EmailFactory,
        InteractionFactory,
        InterestFactory,
        OfferFactory,
        ReminderFactory,
        SLAPolicyFactory,
        TicketMessageFactory,
        SurveyResponseFactory,
        MetricSnapshotFactory,
    ],
)
def test_every_factory_makes_a_valid_record(factory: type) -> None:
    record = factory()
    record.full_clean()
    assert record.pk is not None


def test_personas_hold_their_roles(operator, supervisor, admin_user) -> None:
    assert operator.has_perm("customers.view_customer")
    assert not operator.has_perm("metrics.view_dashboard")
    assert supervisor.has_perm("metrics.view_dashboard")
    assert admin_user.has_perm("customers.delete_customer")
