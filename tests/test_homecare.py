"""Home isolation's domain: the register from CSV, the day's list, red flags, misses and their alert."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from apprise.decorators import notify
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.cases.tables import Case
from models.config import Settings
from models.db import get_sessionmaker
from models.homecare.followups import (
    CallClosed,
    Vitals,
    due_list,
    make_day_list,
    record_reading,
    record_unreachable,
    red_flags,
    slot_due_at,
)
from models.homecare.register import (
    CHUNK,
    check_patient_rows,
    discharge_ended,
    end_follow_ups,
    import_patient_rows,
    patient_csv_rows,
    write_patients,
)
from models.homecare.tables import AlertDelivery, FollowUp, FollowUpAlert, Patient, PatientStatus, Reading
from models.homecare.wording import flag_label
from models.reference.loading import ImportFailed
from models.reference.tables import User, Village
from notifications import DeliveryFailed
from notifications.miss_alerts import deliver_alert, unsent_alerts

DAY = date(2027, 3, 10)  # far from the demo patients' dates, which follow today's
MORNING = slot_due_at(DAY, "09:00")
HEADER = "health_id,name,age,sex,phone,block,village,address,test_date,isolation_start,isolation_end,conditions,mitanin_phone\n"  # noqa: E501
SENT: list[dict[str, str]] = []
FAILING: set[str] = set()


@notify(on="alertcap")
def capture(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    to = kwargs["meta"]["host"]
    if to in FAILING:
        return False
    SENT.append({"to": to, "title": title, "body": body})
    return True


def make_patient(session: Session, **overrides: Any) -> Patient:
    fields: dict[str, Any] = {
        "name": "सीता बाई",
        "phone": "+919425300001",
        "village_id": 1,
        "isolation_start": DAY - timedelta(days=2),
        "isolation_end": DAY + timedelta(days=5),
        **overrides,
    }
    patient = Patient(**fields)
    session.add(patient)
    session.commit()
    return patient


def first_call(session: Session, patient: Patient, slot: str = "09:00") -> FollowUp:
    make_day_list(session, DAY, slot, slot_due_at(DAY, slot))
    session.commit()
    call = session.scalar(select(FollowUp).where(FollowUp.patient_id == patient.id, FollowUp.slot == slot))
    assert call is not None
    return call


def alerted_patient(session: Session, district: dict[str, User]) -> Patient:
    """A patient whose misses reach people: a demo Mitanin by SMS, the duty doctor (the BMO) on a capture."""
    village = session.scalar(select(Village).where(Village.name == "Bishrampur"))
    assert village is not None
    patient = make_patient(session, village_id=village.id)
    patient.mitanin_id = session.scalar(select(Patient.mitanin_id).where(Patient.health_id == "DEMO-1"))
    district["bmo"].notify_urls = "alertcap://doctor"  # the demo duty doctor, reading Hindi
    session.commit()
    return patient


# ---- the register from CSV


def test_it_imports_the_list_with_hindi_names_kept_exactly(
    session: Session, district: dict[str, User]
) -> None:
    decomposed = "क़मला"  # क + nukta, not the precomposed क़: kept as written
    csv_text = HEADER + (
        f"H-1,{decomposed},45,F,098765 43210,Surajpur,Bishrampur,Ward 3,01-03-2027,08-03-2027,,"
        "diabetes,9425100001\n"
        "H-2,Ramesh Kumar,,M,+91 98765 43211,,चांदो,,,2027-03-08,2027-03-18,,\n"
    )
    report = import_patient_rows(session, patient_csv_rows(io.StringIO(csv_text)))
    session.commit()
    assert (report.created, report.updated) == (2, 0)
    kamla = session.scalar(select(Patient).where(Patient.health_id == "H-1"))
    assert kamla is not None and kamla.name == decomposed and kamla.name.encode() == decomposed.encode()
    assert (kamla.phone, kamla.sex, kamla.age, kamla.test_date) == (
        "+919876543210",
        "F",
        45,
        date(2027, 3, 1),
    )
    assert kamla.isolation_end == date(2027, 3, 15)  # a week when the list gives no end
    assert kamla.mitanin is not None and kamla.mitanin.name == "सुनीता देवी"
    ramesh = session.scalar(select(Patient).where(Patient.health_id == "H-2"))
    assert ramesh is not None and ramesh.village.name == "Chando" and ramesh.mitanin_id is None


def test_it_reports_each_bad_row_with_its_line_and_imports_nothing(
    session: Session, district: dict[str, User]
) -> None:
    before = session.scalar(select(func.count()).select_from(Patient))
    csv_text = HEADER + (
        "A-1,Good Row,30,M,9876543210,,Jayanagar,,,08-03-2027,,,\n"
        "A-2,,30,M,9876543210,,Jayanagar,,,08-03-2027,,,\n"
        "A-3,Bad Phone,30,M,12345,,Jayanagar,,,08-03-2027,,,\n"
        "A-4,Nowhere,30,M,9876543210,,Atlantis,,,08-03-2027,,,\n"
        "A-5,Bad Date,30,M,9876543210,,Jayanagar,,,31-02-2027,,,\n"
        "A-6,Ends Early,30,M,9876543210,,Jayanagar,,,08-03-2027,01-03-2027,,\n"
        "A-7,No Mitanin,30,M,9876543210,,Jayanagar,,,08-03-2027,,,9999999999\n"
        "A-1,Twice,30,M,9876543210,,Jayanagar,,,08-03-2027,,,\n"
        "A-9,Old,130,X,9876543210,,Jayanagar,,,08-03-2027,,,\n"
    )
    with pytest.raises(ImportFailed) as failed:
        import_patient_rows(session, patient_csv_rows(io.StringIO(csv_text)))
    session.rollback()
    assert failed.value.report.errors == [
        "line 3: 'name' is empty",
        "line 4: invalid phone number '12345'",
        "line 5: unknown village 'Atlantis'",
        "line 6: '31-02-2027' is not a date (DD-MM-YYYY or YYYY-MM-DD)",
        "line 7: 'isolation_end' is before 'isolation_start'",
        "line 8: no contact in the directory has the phone '9999999999'",
        "line 9: same health_id as line 2",
        "line 10: 'age' must be a number of years, not '130'",
    ]
    assert session.scalar(select(func.count()).select_from(Patient)) == before


def test_it_refuses_a_health_id_longer_than_its_column(session: Session, district: dict[str, User]) -> None:
    limit = Patient.__table__.c.health_id.type.length  # type: ignore[attr-defined]
    csv_text = HEADER + (
        f"{'H' * limit},Fits,30,M,9876543210,,Jayanagar,,,08-03-2027,,,\n"
        f"{'H' * 200},Too Long,30,M,9876543211,,Jayanagar,,,08-03-2027,,,\n"
    )
    with pytest.raises(ImportFailed) as failed:
        import_patient_rows(session, patient_csv_rows(io.StringIO(csv_text)))
    session.rollback()
    assert failed.value.report.errors == [f"line 3: 'health_id' is longer than {limit} characters"]
    assert session.scalar(select(func.count()).select_from(Patient).where(Patient.name == "Fits")) == 0


def test_it_refuses_a_patient_without_a_health_id_listed_twice(
    session: Session, district: dict[str, User]
) -> None:
    csv_text = HEADER + (
        ",Sunita Bai,30,F,9876543210,,Jayanagar,,,08-03-2027,,,\n"
        ",SUNITA  bai,31,F,+91 98765 43210,,Jayanagar,,,08-03-2027,,,\n"  # the same person, written otherwise
        ",Sunita Bai,30,F,9876543210,,Chando,,,08-03-2027,,,\n"  # another village: another person
        ",Arjun Paikra,31,M,9425200003,,Chando,,,08-03-2027,,,\n"  # the demo's DEMO-3, in isolation
        "H-5,Ravi Das,40,M,9876543212,,Chando,,,08-03-2027,,,\n"
        ",Ravi Das,40,M,9876543212,,Chando,,,08-03-2027,,,\n"  # as the row above, less its health_id
    )
    with pytest.raises(ImportFailed) as failed:
        import_patient_rows(session, patient_csv_rows(io.StringIO(csv_text)))
    session.rollback()
    assert failed.value.report.errors == [
        "line 3: same name, phone and village as line 2, and no health_id",
        "line 5: already in isolation with this name, phone and village, and no health_id",
        "line 7: same name, phone and village as line 6, and no health_id",
    ]
    arjun = session.scalars(select(Patient).where(Patient.health_id == "DEMO-3")).one()
    arjun.status = PatientStatus.discharged  # isolated again later: a new stay, not a duplicate
    fixed = "".join(line + "\n" for i, line in enumerate(csv_text.splitlines()) if i not in (2, 6))
    report = import_patient_rows(session, patient_csv_rows(io.StringIO(fixed)))
    session.commit()
    assert (report.created, report.updated) == (4, 0)
    assert len(session.scalars(select(Patient).where(Patient.name == "Arjun Paikra")).all()) == 2


def test_it_takes_indian_phone_numbers_only_in_any_digits(
    session: Session, district: dict[str, User]
) -> None:
    foreign = HEADER + "F-1,Foreign,30,M,+1 415 555 0100,,Jayanagar,,,08-03-2027,,,\n"
    with pytest.raises(ImportFailed) as failed:
        import_patient_rows(session, patient_csv_rows(io.StringIO(foreign)))
    session.rollback()
    assert failed.value.report.errors == ["line 2: invalid phone number '+1 415 555 0100'"]
    hindi = HEADER + "F-2,Hindi Digits,30,M,९८७६५ ४३२१०,,Jayanagar,,,08-03-2027,,,९४२५१ ००००१\n"
    import_patient_rows(session, patient_csv_rows(io.StringIO(hindi)))
    patient = session.scalars(select(Patient).where(Patient.health_id == "F-2")).one()
    assert patient.phone == "+919876543210" and patient.mitanin is not None


def test_it_refuses_a_file_without_the_needed_columns() -> None:
    with pytest.raises(ImportFailed) as failed:
        patient_csv_rows(io.StringIO("name,phone\nx,9876543210\n"))
    assert failed.value.report.errors == ["line 1: missing columns isolation_start, village"]


def test_it_updates_a_patient_on_reimport_by_health_id(session: Session, district: dict[str, User]) -> None:
    row = "H-7,Mohan,50,M,9876543210,,Jayanagar,,,08-03-2027,{end},,\n"
    import_patient_rows(session, patient_csv_rows(io.StringIO(HEADER + row.format(end="15-03-2027"))))
    session.commit()
    report = import_patient_rows(
        session, patient_csv_rows(io.StringIO(HEADER + row.format(end="20-03-2027")))
    )
    session.commit()
    assert (report.created, report.updated) == (0, 1)
    patients = session.scalars(select(Patient).where(Patient.health_id == "H-7")).all()
    assert [p.isolation_end for p in patients] == [date(2027, 3, 20)]


def test_it_writes_a_large_list_in_chunks_reporting_progress(
    session: Session, district: dict[str, User]
) -> None:
    rows = [
        {"name": f"रोगी {i}", "phone": f"98765{i:05d}", "village": "Chando", "isolation_start": "2027-03-08"}
        for i in range(CHUNK * 2 + 10)
    ]
    checked = check_patient_rows(session, rows)
    progress = [r.created for r in write_patients(session, checked)]
    session.commit()
    assert progress == [CHUNK, CHUNK * 2, CHUNK * 2 + 10]
    assert session.scalar(
        select(func.count()).select_from(Patient).where(Patient.name.like("रोगी %"))
    ) == len(rows)


# ---- the day's list


def test_it_makes_the_day_list_once_for_patients_in_isolation(
    session: Session, district: dict[str, User]
) -> None:
    isolating = make_patient(session)
    make_patient(session, phone="+919425300002", isolation_start=DAY + timedelta(days=1))  # not yet
    make_patient(session, phone="+919425300003", isolation_end=DAY - timedelta(days=1))  # over
    make_patient(session, phone="+919425300004", status=PatientStatus.admitted)
    assert make_day_list(session, DAY, "09:00", MORNING) == 1
    assert make_day_list(session, DAY, "09:00", MORNING) == 0  # the schedule fired twice
    assert make_day_list(session, DAY, "16:00", slot_due_at(DAY, "16:00")) == 1
    session.commit()
    calls = session.scalars(select(FollowUp).order_by(FollowUp.id)).all()
    assert [(c.patient_id, c.slot, c.status) for c in calls] == [
        (isolating.id, "09:00", "due"),
        (isolating.id, "16:00", "due"),
    ]
    assert MORNING == datetime(2027, 3, 10, 3, 30, tzinfo=UTC)  # 09:00 India time
    assert [c.slot for c in due_list(session, MORNING + timedelta(minutes=1))] == ["09:00"]
    assert due_list(session, MORNING + timedelta(days=1)) == []  # yesterday's undone calls stay history


def test_it_discharges_patients_whose_isolation_is_over(session: Session, district: dict[str, User]) -> None:
    over = make_patient(session, isolation_end=DAY)
    call = first_call(session, over)
    discharge_ended(session, DAY, MORNING)  # the demo patients, isolated around today
    session.commit()
    assert (over.status, call.status) == (PatientStatus.isolating, "due")  # its last day
    assert discharge_ended(session, DAY + timedelta(days=1), MORNING + timedelta(days=1)) == 1
    session.commit()
    session.refresh(over)
    session.refresh(call)
    assert (over.status, call.status) == (PatientStatus.discharged, "cancelled")


# ---- red flags


RULES = [
    SimpleNamespace(metric="spo2", op="<", value=94.0, active=True),
    SimpleNamespace(metric="temperature", op=">=", value=103.0, active=True),
    SimpleNamespace(metric="pulse", op=">", value=120.0, active=True),
    SimpleNamespace(metric="pulse", op="<", value=40.0, active=False),
]
SYMPTOMS = [
    SimpleNamespace(code="breathlessness", name="Breathlessness", red_flag=True, active=True),
    SimpleNamespace(code="cough", name="Cough", red_flag=False, active=True),
    SimpleNamespace(code="confusion", name="Confusion or drowsiness", red_flag=True, active=False),
]


@pytest.mark.parametrize(
    ("spo2", "temperature", "pulse", "symptoms", "flags"),
    [
        (97, 98.6, 80, [], []),
        (94, 102.9, 120, ["cough"], []),  # on the limits: not crossed
        (93, None, None, [], ["SpO2 93% (< 94)"]),
        (None, 103.0, None, [], ["Temperature 103 °F (>= 103)"]),
        (None, None, 121, [], ["Pulse 121/min (> 120)"]),
        (None, None, 35, [], []),  # an inactive rule
        (96, None, None, ["breathlessness", "cough"], ["Breathlessness"]),
        (96, None, None, ["confusion"], []),  # an inactive symptom
        (88, 104.5, 130, ["breathlessness"], [
            "SpO2 88% (< 94)", "Temperature 104.5 °F (>= 103)", "Pulse 130/min (> 120)", "Breathlessness",
        ]),
    ],
)  # fmt: skip
def test_it_finds_red_flags(
    spo2: int | None, temperature: float | None, pulse: int | None, symptoms: list[str], flags: list[str]
) -> None:
    assert red_flags(spo2, temperature, pulse, symptoms, RULES, SYMPTOMS) == flags


def test_a_red_flag_reading_opens_an_emergency_case(session: Session, district: dict[str, User]) -> None:
    patient = make_patient(session, misses_in_row=2, conditions="asthma")
    call = first_call(session, patient)
    now = MORNING + timedelta(minutes=5)
    vitals = Vitals(spo2=91, temperature=100.4, pulse=96, symptoms=("breathlessness", "cough"), note="थकान")
    reading = record_reading(session, call, vitals, district["operator"], now, "SRJ")
    session.commit()
    assert reading.red_flags == ["SpO2 91% (< 94)", "Breathlessness"]
    case = session.get_one(Case, reading.case_id)
    assert (case.emergency, case.patient_id, case.phone, case.caller_name) == (
        True,
        patient.id,
        patient.phone,
        "सीता बाई",
    )
    assert (
        "SpO2 91%" in case.description and "Red flags: SpO2 91% (< 94); Breathlessness." in case.description
    )
    assert "थकान" in case.description and "asthma" in case.description
    session.refresh(patient)
    session.refresh(call)
    assert (patient.misses_in_row, call.status, call.attempts) == (0, "done", 1)
    with pytest.raises(CallClosed):  # the form sent twice
        record_reading(session, call, vitals, district["operator"], now, "SRJ")


@pytest.mark.parametrize(
    ("stored", "hindi"),
    [
        ("SpO2 88% (< 94)", "SpO2 88% (< 94)"),
        ("Temperature 104.5 °F (>= 103)", "तापमान 104.5 °F (>= 103)"),
        ("Pulse 130/min (> 120)", "नाड़ी 130/मिनट (> 120)"),
        ("Breathlessness", "साँस फूलना"),
        ("A symptom since renamed", "A symptom since renamed"),  # kept as written
    ],
)
def test_it_shows_a_red_flag_in_the_readers_language(stored: str, hindi: str) -> None:
    names = {"Breathlessness": "साँस फूलना"}
    assert (flag_label(stored, "hi", names), flag_label(stored, "en", names)) == (hindi, stored)


def test_it_describes_a_hindi_operators_emergency_in_hindi(
    session: Session, district: dict[str, User]
) -> None:
    district["operator"].language = "hi"
    patient = make_patient(session, conditions="दमा")
    call = first_call(session, patient)
    vitals = Vitals(spo2=91, pulse=96, symptoms=("breathlessness", "cough"), note="थकान")
    reading = record_reading(session, call, vitals, district["operator"], MORNING, "SRJ")
    session.commit()
    assert reading.red_flags == ["SpO2 91% (< 94)", "Breathlessness"]  # stored once, shown in each language
    case = session.get_one(Case, reading.case_id)
    assert case.description == (
        "सीता बाई का होम आइसोलेशन फ़ॉलो-अप: SpO2 91%; नाड़ी 96/मिनट; लक्षण: साँस फूलना, खाँसी।\n"
        "खतरे के संकेत: SpO2 91% (< 94); साँस फूलना।\n"
        "टिप्पणी: थकान\n"
        "बीमारियाँ: दमा"
    )


def test_a_normal_reading_opens_no_case(session: Session, district: dict[str, User]) -> None:
    call = first_call(session, make_patient(session))
    reading = record_reading(session, call, Vitals(spo2=97), district["operator"], MORNING, "SRJ")
    session.commit()
    assert (reading.red_flags, reading.case_id) == ([], None)
    assert session.scalar(select(func.count()).select_from(Case)) == 0


# ---- misses


def test_it_tries_an_unreachable_patient_again_later_the_same_day(
    session: Session, district: dict[str, User]
) -> None:
    call = first_call(session, make_patient(session))
    assert not record_unreachable(session, call, district["operator"], MORNING, limit=5)
    session.commit()
    assert (call.status, call.attempts, call.due_at) == (
        "due",
        1,
        MORNING + timedelta(hours=1),
    )
    assert due_list(session, MORNING + timedelta(minutes=30)) == []
    assert due_list(session, MORNING + timedelta(hours=1)) == [call]
    late = datetime(2027, 3, 10, 17, 45, tzinfo=UTC)  # 23:15 India time: no retry after midnight
    assert not record_unreachable(session, call, district["operator"], late, limit=5)
    session.commit()
    assert (call.status, call.attempts) == ("unreachable", 2)
    assert call.patient.misses_in_row == 2


def test_it_alerts_at_the_miss_limit_once_and_again_after_a_new_run_of_misses(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    SENT.clear()
    FAILING.clear()
    settings = dataclasses.replace(settings, sms_url="alertcap://sms{phone}")
    factory = get_sessionmaker(settings.database_url)
    patient = alerted_patient(session, district)
    call = first_call(session, patient)
    reached = []
    for minutes in (0, 60, 120, 180):
        reached.append(
            record_unreachable(session, call, district["operator"], MORNING + timedelta(minutes=minutes), 3)
        )
        session.commit()
    assert reached == [False, False, True, False]
    [first] = unsent_alerts(session)
    assert deliver_alert(factory, first, settings, MORNING + timedelta(hours=4)) == 2
    assert [m["to"] for m in SENT] == ["sms%2B919425100001", "doctor"]
    # An answered call starts the count again; a new run of misses alerts again.
    evening = first_call(session, patient, "16:00")
    session.expire_all()  # recorded in a request of its own, which reads the patient's 4 misses
    record_reading(
        session, evening, Vitals(spo2=97), district["operator"], MORNING + timedelta(hours=7), "SRJ"
    )
    session.commit()
    session.refresh(patient)
    assert patient.misses_in_row == 0
    next_day = DAY + timedelta(days=1)
    next_morning = slot_due_at(next_day, "09:00")
    make_day_list(session, next_day, "09:00", next_morning)
    session.commit()
    tomorrow = session.scalar(
        select(FollowUp).where(FollowUp.patient_id == patient.id, FollowUp.day == next_day)
    )
    assert tomorrow is not None
    reached = []
    for minutes in (0, 60, 120):
        reached.append(
            record_unreachable(
                session, tomorrow, district["operator"], next_morning + timedelta(minutes=minutes), 3
            )
        )
        session.commit()
    assert reached == [False, False, True]
    [second] = unsent_alerts(session)
    assert second != first
    assert deliver_alert(factory, second, settings, next_morning + timedelta(hours=3)) == 2
    assert [m["to"] for m in SENT] == ["sms%2B919425100001", "doctor"] * 2
    alerts = session.scalars(select(FollowUpAlert).order_by(FollowUpAlert.id)).all()
    assert [(a.patient_id, a.follow_up_id, a.attempt, a.misses) for a in alerts] == [
        (patient.id, call.id, 3, 3),
        (patient.id, tomorrow.id, 3, 3),
    ]


def test_it_ends_follow_ups_on_admission(session: Session, district: dict[str, User]) -> None:
    patient = make_patient(session)
    call = first_call(session, patient)
    end_follow_ups(session, patient.id, PatientStatus.admitted, MORNING)
    session.commit()
    session.refresh(patient)
    assert (patient.status, call.status) == (PatientStatus.admitted, "cancelled")
    assert make_day_list(session, DAY, "16:00", MORNING) == 0
    with pytest.raises(CallClosed):
        record_unreachable(session, call, district["operator"], MORNING, 3)


def test_it_sends_a_miss_alert_to_the_mitanin_and_the_duty_doctor_once(
    settings: Settings, session: Session, district: dict[str, User]
) -> None:
    SENT.clear()
    FAILING.clear()
    settings = dataclasses.replace(settings, sms_url="alertcap://sms{phone}")
    patient = alerted_patient(session, district)
    call = first_call(session, patient)
    for minutes in (0, 60, 120):
        record_unreachable(session, call, district["operator"], MORNING + timedelta(minutes=minutes), 3)
        session.commit()
    [alert_id] = unsent_alerts(session)
    factory = get_sessionmaker(settings.database_url)

    FAILING.add("doctor")
    with pytest.raises(DeliveryFailed):
        deliver_alert(factory, alert_id, settings, MORNING + timedelta(hours=3))
    assert [m["to"] for m in SENT] == ["sms%2B919425100001"]
    FAILING.clear()
    assert deliver_alert(factory, alert_id, settings, MORNING + timedelta(hours=4)) == 2
    assert deliver_alert(factory, alert_id, settings, MORNING + timedelta(hours=5)) == 0
    assert [m["to"] for m in SENT] == ["sms%2B919425100001", "doctor"]
    assert "सीता बाई" in SENT[0]["title"] and "3" in SENT[0]["title"]  # Mitanins read Hindi
    assert f"/patients/{patient.id}" in SENT[1]["body"]
    assert unsent_alerts(session) == []
    deliveries = session.scalars(select(AlertDelivery).order_by(AlertDelivery.id)).all()
    assert [(d.recipient, d.status, d.attempts) for d in deliveries] == [
        ("mitanin", "sent", 1),
        ("doctor", "sent", 2),
    ]
    assert session.scalar(select(func.count()).select_from(Reading)) == 0
