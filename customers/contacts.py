"""Normalising contact values so that any spelling of a phone or email finds the same customer.

Phones become E.164 (`+79123456789`) via `phonenumbers`, reading a number typed without a
country code in settings.PHONE_DEFAULT_REGION; emails are trimmed and lower-cased; messenger
handles lose a leading "@" and their case.
"""

from __future__ import annotations

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

# International call prefixes that people type instead of "+": Russia's old "8 10" and the
# ITU "00". phonenumbers knows "810" only when the region is RU, so they are handled here.
_EXIT_PREFIXES = ("810", "00")


class InvalidContact(ValidationError):
    """A value that is not a phone number, email or handle of the kind it was given as."""


def normalise_phone(raw: str, region: str | None = None) -> str:
    """Return the E.164 form of a phone number typed in any common spelling.

    Raises InvalidContact for text that is not a valid number of any country.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidContact(_("Enter a phone number."), code="blank")
    default_region = (region or settings.PHONE_DEFAULT_REGION).upper()
    digits_only = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+"):
        for prefix in _EXIT_PREFIXES:
            # "8 10 44 20 ..." or "00 44 20 ...": an international number without "+".
            if digits_only.startswith(prefix) and len(digits_only) > len(prefix) + 6:
                candidate = "+" + digits_only[len(prefix) :]
                number = _parse_or_none(candidate, default_region)
                if number is not None and phonenumbers.is_valid_number(number):
                    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    number = _parse_or_none(text, default_region)
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidContact(
            _("“%(value)s” is not a valid phone number."),
            code="invalid_phone",
            params={"value": raw},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _parse_or_none(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def normalise_email(raw: str) -> str:
    """Return the address trimmed and lower-cased; raise InvalidContact if it is no address."""
    value = (raw or "").strip().lower()
    try:
        validate_email(value)
    except ValidationError as exc:
        raise InvalidContact(
            _("“%(value)s” is not a valid email address."),
            code="invalid_email",
            params={"value": raw},
        ) from exc
    return value


def normalise_handle(raw: str) -> str:
    """Return a messenger handle without surrounding space, a leading "@" or case."""
    value = (raw or "").strip().lstrip("@").lower()
    if not value:
        raise InvalidContact(_("Enter a messenger handle."), code="blank")
    return value


def format_phone_for_display(e164: str) -> str:
    """Render an E.164 number the way people of its country write it (`+7 912 345-67-89`)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
