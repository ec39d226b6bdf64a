"""The one phone normaliser: Indian numbers only, written in any script's digits."""

from __future__ import annotations

import pytest

from models.normalize import e164


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("98765 43210", "+919876543210"),
        ("098765-43210", "+919876543210"),
        ("+91 98765 43210", "+919876543210"),
        ("९८७६५ ४३२१०", "+919876543210"),  # Devanagari digits, as a Hindi keyboard types them
        ("+९१ ९८७६५४३२१०", "+919876543210"),
        ("০৯৮৭৬৫৪৩২১০", "+919876543210"),  # Bengali
        ("９８７６５４３２１０", "+919876543210"),  # full-width
        ("022 2345 6789", "+912223456789"),  # a landline with its STD code
    ],
)
def test_it_reads_indian_numbers_in_any_digits(typed: str, expected: str) -> None:
    assert e164(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "+1 415 555 0100",  # a valid US number: not what an Indian form asks for
        "+44 20 7946 0958",
        "+977 980 1234567",  # Nepal, next door
        "००१ ४१५ ५५५ ०१००",  # the US number again, dialled from India in Devanagari
        "०९८७६५४३२१",  # 0 and nine digits: one short, in any script
        "12345",
        "not a phone",
        "",
    ],
)
def test_it_refuses_what_is_not_an_indian_number(typed: str) -> None:
    with pytest.raises(ValueError):
        e164(typed)


def test_it_takes_any_country_when_asked() -> None:
    assert e164("+1 415 555 0100", region=None) == "+14155550100"
    assert e164("98765 43210", region=None) == "+919876543210"  # still read as dialled in India
