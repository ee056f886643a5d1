"""Phone numbers for demo and generated customers: valid for `phonenumbers`, typed like people do.

Russian mobiles are +7 9xx xxx-xx-xx; every 9xx code but 930 is a valid mobile range for
`phonenumbers` in full. The demo and the bulk generator draw from disjoint codes, so their
numbers never collide. None of these is a reserved fictional range (Russia has none): do not
point a real SMS gateway at demo data. Foreign numbers come from ranges set aside for drama
(UK 020 7946 0xxx, US 555-01xx) where there are such.
"""

from __future__ import annotations

import random

# Codes the demo company's customers have (the big operators' best-known ones).
DEMO_MOBILE_CODES = (903, 905, 909, 912, 915, 916, 917, 921, 925, 926, 977, 985)
# Every other valid Russian mobile code, for generate_data. 930 is only partly allocated.
_PARTLY_VALID_CODES = (930,)
BULK_MOBILE_CODES = tuple(
    code
    for code in range(900, 1000)
    if code not in DEMO_MOBILE_CODES and code not in _PARTLY_VALID_CODES
)
SUBSCRIBER_SPACE = 10_000_000  # seven digits after the code
# Spreads consecutive indexes over the subscriber space; coprime with 10**7, so one-to-one.
_SUBSCRIBER_STRIDE = 7_919
_SUBSCRIBER_OFFSET = 1_234_567


def russian_mobile(code: int, subscriber: int) -> str:
    """The E.164 form of +7 <code> <7-digit subscriber number>."""
    return f"+7{code}{subscriber:07d}"


def bulk_mobile(index: int) -> str:
    """The `index`-th generated mobile number: distinct for every index below BULK_CAPACITY."""
    codes = len(BULK_MOBILE_CODES)
    code = BULK_MOBILE_CODES[index % codes]
    subscriber = (index // codes * _SUBSCRIBER_STRIDE + _SUBSCRIBER_OFFSET) % SUBSCRIBER_SPACE
    return russian_mobile(code, subscriber)


BULK_CAPACITY = len(BULK_MOBILE_CODES) * SUBSCRIBER_SPACE


def spell_russian(e164: str, style: int) -> str:
    """Type a +7 number the way customers and shop systems do; `style` picks the spelling.

    >>> spell_russian("+79123456789", 1)
    '8 (912) 345-67-89'
    """
    d = e164[2:]
    spellings = (
        f"+7 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"8 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"7{d}",
        f"8-{d[:3]}-{d[3:6]}-{d[6:8]}-{d[8:]}",
        f"+7{d}",
        f"8{d}",
        f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
        f"({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
    )
    return spellings[style % len(spellings)]


RUSSIAN_SPELLINGS = 8


def foreign_number(rng: random.Random) -> tuple[str, str]:
    """A foreign (value as typed, E.164) pair from a few countries' valid ranges."""
    country = rng.randrange(6)
    if country == 0:  # London, the Ofcom drama range; sometimes dialled with Russia's "8 10"
        tail = f"{rng.randrange(1000):03d}"
        typed = f"+44 20 7946 0{tail}" if rng.random() < 0.7 else f"8 10 44 20 7946 0{tail}"
        return typed, f"+442079460{tail}"
    if country == 1:  # US, the 555-0100..0199 range reserved for fiction
        area = rng.choice(("212", "646", "415", "312", "202"))
        tail = f"{rng.randrange(100):02d}"
        return f"+1 ({area}) 555-01{tail}", f"+1{area}55501{tail}"
    if country == 2:  # a German mobile
        tail = f"{rng.randrange(10**8):08d}"
        return f"+49 151 {tail[:4]} {tail[4:]}", f"+49151{tail}"
    if country == 3:  # a French mobile: 06 10.. to 06 38.. are all allocated
        tail = f"{rng.randrange(10, 39)}{rng.randrange(10**6):06d}"
        pairs = " ".join(tail[i : i + 2] for i in range(0, 8, 2))
        return f"+33 6 {pairs}", f"+336{tail}"
    if country == 4:  # a Belarusian mobile: the number after 29 does not start with 0
        tail = f"{rng.randrange(10**6, 10**7)}"
        return f"+375 29 {tail[:3]}-{tail[3:5]}-{tail[5:]}", f"+37529{tail}"
    tail = f"{rng.randrange(10**7):07d}"  # a Kazakh mobile: +7, but not Russia
    return f"+7 701 {tail[:3]} {tail[3:]}", f"+7701{tail}"
