"""Smoke pass over a running production-mode server (gunicorn, DEBUG off), as .ci/run does.

Walks the pages a team uses on day one as the personas who use them, the way a browser behind
the TLS proxy would reach them (X-Forwarded-Proto: https, the site's Origin on form posts):
login, a customer card, the ticket queue and a ticket, the dashboard, the admin, the API docs
and schema, a survey answered and opened again, the error pages, and the static files the pages
name. Every answer must be the expected one; a 500 anywhere fails the run.

    python scripts/smoke_production.py --base-url http://127.0.0.1:8100 \\
        --password <the demo staff's password> --admin <username> --admin-password <password>

It runs with the server's own environment (DATABASE_URL, DJANGO_*): it reads the ids of a
customer and a ticket and creates one survey invitation through Django, and asks everything
else over HTTP. The demo data of `seed_demo` must be there (operators demo.emma in English and
demo.olga in Russian, supervisor demo.svetlana).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import sys
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
STATIC_URL = re.compile(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"')
# The manifest storage names files by their content: app.3f2a9c1b7d4e.css.
HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.(?:css|js)$")
LAYOUT = '<header class="topbar">'


class SmokeFailure(AssertionError):
    """A page answered something other than what the product promises."""


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str
    path: str

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    def expect(self, *statuses: int) -> Answer:
        if self.status not in statuses:
            raise SmokeFailure(
                f"{self.path}: answered {self.status}, expected {statuses}\n{self.body[:2000]}"
            )
        return self

    def contains(self, *texts: str) -> Answer:
        for text in texts:
            if text not in self.body:
                raise SmokeFailure(f"{self.path}: {text!r} is not on the page")
        return self


@dataclass
class Visitor:
    """One browser: its own cookies, every request as the TLS proxy forwards it."""

    base_url: str
    language: str = "en"
    cookies: dict[str, str] = field(default_factory=dict)
    secure_cookies: set[str] = field(default_factory=set)

    @property
    def origin(self) -> str:
        # What a browser on the https site sends: the proxy's scheme, this host.
        return "https://" + urllib.parse.urlsplit(self.base_url).netloc

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        behind_proxy: bool = True,
    ) -> Answer:
        parts = urllib.parse.urlsplit(self.base_url)
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        headers = {"Accept-Language": self.language, "User-Agent": "crm-production-smoke"}
        if behind_proxy:
            headers["X-Forwarded-Proto"] = "https"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = self.origin
            headers["Referer"] = self.origin + path
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        for raw in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(raw)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                    continue
                self.cookies[name] = morsel.value
                if morsel["secure"]:
                    self.secure_cookies.add(name)
        answer = Answer(response.status, response.headers, text, path)
        if answer.status >= 500:
            raise SmokeFailure(f"{method} {path}: {answer.status}\n{text[:2000]}")
        print(f"  {answer.status} {method} {path} ({self.language})")
        return answer

    def get(self, path: str, *, behind_proxy: bool = True) -> Answer:
        return self.request("GET", path, behind_proxy=behind_proxy)

    def post(self, path: str, form: dict[str, str]) -> Answer:
        return self.request("POST", path, form=form)

    def csrf_token(self, page: Answer) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)
        if match is None:
            raise SmokeFailure(f"{page.path}: no CSRF token on the page")
        return match.group(1)

    def log_in(self, username: str, password: str) -> None:
        page = self.get("/accounts/login/").expect(200)
        form = {
            "csrfmiddlewaretoken": self.csrf_token(page),
            "username": username,
            "password": password,
        }
        answer = self.post("/accounts/login/", form).expect(302)
        if answer.header("Location") != "/":
            raise SmokeFailure(f"login as {username} went to {answer.header('Location')!r}")
        for name in ("sessionid", "csrftoken"):
            if name not in self.secure_cookies:
                raise SmokeFailure(f"the {name} cookie is not Secure in production")

    def static_files_answer(self, page: Answer) -> None:
        urls = sorted(set(STATIC_URL.findall(page.body)))
        if not urls:
            raise SmokeFailure(f"{page.path} names no static files")
        for url in urls:
            if not HASHED_NAME.search(url):
                raise SmokeFailure(f"{page.path}: {url} is not from the collected manifest")
            answer = self.get(url).expect(200)
            if "max-age" not in answer.header("Cache-Control"):
                raise SmokeFailure(f"{url} is served without a cache lifetime")


def _setup_django() -> None:
    sys.path.insert(0, str(PROJECT_ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
    import django

    django.setup()


def _records() -> tuple[int, str, int, str]:
    """A demo customer's id and name, a ticket's id, and a fresh survey invitation's token."""
    from customers.models import Customer
    from surveys.models import Survey
    from surveys.services import create_invitation
    from tickets.models import Ticket

    ticket = Ticket.objects.select_related("customer").order_by("pk").first()
    if ticket is None:
        raise SmokeFailure("no ticket in the database: run seed_demo first")
    customer: Customer = ticket.customer
    survey = Survey.objects.filter(kind=Survey.Kind.CSAT, is_active=True).order_by("pk").first()
    if survey is None:
        raise SmokeFailure("no active CSAT survey in the database: run seed_demo first")
    invitation, _created = create_invitation(
        survey=survey, customer=customer, cause=f"smoke:{os.getpid()}:{Ticket.objects.count()}"
    )
    return customer.pk, customer.full_name, ticket.pk, invitation.token


def smoke(base_url: str, *, password: str, admin: str, admin_password: str) -> None:
    customer_id, customer_name, ticket_id, token = _records()

    print("anonymous")
    visitor = Visitor(base_url)
    # Plain HTTP, as if the proxy were bypassed: production sends it to https.
    redirect = visitor.get("/accounts/login/", behind_proxy=False).expect(301)
    if not redirect.header("Location").startswith("https://"):
        raise SmokeFailure(f"plain HTTP went to {redirect.header('Location')!r}, not https")
    visitor.get("/healthz").expect(200).contains('"ok"')
    home = visitor.get("/").expect(200).contains(LAYOUT)
    visitor.static_files_answer(home)
    visitor.get(f"/customers/{customer_id}/").expect(302)
    if "Strict-Transport-Security" not in home.headers:
        raise SmokeFailure("no HSTS header on an https answer")
    # A form posted without its token: the CSRF page, in the layout.
    visitor.post("/accounts/login/", {"username": "x", "password": "y"}).expect(403).contains(
        LAYOUT, "The form has expired"
    )

    print("the customer answers a survey")
    customer = Visitor(base_url)
    page = customer.get(f"/s/{token}/?lang=en").expect(200).contains('name="score"')
    if page.header("Referrer-Policy") != "same-origin":
        raise SmokeFailure(f"survey page Referrer-Policy {page.header('Referrer-Policy')!r}")
    customer.static_files_answer(page)
    answer = {"csrfmiddlewaretoken": customer.csrf_token(page), "score": "5", "lang": "en"}
    customer.post(f"/s/{token}/", answer).expect(200).contains("Your answer has been recorded")
    customer.get(f"/s/{token}/?lang=en").expect(200).contains(
        "You have already answered this survey"
    )

    print("operator, English")
    emma = Visitor(base_url, language="en")
    emma.log_in("demo.emma", password)
    emma.get("/").expect(200).contains(LAYOUT)
    card = emma.get(f"/customers/{customer_id}/").expect(200).contains(customer_name)
    emma.static_files_answer(card)
    emma.get("/tickets/").expect(200).contains(LAYOUT)
    emma.get(f"/tickets/{ticket_id}/").expect(200).contains(LAYOUT)
    emma.get("/metrics/").expect(403).contains(LAYOUT, "Access denied", 'href="/"')
    emma.get("/no-such-page/").expect(404).contains(LAYOUT, "Page not found")

    print("operator, Russian")
    olga = Visitor(base_url, language="ru")
    olga.log_in("demo.olga", password)
    olga.get(f"/customers/{customer_id}/").expect(200).contains('<html lang="ru">')
    olga.get("/tickets/").expect(200).contains('<html lang="ru">')
    olga.get("/metrics/").expect(403).contains(LAYOUT, "Доступ запрещён")
    olga.get("/no-such-page/").expect(404).contains(LAYOUT, "Страница не найдена")

    print("supervisor")
    svetlana = Visitor(base_url, language="ru")
    svetlana.log_in("demo.svetlana", password)
    dashboard = svetlana.get("/metrics/").expect(200).contains(LAYOUT, "chart.umd.min")
    svetlana.static_files_answer(dashboard)

    print("admin")
    boss = Visitor(base_url)
    boss.log_in(admin, admin_password)
    admin_index = boss.get("/admin/").expect(200)
    boss.static_files_answer(admin_index)
    boss.get("/admin/customers/customer/").expect(200).contains(customer_name)
    boss.get(f"/admin/tickets/ticket/{ticket_id}/change/").expect(200)
    docs = boss.get("/api/docs/").expect(200)
    boss.static_files_answer(docs)
    schema = boss.get("/api/schema/").expect(200).contains("openapi")
    if "/api/v1/customers/" not in schema.body:
        raise SmokeFailure("the schema does not describe /api/v1/customers/")
    print("production smoke: every page answered as expected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="e.g. http://127.0.0.1:8100")
    parser.add_argument("--password", required=True, help="the demo staff's password")
    parser.add_argument("--admin", required=True, help="a superuser's username")
    parser.add_argument("--admin-password", required=True)
    options = parser.parse_args()
    _setup_django()
    try:
        smoke(
            options.base_url.rstrip("/"),
            password=options.password,
            admin=options.admin,
            admin_password=options.admin_password,
        )
    except SmokeFailure as failure:
        print(f"production smoke FAILED: {failure}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
