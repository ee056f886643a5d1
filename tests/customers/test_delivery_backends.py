"""The JSON HTTP gateway adapter against a real HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from customers.delivery.backends import (
    JSONHTTPBackend,
    LoggingBackend,
    OutgoingMessage,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    get_backend,
)


class Gateway(BaseHTTPRequestHandler):
    status = 200
    answer: bytes = b'{"id": "msg-42"}'
    received: list[tuple[dict[str, str], dict[str, str]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Gateway.received.append((dict(self.headers), json.loads(self.rfile.read(length))))
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    Gateway.received = []
    Gateway.status = 200
    server = HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/send"
    server.shutdown()
    server.server_close()


MESSAGE = OutgoingMessage(channel="sms", to="+79123456789", text="Hi", idempotency_key="r-1-1")


def test_gateway_gets_the_message_with_token_and_idempotency_key(gateway: str) -> None:
    backend = JSONHTTPBackend(url=gateway, token="secret", sender="Shop", timeout=2)
    assert backend.send(MESSAGE) == "msg-42"
    [(headers, body)] = Gateway.received
    assert body == {"to": "+79123456789", "text": "Hi", "sender": "Shop"}
    assert headers["Authorization"] == "Bearer secret"
    assert headers["Idempotency-Key"] == "r-1-1"


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_temporary(gateway: str, status: int) -> None:
    Gateway.status = status
    with pytest.raises(TemporaryDeliveryError, match=str(status)):
        JSONHTTPBackend(url=gateway, timeout=2).send(MESSAGE)


def test_a_rejected_message_is_permanent(gateway: str) -> None:
    Gateway.status = 400
    with pytest.raises(PermanentDeliveryError, match="400"):
        JSONHTTPBackend(url=gateway, timeout=2).send(MESSAGE)


def test_an_unreachable_gateway_is_temporary() -> None:
    with pytest.raises(TemporaryDeliveryError):
        JSONHTTPBackend(url="http://127.0.0.1:1/send", timeout=2).send(MESSAGE)


def test_an_unconfigured_gateway_is_a_permanent_error() -> None:
    with pytest.raises(PermanentDeliveryError, match="not configured"):
        JSONHTTPBackend(url="")


def test_backends_come_from_settings(settings, gateway: str) -> None:
    settings.SMS_BACKEND = "customers.delivery.backends.JSONHTTPBackend"
    settings.SMS_OPTIONS = {"url": gateway, "token": "", "sender": "", "timeout": 2}
    settings.MESSENGER_BACKEND = "customers.delivery.backends.LoggingBackend"
    assert isinstance(get_backend("sms"), JSONHTTPBackend)
    assert isinstance(get_backend("messenger"), LoggingBackend)
    with pytest.raises(PermanentDeliveryError):
        get_backend("fax")
