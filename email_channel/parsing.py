"""From raw RFC 5322 bytes to what the ingest service needs: addresses, threading headers, the
text, attachments, and whether the mail is an auto-reply or a delivery failure report.

Only the standard library's parser, nh3 (HTML sanitising) and the reply splitter
(`email_channel.replies`) are used; nothing here touches the database.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

import nh3

# Headers and values by which a mail says no person wrote it (RFC 3834, and what Exchange,
# Gmail, Yandex and Mail.ru vacation responders set).
AUTO_REPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Auto-Reply", "X-Mail-Autoreply")
AUTO_PRECEDENCE = frozenset({"bulk", "auto_reply", "junk", "list"})
MESSAGE_ID_RE = re.compile(r"<([^<>\s]+)>")


class UnparseableEmail(Exception):
    """Mail the ingest cannot turn into a message; it goes to the quarantine with this reason."""


@dataclass
class ParsedAttachment:
    filename: str
    declared_type: str
    payload: bytes
    content_id: str = ""
    is_inline: bool = False

    @property
    def size(self) -> int:
        return len(self.payload)


@dataclass
class ParsedEmail:
    message_id: str
    subject: str
    from_name: str
    from_address: str
    reply_to_address: str = ""
    to_addresses: list[str] = field(default_factory=list)
    cc_addresses: list[str] = field(default_factory=list)
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    auto_reason: str = ""
    is_bounce: bool = False
    bounced_recipients: list[str] = field(default_factory=list)
    bounced_message_ids: list[str] = field(default_factory=list)
    bounce_reason: str = ""
    attachments: list[ParsedAttachment] = field(default_factory=list)

    @property
    def is_auto_reply(self) -> bool:
        return bool(self.auto_reason)

    @property
    def thread_ids(self) -> list[str]:
        """The Message-IDs this mail answers, nearest first."""
        seen: list[str] = []
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            if mid not in seen:
                seen.append(mid)
        return seen


def message_ids(value: str | None) -> list[str]:
    """The Message-IDs in a header (`<a@b> <c@d>`), without angle brackets."""
    if not value:
        return []
    found = MESSAGE_ID_RE.findall(str(value))
    if not found and str(value).strip():
        found = [str(value).strip().strip("<>")]
    return found


def synthetic_message_id(raw: bytes) -> str:
    """A stable id for mail that came without a Message-ID, so re-delivery is still recognised."""
    return f"sha256-{hashlib.sha256(raw).hexdigest()}@no-message-id"


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, TypeError, IndexError, LookupError):  # the parser's header defects
        value = None
    if value is None:
        return ""
    return " ".join(str(value).split())


def _addresses(msg: Message, name: str) -> list[str]:
    try:
        values = [str(v) for v in msg.get_all(name, [])]
    except (ValueError, TypeError, IndexError, LookupError):
        values = []
    result = []
    for _name, address in getaddresses(values):
        address = address.strip().lower()
        if "@" in address and address not in result:
            result.append(address)
    return result


def _decode_text(part: Message) -> str:
    """A text part's content in its declared charset; undeclared or unknown charsets fall back
    to UTF-8 and then windows-1251 (what Russian mail without a charset usually is)."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    charset = part.get_content_charset()
    for candidate in (charset, "utf-8", "windows-1251"):
        if not candidate:
            continue
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


class _HtmlToText(HTMLParser):
    """Sanitised HTML to plain text: paragraphs and line breaks kept, quotes as "> " lines."""

    BLOCKS = frozenset(
        {"p", "div", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_depth = 0

    def _newline(self) -> None:
        if self.lines[-1].strip(" >"):
            self.lines.append("")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.lines.append("")
        elif tag == "blockquote":
            self._newline()
            self.quote_depth += 1
        elif tag == "li":
            self._newline()
            self.lines[-1] += "- "
        elif tag in self.BLOCKS:
            self._newline()

    def handle_endtag(self, tag: str) -> None:
        if tag == "blockquote":
            self._newline()
            self.quote_depth = max(0, self.quote_depth - 1)
        elif tag in self.BLOCKS or tag == "li":
            self._newline()

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if not text:
            return
        line = self.lines[-1]
        if not line.strip(" >") and self.quote_depth:
            line = "> " * self.quote_depth
        elif line and not line.endswith((" ", "\n")):
            line += " "
        self.lines[-1] = line + text

    def text(self) -> str:
        out = "\n".join(line.rstrip() for line in self.lines)
        return re.sub(r"\n{3,}", "\n\n", out).strip()


def html_to_text(html: str) -> str:
    """Plain text of an HTML body, after nh3 removed scripts, styles and anything active."""
    clean = nh3.clean(html, tags=nh3.ALLOWED_TAGS | {"div", "p", "br", "blockquote", "pre"})
    converter = _HtmlToText()
    converter.feed(clean)
    converter.close()
    return converter.text()


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or (
        bool(part.get_filename()) and part.get_content_maintype() != "text"
    )


def _collect(msg: Message, parsed: ParsedEmail, texts: dict[str, str]) -> None:
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        if ctype in ("message/delivery-status", "text/rfc822-headers"):
            continue
        if ctype in ("text/plain", "text/html") and not _is_attachment(part):
            content = _decode_text(part)
            if content.strip() and ctype not in texts:
                texts[ctype] = content
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        content_id = message_ids(_header(part, "Content-ID"))
        filename = part.get_filename() or ""
        parsed.attachments.append(
            ParsedAttachment(
                filename=filename or (content_id[0] if content_id else "attachment"),
                declared_type=ctype,
                payload=payload,
                content_id=content_id[0] if content_id else "",
                is_inline=(part.get_content_disposition() == "inline" or bool(content_id))
                and part.get_content_maintype() == "image",
            )
        )


def _read_bounce(msg: Message, parsed: ParsedEmail) -> None:
    """Recipients that failed and the Message-ID of the mail that bounced (RFC 3464)."""
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                if not isinstance(block, Message):
                    continue
                action = _header(block, "Action").lower()
                recipient = _header(block, "Final-Recipient") or _header(
                    block, "Original-Recipient"
                )
                if recipient and action in ("failed", ""):
                    address = recipient.split(";", 1)[-1].strip().lower()
                    if "@" in address and address not in parsed.bounced_recipients:
                        parsed.bounced_recipients.append(address)
                    reason = _header(block, "Diagnostic-Code") or _header(block, "Status")
                    parsed.bounce_reason = parsed.bounce_reason or reason
        elif ctype in ("message/rfc822", "text/rfc822-headers"):
            if ctype == "text/rfc822-headers":
                original: Message = email.message_from_string(
                    _decode_text(part), policy=email.policy.default
                )
            else:
                inner = part.get_payload()
                if not isinstance(inner, list) or not inner or not isinstance(inner[0], Message):
                    continue
                original = inner[0]
            parsed.bounced_message_ids.extend(message_ids(_header(original, "Message-ID")))


def auto_reply_reason(msg: Message, *, own_domain: str) -> str:
    """Why this mail is machine-sent (empty if a person wrote it)."""
    auto_submitted = _header(msg, "Auto-Submitted").lower()
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for name in AUTO_REPLY_HEADERS:
        if _header(msg, name):
            return f"{name} header"
    precedence = str(_header(msg, "Precedence")).lower()
    if precedence in AUTO_PRECEDENCE:
        return f"Precedence: {precedence}"
    if own_domain:
        for mid in message_ids(_header(msg, "Message-ID")):
            if mid.lower().endswith("@" + own_domain.lower()):
                return "our own Message-ID"
    return ""


def parse_email(raw: bytes, *, own_domain: str = "") -> ParsedEmail:
    """Parse one raw message; raise UnparseableEmail with a reason a person can act on."""
    if not raw or not raw.strip():
        raise UnparseableEmail("empty message")
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
    except Exception as exc:  # the stdlib parser's failures have no common base
        raise UnparseableEmail(f"MIME parser failed: {exc}") from exc
    assert isinstance(msg, MimeMessage)
    from_header = _header(msg, "From")
    from_name, from_address = parseaddr(from_header)
    from_address = from_address.strip().lower()
    ctype = msg.get_content_type()
    report_param = msg.get_param("report-type") if ctype == "multipart/report" else None
    report_type = report_param.lower() if isinstance(report_param, str) else ""
    parsed = ParsedEmail(
        message_id=(message_ids(_header(msg, "Message-ID")) or [synthetic_message_id(raw)])[0],
        subject=_header(msg, "Subject"),
        from_name=from_name.strip(),
        from_address=from_address,
        reply_to_address=next(iter(_addresses(msg, "Reply-To")), ""),
        to_addresses=_addresses(msg, "To"),
        cc_addresses=_addresses(msg, "Cc"),
        in_reply_to=message_ids(_header(msg, "In-Reply-To")),
        references=message_ids(_header(msg, "References")),
        is_bounce=report_type == "delivery-status",
    )
    if parsed.is_bounce:
        _read_bounce(msg, parsed)
        return parsed
    parsed.auto_reason = auto_reply_reason(msg, own_domain=own_domain)
    if "@" not in from_address:
        raise UnparseableEmail("no sender address (From)")
    structural = [
        type(defect).__name__
        for part in msg.walk()
        for defect in part.defects
        if "Boundary" in type(defect).__name__ or "Multipart" in type(defect).__name__
    ]
    texts: dict[str, str] = {}
    _collect(msg, parsed, texts)
    if structural and not texts:
        raise UnparseableEmail("malformed MIME: " + ", ".join(sorted(set(structural))))
    if "text/plain" in texts:
        parsed.text = texts["text/plain"].replace("\r\n", "\n").strip()
    elif "text/html" in texts:
        parsed.text = html_to_text(texts["text/html"])
    return parsed
