"""Pages that keep themselves current: GET /live/pulse, and the parts of pages it redraws."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from models.cases.lifecycle import Action
from models.desk.tables import Call
from models.emergency.cases import open_emergency
from models.reference.tables import User
from tests.casedata import ids, make_case, move
from tests.conftest import login


def pulse(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/live/pulse")
    assert response.status_code == 200, response.status_code
    assert response.headers["Cache-Control"] == "no-store"
    data = response.get_json()
    assert isinstance(data, dict)
    return data


def test_it_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/live/pulse")
    assert response.status_code == 302
    assert response.location.startswith("/login")


def test_it_moves_the_stamp_when_a_case_moves_or_a_call_is_logged(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "dm")
    now = datetime.now(UTC)
    first = pulse(client)
    assert pulse(client) == first  # nothing happened: a page redraws nothing (the answer is kept)

    case = make_case(session, district["operator"], now)
    session.commit()
    opened = pulse(client)
    assert opened["stamp"] != first["stamp"]
    assert (first["waiting"], opened["waiting"]) == (0, 1)  # a new stamp: the answer is read again

    move(session, case, Action.assign, district["dm"], now, officer=district["cmho"])
    session.commit()
    assigned = pulse(client)
    assert assigned["stamp"] != opened["stamp"]
    assert assigned["waiting"] == 0

    operator = district["operator"].id
    session.add(Call(phone="+919876543210", kind="information", by_user_id=operator, created_at=now))
    session.commit()
    assert pulse(client)["stamp"] != assigned["stamp"]


@pytest.mark.parametrize(
    ("username", "waiting"),
    [("dm", 1), ("cmho", 1), ("bmo", 0), ("collector", 1), ("operator", 3), ("admin", 3)],
)
def test_it_counts_the_cases_on_each_queue(
    client: FlaskClient, session: Session, district: dict[str, User], username: str, waiting: int
) -> None:
    """One case waits on the DM, one on the CMHO, one on the Collector; one is closed (on nobody's queue)."""
    now = datetime.now(UTC)
    p = district
    make_case(session, p["operator"], now)
    with_officer = make_case(session, p["operator"], now)
    move(session, with_officer, Action.assign, p["dm"], now, officer=p["cmho"])
    for _ in range(2):
        case = make_case(session, p["operator"], now)
        move(session, case, Action.assign, p["dm"], now, officer=p["cmho"])
        move(session, case, Action.resolve, p["cmho"], now)
        move(session, case, Action.satisfied, p["operator"], now)
    move(session, case, Action.confirm, p["collector"], now)
    session.commit()

    login(client, username)
    assert pulse(client)["waiting"] == waiting
    # The queue page lists the same cases (an operator's lists closed ones too; the count is the open ones).
    if username != "operator":
        page = client.get("/queue").get_data(as_text=True)
        assert f'<span class="muted">({waiting})</span>' in page


def test_it_tells_the_room_of_emergencies_and_an_officer_of_their_own(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    now = datetime.now(UTC)
    case = open_emergency(
        session,
        caller_name="Sita Bai",
        phone="+919876500000",
        village_id=ids(session)["Bishrampur"],
        description="Breathless",
        by=district["operator"],
        prefix="SRJ",
        now=now,
        token="emergency-1",
    )
    make_case(session, district["operator"], now)  # not an emergency
    session.commit()

    login(client, "operator")
    emergencies = pulse(client)["emergencies"]
    assert [e["number"] for e in emergencies] == [case.number]
    assert emergencies[0]["url"] == f"/cases/{case.number}"
    assert emergencies[0]["village"] == "Bishrampur"
    # Nothing about the caller: the banner shows on every screen in the room.
    assert "Sita" not in str(emergencies) and "9876500000" not in str(emergencies)

    client.post("/logout", data={"csrf_token": _token(client)})
    login(client, "bmo")  # an officer the emergency is not with
    assert pulse(client)["emergencies"] == []


def test_it_names_the_village_in_hindi_for_a_hindi_reader(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    open_emergency(
        session,
        caller_name="Sita Bai",
        phone="+919876500000",
        village_id=ids(session)["Bishrampur"],
        description="साँस लेने में तकलीफ़",
        by=district["operator"],
        prefix="SRJ",
        now=datetime.now(UTC),
        token="emergency-2",
    )
    session.commit()
    login(client, "dm")
    client.post("/language", data={"csrf_token": _token(client), "language": "hi", "next": "/queue"})
    (emergency,) = pulse(client)["emergencies"]
    assert re.search(r"[\u0900-\u097F]", emergency["village"]), emergency
    assert re.search(r"[\u0900-\u097F]", emergency["state"]), emergency


@pytest.mark.parametrize(
    ("username", "path", "region"),
    [
        ("dm", "/queue", "queue"),
        ("dm", "/cases?state=awaiting_assignment", "case-rows"),
        ("dm", "/dashboard", "dashboard"),
        ("dm", "/cases/{number}", "case-head"),
        ("dm", "/cases/{number}", "case-history"),
    ],
)
def test_it_redraws_a_part_of_the_page_from_the_page_itself(
    client: FlaskClient, session: Session, district: dict[str, User], username: str, path: str, region: str
) -> None:
    """A live part fetches its own page again and takes its part: the new case shows in it."""
    login(client, username)
    url = path.format(number="SRJ-2000-000000")
    before = client.get(url) if "{number}" not in path else None
    case = make_case(session, district["operator"], datetime.now(UTC))
    session.commit()
    url = path.format(number=case.number)
    page = client.get(url).get_data(as_text=True)
    tag = re.search(rf'<div id="{region}" data-live hx-get="([^"]+)" hx-select="#{region}"', page)
    assert tag, f"no live part {region} on {url}"
    assert tag.group(1).replace("&amp;", "&").rstrip("?") == url
    again = client.get(tag.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"})
    assert again.status_code == 200
    part = _part(again.get_data(as_text=True), region)
    if region == "dashboard":  # figures, not case numbers: the part is not what it was
        assert before is not None
        assert _figures(part) != _figures(_part(before.get_data(as_text=True), region))
        return
    assert case.number in part
    if before is not None:
        assert case.number not in _part(before.get_data(as_text=True), region)


@pytest.mark.parametrize(
    ("region", "url"),
    [("breakdown", "/dashboard/breakdown"), ("callers", "/dashboard/feedback"), ("seen", "/dashboard/seen")],
)
def test_the_dashboard_loads_its_parts_from_their_own_pages(
    client: FlaskClient, session: Session, district: dict[str, User], region: str, url: str
) -> None:
    """The dashboard's breakdown, callers' feedback and hand-offs seen are fetched once the page
    shows, and again when something moved: a part of their own page, which a reader without scripts
    opens from the link."""
    login(client, "collector")
    page = client.get("/dashboard?period=today").get_data(as_text=True)
    tag = re.search(rf'<div id="{region}" data-live hx-get="([^"]+)" hx-select="#{region}-part"[^>]*>', page)
    assert tag, f"no part {region} on the dashboard"
    assert 'hx-swap="innerHTML"' in tag.group(0) and 'hx-trigger="load, live' in tag.group(0)
    assert tag.group(1) == f"{url}?period=today"
    assert f'href="{url}?period=today"' in page  # without scripts
    empty = client.get(tag.group(1), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert f'id="{region}-part"' in empty
    case = make_case(session, district["operator"], datetime.now(UTC))
    session.commit()
    later = client.get(tag.group(1), headers={"HX-Request": "true"}).get_data(as_text=True)
    if region == "breakdown":  # the new case's category now has a line
        assert f"/cases?category={case.category_id}&amp;" in later
        assert f"/cases?category={case.category_id}&amp;" not in empty


def test_it_versions_the_case_so_a_stale_form_can_say_so(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    case = make_case(session, district["operator"], datetime.now(UTC))
    session.commit()
    login(client, "dm")
    version = re.compile(r'id="case-head"[^>]*data-version="([^"]+)"')
    first = version.search(client.get(f"/cases/{case.number}").get_data(as_text=True))
    assert first
    move(session, case, Action.assign, district["dm"], datetime.now(UTC), officer=district["cmho"])
    session.commit()
    page = client.get(f"/cases/{case.number}").get_data(as_text=True)
    second = version.search(page)
    assert second and second.group(1) != first.group(1)
    assert "data-moved-notice hidden" in page


def _part(html: str, region: str) -> str:
    """The live part's HTML, up to the next live part or the end of main."""
    start = html.index(f'id="{region}"')
    ends = [i for i in (html.find("data-live", start + 20), html.find("</main>", start)) if i > 0]
    return html[start : min(ends)]


def _figures(part: str) -> str:
    """The dashboard's part without its "As of" time, which changes by itself."""
    return re.sub(r'<p class="muted">.*?</p>', "", part, count=1, flags=re.S)


def _token(client: FlaskClient) -> str:
    from tests.conftest import csrf_token

    return csrf_token(client.get("/queue").get_data(as_text=True))
