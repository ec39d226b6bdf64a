"""Alembic migrations build exactly the schema the models declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from models.cases.search import mapped_only
from models.db import Base, get_engine
from models.migrate import upgrade
from tests.pg import create_database, postgres_url


def test_it_migrates_to_the_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = postgres_url()
    url = create_database(base, "control_room_migrations") if base else f"sqlite:///{tmp_path / 'm.sqlite'}"
    upgrade(url)
    engine = get_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": mapped_only})
        diff = compare_metadata(context, Base.metadata)
        tables = set(inspect(conn).get_table_names())
    assert diff == []
    assert {"cases", "case_events", "outbox", "deliveries", "users"} <= tables
    engine.dispose()


def test_the_case_search_still_finds_new_cases_after_every_migration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A migration that copies `cases` (SQLite's batch mode) drops the search index's triggers unless it
    makes them again: a case opened after it must still be found by its number and its words."""
    from sqlalchemy import select

    from models.cases.search import matches_text
    from models.cases.tables import Case
    from models.db import get_sessionmaker
    from models.demo import seed
    from tests.casedata import make_case
    from tests.conftest import PASSWORD_HASH

    base = postgres_url()
    url = create_database(base, "control_room_migrations") if base else f"sqlite:///{tmp_path / 's.sqlite'}"
    upgrade(url)
    with get_sessionmaker(url)() as session:
        users = {u.username: u for u in seed(session, PASSWORD_HASH, mail_sink="127.0.0.1:9")}
        case = make_case(session, users["operator"], datetime.now(UTC), description="Oxygen plant broken")
        session.commit()
        for needle in (case.number, "oxygen plant", "98765"):
            assert session.scalars(select(Case.id).where(matches_text(needle))).all() == [case.id], needle
    get_engine(url).dispose()


def test_it_marks_the_hand_offs_already_sent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """0021: rows made before it are marked as is_hand_off() and finish() mark new ones: the DM's row
    of a new complaint is a hand-off, counted once though sent again on the next channel (unseen); the
    operator's row of the closure, the alarm to every channel and the stand-in's row are not."""
    from sqlalchemy import select, text

    from models.cases.tables import CaseEvent
    from models.db import get_sessionmaker
    from models.demo import seed
    from tests.casedata import make_case
    from tests.conftest import PASSWORD_HASH

    base = postgres_url()
    url = create_database(base, "control_room_migrations") if base else f"sqlite:///{tmp_path / 'h.sqlite'}"
    upgrade(url, "0020")
    with get_sessionmaker(url)() as session:
        users = {u.username: u for u in seed(session, PASSWORD_HASH, mail_sink="127.0.0.1:9")}
        case = make_case(session, users["operator"], datetime.now(UTC), description="Oxygen plant broken")
        session.add(
            CaseEvent(
                case_id=case.id, kind="confirm", from_state="resolved", to_state="closed",
                by_user_id=users["collector"].id,
            )
        )  # fmt: skip
        session.commit()
        opened, confirmed = session.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case.id))
    rows = [  # (event, user, reason): hand-off?
        (opened, "dm", "first", True),
        (opened, "dm", "unseen", False),
        (opened, "collector", "every", False),
        (opened, "bmo", "stand_in", False),
        (confirmed, "operator", "first", False),
    ]
    engine = get_engine(url)
    with engine.begin() as conn:
        for i, (event_id, username, reason, _marked) in enumerate(rows):
            sent = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=i)
            conn.execute(
                text(
                    "INSERT INTO deliveries (case_id, event_id, user_id, channel_key, channel, status,"
                    " attempts, last_error, created_at, sent_at, reason) VALUES (:case, :event, :user,"
                    " :key, '', 'sent', 1, '', :sent, :sent, :reason)"
                ),
                {"case": case.id, "event": event_id, "user": users[username].id, "key": reason,
                 "sent": sent, "reason": reason},
            )  # fmt: skip
    upgrade(url)
    with engine.connect() as conn:
        marked = conn.execute(text("SELECT reason, hand_off FROM deliveries ORDER BY id")).all()
    assert [(reason, bool(flag)) for reason, flag in marked] == [(r[2], r[3]) for r in rows]
    engine.dispose()
