"""Browser tests drive Debian's Chromium with Playwright against a live server.

Playwright never downloads a browser here: it launches /usr/bin/chromium (apt package
`chromium`, which .ci/run installs). Without it the tests are skipped, saying why.

The server is pytest-django's live server (DEBUG on, runserver's handler) unless
`CRM_BROWSER_SERVER=production`: then `live_server` is gunicorn started by `scripts/serve`, the
command docker-compose runs, with `DJANGO_DEBUG=0`, static files collected into the manifest
storage and served by whitenoise, on the test database (PostgreSQL: the server is another
process). The browser reaches it as it would through the TLS proxy: every request carries
`X-Forwarded-Proto: https`, so the HTTPS redirect, secure cookies and HSTS stay on. Only the
browser's own origin is plain `http://127.0.0.1:<port>` (there is no TLS in between here), so
that one origin is the server's `DJANGO_CSRF_TRUSTED_ORIGINS`. .ci/run runs `pytest -m browser`
once this way.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings, settings
from django.db import connection, connections

from tests.installed import missing_program

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1366, 768
# A common phone screen in CSS pixels (iPhone 12 to 14): the survey page's first audience.
PHONE_WIDTH, PHONE_HEIGHT = 390, 844

PRODUCTION = os.environ.get("CRM_BROWSER_SERVER", "") == "production"
PROJECT_ROOT = Path(settings.BASE_DIR)
# Variables the settings read: the test run's own must not leak into the production server.
_SETTINGS_VARIABLES = ("DJANGO_", "DATABASE_", "REDIS_URL", "CELERY_", "CRM_", "EMAIL_", "PHONE_")
SERVER_START_SECONDS = 120


class _NoSettingsChange:
    """pytest-django enables and disables the live server's settings around each test."""

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass


class ProductionServer:
    """gunicorn from scripts/serve with DEBUG off, on the test database; `.url` as live_server."""

    _live_server_modified_settings = _NoSettingsChange()

    def __init__(
        self, *, var_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None
    ) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        db = connection.settings_dict
        database_url = "postgres://{user}:{password}@{host}:{port}/{name}".format(
            user=db["USER"],
            password=db["PASSWORD"],
            host=db["HOST"] or "127.0.0.1",
            port=db["PORT"] or 5432,
            name=db["NAME"],
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS_VARIABLES)}
        self.env.update(
            DJANGO_SETTINGS_MODULE="crm.settings",
            DJANGO_DEBUG="0",
            # The test process signs and checks with its own key; the server must agree.
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            DJANGO_ALLOWED_HOSTS="127.0.0.1",
            DJANGO_CSRF_TRUSTED_ORIGINS=self.url,
            DATABASE_URL=database_url,
            CRM_VAR_DIR=str(var_dir),
            CRM_BIND=f"127.0.0.1:{port}",
            CRM_WEB_WORKERS="2",
            PYTHON=sys.executable,
            # pytest-django migrated the test database; a migrate here would also run
            # post_migrate and re-create the roles a transactional test's flush removed, under
            # new ids, which the next test's restored roles would then collide with.
            CRM_SERVE_MIGRATE="0",
        )
        self.env.update(extra_env or {})
        collected = subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput"],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if collected.returncode != 0:
            raise RuntimeError(f"collectstatic failed:\n{collected.stdout}{collected.stderr}")
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [str(PROJECT_ROOT / "scripts" / "serve")],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + SERVER_START_SECONDS
        request = urllib.request.Request(
            f"{self.url}/healthz", headers={"X-Forwarded-Proto": "https"}
        )
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"scripts/serve exited:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(request, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)  # polling a starting process, not waiting on the code under test
        self.stop()
        raise RuntimeError(f"gunicorn did not answer /healthz:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


if PRODUCTION:

    @pytest.fixture(scope="session")
    def live_server(
        django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[ProductionServer]:
        """The production-mode server instead of pytest-django's (CRM_BROWSER_SERVER)."""
        if connection.vendor != "postgresql":
            pytest.skip("CRM_BROWSER_SERVER=production needs PostgreSQL (DATABASE_URL)")
        var_dir = tmp_path_factory.mktemp("production")
        with django_db_blocker.unblock():
            server = ProductionServer(var_dir=var_dir, log_path=var_dir / "gunicorn.log")
        try:
            yield server
        finally:
            # Before pytest-django drops the test database, which refuses while connected.
            server.stop()


@pytest.fixture(autouse=True)
def _server_password_hashers(_test_settings: None, settings: Any) -> None:
    """The production server checks passwords with the real hashers, not the tests' fast one."""
    if PRODUCTION:
        settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS


def _extra_headers() -> dict[str, str]:
    # What the TLS proxy adds in front of the production server.
    return {"X-Forwarded-Proto": "https"} if PRODUCTION else {}


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Debian's Chromium through Playwright, closed after the test."""
    if not CHROMIUM.exists():
        missing_program(
            f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        )
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # alongside it are still synchronous and safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # The ORM calls made beside Playwright's event loop opened their own connection;
            # close it, or PostgreSQL refuses to drop the test database at the end.
            connections.close_all()


@pytest.fixture
def browser_page(chromium: Any) -> Any:
    """A fresh Chromium page at the card's smallest screen size."""
    context = chromium.new_context(
        viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT},
        extra_http_headers=_extra_headers(),
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


@pytest.fixture
def phone_page(chromium: Any) -> Any:
    """A fresh Chromium page on a phone's screen, tapped rather than clicked."""
    context = chromium.new_context(
        viewport={"width": PHONE_WIDTH, "height": PHONE_HEIGHT},
        is_mobile=True,
        has_touch=True,
        extra_http_headers=_extra_headers(),
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    return page


# The live workspace's tests: Redis database 10 only (the tests' own).
LIVE_REDIS_URL = os.environ.get("CRM_TEST_LIVE_REDIS_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture(scope="session")
def asgi_server(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ProductionServer]:
    """scripts/serve (gunicorn with uvicorn workers, the ASGI app) for the server-sent events.

    pytest-django's live server is WSGI and cannot stream; this is the production command, two
    worker processes fanned out through Redis (database 10), on the test database, so
    PostgreSQL only (SQLite's test database lives in this process's memory). The test process
    publishes to the same Redis (the `live_redis` fixture).
    """
    import redis

    if connection.vendor != "postgresql":
        pytest.skip("the ASGI server runs in another process: needs PostgreSQL (DATABASE_URL)")
    try:
        redis.Redis.from_url(LIVE_REDIS_URL).ping()
    except redis.RedisError:
        pytest.skip(f"the live tests fan out through Redis: none at {LIVE_REDIS_URL}")
    var_dir = tmp_path_factory.mktemp("asgi")
    with django_db_blocker.unblock():
        server = ProductionServer(
            var_dir=var_dir,
            log_path=var_dir / "server.log",
            extra_env={
                "REDIS_URL": LIVE_REDIS_URL,
                "CELERY_TASK_ALWAYS_EAGER": "1",
                "LIVE_HEARTBEAT_SECONDS": "5",
            },
        )
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_redis(settings: Any) -> str:
    """This test process publishes live events through the ASGI server's Redis."""
    settings.LIVE_REDIS_URL = LIVE_REDIS_URL
    return LIVE_REDIS_URL


@pytest.fixture
def operator_page(chromium: Any) -> Any:
    """Another operator's browser: each call a fresh context (own cookies), as the proxy sends."""

    def open_page() -> Any:
        context = chromium.new_context(
            viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT},
            extra_http_headers={"X-Forwarded-Proto": "https"},
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        return page

    return open_page
