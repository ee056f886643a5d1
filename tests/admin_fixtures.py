"""Admin test helpers: a logged-in superuser's client, admin URLs, and what a browser posts
back from an admin form. Registered in tests/conftest.py `pytest_plugins`."""

from __future__ import annotations

from typing import Any

import pytest
from django import forms
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User

# Generous ceiling: the real guard is that a page's count does not change with the number of rows.
FORM_PAGE_MAX_QUERIES = 12
# A page is measured with a few rows and again with many.
FEW, MANY = 3, 30


def admin_url(model: type[Model], view: str, *args: Any) -> str:
    """The admin's URL of `view` ("changelist", "add", "change") for `model`."""
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture
def admin_client_(client: Client, admin_user: User) -> Client:
    """The test client logged in as a superuser."""
    client.force_login(admin_user)
    return client


def count_change_page_queries(client: Client, url: str, capture: Any) -> tuple[int, Any]:
    """Queries of a warm second load of a change page, and the page."""
    client.get(url)
    with capture(FORM_PAGE_MAX_QUERIES) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


def admin_search(client: Client, model: type[Model], term: str) -> list[Any]:
    """What the changelist's search box finds for `term`."""
    response = client.get(admin_url(model, "changelist"), {"q": term})
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def form_data(response: Any) -> dict[str, Any]:
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


def form_errors(response: Any) -> Any:
    """The form and inline errors of an admin page that did not redirect (for assert messages)."""
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return response.status_code
    inline_errors = [inline.formset.errors for inline in context["inline_admin_formsets"]]
    return context["adminform"].form.errors, inline_errors
