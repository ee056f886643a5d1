"""The people every permission test speaks of, defined once.

operator: first-line support; supervisor: reads metrics, tunes SLA and surveys; admin_user:
everything; other_team_operator: an operator of another team; integration: a machine user
(telephony, the shop) with an API token.
"""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.roles import ADMINS, OPERATORS, SUPERVISORS
from tests.factories import TeamFactory, UserFactory


@pytest.fixture
def operator(db: None) -> User:
    return UserFactory.create(
        username="olga", groups=[OPERATORS], team=TeamFactory(name="First line")
    )


@pytest.fixture
def other_team_operator(db: None) -> User:
    return UserFactory.create(
        username="ivan", groups=[OPERATORS], team=TeamFactory(name="Sales desk")
    )


@pytest.fixture
def supervisor(db: None) -> User:
    return UserFactory.create(
        username="sveta", groups=[SUPERVISORS], team=TeamFactory(name="First line")
    )


@pytest.fixture
def admin_user(db: None) -> User:
    return UserFactory.create(username="root", groups=[ADMINS], is_superuser=True)


@pytest.fixture
def integration(db: None) -> User:
    """A non-staff machine user; the API issue gives it a token and its group."""
    return UserFactory.create(username="telephony", is_staff=False)
