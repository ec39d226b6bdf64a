"""desk: call-log entry and directory search with 10,000 villages, 50,000 contacts and 100,000 calls.

In process, through the Flask test client: each request runs the whole app (session cookie,
login, CSRF check, form validation, the queries, the template) but no HTTP server, no
gunicorn and no Prefect (neither page talks to it). One client, one request at a time.

Figures (p50/p95 over many requests), each beside a floor measured in the same run and database:

- call-log POST /calls (a logged-in operator, CSRF token, village typed by name): floor, a bare
  INSERT + COMMIT of one calls row;
- the call screen GET /calls (form + the operator's recent calls): floor, the bare recent-calls SELECT;
- the caller's history as the phone is typed, GET /calls/history: floor, the bare SELECT of
  that phone's calls;
- village suggestions GET /calls/villages: floor, the bare village SELECT;
- directory search GET /directory?q=...&partial=1 (the as-you-type fragment) over a mix of
  English and Hindi village prefixes, contact names and phone digits: floor, search_contacts()
  called directly (its SELECTs and ORM rows; no request, no template);
- export and re-import of the whole directory as CSV (once each).

`--quick` divides the data and the request counts by 10.
"""

from __future__ import annotations

import io
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Engine, insert, select
from werkzeug.security import generate_password_hash

from bench.harness import Options, create_database
from bench.report import Report, percentile
from models.config import Settings
from models.db import get_engine, get_sessionmaker
from models.demo import seed
from models.desk.contacts import search_contacts
from models.desk.tables import Call, Contact, ContactRole
from models.migrate import upgrade
from models.normalize import search_key
from models.reference.tables import Block, User, Village
from models.reference.villages import villages_starting

NAME = "desk"
GOAL = "<= 100"
PASSWORD = "bench password 1"
PARTS = [  # (English, Hindi) syllables village names are made of
    ("Bish", "बिश"), ("Jay", "जय"), ("Chan", "चन"), ("Khar", "खर"), ("Saw", "साव"), ("Ram", "राम"),
    ("Sur", "सूर"), ("Prat", "प्रत"), ("Bhai", "भै"), ("Lat", "लट"), ("Od", "ओड"), ("Kud", "कुद"),
    ("Bar", "बर"), ("Dev", "देव"), ("Gop", "गोप"), ("Har", "हर"), ("Kam", "कम"), ("Lal", "लाल"),
    ("Man", "मन"), ("Nav", "नव"),
]  # fmt: skip
MIDDLES = [("", ""), ("a", "ा"), ("i", "ि"), ("o", "ो"), ("u", "ु")]
SUFFIXES = [
    ("pur", "पुर"), ("nagar", "नगर"), ("dih", "डीह"), ("para", "पारा"), ("gaon", "गांव"),
    ("khurd", "खुर्द"), ("kala", "कला"), ("tola", "टोला"), ("bahra", "बहरा"), ("ghat", "घाट"),
]  # fmt: skip
FIRST = [
    "Sunita",
    "Kavita",
    "Rekha",
    "Phoolmati",
    "Shanti",
    "Lalita",
    "Kamla",
    "Ramesh",
    "Budhram",
    "Mohan",
    "Ajay",
    "Sukhmaniya",
    "Geeta",
    "Anita",
    "Rajesh",
    "Dinesh",
    "Savitri",
    "Parvati",
    "Suresh",
    "Ramvati",
]
FIRST_HI = ["सुनीता", "कविता", "रेखा", "फूलमती", "शांति", "ललिता", "कमला", "रमेश", "बुधराम", "मोहन"]
LAST = ["Devi", "Singh", "Paikra", "Ekka", "Minj", "Sahu", "Rajwade", "Kerketta", "Yadav", "Gupta", "Tirkey"]
LAST_HI = ["देवी", "सिंह", "पैकरा", "एक्का", "मिंज", "साहू", "राजवाड़े", "यादव"]
KINDS = ["information"] * 5 + ["complaint"] * 2 + ["follow_up"] * 2 + ["emergency", "other"]


def sizes(quick: bool) -> dict[str, int]:
    scale = 10 if quick else 1
    return {
        "villages": 10_000 // scale,
        "contacts": 50_000 // scale,
        "calls": 100_000 // scale,
        "posts": 300 // scale,
        "searches": 400 // scale,
    }


def run(options: Options, report: Report) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-desk-"))
    if options.postgres:
        url = create_database(options.pg_url, "bench_desk", "psycopg")
    else:
        url = f"sqlite:///{folder / 'control_room.sqlite'}"
    try:
        _run(url, folder, options, report)
    finally:
        get_engine(url).dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _run(url: str, folder: Path, options: Options, report: Report) -> None:
    from webapp import create_app

    n = sizes(options.quick)
    rng = random.Random(4)
    upgrade(url)
    started = time.perf_counter()
    data = populate(url, n, rng)
    report.note(
        f"desk: seeded {n['villages']:,} villages, {n['contacts']:,} contacts, {n['calls']:,} calls "
        f"in {time.perf_counter() - started:.1f} s"
    )
    app = create_app(
        Settings(
            app_env="test", secret_key="bench", database_url=url, demo=True, mail_dir=str(folder / "mail")
        )
    )
    engine = get_engine(url)
    client = app.test_client()
    token = login(client, "operator")
    ms = 1000.0

    def figure(metric: str, values: list[float], floor: list[float] | None, goal: str | None = GOAL) -> None:
        for p in (50, 95):
            report.add(
                NAME,
                f"{metric} p{p}",
                ms * percentile(values, p),
                "ms",
                floor=ms * percentile(floor, p) if floor else None,
                goal=goal if p == 95 else None,
            )

    # Warm-up (template compilation, connection pool, the database's caches): unmeasured.
    for _ in range(10):
        client.get("/calls")
        client.get("/directory?q=bi&partial=1")

    # 1. Logging calls.
    posts, pages = [], []
    for i in range(n["posts"]):
        form = call_form(token, rng, data, i)
        pages.append(timed(lambda: client.get("/calls"), 200))
        posts.append(timed(lambda form=form: client.post("/calls", data=form), 302))  # type: ignore[misc]
    figure("call-log POST", posts, bare_inserts(engine, data, n["posts"]))
    figure("call screen GET", pages, bare(engine, n["posts"], lambda: recent_query(data["operator"])), None)

    # 2. The caller's history, as the phone number is typed.
    phones = [rng.choice(data["callers"]) for _ in range(n["searches"])]
    history = [timed(lambda p=p: client.get(f"/calls/history?phone={p}"), 200) for p in phones]  # type: ignore[misc]
    figure(
        "caller history GET",
        history,
        bare(engine, len(phones), lambda: history_query(rng.choice(data["callers"]))),
    )

    # 3. Village suggestions for the call form.
    typed = [rng.choice(data["village_names"])[: rng.randint(2, 5)] for _ in range(n["searches"])]
    suggestions = [
        timed(lambda q=q: client.get("/calls/villages", query_string={"q": q}), 200) for q in typed
    ]
    figure(
        "village suggestions GET",
        suggestions,
        bare(engine, len(typed), lambda: village_query(rng.choice(typed))),
    )

    # 4. Directory search, by everything an operator types.
    queries = search_mix(rng, data, n["searches"])
    by_kind: dict[str, list[float]] = {}
    floors: dict[str, list[float]] = {}
    for kind, q in queries:
        by_kind.setdefault(kind, []).append(
            timed(lambda q=q: client.get("/directory", query_string={"q": q, "partial": "1"}), 200)  # type: ignore[misc]
        )
        floors.setdefault(kind, []).append(bare_search(url, q))
    figure(
        "directory search GET",
        [v for vs in by_kind.values() for v in vs],
        [v for vs in floors.values() for v in vs],
    )
    for kind in by_kind:
        figure(f"directory search GET [{kind}]", by_kind[kind], floors[kind])

    # 5. The whole directory out and back in (admin).
    admin = app.test_client()
    admin_token = login(admin, "admin")
    started = time.perf_counter()
    exported = admin.get("/directory/export.csv")
    report.add(NAME, f"export {n['contacts']:,} contacts as CSV", time.perf_counter() - started, "s")
    started = time.perf_counter()
    response = admin.post(
        "/directory/import",
        data={"csrf_token": admin_token, "file": (io.BytesIO(exported.get_data()), "contacts.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    report.add(NAME, f"re-import {n['contacts']:,} contacts from CSV", time.perf_counter() - started, "s")


def populate(url: str, n: dict[str, int], rng: random.Random) -> dict[str, Any]:
    """The demo district plus generated villages, contacts and calls, inserted in bulk."""
    with get_sessionmaker(url).begin() as session:
        seed(session, generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"), mail_sink="127.0.0.1:9")
    engine = get_engine(url)
    names = [(a + m + s, ah + mh + sh) for a, ah in PARTS for m, mh in MIDDLES for s, sh in SUFFIXES]
    blocks = 20
    with engine.begin() as conn:
        conn.execute(
            insert(Block), [{"name": f"Block {b:02d}", "name_hi": f"विकासखंड {b:02d}"} for b in range(blocks)]
        )
        block_ids = list(conn.scalars(select(Block.id).where(Block.name.startswith("Block "))))
        rows = []
        per_block = -(-n["villages"] // blocks)
        for block_id in block_ids:
            for name, name_hi in rng.sample(names, min(per_block, len(names))):
                rows.append({"block_id": block_id, "name": name, "name_hi": name_hi})
        bulk(conn, Village, rows[: n["villages"] - 5])  # the demo district has five
        village_ids = list(conn.scalars(select(Village.id)))
        roles = list(conn.scalars(select(ContactRole.id).order_by(ContactRole.id)))
        operator = conn.scalar(select(User.id).where(User.username == "operator"))
        numbers = rng.sample(range(10**8), n["contacts"] + n["calls"] // 3)
        contacts, contact_phones = [], []
        for i in range(n["contacts"]):
            hindi = rng.random() < 0.3
            first = rng.choice(FIRST_HI if hindi else FIRST)
            name = f"{first} {rng.choice(LAST_HI if hindi else LAST)}"
            phone = f"+9194{numbers[i]:08d}"
            contact_phones.append(phone)
            contacts.append(
                {
                    "village_id": village_ids[i // 5 % len(village_ids)],
                    "role_id": roles[min(i % 5, len(roles) - 1)],
                    "name": name,
                    "name_key": search_key(name),
                    "phone": phone,
                    "active": True,
                }
            )
        bulk(conn, Contact, contacts)
        callers = [f"+9198{x:08d}" for x in numbers[n["contacts"] :]] + contact_phones[:1000]
        now = datetime.now(UTC).replace(tzinfo=None)
        calls = [
            {
                "phone": rng.choice(callers),
                "caller_name": rng.choice(FIRST),
                "village_id": rng.choice(village_ids),
                "kind": rng.choice(KINDS),
                "note": "Asked about the nearest testing centre",
                "duration_seconds": rng.randint(20, 600),
                "by_user_id": operator,
                "created_at": now - timedelta(seconds=rng.randint(0, 90 * 86400)),
            }
            for _ in range(n["calls"])
        ]
        bulk(conn, Call, calls)
        labels = conn.execute(
            select(Village.name, Village.name_hi, Block.name).join(Block, Village.block_id == Block.id)
        ).all()
    return {
        "village_ids": village_ids,
        "village_names": sorted({v for v, _, _ in labels}),
        "village_names_hi": sorted({h for _, h, _ in labels if h}),
        "villages": [f"{v} ({b})" for v, _, b in labels],
        "contacts": contacts,
        "callers": callers,
        "operator": operator,
    }


def bulk(conn: Any, model: type, rows: list[dict[str, Any]], chunk: int = 5000) -> None:
    for i in range(0, len(rows), chunk):
        conn.execute(insert(model), rows[i : i + chunk])


def login(client: FlaskClient, username: str) -> str:
    """Log in; return the session's CSRF token (one per session: WTF_CSRF_TIME_LIMIT is None)."""
    page = client.get("/login").get_data(as_text=True)
    token = hidden_token(page)
    response = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD})
    assert response.status_code == 302, f"login of {username}: {response.status_code}"
    return hidden_token(
        client.get("/calls" if username == "operator" else "/directory/import").get_data(as_text=True)
    )


def hidden_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in page"
    return match.group(1)


def call_form(token: str, rng: random.Random, data: dict[str, Any], i: int) -> dict[str, str]:
    phone = rng.choice(data["callers"])
    return {
        "csrf_token": token,
        "phone": f"0{phone[3:8]} {phone[8:]}",  # as an operator types it
        "caller_name": rng.choice(FIRST),
        "village": rng.choice(data["villages"]),
        "kind": rng.choice(KINDS),
        "note": f"Bench call {i}: asked about the ration card",
        "duration": f"{rng.randint(0, 9)}:{rng.randint(0, 59):02d}",
    }


def search_mix(rng: random.Random, data: dict[str, Any], count: int) -> list[tuple[str, str]]:
    """What operators type: village prefixes (English, Hindi), contact names, phone digits."""
    contacts = data["contacts"]
    makers: dict[str, Callable[[], str]] = {
        "village": lambda: rng.choice(data["village_names"])[: rng.randint(3, 6)].lower(),
        "village hi": lambda: rng.choice(data["village_names_hi"])[: rng.randint(2, 4)],
        "name": lambda: rng.choice(contacts)["name"][: rng.randint(3, 8)],
        "phone": lambda: rng.choice(contacts)["phone"][3 : 3 + rng.randint(5, 10)],
    }
    kinds = list(makers)
    return [(kind, makers[kind]()) for kind in (kinds[i % len(kinds)] for i in range(count))]


def timed(request: Callable[[], Any], status: int) -> float:
    started = time.perf_counter()
    response = request()
    seconds = time.perf_counter() - started
    assert response.status_code == status, f"{response.status_code}: {response.get_data(as_text=True)[:300]}"
    return seconds


def bare_inserts(engine: Engine, data: dict[str, Any], count: int) -> list[float]:
    """INSERT + COMMIT of one calls row, with no web app around it."""
    times = []
    for i in range(count):
        row = {
            "phone": "+919876543210",
            "caller_name": "Floor",
            "village_id": data["village_ids"][i % len(data["village_ids"])],
            "kind": "information",
            "note": f"Floor call {i}",
            "duration_seconds": 60,
            "by_user_id": data["operator"],
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(Call.__table__).values(**row))
        times.append(time.perf_counter() - started)
    return times


def recent_query(user_id: int) -> Any:
    return select(Call.__table__).where(Call.by_user_id == user_id).order_by(Call.created_at.desc()).limit(20)


def history_query(phone: str) -> Any:
    return select(Call.__table__).where(Call.phone == phone).order_by(Call.created_at.desc()).limit(10)


def village_query(typed: str) -> Any:
    query = villages_starting(typed)
    assert query is not None
    return query.order_by(Village.name).limit(20)


def bare_search(url: str, typed: str) -> float:
    """search_contacts() called directly: its SELECTs and ORM rows, no request, no template."""
    started = time.perf_counter()
    with get_sessionmaker(url)() as session:
        search_contacts(session, typed)
    return time.perf_counter() - started


def bare(engine: Engine, count: int, query: Callable[[], Any]) -> list[float]:
    return [bare_once(engine, query()) for _ in range(count)]


def bare_once(engine: Engine, statement: Any) -> float:
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(statement).all()
    return time.perf_counter() - started
