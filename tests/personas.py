"""The people every permission test speaks of, defined once.

operator: first-line support; supervisor: reads metrics, tunes SLA and surveys; admin_user:
everything; other_team_operator: an operator of another team; integration: a machine user
(telephony, the shop) with an API token (integration_reader: in a Telephony group reading
identities and contacts); no_permission_user: staff in no role; privacy_officer: exports and
erases customers' data. operator_client: the web UI's test client, logged in as the operator.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client

from accounts.models import User
from accounts.roles import ADMINS, OPERATORS, PRIVACY_OFFICERS, SUPERVISORS
from tests.factories import TeamFactory, UserFactory


@pytest.fixture
def operator(db: None) -> User:
    return UserFactory.create(
        username="olga", groups=[OPERATORS], team=TeamFactory(name="First line")
    )


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


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


@pytest.fixture
def no_permission_user(db: None) -> User:
    """Signed-in staff in no role: may do nothing."""
    return UserFactory.create(username="nobody", groups=[])


@pytest.fixture
def privacy_officer(db: None) -> User:
    """Answers requests of access and erasure: exports and erases, nothing else."""
    return UserFactory.create(username="pavel", groups=[PRIVACY_OFFICERS])


TELEPHONY_GROUP = "Telephony"
# What a PBX integration needs: who is calling, and how to reach them.
TELEPHONY_PERMISSIONS = ("customers.view_customer", "customers.view_contactpoint")


@pytest.fixture
def integration_reader(integration: User) -> User:
    """The integration persona in a Telephony group that reads identities and contacts only."""
    group, _created = Group.objects.get_or_create(name=TELEPHONY_GROUP)
    for dotted in TELEPHONY_PERMISSIONS:
        app_label, codename = dotted.split(".")
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    integration.groups.add(group)
    return User.objects.get(pk=integration.pk)  # no stale permission cache


def issue_api_token(user: User) -> str:
    """A token for `user` through the documented command (whatever stores tokens)."""
    out = StringIO()
    call_command("create_api_token", user.get_username(), stdout=out)
    return out.getvalue().split()[-1]
