"""The dashboard's figures (models/oversight/stats.py) against a hand-counted district, on a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from models.cases.decisions import Intake, decide, open_case
from models.cases.lifecycle import Action, State, Step
from models.cases.tables import Case, Priority
from models.desk.tables import Call
from models.oversight.days import overview
from models.oversight.stats import (
    Window,
    age_range,
    call_counts,
    pending,
    percentile,
    window_stats,
)
from models.reference.tables import User

# 12:00 on 12 March 2025 in India (UTC+5:30).
NOW = datetime(2025, 3, 12, 6, 30, tzinfo=UTC)
BED, AMBULANCE, OXYGEN, RATION = 1, 2, 3, 6  # demo categories
SURAJPUR, PRATAPPUR, BHAIYATHAN = 1, 2, 3  # demo blocks


def ist(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A moment of March 2025, India time, as UTC."""
    return datetime(2025, month, day, hour, minute, tzinfo=UTC) - timedelta(hours=5, minutes=30)


def make_case(
    session: Session, people: dict[str, User], opened: datetime, category: int, village: int
) -> Case:
    intake = Intake(
        token=f"t-{opened.isoformat()}-{category}",
        caller_name="Ramu Yadav",
        phone="+919876543210",
        village_id=village,
        category_id=category,
        description="Needs help",
        priority=Priority.normal,
    )
    return open_case(session, intake, people["operator"], "SRJ", opened)


def step(
    session: Session, people: dict[str, User], case: Case, action: Action, who: str, at: datetime
) -> None:
    officer = people["cmho"].id if action == Action.assign and who == "dm" else None
    rating = 4 if action == Action.satisfied else None
    version = case.decisions
    decide(session, case, action, people[who], version=version, now=at, officer_id=officer, rating=rating)


@pytest.fixture
def cases(session: Session, district: dict[str, User]) -> dict[str, Case]:
    """Six cases and four calls around NOW; the figures below are counted by hand from these."""
    p = district
    a = make_case(session, p, ist(12, 9), BED, 1)  # today, closed; resolved in 60 min, within its limit
    step(session, p, a, Action.assign, "dm", ist(12, 9, 10))
    step(session, p, a, Action.resolve, "cmho", ist(12, 10))
    step(session, p, a, Action.satisfied, "operator", ist(12, 10, 15))
    step(session, p, a, Action.confirm, "collector", ist(12, 10, 30))
    b = make_case(session, p, ist(12, 11, 30), AMBULANCE, 3)  # today, waits on the DM: overdue at 11:40
    c = make_case(session, p, ist(9, 10), BED, 1)  # 3 days ago; resolved late (10 h), waits on the Collector
    step(session, p, c, Action.assign, "dm", ist(9, 10, 5))
    step(session, p, c, Action.resolve, "cmho", ist(9, 20))
    step(session, p, c, Action.satisfied, "operator", ist(9, 21))
    d = make_case(session, p, ist(10, 8), RATION, 5)  # 2 days ago, rejected
    step(session, p, d, Action.reject, "dm", ist(10, 8, 20))
    e = make_case(session, p, ist(20, 10, month=2), BED, 1)  # 20 days ago: outside the windows, still open
    # 00:10 today in India is still yesterday in UTC: it counts as today.
    f = make_case(session, p, ist(12, 0, 10), OXYGEN, 2)
    decide(session, f, Action.assign, p["dm"], version=0, now=ist(12, 0, 20), officer_id=p["bmo"].id)
    for at in (ist(12, 0, 5), ist(12, 11), ist(11, 23), ist(25, 10, month=2)):
        session.add(Call(phone="+919876543210", kind="complaint", by_user_id=p["operator"].id, created_at=at))
    session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}


def test_it_counts_today_in_india_time(session: Session, cases: dict[str, Case]) -> None:
    stats = window_stats(session, NOW, 1)
    assert stats.window == Window(date(2025, 3, 12), date(2025, 3, 12))
    assert stats.calls == 2
    t = stats.total
    assert t.opened == 3  # a, b and f (00:10 India time)
    assert t.by_state[State.closed] == 1
    assert t.by_step == {Step.dm: 1, Step.officer: 1, Step.callback: 0, Step.collector: 0}
    assert t.overdue == 2  # b (DM's 10 min passed at 11:40) and f (officer's 120 min passed at 02:20)
    assert (t.resolved, t.within, t.within_share) == (1, 1, 1.0)
    assert t.median == t.p90 == timedelta(minutes=60)


def test_it_counts_the_last_ten_days(session: Session, cases: dict[str, Case]) -> None:
    stats = window_stats(session, NOW, 10)
    assert stats.window == Window(date(2025, 3, 3), date(2025, 3, 12))
    assert stats.calls == 3
    assert stats.calls_by_kind == {"complaint": 3}
    t = stats.total
    assert t.opened == 5
    assert t.by_state == {
        State.awaiting_assignment: 1,
        State.assigned: 1,
        State.callback: 0,
        State.resolved: 1,
        State.closed: 1,
        State.rejected: 1,
        State.merged: 0,
    }
    assert t.overdue == 3  # b, c, f
    assert (t.resolved, t.within, t.within_share) == (2, 1, 0.5)
    assert t.median == timedelta(minutes=60)  # nearest rank of [1 h, 10 h]
    assert t.p90 == timedelta(hours=10)


def test_it_breaks_the_window_down(
    session: Session, cases: dict[str, Case], district: dict[str, User]
) -> None:
    stats = window_stats(session, NOW, 10)
    assert {k: v.opened for k, v in stats.by_category.items()} == {BED: 2, AMBULANCE: 1, OXYGEN: 1, RATION: 1}
    assert {k: v.opened for k, v in stats.by_block.items()} == {SURAJPUR: 3, PRATAPPUR: 1, BHAIYATHAN: 1}
    assert {k: v.opened for k, v in stats.by_officer.items()} == {
        district["cmho"].id: 2,
        district["bmo"].id: 1,
    }
    bed = stats.by_category[BED]
    assert (bed.by_state[State.closed], bed.by_step[Step.collector], bed.within, bed.resolved) == (1, 1, 1, 2)
    assert stats.by_officer[district["bmo"].id].median is None
    assert stats.by_category[RATION].by_state[State.rejected] == 1


def test_it_counts_each_day(session: Session, cases: dict[str, Case]) -> None:
    days = {
        d.day.day: d
        for d in overview(session, NOW, 10, [1, 10], call_counts(session, Window.ending(NOW, 10)))[0]
    }
    assert sorted(days) == [3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert days[9].by_state[State.resolved] == 1
    assert days[10].by_state[State.rejected] == 1
    assert days[11].opened == 0 and days[11].calls == 1
    assert days[12].opened == 3 and days[12].calls == 2
    assert days[12].by_state[State.closed] == days[12].by_state[State.assigned] == 1


def test_it_counts_what_is_open_now(session: Session, cases: dict[str, Case]) -> None:
    now = pending(session, NOW)
    assert now.total == 4
    assert now.by_step == {Step.dm: 2, Step.officer: 1, Step.callback: 0, Step.collector: 1}
    assert now.overdue == {Step.dm: 2, Step.officer: 1, Step.callback: 0, Step.collector: 1}
    assert now.by_age["1h"] == {Step.dm: 1, Step.officer: 0, Step.callback: 0, Step.collector: 0}  # b, 30 min
    assert now.by_age["1d"][Step.officer] == 1  # f, 11 h 50 min
    # e and c
    assert now.by_age["older"] == {Step.dm: 1, Step.officer: 0, Step.callback: 0, Step.collector: 1}
    assert sum(sum(by.values()) for by in now.by_age.values()) == 4


def test_it_is_empty_without_cases(session: Session, district: dict[str, User]) -> None:
    stats = window_stats(session, NOW, 10)
    assert (stats.total.opened, stats.total.median, stats.total.within_share, stats.calls) == (
        0,
        None,
        None,
        0,
    )
    assert pending(session, NOW).total == 0


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("1h", (date(2025, 3, 12), date(2025, 3, 12))),
        ("1d", (date(2025, 3, 11), date(2025, 3, 12))),
        ("older", (None, date(2025, 3, 11))),
    ],
)
def test_it_dates_each_age(key: str, expected: tuple[date | None, date]) -> None:
    assert age_range(key, NOW) == expected


@pytest.mark.parametrize(("p", "expected"), [(50, 2), (90, 4), (100, 4), (1, 1)])
def test_it_takes_the_nearest_rank(p: float, expected: int) -> None:
    values = [timedelta(minutes=m) for m in (4, 1, 3, 2)]
    assert percentile(values, p) == timedelta(minutes=expected)


def test_it_reads_the_calls_once_for_every_window_inside_the_longest(
    session: Session, cases: dict[str, Case]
) -> None:
    """The dashboard reads ten days' calls once; today's and each day's are the same as read alone."""
    calls = call_counts(session, Window.ending(NOW, 10))
    assert window_stats(session, NOW, 1, calls).calls_by_kind == window_stats(session, NOW, 1).calls_by_kind
    assert window_stats(session, NOW, 1, calls).calls == 2
    assert window_stats(session, NOW, 10, calls).calls == 3
    with pytest.raises(ValueError, match="not inside"):  # a window reaching past the calls read
        window_stats(session, NOW, 11, calls)
    with pytest.raises(ValueError, match="not a day of"):  # a day before the calls read: not a silent 0
        overview(session, NOW, 11, [1], calls)


def test_the_overview_sums_the_same_figures_from_one_pass(session: Session, cases: dict[str, Case]) -> None:
    """The dashboard's top (overview) counts each day and each period's figures in all from one
    statement: each period's the same as window_stats() counts it alone."""
    calls = call_counts(session, Window.ending(NOW, 10))
    days, periods = overview(session, NOW, 10, [1, 10], calls)
    assert sum(d.opened for d in days) == periods[10].total.opened
    for n in (1, 10):
        alone = window_stats(session, NOW, n)
        assert (periods[n].window, periods[n].calls, periods[n].calls_by_kind) == (
            alone.window,
            alone.calls,
            alone.calls_by_kind,
        )
        assert periods[n].total == alone.total, n
    assert periods[10].total.p90 == timedelta(hours=10) and periods[1].total.median == timedelta(minutes=60)
    with pytest.raises(ValueError, match="longer than"):
        overview(session, NOW, 10, [11], calls)
