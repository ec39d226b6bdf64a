"""Cells of the CSV files the app writes: a spreadsheet shows them, it never runs them.

Excel, LibreOffice and Google Sheets take a cell that starts with = + - @ (or a tab or carriage
return before one) as a formula, so a name typed as `=HYPERLINK("http://...")` would become a live
link, or worse, on the desk of whoever opens the export. Every CSV export goes through `row`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("+919425100001", "-3") is no formula: it stays as written, so phone numbers
# and the exports that load back (the field directory) keep their exact text.
NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")


def cell(value: object) -> str:
    """The value as text a spreadsheet shows as written: a leading quote before a formula's first sign."""
    text = "" if value is None else str(value)
    if text.startswith(TRIGGERS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def row(values: Iterable[object]) -> list[str]:
    """Each value of a CSV row made inert (see cell)."""
    return [cell(value) for value in values]


def as_written(text: str) -> str:
    """Undo cell: a value read back from one of our exports, without the quote cell added."""
    if text.startswith("'") and text[1:].startswith(TRIGGERS) and not NUMBER.fullmatch(text[1:]):
        return text[1:]
    return text
