"""How names and phone numbers are compared: search keys and E.164 numbers."""

from __future__ import annotations

import unicodedata

import phonenumbers


def e164(value: str, region: str | None = "IN") -> str:
    """A number of `region` (India unless told; None: any country) as E.164, or raise ValueError.

    Numbers are read as dialled in India (a national 98765 43210, or +country). Every form and
    CSV of the app asks for an Indian number: a foreign one would reach nobody by SMS or call.
    """
    # Digits of any script (Devanagari ९८७६५, Bengali, full-width, ...) become ASCII first: people
    # type them on Hindi keyboards, and the number is the same.
    typed = "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in value)
    try:
        number = phonenumbers.parse(typed, "IN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid number")
    if region is not None and not phonenumbers.is_valid_number_for_region(number, region):
        raise ValueError(f"not a number of {region}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_key(text: str) -> str:
    """What a name is searched by: NFC, case-folded, single spaces (Hindi is unchanged by folding)."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())
