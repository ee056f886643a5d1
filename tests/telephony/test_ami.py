"""The AMI bridge against a fake Asterisk manager interface on a loopback port."""

from __future__ import annotations

import datetime as dt
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from telephony.models import Call, Outcome
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - dt.timedelta(hours=1)
SECRET = "s3cret"


def _at(seconds: int) -> str:
    return f"{(T0 + dt.timedelta(seconds=seconds)).timestamp():.6f}"


def _event(name: str, seconds: int, **fields: str) -> dict[str, str]:
    return {"Event": name, "Privilege": "call,all", "Timestamp": _at(seconds), **fields}


# Three calls, their events interleaved as Asterisk sends them: one through a queue answered
# by extension 201, one ringing extension 202 until the caller gives up, one to a number that
# does not exist. Field names as in Asterisk 18's AMI event documentation.
RECORDED = [
    _event("Newchannel", 0, Channel="PJSIP/trunk-01", Uniqueid="1.1", Linkedid="1.1",
           CallerIDNum="89123456789", Exten="4951234567", Context="from-trunk"),
    _event("QueueCallerJoin", 1, Channel="PJSIP/trunk-01", Uniqueid="1.1", Linkedid="1.1",
           Queue="support", Position="1"),
    _event("Newchannel", 2, Channel="PJSIP/trunk-02", Uniqueid="2.1", Linkedid="2.1",
           CallerIDNum="+79005556677", Exten="4951234567"),
    _event("DialBegin", 2, Channel="PJSIP/trunk-01", Uniqueid="1.1", Linkedid="1.1",
           DestChannel="PJSIP/201-00a", DestUniqueid="1.2", DestCallerIDNum="201",
           DialString="PJSIP/201"),
    _event("Newchannel", 2, Channel="PJSIP/201-00a", Uniqueid="1.2", Linkedid="1.1",
           CallerIDNum="201", Exten="s"),
    _event("DialBegin", 3, Channel="PJSIP/trunk-02", Uniqueid="2.1", Linkedid="2.1",
           DestChannel="PJSIP/202-00b", DestUniqueid="2.2", DestCallerIDNum="202",
           DialString="PJSIP/202"),
    _event("Newchannel", 4, Channel="PJSIP/trunk-03", Uniqueid="3.1", Linkedid="3.1",
           CallerIDNum="+79001234567", Exten="999"),
    _event("AgentConnect", 16, Channel="PJSIP/trunk-01", Uniqueid="1.1", Linkedid="1.1",
           Queue="support", Interface="PJSIP/201", MemberName="Olga", HoldTime="15"),
    _event("BridgeEnter", 16, Channel="PJSIP/201-00a", Uniqueid="1.2", Linkedid="1.1",
           CallerIDNum="201", BridgeUniqueid="b-1"),
    _event("Hangup", 5, Channel="PJSIP/trunk-03", Uniqueid="3.1", Linkedid="3.1",
           CallerIDNum="+79001234567", Cause="1", **{"Cause-txt": "Unallocated"}),
    _event("Hangup", 40, Channel="PJSIP/202-00b", Uniqueid="2.2", Linkedid="2.1", Cause="16"),
    _event("Hangup", 40, Channel="PJSIP/trunk-02", Uniqueid="2.1", Linkedid="2.1",
           CallerIDNum="+79005556677", Cause="19"),
    _event("Hangup", 130, Channel="PJSIP/201-00a", Uniqueid="1.2", Linkedid="1.1", Cause="16"),
    _event("Hangup", 130, Channel="PJSIP/trunk-01", Uniqueid="1.1", Linkedid="1.1",
           CallerIDNum="89123456789", Cause="16"),
]  # fmt: skip


class _FakeAmi(socketserver.StreamRequestHandler):
    logins: list[dict[str, str]] = []

    def handle(self) -> None:
        self.wfile.write(b"Asterisk Call Manager/5.0.2\r\n")
        login: dict[str, str] = {}
        while (line := self.rfile.readline().decode().rstrip("\r\n")) != "":
            key, _sep, value = line.partition(": ")
            login[key] = value
        _FakeAmi.logins.append(login)
        if login.get("Secret") != SECRET:
            self.wfile.write(b"Response: Error\r\nMessage: Authentication failed\r\n\r\n")
            return
        self.wfile.write(b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n")
        self.wfile.write(
            b"Event: FullyBooted\r\nPrivilege: system,all\r\nStatus: Fully Booted\r\n\r\n"
        )
        for event in RECORDED:
            self.wfile.write("".join(f"{k}: {v}\r\n" for k, v in event.items()).encode() + b"\r\n")


@pytest.fixture
def fake_ami() -> Iterator[int]:
    _FakeAmi.logins = []
    server = socketserver.TCPServer(("127.0.0.1", 0), _FakeAmi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _bridge(port: int, monkeypatch: pytest.MonkeyPatch, secret: str = SECRET) -> Any:
    monkeypatch.setenv("H9_TEST_AMI_SECRET", secret)
    return call_command(
        "telephony_ami", "--host", "127.0.0.1", "--port", str(port), "--user", "crm",
        "--secret-env", "H9_TEST_AMI_SECRET", "--once",
    )  # fmt: skip


def test_the_bridge_records_the_calls_as_the_endpoint_would(
    fake_ami: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    olga = UserFactory.create(username="olga", phone_extension="201")
    ivan = UserFactory.create(username="ivan", phone_extension="202")

    _bridge(fake_ami, monkeypatch)

    assert _FakeAmi.logins == [
        {"Action": "Login", "Username": "crm", "Secret": SECRET, "Events": "call"}
    ]
    queued = Call.objects.get(call_id="1.1")
    assert (queued.caller, queued.called, queued.queue) == (
        "+79123456789",
        "+74951234567",
        "support",
    )
    assert queued.answered_by == olga and queued.outcome == Outcome.ANSWERED
    assert (queued.rang_at, queued.waiting_seconds) == (T0, 16)
    assert queued.ended_at == T0 + dt.timedelta(seconds=130)
    assert queued.cause == "normalClearing"
    rang = Call.objects.get(call_id="2.1")
    assert list(rang.operators.all()) == [ivan]
    assert (rang.outcome, rang.cause) == (Outcome.ABANDONED, "noAnswer")
    nowhere = Call.objects.get(call_id="3.1")
    assert (nowhere.outcome, nowhere.cause) == (Outcome.MISSED, "notFound")
    assert Call.objects.count() == 3


def test_a_refused_login_is_an_error(fake_ami: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="Authentication failed"):
        _bridge(fake_ami, monkeypatch, secret="wrong")
    assert not Call.objects.exists()


def test_the_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("H9_TEST_AMI_SECRET", raising=False)
    with pytest.raises(CommandError, match="H9_TEST_AMI_SECRET"):
        call_command("telephony_ami", "--host", "127.0.0.1", "--user", "crm",
                     "--secret-env", "H9_TEST_AMI_SECRET", "--once")  # fmt: skip
