"""Contact normalisation: every spelling of a number or address reduces to one stored form."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from customers.contacts import (
    format_phone_for_display,
    normalise_email,
    normalise_handle,
    normalise_phone,
)

NBSP = "\u00a0"
ANNA = "+79123456789"


@pytest.mark.parametrize(
    "spelling",
    [
        "+7 912 345-67-89",
        "8 (912) 345-67-89",
        "79123456789",
        "9123456789",
        "8-912-345-67-89",
        "+7(912)3456789",
        " 8 912 345 67 89 ",
        f"8{NBSP}912{NBSP}345{NBSP}67{NBSP}89",
        f"+7{NBSP}(912){NBSP}345-67-89",
        "+7 (912) 345 67 89",
        "(912) 345-67-89",
    ],
)
def test_every_spelling_of_a_russian_number_gives_one_e164(spelling: str) -> None:
    assert normalise_phone(spelling) == ANNA


@pytest.mark.parametrize(
    ("spelling", "e164"),
    [
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 650 253 0000", "+16502530000"),
        # Russia's old international prefix "8 10" and the ITU "00" instead of "+".
        ("8 10 44 20 7946 0958", "+442079460958"),
        ("00 44 20 7946 0958", "+442079460958"),
        ("810 1 650 253 0000", "+16502530000"),
    ],
)
def test_foreign_numbers_keep_their_country(spelling: str, e164: str) -> None:
    assert normalise_phone(spelling) == e164


def test_a_number_without_country_code_is_read_in_the_default_region(settings) -> None:
    settings.PHONE_DEFAULT_REGION = "GB"

    assert normalise_phone("020 7946 0958") == "+442079460958"


def test_an_explicit_region_overrides_the_default(settings) -> None:
    settings.PHONE_DEFAULT_REGION = "RU"

    assert normalise_phone("020 7946 0958", region="gb") == "+442079460958"


@pytest.mark.parametrize("text", ["abc", "12", "", "   ", "+7 000", "8 (912) 345", None])
def test_text_that_is_no_phone_number_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        normalise_phone(text)  # None arrives from forms and JSON


def test_refusal_quotes_what_was_typed() -> None:
    with pytest.raises(ValidationError) as caught:
        normalise_phone("8 (912) 345")

    assert "8 (912) 345" in caught.value.messages[0]


# --- Property: spelling does not matter ------------------------------------------------------

# A Russian mobile number as phonenumbers' metadata defines it: 9, then any digit but 3, then
# eight digits (the 93x block is only partly allocated, so it is left out).
russian_mobile = st.builds(
    lambda second, rest: f"9{second}{rest}",
    st.sampled_from("012456789"),
    st.text(alphabet="0123456789", min_size=8, max_size=8),
)
separator = st.sampled_from(["", " ", "-", NBSP, ".", "  ", " - ", "\u2013"])
prefix = st.sampled_from(["+7", "8", "7", ""])


@st.composite
def spellings(draw: st.DrawFn, national: str) -> str:
    """The number as a person might type it: prefix, optional brackets, random separators."""
    code, rest = national[:3], national[3:]
    if draw(st.booleans()):
        code = f"({code})"
    groups = draw(st.sampled_from([[rest[:3], rest[3:5], rest[5:]], [rest[:3], rest[3:]], [rest]]))
    head = draw(prefix)
    parts = [head, code, *groups] if head else [code, *groups]
    text = parts[0]
    for part in parts[1:]:
        text += draw(separator) + part
    padding = draw(st.sampled_from(["", " ", NBSP, "\t"]))
    return f"{padding}{text}{padding}"


@given(data=st.data(), national=russian_mobile)
def test_any_spelling_of_a_russian_mobile_gives_its_e164(
    data: st.DataObject, national: str
) -> None:
    typed = data.draw(spellings(national))

    assert normalise_phone(typed) == f"+7{national}"


@given(data=st.data(), national=russian_mobile)
def test_normalising_a_normalised_phone_changes_nothing(data: st.DataObject, national: str) -> None:
    once = normalise_phone(data.draw(spellings(national)))

    assert normalise_phone(once) == once


# One example number of every type phonenumbers knows, for every region it knows.
EXAMPLES = [
    example
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
    for number_type in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
    )
    if (example := phonenumbers.example_number_for_type(region, number_type)) is not None
]


@pytest.mark.parametrize(
    "style", [phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]
)
def test_an_international_spelling_of_any_countrys_number_gives_its_e164(style: int) -> None:
    wrong = {}
    for example in EXAMPLES:
        typed = phonenumbers.format_number(example, style)
        e164 = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        if (got := normalise_phone(typed)) != e164:
            wrong[typed] = got

    assert len(EXAMPLES) > 400
    assert wrong == {}


def test_a_stored_number_is_displayed_the_way_its_country_writes_it() -> None:
    assert format_phone_for_display(ANNA) == "+7 912 345-67-89"
    assert format_phone_for_display("not a number") == "not a number"


# --- Emails and messenger handles ------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    ["anna@example.com", "Anna@Example.COM", "  ANNA@example.com\n", f"{NBSP}anna@example.com"],
)
def test_email_case_and_surrounding_space_are_folded(spelling: str) -> None:
    assert normalise_email(spelling) == "anna@example.com"


@pytest.mark.parametrize(
    "text", ["", "anna", "anna@", "@example.com", "anna@example", "an na@example.com", None]
)
def test_text_that_is_no_email_address_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        normalise_email(text)


@pytest.mark.parametrize("spelling", ["@Anna_Ivanova", "anna_ivanova", " @ANNA_IVANOVA "])
def test_messenger_handle_loses_at_sign_and_case(spelling: str) -> None:
    assert normalise_handle(spelling) == "anna_ivanova"


@pytest.mark.parametrize("text", ["", "  ", "@", None])
def test_empty_messenger_handle_is_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        normalise_handle(text)
