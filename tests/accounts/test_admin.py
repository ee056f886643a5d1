"""The users admin: filters by role and team, the operator's own settings on the form."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from tests.admin_fixtures import admin_url
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_user_list_filters_by_role_and_team(admin_client_: Client, operator: User) -> None:
    UserFactory.create(username="someone", team=TeamFactory.create(name="Elsewhere"))
    url = admin_url(User, "changelist")
    by_role = admin_client_.get(url, {"groups__id__exact": operator.groups.get().pk})
    by_team = admin_client_.get(url, {"team__id__exact": str(operator.team_id)})
    assert list(by_role.context["cl"].result_list) == [operator]
    assert list(by_team.context["cl"].result_list) == [operator]
    assert "Operators" in by_role.content.decode()


def test_user_form_edits_team_language_and_time_zone(admin_client_: Client, operator: User) -> None:
    response = admin_client_.get(admin_url(User, "change", operator.pk))
    fields = response.context["adminform"].form.fields
    assert {"team", "language", "time_zone"} <= set(fields)
