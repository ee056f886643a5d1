"""Roles: the groups the migrations create and what each may do."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from accounts.roles import (
    ADMINS,
    CHANNELS,
    OPERATORS,
    PRIVACY_OFFICERS,
    ROLE_NAMES,
    SUPERVISORS,
    SURVEY_SENDERS,
    TELEPHONY,
    role_permissions,
    sync_roles,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_the_roles_exist_after_migrations() -> None:
    assert set(Group.objects.filter(name__in=ROLE_NAMES).values_list("name", flat=True)) == {
        OPERATORS,
        SUPERVISORS,
        ADMINS,
        PRIVACY_OFFICERS,
        SURVEY_SENDERS,
        CHANNELS,
        TELEPHONY,
    }


@pytest.mark.parametrize(
    "role", [OPERATORS, SUPERVISORS, PRIVACY_OFFICERS, SURVEY_SENDERS, CHANNELS, TELEPHONY]
)
def test_every_permission_a_role_is_granted_exists(role: str) -> None:
    # A misspelt model or action in accounts.roles would silently grant nothing.
    wanted = {f"{app}.{codename}" for app, codename in role_permissions()[role]}

    assert _codenames(role) == wanted


def test_admins_hold_every_permission_of_the_projects_apps() -> None:
    project_apps = ["accounts", "customers", "tickets", "surveys", "metrics"]
    every = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.filter(
            content_type__app_label__in=project_apps
        ).values_list("content_type__app_label", "codename")
    }

    assert {"customers.delete_customer", "metrics.view_dashboard"} <= every
    # Except the invitation token: whoever reads it can answer surveys as the customer.
    assert every - _codenames(ADMINS) == {"surveys.view_invitation_token"}


def test_syncing_again_restores_a_permission_taken_from_a_role() -> None:
    operators = Group.objects.get(name=OPERATORS)
    operators.permissions.remove(Permission.objects.get(codename="view_customer"))

    sync_roles(apps)

    assert "customers.view_customer" in _codenames(OPERATORS)


def test_syncing_again_takes_away_a_permission_granted_by_hand() -> None:
    operators = Group.objects.get(name=OPERATORS)
    operators.permissions.add(Permission.objects.get(codename="delete_customer"))

    sync_roles(apps)

    assert "customers.delete_customer" not in _codenames(OPERATORS)


# --- What each persona may do ----------------------------------------------------------------


@pytest.mark.parametrize(
    "perm", ["customers.view_customer", "customers.add_customer", "customers.change_customer"]
)
def test_an_operator_works_with_customers(operator: User, perm: str) -> None:
    assert operator.has_perm(perm)


@pytest.mark.parametrize(
    "perm",
    [
        "customers.delete_customer",
        "customers.delete_purchase",
        "tickets.delete_ticket",
        "metrics.view_dashboard",
        "tickets.change_slapolicy",
        "surveys.change_survey",
    ],
)
def test_an_operator_neither_deletes_history_nor_reads_metrics_nor_tunes_sla(
    operator: User, perm: str
) -> None:
    assert not operator.has_perm(perm)


@pytest.mark.parametrize(
    "perm",
    [
        "metrics.view_dashboard",
        "tickets.change_slapolicy",
        "tickets.add_slapolicy",
        "surveys.change_survey",
        "customers.view_customer",
    ],
)
def test_a_supervisor_reads_metrics_and_tunes_sla_and_surveys(supervisor: User, perm: str) -> None:
    assert supervisor.has_perm(perm)


def test_a_supervisor_does_not_delete_customers(supervisor: User) -> None:
    assert not supervisor.has_perm("customers.delete_customer")


def test_the_admin_persona_may_delete_customers(admin_user: User) -> None:
    assert admin_user.has_perm("customers.delete_customer")


@pytest.mark.parametrize(
    "perm", ["customers.delete_customer", "metrics.view_dashboard", "accounts.change_user"]
)
def test_the_admins_role_alone_grants_everything(perm: str) -> None:
    # The admin persona is also a superuser, which would pass any check; this one is not.
    member = UserFactory.create(username="admin-by-role", groups=[ADMINS], is_superuser=False)

    assert member.has_perm(perm)


def test_a_staff_user_without_a_role_may_do_nothing() -> None:
    nobody = UserFactory.create(username="nobody")

    assert not nobody.has_perm("customers.view_customer")


def test_migrate_grants_admins_every_permission_of_the_apps_added_later() -> None:
    # webhooks and metrics.CLVModelFit came after the roles migration: only the post_migrate
    # resync can have granted them.
    held = _codenames(ADMINS)

    assert {"webhooks.add_webhook", "webhooks.view_webhookdelivery"} <= held
    assert "metrics.view_clvmodelfit" in held


@pytest.mark.parametrize(
    "perm",
    [
        "customers.add_purchase",
        "customers.change_purchase",
        "customers.export_customer_data",
        "customers.erase_customer_data",
        "surveys.view_invitation_token",
        "tickets.add_customer_message",
    ],
)
@pytest.mark.parametrize("persona", ["operator", "other_team_operator", "supervisor"])
def test_operators_and_supervisors_neither_write_purchases_nor_export_nor_read_tokens(
    persona: str, perm: str, request: pytest.FixtureRequest
) -> None:
    # Purchases feed CLV and the metrics: they come from the shop, not typed in by staff.
    assert not request.getfixturevalue(persona).has_perm(perm)


def test_privacy_officers_export_and_erase(privacy_officer: User) -> None:
    assert privacy_officer.has_perms(
        ["customers.export_customer_data", "customers.erase_customer_data"]
    )
    assert not privacy_officer.has_perm("surveys.view_invitation_token")


def test_only_the_survey_senders_integration_role_reads_invitation_tokens() -> None:
    holders = set(
        Group.objects.filter(
            permissions__codename="view_invitation_token",
            permissions__content_type__app_label="surveys",
        ).values_list("name", flat=True)
    )

    assert holders == {SURVEY_SENDERS}
