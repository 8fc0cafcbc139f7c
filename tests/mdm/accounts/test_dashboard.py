"""The dashboard counts what a school admin checks: devices by status and ownership, silent
ones, non-compliant ones, pending and failed commands, the last import, today's substitutions."""

import re
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

from flask.testing import FlaskClient

from mdm.accounts.models import School, User
from mdm.commands.models import Command, CommandBatch
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.types import utcnow
from mdm.policies.models import DevicePolicyState
from schedules.models import Substitution, TimetableImport


def figures(html: str) -> dict[str, str]:
    """Label -> value of the dashboard's figures."""
    found = re.findall(r'<span class="value">([^<]*)</span> ([^<\n]+)', html)
    return {label.strip(): value for value, label in found}


def add_device(school: School, **fields: object) -> Device:
    fields = {"ownership": "school", "platform": "android", "name": "Tablet", **fields}
    device = Device(school_id=school.id, user_role="student", **fields)
    db.session.add(device)
    db.session.flush()
    return device


def test_a_school_admin_sees_the_figures_of_their_school(
    page_client: Callable[..., FlaskClient],
    school_admin: User,
    school: School,
    other_school: School,
) -> None:
    now = utcnow()
    seen = add_device(school, last_seen_at=now)
    add_device(school, ownership="byod", last_seen_at=now - timedelta(days=8))
    add_device(school, status="retired")
    add_device(other_school, last_seen_at=now - timedelta(days=30))
    db.session.add(
        DevicePolicyState(
            device_id=seen.id,
            school_id=school.id,
            desired_hash="a",
            sent_hash="a",
            applied_hash="a",
            failed_count=2,
        )
    )
    batch = CommandBatch(
        school_id=school.id,
        type="lock",
        target="devices",
        created_by="admin-a",
        expires_at=now + timedelta(days=1),
    )
    db.session.add(batch)
    db.session.flush()
    for status, finished in (
        ("queued", None),
        ("sent", None),
        ("error", now),
        ("acknowledged", now),
    ):
        db.session.add(
            Command(
                batch_id=batch.id,
                school_id=school.id,
                device_id=seen.id,
                type="lock",
                status=status,
                expires_at=now + timedelta(days=1),
                finished_at=finished,
            )
        )
    db.session.add(
        TimetableImport(school_id=school.id, source="upload", actor="admin-a", created_at=now)
    )
    db.session.add(
        Substitution(
            school_id=school.id,
            key="s1",
            date=now.astimezone(ZoneInfo("Europe/Berlin")).date(),
            period=1,
            period_to=1,
            kind="cancellation",
            content_hash="x",
        )
    )
    db.session.commit()

    html = page_client(school_admin).get("/admin").get_data(as_text=True)
    shown = figures(html)
    assert shown["Geräte eingeschrieben"] == "2"
    assert shown["davon schuleigen"] == "1"
    assert shown["davon private (BYOD)"] == "1"
    assert shown["Geräte ausgemustert"] == "1"
    assert shown["Seit 7 Tagen nicht gemeldet"] == "1"
    assert shown["Nicht regelkonform"] == "1"
    assert shown["Befehle unterwegs"] == "2"
    assert shown["Befehle fehlgeschlagen (7 Tage)"] == "1"
    assert shown["Vertretungen heute"] == "1"
    assert re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", shown["Letzter Stundenplan-Import"])
