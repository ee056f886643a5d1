"""Roles are groups whose permissions are defined here, in one place.

A data migration creates the groups; after every `migrate` the permissions are synced again,
so a model added later is granted to the roles without a hand-written migration.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps
from django.apps.registry import Apps

OPERATORS = "Operators"
SUPERVISORS = "Supervisors"
ADMINS = "Admins"
# Answers customers' requests of access and erasure; sees who exported what.
PRIVACY_OFFICERS = "Privacy officers"
# An integration that delivers survey links itself (a mailer, an SMS gateway): it creates
# invitations and reads their tokens. No person's role holds the token permission.
SURVEY_SENDERS = "Survey senders"
# An integration that brings the customer's own words (a chat widget, a messenger gateway):
# the only role that writes ticket messages as the customer.
CHANNELS = "Channels"
# A PBX's machine user: it may post call events and nothing else.
TELEPHONY = "Telephony"
ROLE_NAMES = (
    OPERATORS,
    SUPERVISORS,
    ADMINS,
    PRIVACY_OFFICERS,
    SURVEY_SENDERS,
    CHANNELS,
    TELEPHONY,
)

# The permission that reads invitation tokens (answering as the customer): never a staff role's.
INVITATION_TOKEN_PERMISSION = ("surveys", "view_invitation_token")

# (app_label, model) -> actions. Operators work with customers and tickets all day but do not
# delete history, nor write purchases (the shop's integration does; they feed CLV and the
# metrics); supervisors also tune SLA and surveys and read metrics. Each role's admin shows
# exactly these models and actions.
_OPERATOR_GRANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "customer"): ("view", "add", "change", "view_customer_history"),
    ("customers", "contactpoint"): ("view", "add", "change", "delete"),
    ("customers", "tag"): ("view",),
    ("customers", "productcategory"): ("view",),
    ("customers", "product"): ("view",),
    ("customers", "purchase"): ("view",),
    ("customers", "interest"): ("view", "add", "change"),
    ("customers", "interaction"): ("view", "add", "change"),
    ("customers", "offer"): ("view", "add", "change"),
    ("customers", "reminder"): ("view",),
    ("tickets", "ticket"): ("view", "add", "change"),
    ("tickets", "ticketmessage"): ("view", "add"),
    ("tickets", "ticketevent"): ("view",),
    ("tickets", "ticketcontact"): ("view", "add"),
    ("tickets", "slapolicy"): ("view",),
    ("surveys", "survey"): ("view",),
    ("surveys", "surveyinvitation"): ("view", "add"),
    ("surveys", "surveyresponse"): ("view",),
    ("accounts", "team"): ("view",),
    # To pick an assignee or an operator from the list of colleagues.
    ("accounts", "user"): ("view",),
    # The caller log; `change` links a call from an unknown number to a customer.
    ("telephony", "call"): ("view", "change"),
}
_SUPERVISOR_EXTRA: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "customer"): ("merge_customer",),
    ("customers", "reminder"): ("change",),
    ("tickets", "slapolicy"): ("add", "change"),
    ("surveys", "survey"): ("add", "change"),
    ("metrics", "metricsnapshot"): ("view", "view_dashboard"),
}
_PRIVACY_OFFICER_GRANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "customer"): ("view", "export_customer_data", "erase_customer_data"),
    ("customers", "contactpoint"): ("view",),
    ("customers", "dataexportrecord"): ("view",),
}
_SURVEY_SENDER_GRANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "customer"): ("view",),
    ("customers", "contactpoint"): ("view",),
    ("surveys", "survey"): ("view",),
    ("surveys", "surveyinvitation"): ("view", "add", "view_invitation_token"),
}
_CHANNEL_GRANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("customers", "customer"): ("view", "add"),
    ("customers", "contactpoint"): ("view", "add"),
    ("tickets", "ticket"): ("view", "add"),
    ("tickets", "ticketmessage"): ("view", "add", "add_customer_message"),
}
ADMIN_APPS = (
    "accounts",
    "customers",
    "tickets",
    "surveys",
    "metrics",
    "webhooks",
    "telephony",
    "auth",
    "authtoken",
)


def _codename(action: str, model: str) -> str:
    """Django's default permissions are `<action>_<model>`; custom ones are named as they are."""
    return f"{action}_{model}" if action in {"view", "add", "change", "delete"} else action


def _pairs(grants: dict[tuple[str, str], tuple[str, ...]]) -> set[tuple[str, str]]:
    return {
        (app, _codename(action, model))
        for (app, model), actions in grants.items()
        for action in actions
    }


def role_permissions() -> dict[str, set[tuple[str, str]]]:
    """The (app_label, codename) pairs each role holds, except Admins (all of ADMIN_APPS)."""
    operator = _pairs(_OPERATOR_GRANTS)
    supervisor = operator | _pairs(_SUPERVISOR_EXTRA)
    return {
        OPERATORS: operator,
        SUPERVISORS: supervisor,
        PRIVACY_OFFICERS: _pairs(_PRIVACY_OFFICER_GRANTS),
        SURVEY_SENDERS: _pairs(_SURVEY_SENDER_GRANTS),
        CHANNELS: _pairs(_CHANNEL_GRANTS),
        TELEPHONY: {("telephony", "add_callevent")},
    }


def sync_roles(apps: Apps) -> None:
    """Create the role groups and give each exactly the permissions defined above."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    grants = role_permissions()
    for name in ROLE_NAMES:
        group, _ = Group.objects.get_or_create(name=name)
        if name == ADMINS:
            # Everything, except reading invitation tokens: an admin answers no survey.
            app_label, codename = INVITATION_TOKEN_PERMISSION
            wanted = Permission.objects.filter(content_type__app_label__in=ADMIN_APPS).exclude(
                content_type__app_label=app_label, codename=codename
            )
        else:
            pairs = grants[name]
            by_app: dict[str, list[str]] = {}
            for app_label, codename in pairs:
                by_app.setdefault(app_label, []).append(codename)
            wanted = Permission.objects.none()
            for app_label, codenames in by_app.items():
                wanted = wanted | Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
        group.permissions.set(wanted)


def sync_roles_after_migrate(sender: Any, **kwargs: Any) -> None:
    """post_migrate receiver: runs once, after the last app's permissions exist."""
    # post_migrate fires once per app that has models (Django skips the others); the
    # permissions of every app exist after the last of those.
    with_models = [c for c in global_apps.get_app_configs() if c.models_module is not None]
    if sender.label != with_models[-1].label:
        return
    apps = kwargs.get("apps") or global_apps
    try:
        apps.get_model("auth", "Group")
    except LookupError:  # auth not migrated (e.g. migrate to zero)
        return
    sync_roles(global_apps)
