"""The live workspace in Chromium, two operators logged in, against the real ASGI server.

The server is scripts/serve (gunicorn, two uvicorn workers) fanned out through Redis; the
test process publishes through the same Redis, as the telephony and ticket services do.
"""

from __future__ import annotations

import io
import json
import re
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import global_settings
from django.core.management import call_command

from accounts.models import User
from accounts.roles import OPERATORS
from customers.models import Customer
from live import push
from tests.factories import CustomerFactory, PhoneFactory, TeamFactory, UserFactory
from tickets.models import Status, Ticket, TicketMessage
from tickets.services import add_message, open_ticket

PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.usefixtures("live_redis"),
]


@pytest.fixture(autouse=True)
def _real_password_hashers(settings: Any) -> None:
    """The ASGI server checks passwords with the real hashers, not the tests' fast one."""
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS


@pytest.fixture
def olga() -> User:
    team = TeamFactory.create(name="First line")
    return UserFactory.create(
        username="olga", first_name="Olga", last_name="Petrova", groups=[OPERATORS], team=team
    )


@pytest.fixture
def ivan() -> User:
    team = TeamFactory.create(name="First line")
    return UserFactory.create(
        username="ivan", first_name="Ivan", last_name="Sokolov", groups=[OPERATORS], team=team
    )


@pytest.fixture
def anna() -> Customer:
    customer = CustomerFactory.create(full_name="Anna Ivanova")
    PhoneFactory.create(customer=customer, value="+7 912 345-67-89")
    return customer


def log_in(page: Any, server: Any, user: User, path: str = "/") -> None:
    page.goto(f"{server.url}/accounts/login/?next={quote(path)}")
    page.fill("input[name=username]", user.get_username())
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}{path}")
    wait_until_live(page)


def wait_until_live(page: Any) -> None:
    """The page's event stream is subscribed on the server (the `ready` event arrived)."""
    page.wait_for_selector("html[data-live=ready]", state="attached")


def arm_echo(page: Any) -> None:
    page.evaluate(
        "() => { window.__echo = new Promise(resolve =>"
        " document.addEventListener('live:echo', e => resolve(e.detail), {once: true})); }"
    )


def test_a_screen_pop_reaches_the_named_operators_browser_and_no_other(
    asgi_server: Any, operator_page: Any, olga: User, ivan: User, anna: Customer
) -> None:
    olga_page, ivan_page = operator_page(), operator_page()
    log_in(olga_page, asgi_server, olga)
    log_in(ivan_page, asgi_server, ivan)

    push.screen_pop(operator_ids=[olga.pk], phone="+79123456789", customer_ids=[anna.pk], call_id=1)

    olga_page.wait_for_url(f"{asgi_server.url}/customers/{anna.pk}/")
    olga_page.get_by_text("Anna Ivanova").first.wait_for()
    # Ivan's stream delivers in order: once his echo arrives, a screen-pop for him would have.
    arm_echo(ivan_page)
    push.echo(user_id=ivan.pk, sent_at=0)
    ivan_page.evaluate("() => window.__echo")
    assert ivan_page.url == f"{asgi_server.url}/"


def pbx_token() -> str:
    out = io.StringIO()
    call_command(
        "create_api_token", "pbx-main", "--create-user", "--group", "Telephony", stdout=out
    )
    return out.getvalue().split()[-1]


def post_new_call(server: Any, token: str, *, call_id: str, operator: str) -> None:
    """The PBX posts newCall to the running server with its own token."""
    body = json.dumps(
        {
            "event": "newCall",
            "callId": call_id,
            "direction": "in",
            "from": "89123456789",
            "to": "100",
            "user": [operator],
        }
    ).encode()
    request = urllib.request.Request(
        f"{server.url}/api/v1/telephony/events/",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": "application/json",
            "X-Forwarded-Proto": "https",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200


def record_panels(page: Any) -> list[str]:
    """The text of each screen-pop panel the page shows, kept across its navigations."""
    shown: list[str] = []
    page.expose_function("__panelShown", lambda text: shown.append(text))
    page.add_init_script(
        "new MutationObserver(() => {"
        " const panel = document.querySelector('#screen-pop .screen-pop-panel');"
        " if (panel && !panel.dataset.seen) {"
        "  panel.dataset.seen = '1'; window.__panelShown(panel.innerText); }"
        "}).observe(document, {childList: true, subtree: true});"
    )
    return shown


def test_a_pbx_new_call_pops_the_card_in_the_named_operators_browser_only(
    asgi_server: Any, operator_page: Any, olga: User, ivan: User, anna: Customer
) -> None:
    # The whole path: the PBX posts newCall to the running server; the server's call service,
    # after commit, pushes the screen-pop with the caller's compact card through Redis to
    # Olga's page, which shows it at once and then opens the full card.
    open_ticket(customer=anna, subject="Kettle", channel="email", body="It leaks")
    token = pbx_token()
    olga_page, ivan_page = operator_page(), operator_page()
    panels = record_panels(olga_page)
    log_in(olga_page, asgi_server, olga)
    log_in(ivan_page, asgi_server, ivan)

    post_new_call(asgi_server, token, call_id="e2e-1", operator="olga")

    olga_page.wait_for_url(f"{asgi_server.url}/customers/{anna.pk}/")
    olga_page.get_by_text("Anna Ivanova").first.wait_for()
    assert len(panels) == 1
    panel = " ".join(panels[0].split())
    assert "Incoming call from +79123456789" in panel
    assert "Anna Ivanova" in panel and "Open tickets 1" in panel
    arm_echo(ivan_page)
    push.echo(user_id=ivan.pk, sent_at=0)
    ivan_page.evaluate("() => window.__echo")
    assert ivan_page.url == f"{asgi_server.url}/"


def test_a_busy_operator_gets_the_callers_compact_card_as_a_notice(
    asgi_server: Any, operator_page: Any, olga: User, anna: Customer
) -> None:
    ticket = open_ticket(customer=anna, subject="Kettle", channel="email", body="It leaks")
    token = pbx_token()
    page = operator_page()
    log_in(page, asgi_server, olga, f"/tickets/{ticket.pk}/")
    page.fill("form.reply-form textarea", "Dear Anna, half a reply")

    post_new_call(asgi_server, token, call_id="e2e-busy", operator="olga")

    notice = page.locator(".live-notice.screen-pop .screen-pop-panel")
    notice.wait_for()
    assert "Anna Ivanova" in notice.inner_text()
    assert notice.locator("a.screen-pop-open").get_attribute("href") == f"/customers/{anna.pk}/"
    assert page.url.endswith(f"/tickets/{ticket.pk}/")
    assert page.input_value("form.reply-form textarea") == "Dear Anna, half a reply"


def test_an_unknown_callers_screen_pop_opens_the_call_page_with_the_number(
    asgi_server: Any, operator_page: Any, olga: User
) -> None:
    page = operator_page()
    log_in(page, asgi_server, olga)
    push.screen_pop(operator_ids=[olga.pk], phone="+79035550101", customer_ids=[], call_id=3)
    page.wait_for_url(f"{asgi_server.url}/call/?phone=%2B79035550101")
    assert page.locator("a[href*='/customers/new/']").count() >= 1


def test_an_operator_with_unsaved_input_gets_a_notice_instead(
    asgi_server: Any, operator_page: Any, olga: User, anna: Customer
) -> None:
    ticket = open_ticket(customer=anna, subject="Kettle", channel="email", body="It leaks")
    page = operator_page()
    log_in(page, asgi_server, olga, f"/tickets/{ticket.pk}/")
    page.fill("form.reply-form textarea", "Dear Anna, half a reply")

    push.screen_pop(operator_ids=[olga.pk], phone="+79123456789", customer_ids=[anna.pk], call_id=2)

    link = page.locator(".live-notice.screen-pop a")
    link.wait_for()
    assert "+79123456789" in page.locator(".live-notice.screen-pop").inner_text()
    assert link.get_attribute("href") == f"/customers/{anna.pk}/"
    assert page.url.endswith(f"/tickets/{ticket.pk}/")
    assert page.input_value("form.reply-form textarea") == "Dear Anna, half a reply"


def test_the_queue_updates_when_a_ticket_is_opened_or_a_colleague_changes_one(
    asgi_server: Any, operator_page: Any, olga: User, ivan: User, anna: Customer
) -> None:
    waiting = open_ticket(customer=anna, subject="Broken kettle", channel="email", body="Help")
    queue = operator_page()
    log_in(queue, asgi_server, olga, "/tickets/")
    queue.get_by_text("Broken kettle").wait_for()

    # A new ticket arrives (the email channel calls the same service).
    open_ticket(customer=anna, subject="Cracked lid", channel="email", body="Also this")
    queue.get_by_text("Cracked lid").wait_for()

    # Ivan, in his own browser, resolves the first one: it leaves Olga's queue of open work.
    colleague = operator_page()
    log_in(colleague, asgi_server, ivan, f"/tickets/{waiting.pk}/")
    colleague.locator("form[action$='/status/'] button[value=resolved]").click()
    colleague.wait_for_url(re.compile(rf"/tickets/{waiting.pk}/"))
    queue.get_by_text("Broken kettle").wait_for(state="detached")
    assert Ticket.objects.get(pk=waiting.pk).status == Status.RESOLVED
    assert queue.url.endswith("/tickets/")  # never reloaded


def test_presence_and_the_collision_warning_before_a_second_reply(
    asgi_server: Any, operator_page: Any, olga: User, ivan: User, anna: Customer
) -> None:
    ticket = open_ticket(customer=anna, subject="Kettle", channel="email", body="It leaks")
    path = f"/tickets/{ticket.pk}/"
    olga_page, ivan_page = operator_page(), operator_page()
    log_in(olga_page, asgi_server, olga, path)
    log_in(ivan_page, asgi_server, ivan, path)

    ivan_page.get_by_text("Olga Petrova is viewing").wait_for()
    olga_page.fill("form.reply-form textarea", "We will replace it")
    ivan_page.get_by_text("Olga Petrova is replying").wait_for(timeout=15_000)

    # Ivan starts a second reply: asked first, and declining sends nothing.
    ivan_page.fill("form.reply-form textarea", "Send it back to us")
    questions: list[str] = []

    def decline(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    ivan_page.once("dialog", decline)
    ivan_page.click("form.reply-form button[type=submit]")
    ivan_page.wait_for_timeout(500)  # give a (wrongly) sent form time to arrive
    assert questions == [
        "Olga Petrova is replying to this ticket right now. Send your reply anyway?"
    ]
    assert not ticket.messages.filter(author_kind=TicketMessage.Author.OPERATOR).exists()

    # Olga sends hers (Ivan is typing too, so she is asked as well and goes ahead).
    olga_page.once("dialog", lambda dialog: dialog.accept())
    olga_page.click("form.reply-form button[type=submit]")
    # Her reply appears on Ivan's page without reload, and arms the "replied since" warning.
    ivan_page.locator("ol.conversation").get_by_text("We will replace it").wait_for()
    asked: list[str] = []

    def accept(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    ivan_page.once("dialog", accept)
    ivan_page.click("form.reply-form button[type=submit]")
    ivan_page.locator("ol.conversation").get_by_text("Send it back to us").wait_for()
    assert asked == [
        "A colleague replied to this ticket since you opened it. Send your reply anyway?"
    ]
    bodies = list(
        ticket.messages.filter(author_kind=TicketMessage.Author.OPERATOR)
        .order_by("id")
        .values_list("body", flat=True)
    )
    assert bodies == ["We will replace it", "Send it back to us"]


def test_a_customer_message_appears_on_the_open_ticket_page(
    asgi_server: Any, operator_page: Any, olga: User, anna: Customer
) -> None:
    ticket = open_ticket(customer=anna, subject="Kettle", channel="email", body="It leaks")
    page = operator_page()
    log_in(page, asgi_server, olga, f"/tickets/{ticket.pk}/")
    add_message(ticket=ticket, body="Any news about it?", author_kind="customer")
    page.locator("ol.conversation").get_by_text("Any news about it?").wait_for()
