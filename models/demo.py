"""A small demo district: places, departments, categories and one user per role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.desk.contacts import ensure_roles, load_contact_rows
from models.duty.roster import on_duty
from models.duty.tables import Duty, DutyShift
from models.reference.loading import load_rows
from models.reference.tables import Role, User

DEPARTMENTS = [
    {"code": "health", "name": "Health", "name_hi": "स्वास्थ्य"},
    {"code": "food", "name": "Food & Civil Supplies", "name_hi": "खाद्य एवं नागरिक आपूर्ति"},
    {"code": "revenue", "name": "Revenue", "name_hi": "राजस्व"},
]
VILLAGES = [
    {"block": "Surajpur", "block_hi": "सूरजपुर", "village": "Bishrampur", "village_hi": "बिश्रामपुर"},
    {"block": "Surajpur", "block_hi": "सूरजपुर", "village": "Jayanagar", "village_hi": "जयनगर"},
    {"block": "Pratappur", "block_hi": "प्रतापपुर", "village": "Chando", "village_hi": "चांदो"},
    {"block": "Pratappur", "block_hi": "प्रतापपुर", "village": "Kharsura", "village_hi": "खरसुरा"},
    {"block": "Bhaiyathan", "block_hi": "भैयाथान", "village": "Sawaraon", "village_hi": "सावारांवा"},
]
CATEGORIES = [
    {
        "code": "bed",
        "name": "Hospital bed",
        "name_hi": "अस्पताल बिस्तर",
        "department": "health",
        "assign_minutes": "15",
        "resolve_minutes": "180",
        "urgent_minutes": "60",
    },
    {
        "code": "ambulance",
        "name": "Ambulance",
        "name_hi": "एम्बुलेंस",
        "department": "health",
        "assign_minutes": "10",
        "resolve_minutes": "60",
        "urgent_minutes": "30",
    },
    {
        "code": "oxygen",
        "name": "Oxygen",
        "name_hi": "ऑक्सीजन",
        "department": "health",
        "assign_minutes": "10",
        "resolve_minutes": "120",
        "urgent_minutes": "30",
    },
    {"code": "medicine", "name": "Medicine", "name_hi": "दवाई", "department": "health"},
    {"code": "home_isolation", "name": "Home isolation", "name_hi": "होम आइसोलेशन", "department": "health"},
    {"code": "ration", "name": "Food / ration", "name_hi": "भोजन / राशन", "department": "food"},
    {"code": "other", "name": "Other", "name_hi": "अन्य", "department": "revenue"},
]
STAFF = [
    ("operator", "Sunita Operator", Role.operator, "", "", "en"),
    ("dm", "District Magistrate", Role.dm, "", "District Magistrate", "en"),
    ("collector", "Collector", Role.collector, "", "Collector", "en"),
    ("admin", "Administrator", Role.admin, "", "", "en"),
    ("cmho", "Dr. Ramesh Gupta", Role.officer, "health", "CMHO", "en"),
    ("bmo", "डॉ. अनीता सिंह", Role.officer, "health", "BMO Pratappur", "hi"),
    ("dfo", "Food Officer", Role.officer, "food", "District Food Officer", "en"),
    ("tehsildar", "Tehsildar", Role.officer, "revenue", "Tehsildar Surajpur", "en"),
]


CONTACTS = [  # the field directory of the demo villages (numbers are made up)
    {
        "block": "Surajpur",
        "village": "Bishrampur",
        "role": "mitanin",
        "name": "सुनीता देवी",
        "phone": "9425100001",
    },
    {
        "block": "Surajpur",
        "village": "Bishrampur",
        "role": "sarpanch",
        "name": "Ramesh Singh",
        "phone": "9425100002",
    },
    {
        "block": "Surajpur",
        "village": "Bishrampur",
        "role": "anm",
        "name": "Kavita Ekka",
        "phone": "9425100003",
    },
    {
        "block": "Surajpur",
        "village": "Jayanagar",
        "role": "mitanin",
        "name": "Phoolmati Paikra",
        "phone": "9425100004",
    },
    {
        "block": "Surajpur",
        "village": "Jayanagar",
        "role": "secretary",
        "name": "अजय कुमार",
        "phone": "9425100005",
    },
    {
        "block": "Pratappur",
        "village": "Chando",
        "role": "mitanin",
        "name": "Sukhmaniya Devi",
        "phone": "9425100006",
    },
    {
        "block": "Pratappur",
        "village": "Chando",
        "role": "sarpanch",
        "name": "बुधराम सिंह",
        "phone": "9425100007",
    },
    {"block": "Pratappur", "village": "Kharsura", "role": "anm", "name": "Rekha Minj", "phone": "9425100008"},
    {
        "block": "Bhaiyathan",
        "village": "Sawaraon",
        "role": "mitanin",
        "name": "Shanti Rajwade",
        "phone": "9425100009",
    },
    {
        "block": "Bhaiyathan",
        "village": "Sawaraon",
        "role": "secretary",
        "name": "Mohan Sahu",
        "phone": "9425100010",
    },
]


def mail_url(sink: str, username: str) -> str:
    return f"mailto://{sink}?from=control-room@demo.local&to={username}@demo.local"


def seed(session: Session, password_hash: str, mail_sink: str = "127.0.0.1:8025") -> list[User]:
    """Load the demo district and its users (idempotent). Return the users."""
    load_rows(session, "departments", DEPARTMENTS)
    load_rows(session, "villages", VILLAGES)
    load_rows(session, "categories", CATEGORIES)
    from models.reference.tables import Department

    departments = {d.code: d.id for d in session.scalars(select(Department))}
    users = []
    for username, name, role, dept, designation, language in STAFF:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username)
            session.add(user)
        user.name, user.role, user.designation, user.language = name, role, designation, language
        user.department_id = departments.get(dept)
        user.notify_urls = mail_url(mail_sink, username)
        user.password_hash = password_hash
        users.append(user)
    session.flush()
    ensure_roles(session)
    load_contact_rows(session, CONTACTS)
    seed_duty(session, {u.username: u for u in users}, datetime.now(UTC))
    seed_patients(session, datetime.now(UTC))
    return users


def seed_duty(session: Session, users: dict[str, User], now: datetime) -> None:
    """Put the CMHO on hospital admissions and the BMO on duty as doctor, from a year ago to a year on."""
    for username, duty in (("cmho", Duty.admission), ("bmo", Duty.doctor)):
        if on_duty(session, duty, now) is None:
            session.add(
                DutyShift(
                    user_id=users[username].id,
                    duty=duty,
                    starts_at=now - timedelta(days=365),
                    ends_at=now + timedelta(days=365),
                )
            )
    session.flush()


def seed_patients(session: Session, now: datetime) -> None:
    """A few patients in home isolation since two days ago (re-seeding moves their dates on)."""
    from models.homecare.followups import ensure_defaults
    from models.homecare.register import import_patient_rows
    from models.times import INDIA

    ensure_defaults(session)
    today = now.astimezone(INDIA).date()
    start, end = (today - timedelta(days=2)).isoformat(), (today + timedelta(days=5)).isoformat()
    rows = [
        ("DEMO-1", "रामप्रसाद यादव", "58", "M", "9425200001", "Bishrampur", "diabetes", "9425100001"),
        ("DEMO-2", "सुमित्रा बाई", "44", "F", "9425200002", "Jayanagar", "", "9425100004"),
        ("DEMO-3", "Arjun Paikra", "31", "M", "9425200003", "Chando", "", "9425100006"),
        ("DEMO-4", "कमला देवी", "67", "F", "9425200004", "Sawaraon", "hypertension", "9425100009"),
    ]
    import_patient_rows(
        session,
        (
            dict(health_id=h, name=n, age=a, sex=x, phone=p, village=v, conditions=c, mitanin_phone=m)
            | {"isolation_start": start, "isolation_end": end, "test_date": start}
            for h, n, a, x, p, v, c, m in rows
        ),
    )
