"""Demo data of enrollment: a privacy notice, groups, tokens and enrolled devices of both kinds."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from enrollment import service
from enrollment.models import EnrollmentToken
from mdm.accounts.models import School, User
from mdm.devices import groups
from mdm.devices.models import Group
from mdm.devices.service import DeviceFacts
from mdm.platform.actors import Actor
from mdm.platform.http import BaseUrlMissing

NOTICE = (
    "Die Schule verwaltet auf Ihrem eigenen Gerät nur ihre eigenen Einstellungen und Apps.\n"
    "Sie speichert Gerätemodell, Systemversion und Gerätename, nie Seriennummer, IMEI, "
    "MAC-Adressen, Telefonnummer, Standort oder Ihre privaten Apps.\n"
    "Sie können die Verwaltung jederzeit selbst beenden."
)
SCHOOL_TOKEN = "Demo: iPads der 5a"
BYOD_TOKEN = "Demo: Diensthandys der Lehrkräfte (BYOD)"


def _group(session: Session, actor: Actor, school: School, kind: str, name: str) -> Group:
    group = session.scalar(select(Group).where(Group.school_id == school.id, Group.name == name))
    if group is None:
        group = groups.create_group(session, actor, kind=kind, name=name, school_id=school.id)
    return group


def seed(session: Session, school: School, actor: Actor) -> list[str]:
    """Create the demo's enrollment data once; running it again changes nothing."""
    exists = session.scalar(
        select(EnrollmentToken.id).where(
            EnrollmentToken.school_id == school.id, EnrollmentToken.label == SCHOOL_TOKEN
        )
    )
    if exists is not None:
        return ["Demo devices and enrollment tokens exist (the tokens' secrets were shown once)."]
    if service.current_notice(session, school.id) is None:
        service.create_notice(session, actor, NOTICE, school_id=school.id)
    notice = service.current_notice(session, school.id)
    assert notice is not None
    class_5a = _group(session, actor, school, "class", "5a")
    teachers = _group(session, actor, school, "teachers", "Lehrkräfte")
    students = session.scalars(
        select(User).where(User.school_id == school.id, User.class_name == "5a")
    )
    groups.add_users(session, actor, class_5a.id, [user.id for user in students])
    school_token = service.create_token(
        session,
        actor,
        school_id=school.id,
        label=SCHOOL_TOKEN,
        ownership="school",
        user_role="student",
        platform="ipados",
        max_uses=30,
        group_ids=[class_5a.id],
    )
    byod_token = service.create_token(
        session,
        actor,
        school_id=school.id,
        label=BYOD_TOKEN,
        ownership="byod",
        user_role="teacher",
        platform="android",
        max_uses=50,
        group_ids=[teachers.id],
    )
    for number in (1, 2):
        service.enroll(
            session,
            secret=school_token.secret,
            facts=DeviceFacts(
                platform="ipados",
                model="iPad (10th generation)",
                os_version="17.5",
                name=f"iPad 5a-{number:02d}",
                inventory={"serial_number": f"DMPX0000{number}", "storage_gb": 64},
            ),
            csr_pem=None,
            owner=None,
            privacy_notice_version=None,
            address=None,
        )
    owner = session.scalar(select(User).where(User.username == "s.mueller"))
    if owner is not None:
        service.enroll(
            session,
            secret=byod_token.secret,
            facts=DeviceFacts(
                platform="android",
                model="Pixel 8",
                os_version="14",
                name="Handy S. Müller",
                inventory={"imei": "350000000000001", "battery": 81, "apps": ["chat"]},
            ),
            csr_pem=None,
            owner=owner,
            privacy_notice_version=notice.version,
            address=None,
        )
    return [
        "Demo devices: two school iPads of class 5a, one BYOD phone of s.mueller",
        f"Enrollment link for more iPads of 5a: {_link(school_token)}",
        f"Enrollment link for teachers' own phones: {_link(byod_token)}",
    ]


def _link(token: service.IssuedToken) -> str:
    """The token's enrollment link; without BASE_URL outside a request (`mdm demo`), its path
    (its secret is shown only this once)."""
    try:
        return token.enrollment_url
    except BaseUrlMissing:
        return (
            f"/enroll/{token.secret} on the service's address "
            "(set MDM_BASE_URL to have whole links printed)"
        )
