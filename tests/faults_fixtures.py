"""A world of our own to break: a private PostgreSQL cluster, a private Redis and the production
server (scripts/serve: gunicorn, DEBUG off) against them, for the tests marked `faults`.

Nothing here touches the shared PostgreSQL or Redis other tests use: the cluster is made with
initdb in a scratch directory and listens on a free port (as the `postgres` user when the tests
run as root, which initdb refuses), its database is a copy (pg_dump) of the migrated test
database, and Redis is `redis-server --port N` without persistence. A test stops, hangs
(SIGSTOP) and restarts them through `FaultWorld`; every fixture leaves them running again.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.installed import missing_program

PROJECT_ROOT = Path(settings.BASE_DIR)
PG_BIN_ROOT = Path("/usr/lib/postgresql")
DATABASE = "crm_faults"
SERVER_START_SECONDS = 120
# The server under test gives up on a database that does not answer after this long (the
# statement timeout, and the client's deadline above it), so a hung server is seen quickly.
# The statement timeout is longer than a restart takes, so that a request blocked on a lock
# is still in flight when the test restarts the server.
STATEMENT_TIMEOUT_SECONDS = "10"
CLIENT_TIMEOUT_SECONDS = "3"
SECRET_KEY = "faults-test-secret-key-" + "x" * 40
# Variables the settings read: the test run's own must not leak into the production server.
_SETTINGS_VARIABLES = ("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "CRM_", "EMAIL_", "PHONE_")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(predicate: Any, *, seconds: float, what: str) -> Any:
    """Poll another process until `predicate()` is true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)  # polling another process, not waiting on a clock rule
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def _pg_bin() -> Path:
    found = sorted(PG_BIN_ROOT.glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        missing_program("no PostgreSQL server binaries (initdb) under /usr/lib/postgresql")
    return found[-1].parent


class PrivateRedis:
    """`redis-server` on a free port, in the foreground of a process this fixture owns."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, seconds=10, what="redis-server")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def hang(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def revive(self) -> None:
        """Running again, whatever a test did to it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            return
        self.start()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait()


class PrivateCluster:
    """A PostgreSQL cluster of its own: initdb in a scratch directory, a free port."""

    def __init__(self, directory: Path) -> None:
        self.bin = _pg_bin()
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        # initdb refuses root: the cluster then belongs to the `postgres` user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        # The server's own output goes to its log (-l): nothing holds these pipes open.
        subprocess.run(
            [*self.as_user, *command],
            check=True,
            capture_output=True,
            cwd=self.directory,
            timeout=SERVER_START_SECONDS,
        )

    def create(self) -> None:
        if self.as_user:
            shutil.chown(self.directory, user="postgres", group="postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w", "-t", "60",
            "-l", str(self.directory / "postgres.log"), "start",
        )  # fmt: skip

    def stop(self) -> None:
        self.resume()
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Stop fast (every session is ended) and start again."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.start()

    def _processes(self) -> list[int]:
        master = int((self.data / "postmaster.pid").read_text().split()[0])
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [master, *(int(pid) for pid in children)]

    def hang(self) -> None:
        """Every process of the cluster stopped: connections open, nothing answers."""
        for pid in self._processes():
            os.kill(pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Every process continues: the children first, then the postmaster, which reaps a
        child that exited meanwhile (one already gone needs no signal)."""
        if (self.data / "postmaster.pid").exists():
            master, *children = self._processes()
            for pid in [*children, master]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)

    def is_running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def conninfo(self, dbname: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={dbname} connect_timeout=5"

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def copy_database(self, source: dict[str, Any]) -> None:
        """Create DATABASE as a copy of the (migrated) test database."""
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {DATABASE}")
        env = {**os.environ, "PGPASSWORD": source["PASSWORD"] or ""}
        dump = subprocess.run(
            [
                str(self.bin / "pg_dump"), "--no-owner", "--no-privileges",
                "-h", source["HOST"] or "127.0.0.1", "-p", str(source["PORT"] or 5432),
                "-U", source["USER"], source["NAME"],
            ],
            check=False, capture_output=True, env=env,
        )  # fmt: skip
        if dump.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {dump.stderr.decode()}")
        subprocess.run(
            [
                *(str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-X"),
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", DATABASE),
            ],
            input=dump.stdout,
            check=True,
            capture_output=True,
        )

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FaultWorld:
    """The private services, the production server on them and what the setup made."""

    cluster: PrivateCluster
    redis: PrivateRedis
    base_url: str
    token: str
    survey_token: str
    ticket_ids: list[int] = field(default_factory=list)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 30,
        authenticated: bool = True,
    ) -> Answer:
        all_headers = {"Accept": "application/json", **(headers or {})}
        if authenticated and path.startswith("/api/"):
            all_headers["Authorization"] = f"Token {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.base_url + path, data=data, headers=all_headers, method=method
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, answer_headers, content = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, content = error.code, error.headers, error.read()
        return Answer(
            status=int(status),
            headers={k.lower(): v for k, v in answer_headers.items()},
            body=content,
            seconds=time.monotonic() - started,
        )


_SETUP = """
import json
from accounts.models import User
from accounts.tokens import issue_token
from customers.models import Customer, Product
from surveys.models import Survey, SurveyInvitation
from webhooks.models import Webhook

user = User.objects.create_superuser("faults.integration", "faults@example.com", None)
_token, key = issue_token(user=user, name="faults")
Webhook.objects.create(
    name="everything", url="https://hooks.example.com/crm",
    events=["customer.created", "ticket.created", "ticket.status_changed"],
)
customer = Customer.objects.create(full_name="Survey Respondent", external_id="FAULTS-1")
Product.objects.create(sku="FAULTS-KT", name="Kettle", price="2500.00")
survey = Survey.objects.create(name="After support", kind="CSAT", scale_min=1, scale_max=5)
invitation = SurveyInvitation.objects.create(survey=survey, customer=customer)
print(json.dumps({"token": key, "survey_token": invitation.token}))
"""


def _server_env(
    cluster: PrivateCluster, redis: PrivateRedis, var_dir: Path, port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SETTINGS_VARIABLES)}
    env.update(
        DJANGO_SETTINGS_MODULE="crm.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        DJANGO_SECURE_SSL_REDIRECT="0",
        DATABASE_URL=cluster.url(),
        DATABASE_STATEMENT_TIMEOUT_SECONDS=STATEMENT_TIMEOUT_SECONDS,
        DATABASE_CLIENT_TIMEOUT_SECONDS=CLIENT_TIMEOUT_SECONDS,
        DATABASE_CONNECT_TIMEOUT_SECONDS="2",
        REDIS_URL=redis.url,
        CRM_VAR_DIR=str(var_dir),
        CRM_BIND=f"127.0.0.1:{port}",
        CRM_WEB_WORKERS="1",
        CRM_SERVE_MIGRATE="0",
        PYTHON=sys.executable,
        PYTHONPATH=str(PROJECT_ROOT),
    )
    return env


@pytest.fixture(scope="session")
def fault_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[FaultWorld]:
    """The private cluster and Redis, the production server on them; torn down at the end."""
    if connection.vendor != "postgresql":
        pytest.skip("fault tests copy the PostgreSQL test database into a private cluster")
    if shutil.which("redis-server") is None:
        missing_program("no redis-server")
    scratch = Path(tempfile.mkdtemp(prefix="crm-faults-"))
    scratch.chmod(0o755)
    (scratch / "pg").mkdir()
    (scratch / "redis").mkdir()
    (scratch / "var").mkdir()
    cluster = PrivateCluster(scratch / "pg")
    redis = PrivateRedis(scratch / "redis")
    process: subprocess.Popen[bytes] | None = None
    log_path = scratch / "server.log"
    try:
        cluster.create()
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            # The test database's name, whatever pytest-django left in the settings.
            cursor.execute("SELECT current_database()")
            source = {**connection.settings_dict, "NAME": cursor.fetchone()[0]}
        cluster.copy_database(source)
        redis.start()
        port = free_port()
        env = _server_env(cluster, redis, scratch / "var", port)
        # The data the tests act on and the static files, side by side (each starts Django).
        setup = subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", _SETUP],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        collect = subprocess.Popen(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for what, step in (("setup", setup), ("collectstatic", collect)):
            out, err = step.communicate(timeout=SERVER_START_SECONDS)
            if step.returncode != 0:
                raise RuntimeError(f"{what} failed:\n{out}{err}")
            if step is setup:
                made_ids = json.loads(out.strip().splitlines()[-1])
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [str(PROJECT_ROOT / "scripts" / "serve")],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        world = FaultWorld(
            cluster=cluster,
            redis=redis,
            base_url=f"http://127.0.0.1:{port}",
            token=made_ids["token"],
            survey_token=made_ids["survey_token"],
        )

        def up() -> bool:
            assert process is not None
            if process.poll() is not None:
                raise RuntimeError(f"scripts/serve exited:\n{log_path.read_text()}")
            try:
                return world.request("GET", "/healthz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(up, seconds=SERVER_START_SECONDS, what="the production server")
        world.log_path = log_path  # type: ignore[attr-defined]
        yield world
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        redis.stop()
        if cluster.is_running():
            cluster.stop()
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def faults(fault_world: FaultWorld) -> Iterator[FaultWorld]:
    """The fault world, with its services running again after the test, whatever it did."""
    yield fault_world
    fault_world.redis.revive()
    fault_world.cluster.resume()
    if not fault_world.cluster.is_running():
        fault_world.cluster.start()
