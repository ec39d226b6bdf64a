"""The shift handover: figures across a shift boundary on the test's clock, kept frozen, taken over once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action
from models.cases.merging import merge
from models.config import ImproperlyConfigured, Settings
from models.demo import seed_patients
from models.desk.handover import Figures, acknowledge, add_note, figures, prepare, previous_shift
from models.desk.shifts import current_shift
from models.desk.tables import Call, Handover
from models.homecare.followups import make_day_list
from models.homecare.tables import FollowUp, FollowUpStatus
from models.messages import Delivery
from models.reference.tables import User
from models.times import INDIA
from tests.casedata import make_case, move
from tests.conftest import csrf_token, login

# The night shift, 00:00-08:00 India time on 25 November 2026 (18:30-02:30 UTC).
NIGHT_START = datetime(2026, 11, 25, 0, 0, tzinfo=INDIA).astimezone(UTC)
NIGHT_END = datetime(2026, 11, 25, 8, 0, tzinfo=INDIA).astimezone(UTC)
MORNING = NIGHT_END + timedelta(minutes=20)


@pytest.fixture
def night(session: Session, district: dict[str, User]) -> dict[str, str]:
    """What the night shift did and left, and what happened either side of it."""
    p = district
    before = NIGHT_START - timedelta(minutes=30)  # the evening shift's
    during = NIGHT_START + timedelta(hours=3)
    after = NIGHT_END + timedelta(minutes=5)  # the morning shift's
    evening = make_case(session, p["operator"], before)  # still waiting on the DM: the oldest
    opened = make_case(session, p["operator"], during)
    move(session, opened, Action.assign, p["dm"], during + timedelta(minutes=10), officer=p["cmho"])
    closed = make_case(session, p["operator"], during)
    move(session, closed, Action.reject, p["dm"], during + timedelta(minutes=5))
    twin = make_case(session, p["operator"], during)  # the same problem as `opened`: merged into it
    merge(session, twin, opened, p["dm"], version=twin.decisions, now=during + timedelta(minutes=20))
    make_case(session, p["operator"], after)  # the morning's: not the night's
    calls = ((before, "information"), (during, "information"), (during, "complaint"), (after, "other"))
    for at, kind in calls:
        session.add(Call(phone="+919876543210", kind=kind, by_user_id=p["operator"].id, created_at=at))
    add_note(session, p["operator"], "Promised to call back the Sarpanch of Bishrampur", during)
    add_note(session, p["operator"], "A morning note", after)
    # The demo's patients' follow-up calls due at 04:00 in the night: one reached, the rest not.
    seed_patients(session, NIGHT_START - timedelta(days=2))
    make_day_list(session, date(2026, 11, 25), "04:00", NIGHT_START + timedelta(hours=4))
    calls = session.scalars(select(FollowUp).order_by(FollowUp.id)).all()
    assert len(calls) >= 2
    session.execute(update(FollowUp).where(FollowUp.id == calls[0].id).values(status=FollowUpStatus.done))
    # One message of the night failed.
    event = opened.events[-1]
    failed = Delivery(case_id=opened.id, event_id=event.id, user_id=p["cmho"].id, channel_key="k")
    failed.channel, failed.status, failed.created_at = "x", "failed", during
    session.add(failed)
    session.commit()
    return {"evening": evening.number or "", "opened": opened.number or "", "calls": str(len(calls))}


def test_it_knows_the_shift_that_ended(session: Session) -> None:
    ended = previous_shift(MORNING)
    assert (ended.start, ended.end) == (NIGHT_START, NIGHT_END)
    assert current_shift(MORNING).start == NIGHT_END


def test_it_counts_what_the_shift_did_and_left(session: Session, night: dict[str, str]) -> None:
    f = figures(session, previous_shift(MORNING), NIGHT_END)
    assert f.calls == {"information": 1, "complaint": 1}
    assert (f.opened, f.closed, f.merged) == (3, 1, 1)
    assert f.pending == {"dm": 1, "officer": 1}  # the morning's case is not the night's
    assert f.oldest["dm"].number == night["evening"]
    assert f.oldest["officer"].number == night["opened"]
    assert f.follow_ups_due == int(night["calls"]) and f.follow_ups_missed == int(night["calls"]) - 1
    assert f.failed_messages == 1
    assert [n.text for n in f.notes] == ["Promised to call back the Sarpanch of Bishrampur"]
    assert f.overdue_count >= 1 and night["evening"] in [row.number for row in f.overdue]


def test_it_keeps_the_handover_as_it_stood_at_the_end(
    session: Session, district: dict[str, User], night: dict[str, str]
) -> None:
    with pytest.raises(ValueError):
        prepare(session, current_shift(MORNING), MORNING)  # not ended yet
    made = prepare(session, previous_shift(MORNING), MORNING)
    session.commit()
    make_case(session, district["operator"], NIGHT_START + timedelta(hours=1))  # filed late, back-dated
    again = prepare(session, previous_shift(MORNING), MORNING + timedelta(hours=1))
    assert again.id == made.id and Figures.from_json(again.figures).opened == 3
    assert session.scalar(select(Handover.id).where(Handover.shift_start == NIGHT_START)) == made.id


def test_it_is_taken_over_once(session: Session, district: dict[str, User], night: dict[str, str]) -> None:
    handover = prepare(session, previous_shift(MORNING), MORNING)
    assert acknowledge(session, handover, district["operator"], MORNING)
    assert not acknowledge(session, handover, district["admin"], MORNING)
    session.commit()
    assert handover.acknowledged_by_id == district["operator"].id


def test_it_takes_notes_and_the_takeover_through_the_page(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "operator")
    page = client.get("/handover")
    assert page.status_code == 200
    token = csrf_token(page.get_data(as_text=True))
    assert client.post("/handover", data={"csrf_token": token, "text": ""}).status_code == 400
    saved = client.post("/handover", data={"csrf_token": token, "text": "सरपंच को वापस फ़ोन करना है"})
    assert saved.status_code == 302
    assert "सरपंच को वापस फ़ोन करना है" in client.get("/handover").get_data(as_text=True)
    handover = session.scalars(select(Handover)).one()
    taken = client.post(f"/handover/{handover.id}/acknowledge", data={"csrf_token": token})
    assert taken.status_code == 302
    assert "Taken over by" in client.get(taken.location).get_data(as_text=True)
    session.expire_all()
    assert session.get(Handover, handover.id).acknowledged_by_id == district["operator"].id  # type: ignore[union-attr]


def test_it_lets_the_collector_read_but_not_take_over(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "collector")
    page = client.get("/handover").get_data(as_text=True)
    assert "I take this shift over" not in page and "Save note" not in page
    token = csrf_token(page)
    handover = session.scalars(select(Handover)).one()
    assert client.post(f"/handover/{handover.id}/acknowledge", data={"csrf_token": token}).status_code == 403
    assert client.post("/handover", data={"csrf_token": token, "text": "x"}).status_code == 403
    assert client.get(f"/handover/{handover.id}").status_code == 200
    assert client.get("/handover/999999").status_code == 404


def test_it_is_scheduled_a_minute_past_every_hour_so_any_shift_starts_are_served() -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parent.parent / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == "shift-handover"]
    ((schedule,),) = [deployment["schedules"]]
    assert schedule["timezone"] == "Asia/Kolkata" and schedule["cron"] == "1 * * * *"


def test_shifts_are_a_setting(session: Session) -> None:
    assert Settings().shifts == (time(0), time(8), time(16))
    district = Settings(shift_starts="22:00, 6:00,14")
    assert district.shifts == (time(6), time(14), time(22))
    assert previous_shift(MORNING, district.shifts) == current_shift(
        NIGHT_START - timedelta(hours=1), district.shifts
    )  # 22:00 to 06:00 India time
    for wrong in ("08:30", "25:00", "8,8", "", "noon"):
        with pytest.raises(ImproperlyConfigured):
            Settings(shift_starts=wrong).check()


def test_its_flow_prepares_the_handover_once(
    settings: Settings, session: Session, night: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.handover import shift_handover

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    first = shift_handover.fn(now=MORNING)
    assert shift_handover.fn(now=MORNING + timedelta(minutes=1)) == first
    handover = session.get(Handover, first)
    assert handover is not None and Figures.from_json(handover.figures).opened == 3
