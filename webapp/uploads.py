"""CSV uploads (contacts, patients): read the uploaded file, or show the form again with its errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import TextIO, TypeVar

from flask import render_template
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from models.reference.loading import ImportFailed

T = TypeVar("T")
SHOWN_ERRORS = 200  # bad rows listed on the page; the rest are counted


def read_csv_upload(form: FlaskForm, load: Callable[[TextIO], T]) -> tuple[T | None, list[str]]:
    """Hand the form's file to `load` as UTF-8 text; return its result, or None and the errors to list."""
    stream = io.TextIOWrapper(form.file.data.stream, encoding="utf-8-sig", newline="")
    try:
        return load(stream), []
    except ImportFailed as exc:
        return None, exc.report.errors
    except (UnicodeDecodeError, csv.Error):
        return None, [_('This is not a CSV file in UTF-8; save it from the spreadsheet as "CSV UTF-8".')]


def upload_page(template: str, form: FlaskForm, errors: list[str]) -> tuple[str, int]:
    """The upload form, with the first SHOWN_ERRORS errors and the count of the rest; 400 after a post."""
    page = render_template(
        template, form=form, errors=errors[:SHOWN_ERRORS], more=max(0, len(errors) - SHOWN_ERRORS)
    )
    return page, 400 if form.is_submitted() else 200
