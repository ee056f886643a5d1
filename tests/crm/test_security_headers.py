"""Every HTML page carries the Content Security Policy and the Permissions-Policy.

The pages without URL parameters come from the URL resolver (so a new page is covered without
anyone remembering), the ones with parameters are named below; error pages too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts.models import User
from customers.delivery.unsubscribe import unsubscribe_token
from tests.factories import (
    CustomerFactory,
    EmailFactory,
    SurveyInvitationFactory,
    TicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _plain_routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    """Every route of the project that takes no parameter, as a path."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _plain_routes(entry, prefix + route)
        elif isinstance(entry, URLPattern) and "<" not in route and "(?P" not in route:
            yield "/" + (prefix + route).lstrip("^").rstrip("$").replace("\\", "")


def _check(response, path: str) -> bool:
    """Whether an HTML response has both headers; non-HTML answers are not pages."""
    if not response.get("Content-Type", "").startswith("text/html"):
        return False
    policy = response.get("Content-Security-Policy", "")
    assert re.search(r"script-src 'self'( 'nonce-[^']+')?;", policy), path
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
    assert "object-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
    assert "camera=()" in response.get("Permissions-Policy", ""), path
    return True


@pytest.fixture
def root() -> User:
    return UserFactory.create(username="root", is_superuser=True)


def test_every_html_page_has_the_policies(root: User) -> None:
    customer = CustomerFactory.create()
    ticket = TicketFactory.create(customer=customer)
    invitation = SurveyInvitationFactory.create()
    email = EmailFactory.create(customer=customer)
    pages = [
        *_plain_routes(),
        f"/customers/{customer.pk}/",
        f"/tickets/{ticket.pk}/",
        f"/s/{invitation.token}/",
        f"/u/{unsubscribe_token(email)}/",
        f"/admin/customers/customer/{customer.pk}/change/",
        "/api/docs/",
        "/api/v1/customers/?format=api",
        "/no-such-page/",
    ]
    staff = Client()
    staff.force_login(root)
    html = [path for path in pages if _check(staff.get(path), path)]
    anonymous = [path for path in pages if _check(Client().get(path), path)]

    # The walk really saw the pages that matter (and the login page and 404s anonymously).
    for path in ("/", "/customers/", "/tickets/", "/metrics/", "/admin/", "/api/docs/"):
        assert path in html
    assert "/accounts/login/" in anonymous and "/no-such-page/" in anonymous
    assert len(html) >= 20


def test_swagger_ui_inline_code_carries_the_nonce(root: User) -> None:
    client = Client()
    client.force_login(root)

    response = client.get("/api/docs/")

    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])
    assert nonce is not None
    assert response.text.count(f'nonce="{nonce.group(1)}"') == 2  # its <style> and <script>
    assert "<script>" not in response.text


def test_no_template_has_inline_event_handlers_or_styles() -> None:
    """Handlers and style attributes would be blocked by the policy: static files only.
    (Mail templates are not pages and keep their inline styles, which mail clients need.)"""
    from pathlib import Path

    from django.conf import settings

    offenders = []
    for template in Path(settings.BASE_DIR).glob("**/templates/**/*.html"):
        if ".venv" in template.parts or "email" in template.parts:
            continue
        text = template.read_text()
        if re.search(r"\son[a-z]+\s*=|\sstyle\s*=|javascript:|<script>", text):
            offenders.append(str(template))
    assert offenders == []
