"""A trolley of shared tablets: one token per slot, each naming the device it enrolls, and the
list of who enrolled what with a token."""

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from enrollment import service
from enrollment.models import EnrollmentToken, TokenEnrollment
from mdm.accounts.models import School, User
from mdm.devices.models import Device
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import ValidationFailed

Headers = Callable[[User], dict[str, str]]


def _actor(user: User) -> Actor:
    return Actor(name=user.username, role=user.role, user_id=user.id, school_id=user.school_id)


def test_a_token_with_a_device_name_names_the_device_it_enrolls(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    make_token: Callable[..., dict[str, Any]],
    enroll: Callable[..., Any],
) -> None:
    issued = make_token(user_role="shared", max_uses=1, device_name="Koffer 3 – iPad 12")
    assert issued["token"]["device_name"] == "Koffer 3 – iPad 12"

    answer = enroll(issued["secret"], name="iPad von Max")

    assert answer.status_code == 201
    device = db.session.get(Device, answer.get_json()["device_id"])
    assert device.name == "Koffer 3 – iPad 12"


def test_a_named_token_enrolls_one_device_only(
    client: FlaskClient, headers: Headers, school_admin: User
) -> None:
    answer = client.post(
        "/api/v1/enrollment-tokens",
        json={"ownership": "school", "user_role": "shared", "max_uses": 2, "device_name": "X 1"},
        headers=headers(school_admin),
    )
    assert answer.status_code == 400
    assert "max_uses" in answer.get_json()["errors"]
    assert db.session.scalar(select(EnrollmentToken)) is None


def test_a_trolley_gets_one_token_per_slot_in_order(school_admin: User, school: School) -> None:
    issued = service.create_trolley_tokens(
        db.session,
        _actor(school_admin),
        trolley="Koffer 3",
        device_word="iPad",
        slots=16,
        platform="ipados",
    )

    assert [i.token.device_name for i in issued][:2] == ["Koffer 3 – iPad 1", "Koffer 3 – iPad 2"]
    assert issued[-1].token.device_name == "Koffer 3 – iPad 16"
    assert len({i.secret for i in issued}) == 16
    assert {(i.token.max_uses, i.token.user_role, i.token.ownership) for i in issued} == {
        (1, "shared", "school")
    }
    assert {i.token.label for i in issued} == {"Koffer 3"}


def test_a_trolley_without_a_name_or_with_too_many_slots_is_refused(
    school_admin: User, school: School
) -> None:
    try:
        service.create_trolley_tokens(
            db.session, _actor(school_admin), trolley=" ", device_word="iPad", slots=101
        )
    except ValidationFailed as exc:
        assert set(exc.errors) == {"trolley", "slots"}
    else:
        raise AssertionError("refused")
    assert db.session.scalar(select(EnrollmentToken)) is None


def test_the_token_lists_the_devices_enrolled_with_it_and_their_users(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    student: User,
    make_token: Callable[..., dict[str, Any]],
    enroll: Callable[..., Any],
) -> None:
    issued = make_token(max_uses=5)
    first = enroll(issued["secret"], name="Tablet A", headers=headers(student)).get_json()
    second = enroll(issued["secret"], name="Tablet B").get_json()

    listed = client.get(
        f"/api/v1/enrollment-tokens/{issued['token']['id']}/devices",
        headers=headers(school_admin),
    )

    assert listed.status_code == 200
    rows = listed.get_json()
    assert [(r["device_id"], r["device_name"], r["user"]) for r in rows] == [
        (first["device_id"], "Tablet A", student.username),
        (second["device_id"], "Tablet B", None),
    ]
    assert db.session.scalar(select(TokenEnrollment.token_id)) == issued["token"]["id"]


def test_another_schools_admin_sees_no_enrollments_of_the_token(
    client: FlaskClient,
    headers: Headers,
    create_user: Callable[..., User],
    other_school: School,
    make_token: Callable[..., dict[str, Any]],
) -> None:
    issued = make_token()
    stranger = create_user("school_admin", other_school)
    listed = client.get(
        f"/api/v1/enrollment-tokens/{issued['token']['id']}/devices", headers=headers(stranger)
    )
    assert listed.status_code == 404


def test_the_migration_finds_earlier_enrollments_in_the_audit_log(tmp_path: Any) -> None:
    from flask_migrate import downgrade, upgrade

    from mdm import create_app
    from mdm.platform import audit
    from mdm.platform.types import utcnow
    from tests.conftest import test_config

    app = create_app(test_config(f"sqlite:///{tmp_path / 'migrated.sqlite3'}"))
    with app.app_context():
        upgrade()
        school = School(slug="s", name="S")
        db.session.add(school)
        db.session.flush()
        token = EnrollmentToken(
            school_id=school.id,
            lookup_key="et_abcdefgh",
            token_hash="0" * 64,
            ownership="school",
            user_role="shared",
            expires_at=utcnow(),
            max_uses=1,
        )
        device = Device(
            school_id=school.id, ownership="school", platform="ios", name="iPad", user_role="shared"
        )
        db.session.add_all([token, device])
        db.session.flush()
        system = Actor(name="agent", role="device", school_id=school.id)
        audit.record(
            db.session,
            system,
            "device.enroll",
            "device",
            device.id,
            school_id=school.id,
            details={"token_id": token.id},
        )
        audit.record(
            db.session,
            system,
            "device.enroll",
            "device",
            999,
            school_id=school.id,
            details={"token_id": token.id},
        )
        expected = [(device.id, token.id)]
        db.session.commit()
        downgrade(revision="0015_admin_pages")
        upgrade()
        rows = db.session.execute(select(TokenEnrollment.device_id, TokenEnrollment.token_id)).all()
        db.engine.dispose()
    assert rows == expected
