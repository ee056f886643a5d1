"""An Asterisk AMI bridge: reads the manager interface's events and turns them into the same
call events as the HTTP endpoint (`record_call_event`), for a PBX without webhooks.

The AMI speaks lines of `Key: Value` over TCP, a blank line ending each message. The bridge
logs in, then follows each call by its `Linkedid` (the first channel's unique ID):

- `Newchannel` of the first channel: the caller, the number dialled;
- `QueueCallerJoin`: the queue; `DialBegin`: the extension rung; the first of the two (or
  the hangup, for a call that rang nobody) reports `newCall`;
- `AgentConnect` (a queue member answered) or `BridgeEnter` of a second channel: `answer`,
  by the extension of the answering channel;
- `Hangup` of the first channel: `hangup`, its Q.850 cause in Zammad's words.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from accounts.models import User
from telephony.services import record_call_event

logger = logging.getLogger(__name__)

Message = dict[str, str]
Recorder = Callable[..., Any]

# Q.850 cause codes (Asterisk's `Cause`) in the words of Zammad's CTI API; others as given.
CAUSES = {
    "1": "notFound",  # unallocated number
    "3": "notFound",  # no route to destination
    "16": "normalClearing",
    "17": "busy",
    "18": "noAnswer",  # no user responding
    "19": "noAnswer",  # no answer from user
    "21": "cancel",  # call rejected
    "34": "congestion",  # no circuit available
    "38": "congestion",  # network out of order
    "42": "congestion",  # switching equipment congestion
}


class AmiError(Exception):
    """The manager interface refused the login or closed the connection."""


def read_message(stream: Any) -> Message | None:
    """One AMI message (lines up to a blank one) as a dict; None at the end of the stream."""
    message: Message = {}
    while True:
        raw = stream.readline()
        if not raw:
            return message or None
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if not line:
            if message:
                return message
            continue
        key, _sep, value = line.partition(":")
        message[key.strip()] = value.strip()


def _moment(message: Message) -> dt.datetime:
    """The event's `Timestamp` (AMI's timestampevents=yes), else now."""
    stamp = message.get("Timestamp")
    if stamp:
        try:
            return dt.datetime.fromtimestamp(float(stamp), tz=dt.UTC)
        except ValueError:
            pass
    return timezone.now()


def _extension(message: Message, *keys: str) -> str:
    """An extension from `SIP/201-0000a` / `PJSIP/201` or a caller ID number."""
    for key in keys:
        value = message.get(key, "")
        if "/" in value:
            value = value.split("/", 1)[1].split("-", 1)[0].split("@", 1)[0]
        if value and value not in {"<unknown>", "s"}:
            return value
    return ""


@dataclass
class _Call:
    started: dt.datetime
    caller: str = ""
    dialled: str = ""
    direction: str = "in"
    queue: str = ""
    rung: list[str] = field(default_factory=list)
    reported: bool = False
    answered: bool = False


class Translator:
    """Turns AMI events into `record_call_event` calls, one call per `Linkedid`."""

    def __init__(self, record: Recorder = record_call_event) -> None:
        self.record = record
        self.calls: dict[str, _Call] = {}
        self.extensions = set(
            User.objects.exclude(phone_extension="").values_list("phone_extension", flat=True)
        )

    def handle(self, message: Message) -> None:
        name = message.get("Event", "")
        linked = message.get("Linkedid") or message.get("Uniqueid", "")
        if not linked:
            return
        first_channel = message.get("Uniqueid") == linked
        at = _moment(message)
        if name == "Newchannel" and first_channel:
            caller = message.get("CallerIDNum", "")
            self.calls[linked] = _Call(
                started=at,
                caller=caller,
                dialled=message.get("Exten", ""),
                direction="out" if caller in self.extensions else "in",
            )
            return
        call = self.calls.get(linked)
        if call is None:
            return  # a call that began before the bridge connected
        if name == "QueueCallerJoin":
            call.queue = message.get("Queue", "")
            self._report(linked, call)
        elif name == "DialBegin":
            extension = _extension(message, "DestCallerIDNum", "DialString", "DestChannel")
            if extension and call.direction == "in":
                call.rung.append(extension)
            self._report(linked, call)
        elif name in {"AgentConnect", "BridgeEnter"} and not call.answered:
            if name == "BridgeEnter" and first_channel:
                return  # the caller entering the bridge says nothing about who answered
            extension = _extension(
                message, "Interface", "DestCallerIDNum", "MemberName", "CallerIDNum", "Channel"
            )
            self._report(linked, call)
            call.answered = True
            self.record(event="answer", call_id=linked, answering_number=extension, at=at)
        elif name == "Hangup" and first_channel:
            self._report(linked, call)
            cause = message.get("Cause", "")
            self.record(event="hangup", call_id=linked, cause=CAUSES.get(cause, cause), at=at)
            del self.calls[linked]

    def _report(self, linked: str, call: _Call) -> None:
        """The call's `newCall`, once, dated when its first channel appeared."""
        if call.reported:
            return
        call.reported = True
        self.record(
            event="newCall",
            call_id=linked,
            direction=call.direction,
            from_number=call.caller,
            to_number=call.dialled,
            users=call.rung,
            queue=call.queue,
            at=call.started,
        )


def login(stream: Any, connection: socket.socket, *, user: str, secret: str) -> None:
    """Read the banner, log in, and fail unless the AMI says Success."""
    banner = stream.readline()
    if not banner.startswith(b"Asterisk Call Manager"):
        raise AmiError(f"not an Asterisk manager interface: {banner[:80]!r}")
    connection.sendall(
        f"Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: call\r\n\r\n".encode()
    )
    answer = read_message(stream)
    if not answer or answer.get("Response") != "Success":
        raise AmiError(f"login refused: {(answer or {}).get('Message', 'connection closed')}")


def events(*, host: str, port: int, user: str, secret: str, timeout: float) -> Iterator[Message]:
    """The AMI's event messages after a successful login, until the connection closes."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        connection.settimeout(None)  # events come when calls happen
        stream = connection.makefile("rb")
        login(stream, connection, user=user, secret=secret)
        while (message := read_message(stream)) is not None:
            if "Event" in message:
                yield message


def run_bridge(*, host: str, port: int, user: str, secret: str, timeout: float = 10.0) -> int:
    """Follow the AMI until it closes the connection; the number of events read."""
    translator = Translator()
    count = 0
    for message in events(host=host, port=port, user=user, secret=secret, timeout=timeout):
        count += 1
        try:
            translator.handle(message)
        except Exception:  # one bad event must not stop the bridge for every other call
            logger.exception("AMI event not recorded: %s", message)
    return count
