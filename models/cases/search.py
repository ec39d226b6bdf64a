"""Searching cases by any text (number, caller, phone, complaint; Hindi or English) through an index.

A "contains" search cannot use a B-tree index, and at 100,000 cases a scan costs
hundreds of milliseconds. Each database has a trigram index made for it:
SQLite's FTS5 `trigram` tokenizer (a `cases_search` table kept in step by
triggers) and PostgreSQL's `pg_trgm` GIN indexes. `matches_text()` compiles to
the one of the database at hand; a text shorter than a trigram falls back to LIKE.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import DDL, bindparam, event, func, literal, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.types import Boolean

from models.cases.tables import Case

SEARCHED = ("number", "caller_name", "phone", "description")

SQLITE_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS cases_search USING fts5("
    + ", ".join(SEARCHED)
    + ", content='cases', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS cases_search_insert AFTER INSERT ON cases BEGIN "
    f"INSERT INTO cases_search(rowid, {', '.join(SEARCHED)}) "
    f"VALUES (new.id, {', '.join('new.' + c for c in SEARCHED)}); END",
    "CREATE TRIGGER IF NOT EXISTS cases_search_delete AFTER DELETE ON cases BEGIN "
    f"INSERT INTO cases_search(cases_search, rowid, {', '.join(SEARCHED)}) "
    f"VALUES ('delete', old.id, {', '.join('old.' + c for c in SEARCHED)}); END",
    "CREATE TRIGGER IF NOT EXISTS cases_search_update AFTER UPDATE OF "
    f"{', '.join(SEARCHED)} ON cases BEGIN "
    f"INSERT INTO cases_search(cases_search, rowid, {', '.join(SEARCHED)}) "
    f"VALUES ('delete', old.id, {', '.join('old.' + c for c in SEARCHED)}); "
    f"INSERT INTO cases_search(rowid, {', '.join(SEARCHED)}) "
    f"VALUES (new.id, {', '.join('new.' + c for c in SEARCHED)}); END",
]
POSTGRESQL_DDL = ["CREATE EXTENSION IF NOT EXISTS pg_trgm"] + [
    f"CREATE INDEX IF NOT EXISTS ix_cases_{column}_trgm ON cases USING gin (lower({column}) gin_trgm_ops)"
    for column in SEARCHED
]
# Objects outside the ORM's metadata, for Alembic's comparison to skip.
UNMAPPED = ("cases_search", *(f"ix_cases_{c}_trgm" for c in SEARCHED))


def mapped_only(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """For Alembic's comparison: leave out the search index's own tables and indexes."""
    return not (reflected and compare_to is None and name is not None and name.startswith(UNMAPPED))


def _create(target: Any, connection: Any, **_: Any) -> None:
    statements = {"sqlite": SQLITE_DDL, "postgresql": POSTGRESQL_DDL}.get(connection.dialect.name, [])
    for statement in statements:
        connection.execute(DDL(statement))


# create_all (tests, a fresh database) builds them too; migration 0006 builds them for the rest.
event.listen(Case.__table__, "after_create", _create)


class TextMatch(ColumnElement[bool]):
    """`cases` rows whose searched columns contain `needle`, whatever its case."""

    # The needle becomes bound parameters only when compiled: never reuse a compiled form.
    inherit_cache = False
    type = Boolean()

    def __init__(self, needle: str, columns: tuple[str, ...]) -> None:
        self.needle = needle
        self.columns = columns


def matches_text(needle: str) -> ColumnElement[bool]:
    """Cases whose number, caller, phone or complaint contains needle (a phone typed with spaces too).

    Digits are looked for in numbers and phones only: fewer indexes to read, and a plan
    the database does not mistake for a scan.
    """
    needle = needle.strip()
    digits = re.sub(r"[\s()-]", "", needle)
    if len(digits) >= 4 and digits.lstrip("+").isdigit():  # phones are stored as E.164: +9198...
        return TextMatch(digits, ("number", "phone"))
    return TextMatch(needle, SEARCHED)


def _like_any(element: TextMatch) -> ColumnElement[bool]:
    return or_(*(getattr(Case, c).icontains(element.needle, autoescape=True) for c in element.columns))


@compiles(TextMatch)
def _default(element: TextMatch, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(_like_any(element), **kw)})"


@compiles(TextMatch, "sqlite")
def _sqlite(element: TextMatch, compiler: Any, **kw: Any) -> str:
    if len(element.needle) < 3:  # shorter than a trigram: the index cannot help
        return f"({compiler.process(_like_any(element), **kw)})"
    # An FTS5 string is a substring to find, not query syntax; {columns}: only those columns.
    phrase = "{" + " ".join(element.columns) + '} : "' + element.needle.replace('"', '""') + '"'
    # unique: several searches in one statement (the intake's suggestions) each keep their phrase.
    phrase_param = bindparam("search_phrase", phrase, unique=True)
    match = text("cases_search MATCH :search_phrase").bindparams(phrase_param)
    clause = Case.id.in_(
        select(text("rowid")).select_from(text("cases_search")).where(match).scalar_subquery()
    )
    return f"({compiler.process(clause, **kw)})"  # whole, whatever it is joined to


@compiles(TextMatch, "postgresql")
def _postgresql(element: TextMatch, compiler: Any, **kw: Any) -> str:
    # lower(column) LIKE lower('%needle%'): each branch uses its trigram index (a bitmap OR).
    pattern = "%" + element.needle.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    clause = or_(*(func.lower(getattr(Case, c)).like(literal(pattern), escape="\\") for c in element.columns))
    return f"({compiler.process(clause, **kw)})"  # whole, whatever it is joined to
