"""Hand-counted cases for the list, export, report and audit tests, built with the domain functions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases.decisions import Intake, decide, open_case
from models.cases.lifecycle import Action
from models.cases.tables import Case, Priority
from models.reference.tables import Block, Category, User, Village

# India is UTC+05:30: b opens at 00:30 on 11 March in India, still 10 March in UTC.
AT = {
    "a": datetime(2026, 3, 10, 4, 30, tzinfo=UTC),
    "b": datetime(2026, 3, 10, 19, 0, tzinfo=UTC),
    "c": datetime(2026, 3, 11, 6, 0, tzinfo=UTC),
    "d": datetime(2026, 3, 11, 7, 0, tzinfo=UTC),
    "e": datetime(2026, 3, 11, 8, 0, tzinfo=UTC),
}


def ids(session: Session) -> dict[str, int]:
    """Row ids by name: category codes, block and village names."""
    found = {c.code: c.id for c in session.scalars(select(Category))}
    found |= {b.name: b.id for b in session.scalars(select(Block))}
    found |= {v.name: v.id for v in session.scalars(select(Village))}
    return found


def make_case(
    session: Session,
    by: User,
    now: datetime,
    *,
    category: str = "bed",
    village: str = "Bishrampur",
    caller: str = "Ramu Yadav",
    phone: str = "+919876543210",
    description: str = "Needs a hospital bed",
    priority: Priority = Priority.normal,
) -> Case:
    known = ids(session)
    intake = Intake(uuid.uuid4().hex, caller, phone, known[village], known[category], description, priority)
    return open_case(session, intake, by=by, prefix="SRJ", now=now)


def move(
    session: Session, case: Case, action: Action, by: User, now: datetime, officer: User | None = None
) -> None:
    decide(
        session,
        case,
        action,
        by,
        version=case.decisions,
        now=now,
        text="noted",
        officer_id=officer and officer.id,
        rating=4 if action == Action.satisfied else None,
    )


def build(session: Session, district: dict[str, User]) -> dict[str, str]:
    """Six cases; return their numbers by name.

    a  bed, Bishrampur (Surajpur)     10 Mar 10:00 IST   waits on the DM (overdue)
    b  ration, Chando (Pratappur)     11 Mar 00:30 IST   with the food officer (overdue); Hindi text
    c  oxygen, Sawaraon (Bhaiyathan)  11 Mar 11:30 IST   resolved by cmho at 21:30 IST, the caller satisfied
                                                         (4 of 5) at 22:30 IST, waits on the Collector
    d  bed, Jayanagar (Surajpur)      11 Mar 12:30 IST   resolved 15:30, satisfied (4) 16:30, closed by the
                                                         Collector at 17:30 IST
    e  other, Kharsura (Pratappur)    11 Mar 13:30 IST   rejected by the DM at 14:00 IST
    f  ambulance, Bishrampur          now                waits on the DM (not overdue)
    """
    u = district
    op, dm = u["operator"], u["dm"]
    a = make_case(session, op, AT["a"], description="Needs a hospital bed with oxygen")
    b = make_case(
        session,
        op,
        AT["b"],
        category="ration",
        village="Chando",
        caller="सीता देवी",
        phone="+919800000001",
        description="राशन कार्ड नहीं मिला",
    )
    move(session, b, Action.assign, dm, datetime(2026, 3, 10, 19, 5, tzinfo=UTC), u["dfo"])
    c = make_case(
        session,
        op,
        AT["c"],
        category="oxygen",
        village="Sawaraon",
        caller="Mohan Lal",
        phone="+919812345678",
        description="OXYGEN cylinder empty",
    )
    move(session, c, Action.assign, dm, datetime(2026, 3, 11, 6, 10, tzinfo=UTC), u["cmho"])
    move(session, c, Action.resolve, u["cmho"], datetime(2026, 3, 11, 16, 0, tzinfo=UTC))
    move(session, c, Action.satisfied, op, datetime(2026, 3, 11, 17, 0, tzinfo=UTC))
    d = make_case(session, op, AT["d"], village="Jayanagar", description='=HYPERLINK("http://x")')
    move(session, d, Action.assign, dm, datetime(2026, 3, 11, 7, 10, tzinfo=UTC), u["cmho"])
    move(session, d, Action.resolve, u["cmho"], datetime(2026, 3, 11, 10, 0, tzinfo=UTC))
    move(session, d, Action.satisfied, op, datetime(2026, 3, 11, 11, 0, tzinfo=UTC))
    move(session, d, Action.confirm, u["collector"], datetime(2026, 3, 11, 12, 0, tzinfo=UTC))
    e = make_case(session, op, AT["e"], category="other", village="Kharsura", description="Road repair")
    move(session, e, Action.reject, dm, datetime(2026, 3, 11, 8, 30, tzinfo=UTC))
    f = make_case(session, op, datetime.now(UTC), category="ambulance", description="Ambulance needed")
    session.commit()
    return {name: str(case.number) for name, case in zip("abcdef", (a, b, c, d, e, f), strict=True)}


def build_world(session: Session, district: dict[str, User]) -> dict[str, str]:
    """build()'s cases, and what every page needs to show all it can: a failed delivery, a parked
    hand-off, today's follow-up calls and an advisory. Commits; returns the cases' numbers."""
    from datetime import timedelta

    from models.advisories.tables import Advisory
    from models.cases.tables import CaseEvent
    from models.homecare.followups import make_day_list
    from models.messages import Delivery, DeliveryStatus, Reason
    from models.outbox import Outbox
    from models.times import INDIA

    numbers = build(session, district)
    # A second call about f's problem, merged into it: the merged case's page and the survivor's.
    from models.cases.merging import merge

    survivor = session.scalars(select(Case).where(Case.number == numbers["f"])).one()
    now = datetime.now(UTC)
    twin = make_case(session, district["operator"], now, category="ambulance", phone="+919800000009")
    merge(session, twin, survivor, district["dm"], version=twin.decisions, now=now)
    numbers["merged"] = str(twin.number)
    event = session.scalars(select(CaseEvent).order_by(CaseEvent.id)).first()
    assert event is not None
    failed = Delivery(case_id=event.case_id, event_id=event.id, user_id=district["dm"].id, channel_key="k")
    failed.channel, failed.status = "mailto://dm", DeliveryStatus.failed
    session.add(failed)
    # The same message passed to the DM's next channel, unseen, then to a stand-in and the level above.
    session.flush()
    for user, key, reason, follows in (
        ("dm", "k2", Reason.fallback, failed.id),
        ("bmo", "k3", Reason.stand_in, failed.id),
        ("collector", "k4", Reason.escalated, failed.id),
    ):
        session.add(
            Delivery(
                case_id=event.case_id, event_id=event.id, user_id=district[user].id, channel_key=key,
                channel=f"mailto://{user}", status=DeliveryStatus.sent, sent_at=now, reason=reason,
                follows_id=follows,
            )
        )  # fmt: skip
    failed.next_attempt_at = None  # passed on: tried no more
    row = session.scalars(select(Outbox).where(Outbox.case_id == event.case_id)).first()
    assert row is not None
    row.parked_at, row.last_error = datetime.now(UTC), "parked"
    now = datetime.now(UTC)
    make_day_list(session, now.astimezone(INDIA).date(), "00:00", now - timedelta(hours=1))
    session.add(Advisory(title="Boil water", body="Boil it.", language="hi", by_user_id=district["dm"].id))
    session.commit()
    return numbers
