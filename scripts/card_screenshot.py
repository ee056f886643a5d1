#!/usr/bin/env python
"""Save the README's screenshots at 1366x768: a rich demo customer's card (card.png), the
ticket queue (tickets.png) and the supervisor's dashboard (metrics.png).

Seeds the demo company into a temporary database (CRM_VAR_DIR), fits the CLV models, serves it
on a free local port, logs in as a demo operator (and a demo supervisor) with Debian's Chromium
driven by Playwright, and shoots.

    .venv/bin/python scripts/card_screenshot.py [--out docs/screenshots/card.png]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OPERATOR = "demo.olga"
SUPERVISOR = "demo.svetlana"  # crm.demo.vocabulary.SUPERVISOR_STAFF
PASSWORD = "demo-crm-2024"  # crm.demo.seed.DEMO_PASSWORD
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1366, 768  # the smallest screen the card is made for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True
    )
    return result.stdout.decode()


RICH_CUSTOMER = """
from django.db.models import Count, Q
from customers.models import Customer
c = (Customer.objects.annotate(
        open=Count(
            "tickets", filter=Q(tickets__status__in=["new", "open", "pending"]), distinct=True
        ),
        bought=Count("purchases", distinct=True),
        wanted=Count("interests", filter=Q(interests__status="open"), distinct=True),
        answered=Count("survey_invitations__response", distinct=True),
    ).filter(open__gte=1, wanted__gte=1, answered__gte=1).order_by("-bought", "pk").first()
    or Customer.objects.annotate(n=Count("purchases")).order_by("-n").first())
print(c.pk)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "card.png"))
    parser.add_argument("--language", default="en")
    options = parser.parse_args()
    from playwright.sync_api import Page, ViewportSize, sync_playwright

    with tempfile.TemporaryDirectory() as var_dir:
        env = {
            **os.environ,
            "CRM_VAR_DIR": var_dir,
            "DJANGO_LANGUAGE_CODE": options.language,
        }
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "seed_demo", "--password", PASSWORD)
        manage(env, "clv", "fit")
        customer_id = manage(env, "shell", "-c", RICH_CUSTOMER).strip().splitlines()[-1]
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

                def log_in(page: Page, username: str) -> None:
                    page.goto(f"{base}/accounts/login/")
                    page.fill("input[name=username]", username)
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit], input[type=submit]")
                    page.wait_for_load_state()
                    # The demo staff speak Russian; the language switcher's cookie wins.
                    page.context.add_cookies(
                        [{"name": "django_language", "value": options.language, "url": base}]
                    )

                size: ViewportSize = {"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT}
                out = Path(options.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                page = browser.new_page(viewport=size)
                log_in(page, OPERATOR)
                page.goto(f"{base}/customers/{customer_id}/")
                page.wait_for_selector("#section-timeline")
                page.screenshot(path=out)
                page.goto(f"{base}/tickets/")
                page.wait_for_load_state()
                page.screenshot(path=out.with_name("tickets.png"))
                page = browser.new_context(viewport=size).new_page()
                log_in(page, SUPERVISOR)
                page.goto(f"{base}/metrics/")
                page.wait_for_load_state("networkidle")
                page.screenshot(path=out.with_name("metrics.png"))
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"saved {options.out} (customer {customer_id})")


if __name__ == "__main__":
    main()
