"""The DM's, the officer's and the Collector's decisions on the case page."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.cases import decisions
from models.cases.decisions import StaleDecision
from models.cases.lifecycle import Action
from models.cases.tables import Case
from models.config import Settings
from models.db import get_sessionmaker
from models.outbox import Outbox
from models.reference.tables import User
from tests.conftest import csrf_token, decide, decision_data, login, open_case


@pytest.fixture
def number(client: FlaskClient, district: dict[str, User]) -> str:
    login(client, "operator")
    number = open_case(client)
    client.post("/logout", data={})  # a logout without a token does nothing; switch users below
    client.delete_cookie("session")
    return number


def as_user(client: FlaskClient, username: str) -> FlaskClient:
    client.delete_cookie("session")
    login(client, username)
    return client


def get_case(session: Session, number: str) -> Case:
    session.expire_all()
    case = session.scalar(select(Case).where(Case.number == number))
    assert case is not None
    return case


def test_it_walks_the_whole_chain(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    cmho = district["cmho"].id
    steps = [
        ("dm", "assign", {"officer": cmho, "text": "तुरंत देखें"}, "assigned"),
        ("cmho", "send_back", {"text": "Not health: ration"}, "awaiting_assignment"),
        ("dm", "assign", {"officer": cmho, "text": ""}, "assigned"),
        ("cmho", "resolve", {"text": "Bed arranged at district hospital"}, "callback"),
        ("operator", "not_satisfied", {"text": "No bed yet"}, "assigned"),
        ("cmho", "resolve", {"text": "Bed arranged at district hospital"}, "callback"),
        ("operator", "satisfied", {"rating": "3", "text": ""}, "resolved"),
        ("collector", "reopen", {"text": "Caller says no bed yet"}, "assigned"),
        ("cmho", "resolve", {"text": "Bed 12, ward 3"}, "callback"),
        ("operator", "unreachable", {"text": ""}, "callback"),
        ("operator", "satisfied", {"rating": "5", "text": "Thank you"}, "resolved"),
        ("collector", "confirm", {"text": ""}, "closed"),
    ]
    for username, action, fields, state in steps:
        response = decide(as_user(client, username), number, action, **fields)
        assert response.status_code == 302, response.get_data(as_text=True)
        assert response.headers["Location"] == f"/cases/{number}"
        assert get_case(session, number).state == state
    case = get_case(session, number)
    assert [e.kind for e in case.events] == ["opened"] + [s[1] for s in steps]
    assert case.events[1].text == "तुरंत देखें" and case.events[1].officer_id == cmho
    resumes = session.scalars(select(Outbox).where(Outbox.kind == "resume").order_by(Outbox.id)).all()
    assert [(o.pause_key, o.payload["action"]) for o in resumes] == [
        (f"decision-{i}", s[1]) for i, s in enumerate(steps)
    ]
    assert resumes[0].payload["by_user"] == "dm"


def test_it_rejects_with_a_reason(client: FlaskClient, session: Session, number: str) -> None:
    as_user(client, "dm")
    response = decide(client, number, "reject", text="")
    assert response.status_code == 400
    assert "This field is required." in response.get_data(as_text=True)
    assert get_case(session, number).state == "awaiting_assignment"
    response = decide(client, number, "reject", text="Duplicate of SRJ-2026-000001")
    assert response.status_code == 302
    case = get_case(session, number)
    assert case.state == "rejected" and case.events[-1].text == "Duplicate of SRJ-2026-000001"


def test_it_starts_the_officer_choice_empty_and_refuses_it_empty(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    as_user(client, "dm")
    page = client.get(f"/cases/{number}").get_data(as_text=True)
    select_html = re.search(r'<select[^>]*name="assign-officer".*?</select>', page, re.S)
    assert select_html is not None
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select_html.group(0))
    # One press of Assign must not send the case to whoever is listed first.
    assert options[0] == (' selected value="0"', "— Choose an officer —")
    assert [attrs for attrs, _ in options[1:] if "selected" in attrs] == []
    for fields in ({"officer": "0"}, {}):
        response = decide(client, number, "assign", **fields)
        assert response.status_code == 400
        assert "Choose an officer." in response.get_data(as_text=True)
    assert get_case(session, number).state == "awaiting_assignment"


def test_it_says_the_messages_are_queued_not_sent(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    as_user(client, "dm")
    response = decide(client, number, "assign", officer=district["cmho"].id)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # The form wrote a decision and an outbox row; the messages go later, through Prefect.
    assert "has been notified" not in page
    assert "Saved. Its messages are queued and appear under Notifications as they go out." in page


def test_it_only_assigns_officers_of_the_category_department(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    as_user(client, "dm")
    response = decide(client, number, "assign", officer=district["dfo"].id)  # food, not health
    assert response.status_code == 400
    assert "Not a valid choice." in response.get_data(as_text=True)
    assert get_case(session, number).state == "awaiting_assignment"


@pytest.mark.parametrize(
    ("username", "action"),
    [
        ("operator", "assign"),
        ("cmho", "assign"),
        ("collector", "reject"),
        ("dm", "resolve"),
        ("dm", "confirm"),
    ],
)
def test_it_enforces_roles(
    client: FlaskClient, session: Session, number: str, username: str, action: str
) -> None:
    as_user(client, username)
    # A valid token of this user's session (any page has one), a well-formed decision.
    token = csrf_token(client.get("/queue").get_data(as_text=True))
    data = {
        f"{action}-csrf_token": token,
        f"{action}-version": 0,
        f"{action}-text": "x",
        f"{action}-officer": 5,
    }
    response = client.post(f"/cases/{number}/{action}", data=data)
    assert response.status_code == 403
    assert get_case(session, number).state == "awaiting_assignment"


def test_it_keeps_other_officers_out(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    decide(as_user(client, "dm"), number, "assign", officer=district["cmho"].id)
    as_user(client, "bmo")  # also health, not assigned
    assert client.get(f"/cases/{number}").status_code == 403
    as_user(client, "cmho")
    assert client.get(f"/cases/{number}").status_code == 200


def test_it_has_one_effect_when_submitted_twice(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    as_user(client, "dm")
    data = decision_data(client, number, "assign", officer=district["cmho"].id)
    first = client.post(f"/cases/{number}/assign", data=data)
    second = client.post(f"/cases/{number}/assign", data=data)
    assert first.status_code == 302
    assert second.status_code == 409
    assert "moved on since you opened it" in second.get_data(as_text=True)
    case = get_case(session, number)
    assert [e.kind for e in case.events] == ["opened", "assign"]
    assert len(session.scalars(select(Outbox).where(Outbox.kind == "resume")).all()) == 1


def test_it_lets_one_of_two_racing_decisions_win(
    settings: Settings, session: Session, district: dict[str, User], number: str
) -> None:
    """Two DMs load the case at the same version, then decide at once, each in its own
    session and thread. Both pass the version check in Python (each read version 0), so
    only the conditional UPDATE in the database stops the second."""
    factory = get_sessionmaker(settings.database_url)
    loaded = threading.Barrier(2, timeout=30)
    outcomes: dict[str, str] = {}

    def dm_decides(action: Action, text: str = "", officer_id: int | None = None) -> None:
        try:
            with factory() as db:
                case = db.scalar(select(Case).where(Case.number == number))
                dm = db.scalar(select(User).where(User.username == "dm"))
                assert case is not None and dm is not None and case.decisions == 0
                loaded.wait()
                try:
                    now = datetime.now(UTC)
                    decisions.decide(
                        db, case, action, dm, version=0, now=now, text=text, officer_id=officer_id
                    )
                    db.commit()
                    outcomes[action] = "won"
                except StaleDecision:
                    db.rollback()
                    outcomes[action] = "stale"
        except BaseException as exc:  # noqa: BLE001 - reported by the assertions below
            outcomes[action] = repr(exc)

    threads = [
        threading.Thread(target=dm_decides, args=(Action.assign, "", district["cmho"].id)),
        threading.Thread(target=dm_decides, args=(Action.reject, "Duplicate")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()) == ["stale", "won"], outcomes
    [winner] = [action for action, outcome in outcomes.items() if outcome == "won"]
    case = get_case(session, number)
    assert [e.kind for e in case.events] == ["opened", winner]
    assert (case.state, case.decisions) == ("assigned" if winner == Action.assign else "rejected", 1)
    resumes = session.scalars(select(Outbox).where(Outbox.kind == "resume")).all()
    assert [o.payload["action"] for o in resumes] == [winner]


def test_it_refuses_a_decision_read_before_the_case_left_its_state_and_came_back(
    settings: Settings, session: Session, district: dict[str, User], number: str
) -> None:
    """The DM's request read the case; before it writes, the case is assigned and sent back.
    The case is in the state that request read, so only the version in the UPDATE's WHERE
    tells that the decision is stale."""
    with get_sessionmaker(settings.database_url)() as slow:
        stale_case = slow.scalar(select(Case).where(Case.number == number))
        slow_dm = slow.scalar(select(User).where(User.username == "dm"))
        assert stale_case is not None and slow_dm is not None
        case, now = get_case(session, number), datetime.now(UTC)
        decisions.decide(
            session, case, Action.assign, district["dm"], version=0, now=now, officer_id=district["cmho"].id
        )
        session.commit()
        decisions.decide(
            session, case, Action.send_back, district["cmho"], version=1, now=now, text="Not health"
        )
        session.commit()
        with pytest.raises(StaleDecision):
            decisions.decide(slow, stale_case, Action.reject, slow_dm, version=0, now=now, text="Duplicate")
    case = get_case(session, number)
    assert (case.state, case.decisions) == ("awaiting_assignment", 2)
    assert [e.kind for e in case.events] == ["opened", "assign", "send_back"]


def test_it_tells_a_stale_form_apart(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    as_user(client, "dm")
    stale_reject = decision_data(client, number, "reject", text="not a grievance")
    decide(client, number, "assign", officer=district["cmho"].id)
    response = client.post(f"/cases/{number}/reject", data=stale_reject)
    assert response.status_code == 409
    assert get_case(session, number).state == "assigned"


def test_it_needs_a_csrf_token(
    client: FlaskClient, session: Session, district: dict[str, User], number: str
) -> None:
    as_user(client, "dm")
    data = decision_data(client, number, "assign", officer=district["cmho"].id)
    del data["assign-csrf_token"]
    assert client.post(f"/cases/{number}/assign", data=data).status_code == 400
    assert get_case(session, number).state == "awaiting_assignment"


def test_it_shows_each_role_its_queue_oldest_first(client: FlaskClient, district: dict[str, User]) -> None:
    as_user(client, "operator")
    first, second = open_case(client), open_case(client)
    page = as_user(client, "dm").get("/queue").get_data(as_text=True)
    assert first in page and second in page and page.index(first) < page.index(second)
    decide(client, first, "assign", officer=district["cmho"].id)
    page = client.get("/queue").get_data(as_text=True)
    assert first not in page and second in page
    assert first in as_user(client, "cmho").get("/queue").get_data(as_text=True)
    assert first not in as_user(client, "bmo").get("/queue").get_data(as_text=True)


def test_it_404s_an_unknown_case(client: FlaskClient, district: dict[str, User]) -> None:
    as_user(client, "dm")
    response = client.get("/cases/SRJ-2026-999999")
    assert response.status_code == 404
    assert "Case SRJ-2026-999999 doesn&#39;t exist." in response.get_data(as_text=True)
