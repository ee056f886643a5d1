"""Demo customers and their contact points: who they are, not yet what they did.

Half are Russian-speaking with Cyrillic names, half English-speaking; a few are companies.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from crm.demo import vocabulary as words
from crm.demo.clock import DemoClock
from crm.demo.markers import CUSTOMER_ID_PREFIX
from crm.demo.phones import (
    DEMO_MOBILE_CODES,
    RUSSIAN_SPELLINGS,
    foreign_number,
    russian_mobile,
    spell_russian,
)
from customers.models import AcquisitionChannel, Channel, ContactPoint, Customer

# Shares of the customer base; where they come from is a guess at a small electronics shop.
COMPANY_SHARE = 0.08
PERSON_WITH_EMPLOYER_SHARE = 0.12
HAS_PHONE = 0.95
SECOND_PHONE = 0.12
HAS_EMAIL = 0.75
HAS_MESSENGER = 0.3
FOREIGN_PHONE_SHARE_EN = 0.35  # English speakers with a number abroad; the rest live here
OTHER_RUSSIAN_ZONE_SHARE = 0.3  # Russian speakers outside the site's zone
EMAIL_OPTED_OUT = 0.03
CAPITALISED_EMAIL = 0.1
CONSENTS_TO_REMINDERS = 0.9
CONSENTS_TO_MARKETING = 0.4
HAS_NOTE = 0.1
CAMPAIGN_SHARE = 0.7
ACQUISITION_WEIGHTS: dict[str, int] = {
    AcquisitionChannel.ORGANIC_SEARCH: 20,
    AcquisitionChannel.PAID_SEARCH: 15,
    AcquisitionChannel.SOCIAL: 10,
    AcquisitionChannel.EMAIL: 5,
    AcquisitionChannel.REFERRAL: 10,
    AcquisitionChannel.DIRECT: 10,
    AcquisitionChannel.RETAIL: 12,
    AcquisitionChannel.MARKETPLACE: 12,
    AcquisitionChannel.PARTNER: 3,
    AcquisitionChannel.PHONE: 3,
}
TAGS_PER_CUSTOMER_WEIGHTS = (70, 22, 8)  # none, one, two
RU_TIME_ZONES = ("Europe/Moscow", "Europe/Samara", "Asia/Yekaterinburg", "Asia/Novosibirsk")
EN_TIME_ZONES = ("Europe/London", "America/New_York", "Europe/Berlin", "Europe/Paris")
MAX_UNIQUE_TRIES = 50


@dataclass
class Profile:
    """One demo customer as planned: the unsaved customer, contacts and tag names."""

    index: int
    customer: Customer
    russian: bool
    contacts: list[ContactPoint] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)

    @property
    def language(self) -> str:
        return "ru" if self.russian else "en"

    def text(self, pair: tuple[str, str]) -> str:
        """The English or Russian half of a pair, in this customer's language."""
        return pair[1] if self.russian else pair[0]

    def first_contact(self, kind: str) -> ContactPoint | None:
        return next((c for c in self.contacts if c.kind == kind), None)


class PeoplePlanner:
    """Plans customers and contacts; keeps phones and emails unique across the demo."""

    def __init__(self, *, seed: int, clock: DemoClock) -> None:
        self.seed = seed
        self.clock = clock
        self.used_phones: set[str] = set()
        self.used_emails: set[str] = set()

    def rng(self, *parts: object) -> random.Random:
        return random.Random("/".join(str(part) for part in (self.seed, "people", *parts)))

    def plan(self, count: int) -> list[Profile]:
        """`count` customers, alternately Russian- and English-speaking."""
        picker = self.rng("companies")
        company_slots = set(picker.sample(range(count), round(count * COMPANY_SHARE)))
        ru_companies = picker.sample(words.RU_COMPANIES, len(words.RU_COMPANIES))
        en_companies = picker.sample(words.EN_COMPANIES, len(words.EN_COMPANIES))
        profiles = []
        for index in range(count):
            russian = index % 2 == 0
            pool = ru_companies if russian else en_companies
            company = pool.pop() if index in company_slots and pool else ""
            profiles.append(self._profile(index, russian=russian, company=company))
        return profiles

    def _profile(self, index: int, *, russian: bool, company: str) -> Profile:
        rng = self.rng("customer", index)
        first_names = words.RU_FIRST_NAMES if russian else words.EN_FIRST_NAMES
        surnames = words.RU_SURNAMES if russian else words.EN_SURNAMES
        first = rng.choice(first_names)
        surname = rng.choice(surnames)
        last = surname.female if first.female else surname.male
        latin = (first.latin, surname.latin_female if first.female else surname.latin_male)
        companies = words.RU_COMPANIES if russian else words.EN_COMPANIES
        employer = rng.choice(companies) if rng.random() < PERSON_WITH_EMPLOYER_SHARE else ""
        channel = _weighted(rng, ACQUISITION_WEIGHTS)
        campaigns = words.CAMPAIGNS.get(channel, [])
        customer = Customer(
            kind=Customer.Kind.COMPANY if company else Customer.Kind.PERSON,
            full_name=company or f"{first.text} {last}",
            company="" if company else employer,
            external_id=f"{CUSTOMER_ID_PREFIX}{index + 1:04d}",
            language="ru" if russian else "en",
            segment=_segment(rng, company=company, employer=employer),
            acquisition_channel=channel,
            acquisition_campaign=(
                rng.choice(campaigns) if campaigns and rng.random() < CAMPAIGN_SHARE else ""
            ),
            consent_reminders=rng.random() < CONSENTS_TO_REMINDERS,
            consent_marketing=rng.random() < CONSENTS_TO_MARKETING,
            notes=rng.choice(words.CUSTOMER_NOTES)[1 if russian else 0]
            if rng.random() < HAS_NOTE
            else "",
        )
        profile = Profile(index=index, customer=customer, russian=russian)
        foreign = not russian and rng.random() < FOREIGN_PHONE_SHARE_EN
        customer.time_zone = self._time_zone(rng, russian=russian, foreign=foreign)
        self._add_contacts(rng, profile, latin=latin, foreign=foreign, company=bool(company))
        customer.preferred_channel = _preferred_channel(rng, profile)
        tag_count = rng.choices(range(len(TAGS_PER_CUSTOMER_WEIGHTS)), TAGS_PER_CUSTOMER_WEIGHTS)
        profile.tags = rng.sample(words.TAGS, tag_count[0])
        if company and "B2B" not in profile.tags:
            profile.tags.append("B2B")
        return profile

    def _time_zone(self, rng: random.Random, *, russian: bool, foreign: bool) -> str:
        # Empty means the site's zone, which is what most customers at home have.
        if foreign:
            return rng.choice(EN_TIME_ZONES)
        return (
            rng.choice(RU_TIME_ZONES) if russian and rng.random() < OTHER_RUSSIAN_ZONE_SHARE else ""
        )

    def _add_contacts(
        self,
        rng: random.Random,
        profile: Profile,
        *,
        latin: tuple[str, str],
        foreign: bool,
        company: bool,
    ) -> None:
        phones: list[tuple[str, str]] = []
        if rng.random() < HAS_PHONE:
            phones.append(self._phone(rng, foreign=foreign))
            if rng.random() < SECOND_PHONE:
                phones.append(self._phone(rng, foreign=False))
        for position, (typed, _e164) in enumerate(phones):
            profile.contacts.append(
                ContactPoint(
                    kind=ContactPoint.Kind.PHONE,
                    value=typed,
                    label=("work" if company else "mobile") if position == 0 else "work",
                    is_primary=position == 0,
                )
            )
        if rng.random() < HAS_EMAIL or not phones:
            profile.contacts.append(
                ContactPoint(
                    kind=ContactPoint.Kind.EMAIL,
                    value=self._email(rng, latin=latin, company=company),
                    is_primary=True,
                    opted_out_at=(
                        self.clock.moment(rng, 1, 365) if rng.random() < EMAIL_OPTED_OUT else None
                    ),
                )
            )
        if rng.random() < HAS_MESSENGER:
            profile.contacts.append(self._messenger(rng, latin=latin, phones=phones))

    def _phone(self, rng: random.Random, *, foreign: bool) -> tuple[str, str]:
        for _attempt in range(MAX_UNIQUE_TRIES):
            if foreign:
                typed, e164 = foreign_number(rng)
            else:
                e164 = russian_mobile(rng.choice(DEMO_MOBILE_CODES), rng.randrange(10**7))
                typed = _spell(rng, e164)
            if e164 not in self.used_phones:
                self.used_phones.add(e164)
                return typed, e164
        raise RuntimeError("could not find an unused demo phone number")

    def _email(self, rng: random.Random, *, latin: tuple[str, str], company: bool) -> str:
        first, last = latin
        domain = rng.choice(words.EMAIL_DOMAINS)
        local = rng.choice(
            ("office", "info", "orders") if company else (f"{first}.{last}", f"{first[0]}.{last}")
        )
        address = f"{local}@{domain}"
        number = 1
        while address in self.used_emails:
            number += 1
            address = f"{local}{number}@{domain}"
        self.used_emails.add(address)
        # Some people type their address with capitals; lookups must not care.
        return address.title() if rng.random() < CAPITALISED_EMAIL else address

    def _messenger(
        self, rng: random.Random, *, latin: tuple[str, str], phones: list[tuple[str, str]]
    ) -> ContactPoint:
        kinds = [ContactPoint.Messenger.TELEGRAM, ContactPoint.Messenger.VK]
        if phones:
            kinds += [ContactPoint.Messenger.WHATSAPP, ContactPoint.Messenger.VIBER]
        messenger = rng.choice(kinds)
        if messenger in {ContactPoint.Messenger.WHATSAPP, ContactPoint.Messenger.VIBER}:
            value = phones[0][1]  # the same number, as the messenger shows it
        elif messenger == ContactPoint.Messenger.TELEGRAM:
            value = f"@{latin[0]}_{latin[1]}{rng.choice(words.TELEGRAM_SUFFIXES)}"
        else:
            value = f"id{rng.randrange(10**6, 10**9)}"
        return ContactPoint(
            kind=ContactPoint.Kind.MESSENGER, value=value, messenger=messenger, is_primary=True
        )


def _spell(rng: random.Random, e164: str) -> str:
    return spell_russian(e164, rng.randrange(RUSSIAN_SPELLINGS))


def _segment(rng: random.Random, *, company: str, employer: str) -> str:
    if company:
        return rng.choice((Customer.Segment.SMALL_BUSINESS, Customer.Segment.ENTERPRISE))
    return Customer.Segment.SMALL_BUSINESS if employer else Customer.Segment.CONSUMER


def _preferred_channel(rng: random.Random, profile: Profile) -> str:
    options = []
    if profile.first_contact(ContactPoint.Kind.EMAIL):
        options += [Channel.EMAIL] * 3
    if profile.first_contact(ContactPoint.Kind.PHONE):
        options.append(Channel.SMS)
    if profile.first_contact(ContactPoint.Kind.MESSENGER):
        options.append(Channel.MESSENGER)
    return rng.choice(options) if options else Channel.EMAIL


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]
