# ruff: noqa: RUF001, RUF003 - Russian mail is the point of this module
"""Separating what the customer just wrote from the quoted history and the signature.

mail-parser-reply does the work (quote headers of Outlook, Gmail, Apple Mail and Thunderbird in
many languages, signatures, "Sent from my iPhone"); it has no Russian, so Russian quote headers
and signatures are registered here in its own table, the way its languages are defined.
"""

from __future__ import annotations

import re

from mailparser_reply.constants import MAIL_LANGUAGES, QUOTED_MATCH_INCLUDE
from mailparser_reply.parser import EmailMessage as ReplyParser

# Russian clients' quote headers:
#   Thunderbird, Yandex: "01.12.2026 10:00, Служба поддержки пишет:"
#   Gmail in Russian:    "пн, 1 дек. 2026 г. в 10:00, Support <support@example.com>:"
#   Mail.ru:             "Понедельник, 1 декабря 2026, 10:00 +03:00 от Support <support@...>:"
#   Outlook in Russian:  "От: ...\nОтправлено: ...\nКому: ...\nТема: ..."
MAIL_LANGUAGES.setdefault(
    "ru",
    {
        "wrote_header": r"^("
        + QUOTED_MATCH_INCLUDE
        + r"(?:.{1,160}?\s(?:пишет|писал|писала|написал|написала)\s?:"
        + r"|.{0,100}\d{1,2}:\d{2}.{0,100}<[^<>\s]+@[^<>\s]+>\s?:))$",
        "from_header": r"((?:(?:^|\n|\n"
        + QUOTED_MATCH_INCLUDE
        + r")[* ]*(?:От|Отправлено|Кому|Тема|Дата|Копия|Организация):[ *]*(?:\s{,2}).*){2,}"
        + r"(?:\n.*){,1})",
        "disclaimers": [r"Внимание:", r"Конфиденциально"],
        "signatures": [
            r"С уважением",
            r"С наилучшими пожеланиями",
            r"Всего доброго",
            r"Всего хорошего",
        ],
        "sent_from": r"Отправлено (?:с|из)",
    },
)

LANGUAGES = ("ru", "en")
_QUOTED_TAIL = re.compile(r"(?:\n(?:>.*)?)+\Z")


def split_reply(text: str) -> tuple[str, str]:
    """Return (the new text, the quoted history and signature below it).

    When nothing could be told apart the whole text is the new text; when the message is
    nothing but a quote, the quote is the new text (the customer forwarded or re-sent it).
    """
    normalised = text.replace("\r\n", "\n").strip()
    if not normalised:
        return "", ""
    # keep_hyphen_lists: a "- item" list is text, not the start of a signature.
    message = ReplyParser(text=normalised, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    first = message.replies[0] if message.replies else None
    new = (first.content if first else normalised).strip()
    signature = (first.signatures or "").strip() if first else ""
    if signature and new.endswith(signature):
        new = new[: -len(signature)].rstrip()
    elif signature and signature in new:
        new = new[: new.index(signature)].rstrip()
    # A top-posted reply whose client quoted with ">" but wrote no header line.
    tail = _QUOTED_TAIL.search("\n" + new)
    if tail and tail.group().strip():
        new = ("\n" + new)[: tail.start()].strip()
    if not new:
        return normalised, ""
    lines = [line.strip() for line in normalised.split("\n")]
    flat = "\n".join(lines)
    position = flat.find(new)
    rest = flat[position + len(new) :].strip() if position >= 0 else ""
    return new, rest
