"""When the day's follow-up lists are made, and a list the duty staff ask for now.

The follow-up-list deployment makes a list at each of SLOTS (prefect.yaml's schedules, which
tests/test_follow_up_schedule.py holds to these). A person may also ask for today's list at once:
an outbox row, which a dispatcher hands to the same deployment. Functions add rows and never
commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import insert_unless_exists
from models.homecare.followups import slot_due_at
from models.outbox import Outbox
from models.times import INDIA, aware

SLOTS = ("09:00", "16:00")  # the day's call times, India time, "HH:MM", in order
KIND = "follow-up-list"  # the outbox rows that start a run of the list on request


def next_list_at(now: datetime, slots: tuple[str, ...] = SLOTS) -> datetime:
    """When the next scheduled list is made after now (UTC): today's next slot, else tomorrow's first."""
    now = aware(now)
    today = now.astimezone(INDIA).date()
    for day in (today, today + timedelta(days=1)):
        for slot in slots:
            moment = slot_due_at(day, slot)
            if moment > now:
                return moment
    raise ValueError("no slots")


def on_demand_slot(now: datetime, slots: tuple[str, ...] = SLOTS) -> tuple[date, str]:
    """The list a person asks for at now: today's latest slot so far, or its first before that (India)."""
    now = aware(now)
    today = now.astimezone(INDIA).date()
    passed = [slot for slot in slots if slot_due_at(today, slot) <= now]
    return today, passed[-1] if passed else slots[0]


def list_due_at(day: date, slot: str, now: datetime) -> datetime:
    """When a list's calls are due: at its slot, or at once for a list made before its time (on request)."""
    return min(slot_due_at(day, slot), aware(now))


def request_key(day: date, slot: str) -> str:
    """The outbox row's key, and the run's: one request per day and slot however often it is asked."""
    return f"{KIND}-{day.isoformat()}-{slot}"


def request_list(session: Session, now: datetime) -> bool:
    """Queue today's list (on_demand_slot) for the dispatcher; false if it was asked for already.

    ON CONFLICT DO NOTHING on the key: of two clicks, even at once, one row is written.
    """
    day, slot = on_demand_slot(now)
    added = session.scalar(
        insert_unless_exists(
            session,
            Outbox,
            [Outbox.idempotency_key],
            idempotency_key=request_key(day, slot),
            kind=KIND,
            case_id=None,
            payload={"day": day.isoformat(), "slot": slot},
            created_at=now,
            next_attempt_at=now,
        ).returning(Outbox.id)
    )
    return added is not None


def list_request(session: Session, now: datetime) -> Outbox | None:
    """The request for today's on-demand list, if someone made it (done, waiting or parked)."""
    day, slot = on_demand_slot(now)
    return session.scalar(select(Outbox).where(Outbox.idempotency_key == request_key(day, slot)))
