"""The Content Security Policy in Chromium: no page breaks it.

An init script records every `securitypolicyviolation` event before any page script runs;
each page is loaded and used (the card's action form swapped in by htmx, the dashboard's
charts drawn, the ticket queue filtered, a survey answered, Swagger UI rendering the
schema), and the list must stay empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import User
from customers.models import Customer
from surveys.models import Survey, SurveyInvitation
from tests.factories import (
    CustomerFactory,
    PhoneFactory,
    PurchaseFactory,
    SurveyFactory,
    SurveyInvitationFactory,
    TicketFactory,
    UserFactory,
)

PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push({
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
  });
});
"""


@pytest.fixture
def page(browser_page: Any) -> Any:
    browser_page.add_init_script(RECORD_VIOLATIONS)
    console: list[str] = []
    browser_page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    browser_page.csp_console = console
    return browser_page


def visit(page: Any, url: str) -> None:
    """Open a page that must carry the policy (no header, no violation: a test of nothing)."""
    response = page.goto(url)
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url


def violations(page: Any) -> list[Any]:
    # Reports are dispatched asynchronously: give the event loop a moment.
    page.wait_for_timeout(300)
    return [*page.evaluate("window.__cspViolations"), *page.csp_console]


@pytest.fixture
def admin() -> User:
    return UserFactory.create(username="browser.root", is_superuser=True)


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    PurchaseFactory.create(customer=customer)
    TicketFactory.create(customer=customer, subject="Printer jams")
    return customer


def log_in(page: Any, live_server: Any, user: User) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def test_operator_pages_raise_no_violation(
    page: Any, live_server: Any, admin: User, anna: Customer
) -> None:
    log_in(page, live_server, admin)
    assert violations(page) == []

    visit(page, f"{live_server.url}/customers/{anna.pk}/")
    page.wait_for_selector("#section-identity h1")
    page.click("[data-action=log_contact]")
    page.wait_for_selector("#card-action textarea[name=summary]")
    # The top bar's search answers as one types (htmx).
    page.fill("input[name=q]", "Anna")
    page.wait_for_selector("#topsearch-results >> text=Anna Ivanova")
    assert violations(page) == []

    visit(page, f"{live_server.url}/tickets/")
    page.wait_for_selector("text=Printer jams")
    page.fill("form input[name=q] >> nth=-1", "Printer")
    page.wait_for_timeout(800)
    assert violations(page) == []

    visit(page, f"{live_server.url}/metrics/")
    page.wait_for_selector("canvas")
    assert violations(page) == []

    # The language switch submits itself from static JavaScript, not an onchange attribute.
    page.select_option("select[name=language]", "ru")
    page.wait_for_load_state("load")
    page.wait_for_function("document.documentElement.lang === 'ru'")
    assert violations(page) == []


def test_the_survey_page_raises_no_violation(page: Any, live_server: Any) -> None:
    invitation: SurveyInvitation = SurveyInvitationFactory.create(
        survey=SurveyFactory.create(kind=Survey.Kind.CSAT)
    )

    visit(page, f"{live_server.url}/s/{invitation.token}/")
    page.click("button[value='5']")
    page.wait_for_load_state("load")

    assert violations(page) == []


def test_swagger_ui_raises_no_violation(page: Any, live_server: Any, admin: User) -> None:
    log_in(page, live_server, admin)

    visit(page, f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    page.click(".opblock-summary >> nth=0")
    page.wait_for_selector(".opblock-body")

    assert violations(page) == []


def test_the_admin_audit_history_raises_no_violation(
    page: Any, live_server: Any, admin: User, anna: Customer
) -> None:
    """django-auditlog's history page brings an inline <style>: the project's copy links it."""
    anna.company = "Romashka"
    anna.save()
    log_in(page, live_server, admin)

    visit(page, f"{live_server.url}/admin/customers/customer/{anna.pk}/auditlog/")
    page.wait_for_selector(".auditlog-entry >> text=Romashka")

    assert violations(page) == []
    # The page's own styles are applied (entries laid out as a column, not unstyled).
    direction = page.eval_on_selector(
        ".auditlog-entries", "el => getComputedStyle(el).flexDirection"
    )
    assert direction == "column"


def test_injected_inline_code_is_blocked_and_reported(
    page: Any, live_server: Any, admin: User, anna: Customer
) -> None:
    """What the policy is for: markup smuggled into a page runs no script, and the recorder
    above sees the attempt (so an empty list means something)."""
    log_in(page, live_server, admin)
    visit(page, f"{live_server.url}/customers/{anna.pk}/")

    page.evaluate(
        """() => {
          document.body.insertAdjacentHTML(
            "beforeend", '<img src="/static/nothing.png" onerror="window.pwned = 1">');
          const script = document.createElement("script");
          script.textContent = "window.pwned = 2";
          document.body.append(script);
        }"""
    )
    page.wait_for_timeout(500)

    assert page.evaluate("window.pwned") is None
    directives = {v["directive"] for v in page.evaluate("window.__cspViolations")}
    assert {"script-src-attr", "script-src-elem"} <= directives
