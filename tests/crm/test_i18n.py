"""Russian: the translation catalogue is complete, compiled, and what users actually see.

The catalogue is locale/ru/LC_MESSAGES/django.po, with its compiled django.mo committed so
that a machine without gettext still speaks Russian. When strings change, re-extract with

    python manage.py makemessages -l ru --no-location --ignore=.venv --ignore=var \
        --ignore=tests --ignore=bench --ignore=docs --ignore=scripts --ignore=crm.egg-info

translate what is new, and run `python manage.py compilemessages -l ru --ignore=.venv`.
"""

# Russian text is what these tests are about: Cyrillic letters that look Latin are meant.
# ruff: noqa: RUF001

from __future__ import annotations

import ast
import gettext
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import django
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import ngettext
from pytest_django.fixtures import Settings

from customers.models import Customer
from surveys.models import Survey
from tickets.models import Status, Ticket

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_FILE = LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.po"
MO_FILE = LOCALE_DIR / "ru" / "LC_MESSAGES" / "django.mo"
# Russian has three plural forms for whole numbers; Django's own catalogue (and so ours) adds a
# fourth for fractions, and gettext picks by the header's Plural-Forms rule.
RUSSIAN_PLURAL_FORMS = 4
# Top-level folders that hold no translatable application code (the makemessages --ignore list).
NOT_APP_CODE = {"var", "tests", "bench", "docs", "scripts", "locale", "crm.egg-info", "static"}
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w*\}")


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)

    @property
    def is_header(self) -> bool:
        return self.msgid == "" and self.msgctxt is None

    @property
    def key(self) -> str:
        """How gettext files the message: pgettext's context, then EOT, then the text."""
        return self.msgid if self.msgctxt is None else f"{self.msgctxt}\x04{self.msgid}"


def parse_po(path: Path) -> list[Entry]:
    """The live entries of a .po file; obsolete (#~) ones are left out, as gettext does.

    Entries are separated by blank lines, as makemessages writes them.
    """
    entries: list[Entry] = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        entry = Entry()
        target: tuple[str, int] | None = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            if line.startswith("#"):
                continue
            if line.startswith('"'):
                keyword, text = "", ast.literal_eval(line)
            else:
                keyword, _space, rest = line.partition(" ")
                text = ast.literal_eval(rest)
                if keyword.startswith("msgstr["):
                    target = ("msgstr", int(keyword[len("msgstr[") : -1]))
                elif keyword in {"msgctxt", "msgid", "msgid_plural", "msgstr"}:
                    target = (keyword, 0)
                else:
                    raise AssertionError(f"unexpected line in {path.name}: {line!r}")
            assert target is not None, f"text before any keyword in {path.name}: {line!r}"
            name, index = target
            if name == "msgctxt":
                entry.msgctxt = (entry.msgctxt or "") + text
            elif name == "msgid":
                entry.msgid += text
            elif name == "msgid_plural":
                entry.msgid_plural = (entry.msgid_plural or "") + text
            else:
                entry.msgstr[index] = entry.msgstr.get(index, "") + text
        if target is not None:  # a block of comments or obsolete entries only is skipped
            entries.append(entry)
    return entries


def messages(entries: list[Entry]) -> list[Entry]:
    return [entry for entry in entries if not entry.is_header]


# Catalogue ---------------------------------------------------------------------------------


def test_the_catalogue_has_a_russian_header_with_djangos_plural_rule() -> None:
    header = next(entry for entry in parse_po(PO_FILE) if entry.is_header).msgstr[0]
    django_po = Path(django.__file__).parent / "conf/locale/ru/LC_MESSAGES/django.po"
    django_header = next(entry for entry in parse_po(django_po) if entry.is_header).msgstr[0]

    def plural_rule(text: str) -> str:
        found = re.search(r"^Plural-Forms: (.*)$", text, re.MULTILINE)
        assert found is not None, "no Plural-Forms header"
        return found.group(1)

    assert "Language: ru\n" in header
    assert "charset=UTF-8" in header
    assert "Project-Id-Version: crm\n" in header
    assert plural_rule(header) == plural_rule(django_header)
    assert "fuzzy" not in next(entry for entry in parse_po(PO_FILE) if entry.is_header).flags


def test_every_message_is_translated_and_none_is_fuzzy() -> None:
    entries = messages(parse_po(PO_FILE))
    untranslated = [
        entry.msgid
        for entry in entries
        if not entry.msgstr or not all(text.strip() for text in entry.msgstr.values())
    ]
    fuzzy = [entry.msgid for entry in entries if "fuzzy" in entry.flags]

    assert len(entries) > 300, "the catalogue looks truncated"
    assert untranslated == []
    assert fuzzy == []


def test_every_plural_message_has_all_russian_forms() -> None:
    plurals = [entry for entry in messages(parse_po(PO_FILE)) if entry.msgid_plural]

    assert plurals
    for entry in plurals:
        assert sorted(entry.msgstr) == list(range(RUSSIAN_PLURAL_FORMS)), entry.msgid


def test_translations_keep_every_placeholder() -> None:
    for entry in messages(parse_po(PO_FILE)):
        expected = sorted(PLACEHOLDER.findall(entry.msgid))
        for text in entry.msgstr.values():
            assert sorted(PLACEHOLDER.findall(text)) == expected, (entry.msgid, text)


def test_the_committed_mo_file_matches_the_po_file() -> None:
    """A .po edited without compilemessages would leave users with the old Russian."""
    with MO_FILE.open("rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)._catalog  # type: ignore[attr-defined]

    for entry in messages(parse_po(PO_FILE)):
        if entry.msgid_plural:
            for index, text in entry.msgstr.items():
                assert catalogue.get((entry.key, index)) == text, entry.msgid
        else:
            assert catalogue.get(entry.key) == entry.msgstr[0], entry.msgid


def test_msgfmt_accepts_the_catalogue() -> None:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("gettext (msgfmt) is not installed")

    result = subprocess.run(
        [msgfmt, "--check", "--statistics", "-o", "/dev/null", str(PO_FILE)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "untranslated" not in result.stderr
    assert "fuzzy" not in result.stderr


def test_every_string_in_the_code_is_in_the_catalogue(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A string added to the code without a translation fails here, not in front of a user."""
    if shutil.which("xgettext") is None or shutil.which("msgmerge") is None:
        pytest.skip("gettext (xgettext, msgmerge) is not installed")
    # makemessages writes beside the code it reads; it reads and writes a copy here.
    base_dir = Path(settings.BASE_DIR)
    copy = tmp_path / "src"

    def not_app_code(directory: str, names: list[str]) -> set[str]:
        top_level = Path(directory) == base_dir
        return {
            name
            for name in names
            if name.startswith(".") or name == "__pycache__" or (top_level and name in NOT_APP_CODE)
        }

    shutil.copytree(base_dir, copy, ignore=not_app_code)
    copied_po = copy / "locale" / "ru" / "LC_MESSAGES" / "django.po"
    copied_po.parent.mkdir(parents=True)
    shutil.copy(PO_FILE, copied_po)
    monkeypatch.chdir(copy)
    settings.LOCALE_PATHS = [copy / "locale"]

    call_command("makemessages", locale=["ru"], no_location=True, verbosity=0)

    entries = messages(parse_po(copied_po))
    missing = [
        entry.msgid
        for entry in entries
        if "fuzzy" in entry.flags or not all(text.strip() for text in entry.msgstr.values())
    ]
    assert missing == [], "translate these in locale/ru/LC_MESSAGES/django.po"
    assert {entry.key for entry in entries} <= {entry.key for entry in messages(parse_po(PO_FILE))}


# What users see ----------------------------------------------------------------------------


def test_model_names_and_ticket_statuses_are_russian() -> None:
    with translation.override("en"):
        english = (
            str(Customer._meta.verbose_name),
            str(Ticket._meta.verbose_name_plural),
            [str(status.label) for status in Status],
        )
    with translation.override("ru"):
        russian = (
            str(Customer._meta.verbose_name),
            str(Ticket._meta.verbose_name_plural),
            [str(status.label) for status in Status],
        )

    assert english == ("customer", "tickets", ["New", "Open", "Pending", "Resolved", "Closed"])
    assert russian == (
        "клиент",
        "обращения",
        ["Новое", "Открыто", "В ожидании", "Решено", "Закрыто"],
    )


def test_the_default_survey_question_is_asked_in_the_customers_language() -> None:
    for kind in Survey.Kind:
        survey = Survey(kind=kind)

        russian = survey.question_for("ru")
        english = survey.question_for("en")

        assert russian != english
        assert re.search("[а-яё]", russian, re.IGNORECASE), russian
    assert (
        Survey(kind="CSAT").question_for("ru") == "Насколько вы довольны тем, как мы вам помогли?"
    )


def test_the_survey_question_does_not_leak_its_language_into_the_request() -> None:
    with translation.override("en"):
        Survey(kind="NPS").question_for("ru")

        assert translation.get_language() == "en"


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, "1 обращение переведено в статус “Решено”."),
        (3, "3 обращения переведены в статус “Решено”."),
        (5, "5 обращений переведены в статус “Решено”."),
        (11, "11 обращений переведены в статус “Решено”."),
        (21, "21 обращение переведено в статус “Решено”."),
        (24, "24 обращения переведены в статус “Решено”."),
    ],
)
def test_counts_take_the_russian_plural_form(count: int, expected: str) -> None:
    with translation.override("ru"):
        message = ngettext(
            "%(count)d ticket moved to “%(status)s”.",
            "%(count)d tickets moved to “%(status)s”.",
            count,
        ) % {"count": count, "status": Status.RESOLVED.label}

    assert message == expected


@pytest.fixture
def superuser_client(client: Client, db: None) -> Client:
    user = get_user_model().objects.create_superuser(
        username="root", email="root@example.com", password="not-used"
    )
    client.force_login(user)
    return client


RUSSIAN_APP_NAMES = ("Клиенты", "Обращения", "Опросы", "Метрики")


def test_the_admin_index_speaks_russian_to_a_russian_browser(superuser_client: Client) -> None:
    response = superuser_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="ru")

    page = response.content.decode()
    assert response.status_code == 200
    assert response["Content-Language"] == "ru"
    for name in RUSSIAN_APP_NAMES:
        assert name in page
    assert "Обращения" in page and "Tickets" not in page


def test_the_admin_follows_the_language_cookie(superuser_client: Client) -> None:
    superuser_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ru"

    page = superuser_client.get(reverse("admin:customers_customer_changelist")).content.decode()

    assert "Клиенты" in page
    assert "Перевести в стадию «Лид»" in page


def test_the_site_default_language_can_be_russian(
    superuser_client: Client, settings: Settings
) -> None:
    settings.LANGUAGE_CODE = "ru"

    page = superuser_client.get(reverse("admin:index")).content.decode()

    for name in RUSSIAN_APP_NAMES:
        assert name in page


def test_the_admin_stays_english_for_an_english_browser(superuser_client: Client) -> None:
    page = superuser_client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Tickets" in page
    assert "Обращения" not in page


def test_the_home_page_speaks_russian(client: Client, db: None) -> None:
    page = client.get(reverse("home"), HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert "CRM службы поддержки" in page
