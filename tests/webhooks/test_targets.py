"""Webhook targets: no internal addresses (SSRF), at registration and at every delivery.

Forbidden families are refused whether typed as an IP literal or reached through a name;
a name that resolved to a public address at registration and to an internal one at delivery
(DNS rebinding) is refused at delivery; redirects are not followed; only a short excerpt of
the answer is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import User
from core.outbox.engine import deliver
from webhooks.models import Webhook, WebhookDelivery
from webhooks.targets import EXCERPT_CHARS


def attempt_delivery(*, delivery_id: int) -> WebhookDelivery:
    """One attempt through the outbox, and the delivery as it was recorded."""
    deliver("webhook", delivery_id)
    return WebhookDelivery.objects.get(pk=delivery_id)


pytestmark = pytest.mark.django_db

FORBIDDEN = [
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata (IPv4 link-local)
    "http://127.0.0.1:5432/",  # IPv4 loopback
    "http://[::1]:6379/",  # IPv6 loopback
    "http://10.0.0.8/",  # IPv4 private
    "http://172.16.5.4/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # shared address space (CGNAT)
    "http://0.0.0.0:8000/",  # IPv4 unspecified
    "http://[::]:8000/",  # IPv6 unspecified
    "http://224.0.0.1/",  # IPv4 multicast
    "http://[ff02::1]/",  # IPv6 multicast
    "http://240.0.0.1/",  # IPv4 reserved
    "http://[fe80::1]/",  # IPv6 link-local
    "http://[fc00::1]/",  # IPv6 unique local (private)
    "http://[fec0::1]/",  # IPv6 site-local (deprecated, private: not in is_private)
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6 of loopback
    "http://[::ffff:93.184.215.14]/",  # IPv4-mapped IPv6, even of a public address
    "http://[64:ff9b::7f00:1]/",  # NAT64 (reserved)
    "http://metadata.internal/",  # a name that resolves inside
    "http://half.example/",  # a name with one public and one private address
    "ftp://example.com/",  # not http(s)
    "file:///etc/passwd",
    "http://nowhere.invalid/",  # does not resolve
]


@pytest.fixture
def dns(public_dns: dict[str, list[str]]) -> dict[str, list[str]]:
    public_dns["metadata.internal"] = ["169.254.169.254"]
    public_dns["half.example"] = ["93.184.215.14", "10.1.2.3"]
    return public_dns


@pytest.mark.parametrize("url", FORBIDDEN)
def test_registration_refuses_internal_targets(url: str, dns: dict[str, list[str]]) -> None:
    with pytest.raises(ValidationError) as refused:
        Webhook(name="x", url=url, events=["ticket.created"]).full_clean()

    assert "url" in refused.value.message_dict


def test_public_targets_and_allowed_networks_are_accepted(
    dns: dict[str, list[str]], settings
) -> None:
    Webhook(name="x", url="https://example.com/hook", events=["ticket.created"]).full_clean()
    Webhook(name="x", url="http://[2606:4700::1111]/", events=["ticket.created"]).full_clean()

    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.1.0.0/16"]
    Webhook(name="x", url="http://10.1.7.7:8080/", events=["ticket.created"]).full_clean()
    with pytest.raises(ValidationError):  # only the named network
        Webhook(name="x", url="http://10.2.0.1/", events=["ticket.created"]).full_clean()


def test_the_admin_refuses_an_internal_target(dns: dict[str, list[str]]) -> None:
    admin = User.objects.create_superuser("root", "root@example.com", "pw-for-tests-123")
    client = Client()
    client.force_login(admin)

    response = client.post(
        "/admin/webhooks/webhook/add/",
        {
            "name": "metadata",
            "url": "http://169.254.169.254/latest/meta-data/",
            "events": ["ticket.created"],
            "secret": "s",
            "is_active": "on",
        },
    )

    assert response.status_code == 200
    assert "internal or reserved address" in response.content.decode()
    assert not Webhook.objects.exists()


Responder = Callable[[BaseHTTPRequestHandler], None]


class LocalServer:
    def __init__(self, respond: Responder) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                hits.append(self.path)
                respond(self)

            def do_GET(self) -> None:
                hits.append(self.path)
                respond(self)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve() -> Iterator[Callable[[Responder], LocalServer]]:
    servers: list[LocalServer] = []

    def start(respond: Responder) -> LocalServer:
        servers.append(LocalServer(respond))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def answer(status: int, body: bytes = b"ok", **headers: str) -> Responder:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def pending(url: str) -> WebhookDelivery:
    """A delivery to a webhook stored without validation (an old row, a raw insert)."""
    hook = Webhook.objects.create(name="x", url=url, events=["ticket.created"])
    return WebhookDelivery.objects.create(
        webhook=hook, event="ticket.created", payload={"id": 1}, created_at="2026-01-01T00:00Z"
    )


def test_delivery_to_loopback_is_refused_without_connecting(serve, settings) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    server = serve(answer(200, b"internal secret"))
    delivery = pending(f"http://127.0.0.1:{server.port}/")

    delivery = attempt_delivery(delivery_id=delivery.pk)

    assert server.hits == []
    assert delivery.delivery_status == "pending"
    assert delivery.response_status is None
    assert delivery.response_body == ""
    assert delivery.last_error.startswith("Refused")


def test_dns_rebinding_to_loopback_is_refused_at_delivery(
    serve, settings, public_dns: dict[str, list[str]]
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    server = serve(answer(200, b"internal secret"))
    public_dns["rebind.example"] = ["93.184.215.14"]
    url = f"http://rebind.example:{server.port}/hook"
    Webhook(name="x", url=url, events=["ticket.created"]).full_clean()  # public today
    delivery = pending(url)
    public_dns["rebind.example"] = ["127.0.0.1"]  # and loopback at delivery time

    delivery = attempt_delivery(delivery_id=delivery.pk)

    assert server.hits == []
    assert delivery.last_error.startswith("Refused")


def test_delivery_connects_to_the_checked_address_with_the_host_header(
    serve, settings, public_dns: dict[str, list[str]]
) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    hosts: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        hosts.append(handler.headers["Host"])
        answer(204, b"")(handler)

    server = serve(respond)
    public_dns["hooks.example"] = ["127.0.0.1"]
    delivery = attempt_delivery(
        delivery_id=pending(f"http://hooks.example:{server.port}/in?x=1").pk
    )

    assert (delivery.delivery_status, delivery.response_status) == ("sent", 204)
    assert server.hits == ["/in?x=1"]
    assert hosts == [f"hooks.example:{server.port}"]


def test_redirects_are_not_followed(serve, settings) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    inside = serve(answer(200, b"secret from inside"))
    redirecting = serve(answer(302, b"", Location=f"http://127.0.0.1:{inside.port}/admin"))

    delivery = attempt_delivery(delivery_id=pending(f"http://127.0.0.1:{redirecting.port}/").pk)

    assert redirecting.hits == ["/"]
    assert inside.hits == []
    assert (delivery.delivery_status, delivery.response_status, delivery.last_error) == (
        "pending",
        302,
        "HTTP 302",
    )


def test_only_a_short_excerpt_of_the_answer_is_kept(serve, settings) -> None:
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    server = serve(answer(500, "ошибка ".encode() * 2000))

    delivery = attempt_delivery(delivery_id=pending(f"http://127.0.0.1:{server.port}/").pk)

    assert delivery.response_status == 500
    assert len(delivery.response_body) == EXCERPT_CHARS
    assert delivery.response_body.startswith("ошибка ошибка")


def test_the_address_actually_connected_to_is_checked(serve, settings) -> None:
    """The last line of defence: whatever address a socket ends up connected to, an internal
    peer is refused before a byte of the request is sent."""
    import ipaddress

    from webhooks.targets import UnsafeTarget, _connect

    settings.WEBHOOK_ALLOWED_NETWORKS = []
    server = serve(answer(200, b"internal secret"))

    with pytest.raises(UnsafeTarget):
        _connect(ipaddress.ip_address("127.0.0.1"), server.port, 2)

    assert server.hits == []
