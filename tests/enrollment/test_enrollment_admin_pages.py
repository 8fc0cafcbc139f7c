"""The admins' enrollment pages: a token for a class, a group, personal devices or a trolley,
shown once with its printable sheet (PDF with the steps and QR codes), its enrolled devices,
revoking it; roles, schools and CSRF."""

import base64
import io
import re
from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from enrollment.models import EnrollmentToken
from mdm.accounts.models import School, User
from mdm.devices.models import Group
from mdm.extensions import db
from tests.fixtures.pages import csrf_of

PageClient = Callable[[User], FlaskClient]
PDF_LINK = re.compile(r'href="data:application/pdf;base64,([^"]+)"')


def _create(client: FlaskClient, **fields: str):
    token = csrf_of(client, "/admin/enrollment")
    return client.post("/admin/enrollment", data={"csrf_token": token, **fields})


def _sheet(html: str) -> str:
    pdf = base64.b64decode(PDF_LINK.search(html).group(1))
    assert pdf.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_token_for_a_class_is_shown_once_with_its_sheet(
    page_client: PageClient, school_admin: User, school: School
) -> None:
    group = Group(school_id=school.id, kind="class", name="7a", class_key="7a")
    db.session.add(group)
    db.session.commit()
    client = page_client(school_admin)

    answer = _create(
        client,
        purpose="class",
        class_id=str(group.id),
        user_role="student",
        platform="android",
        max_uses="30",
        valid_days="7",
        label="Tablets 7a",
    )

    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "nur jetzt angezeigt" in html
    token = db.session.scalar(select(EnrollmentToken))
    assert token.classes == ["7a"] and token.max_uses == 30 and token.platform == "android"
    secret = re.search(r"/enroll/(et_[A-Za-z0-9_-]{43})", html).group(1)
    assert 'src="data:image/svg+xml;base64,' in html
    text = _sheet(html)
    assert "Gerät bei Gymnasium A einschreiben" in text
    assert "Agent-Software auf dem Gerät installieren und öffnen." in text
    assert secret in text.replace("\n", "")
    # Afterwards the secret is never shown again.
    detail = client.get(f"/admin/enrollment/{token.id}").get_data(as_text=True)
    assert secret not in detail and token.lookup_key in detail
    assert secret not in client.get("/admin/enrollment").get_data(as_text=True)


def test_a_trolley_gets_a_sheet_with_one_named_qr_code_per_slot(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    answer = _create(
        client,
        purpose="trolley",
        trolley="Koffer 3",
        device_word="iPad",
        slots="16",
        first_slot="1",
        platform="ipados",
    )
    html = answer.get_data(as_text=True)
    assert "16 Einschreibe-Codes für Koffer 3 angelegt" in html
    names = db.session.scalars(select(EnrollmentToken.device_name).order_by(EnrollmentToken.id))
    assert list(names)[:2] == ["Koffer 3 – iPad 1", "Koffer 3 – iPad 2"]
    text = _sheet(html)
    for number in (1, 12, 16):
        assert f"Koffer 3 – iPad {number}" in text


def test_an_invalid_form_names_the_field_and_creates_nothing(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    no_class = _create(client, purpose="class", user_role="student")
    assert no_class.status_code == 400 and "Bitte wählen Sie eine Klasse" in no_class.get_data(
        as_text=True
    )
    answer = _create(client, purpose="trolley", trolley="", device_word="iPad", slots="500")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400 and 'id="f-slots-error"' in html
    assert 'id="f-trolley-error"' in html
    assert db.session.scalar(select(EnrollmentToken)) is None


def test_the_token_page_lists_who_enrolled_what_and_revokes_after_a_confirmation(
    page_client: PageClient,
    school_admin: User,
    student: User,
    headers: Callable[[User], dict[str, str]],
    make_token: Callable[..., dict[str, Any]],
    enroll: Callable[..., Any],
) -> None:
    issued = make_token(max_uses=3)
    enroll(issued["secret"], name="Tablet Lena", headers=headers(student))
    client = page_client(school_admin)
    path = f"/admin/enrollment/{issued['token']['id']}"

    html = client.get(path).get_data(as_text=True)
    assert "Tablet Lena" in html and student.display_name in html

    token = csrf_of(client, path)
    asked = client.post(f"{path}/revoke", data={"csrf_token": token})
    assert "Bitte bestätigen" in asked.get_data(as_text=True)
    assert db.session.get(EnrollmentToken, issued["token"]["id"]).revoked_at is None
    client.post(f"{path}/revoke", data={"csrf_token": token, "confirmed": "yes"})
    db.session.expire_all()
    assert db.session.get(EnrollmentToken, issued["token"]["id"]).revoked_at is not None
    assert "zurückgezogen" in client.get(path).get_data(as_text=True)


def test_roles_schools_and_csrf(
    page_client: PageClient,
    school_admin: User,
    teacher: User,
    create_user: Callable[..., User],
    other_school: School,
    make_token: Callable[..., dict[str, Any]],
) -> None:
    issued = make_token()
    assert page_client(teacher).get("/admin/enrollment").status_code == 403
    stranger = page_client(create_user("school_admin", other_school))
    path = f"/admin/enrollment/{issued['token']['id']}"
    assert stranger.get(path).status_code == 404
    answer = stranger.post(
        f"{path}/revoke",
        data={"csrf_token": csrf_of(stranger, "/admin/enrollment"), "confirmed": "yes"},
    )
    assert answer.status_code == 404
    client = page_client(school_admin)
    assert client.post("/admin/enrollment", data={"purpose": "byod"}).status_code == 400
    assert db.session.scalar(select(EnrollmentToken.revoked_at)) is None
    assert len(db.session.scalars(select(EnrollmentToken)).all()) == 1
