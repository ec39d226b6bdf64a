"""How names and phone numbers are compared: search keys and E.164 numbers."""

from __future__ import annotations

import unicodedata

import phonenumbers


def e164(value: str) -> str:
    """Parse an Indian (or +country) number to E.164, or raise ValueError."""
    try:
        number = phonenumbers.parse(value, "IN")
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def search_key(text: str) -> str:
    """What a name is searched by: NFC, case-folded, single spaces (Hindi is unchanged by folding)."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())
