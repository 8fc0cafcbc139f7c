"""Classes are device groups: every class of the timetable and of the students' accounts has a
group of its name with the class's students and their devices, kept in sync."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.devices import class_groups
from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.models import AuditEvent

Headers = Callable[[User], dict[str, str]]
OFFICE = "Vorname;Nachname;Klasse\nLena;Schmidt;5a\nJonas;Hoffmann;5a\nEmma;Klein;7a\n"


def members(name: str, school: School) -> tuple[list[str], list[int]]:
    """(usernames, device ids) of a school's group."""
    group = db.session.scalar(select(Group).where(Group.school_id == school.id, Group.name == name))
    assert group is not None, f"no group {name}"
    db.session.refresh(group)
    return sorted(user.username for user in group.users), sorted(d.id for d in group.devices)


def import_users(client: FlaskClient, school: School, admin: User, headers: Headers, text: str):
    response = client.post(
        f"/api/v1/schools/{school.id}/users/import?role=student",
        headers=headers(admin),
        data=text.encode(),
        content_type="text/csv",
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def import_classes(client: FlaskClient, school: School, admin: User, headers: Headers, *names):
    gpu003 = "".join(f'"{name}","Klasse {name}"\r\n' for name in names).encode("cp1252")
    response = client.post(
        f"/api/v1/schools/{school.id}/timetable/imports?force=1",
        data={"files": [(io.BytesIO(gpu003), "GPU003.TXT")]},
        headers=headers(admin),
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_imported_students_are_in_their_class_groups(
    client: FlaskClient, headers: Headers, school_admin: User, school: School
) -> None:
    report = import_users(client, school, school_admin, headers, OFFICE)

    assert report["class_groups"]["created"] == ["5a", "7a"]
    assert members("5a", school) == (["jonas.hoffmann", "lena.schmidt"], [])
    assert members("7a", school) == (["emma.klein"], [])
    listed = client.get("/api/v1/groups", headers=headers(school_admin)).get_json()
    assert {(g["name"], g["kind"], g["synced_with_class"]) for g in listed} == {
        ("5a", "class", True),
        ("7a", "class", True),
    }


def test_a_group_an_admin_made_for_a_class_is_filled(
    client: FlaskClient, headers: Headers, school_admin: User, school: School
) -> None:
    import_users(client, school, school_admin, headers, OFFICE.replace("7a", "7b"))

    created = client.post(
        "/api/v1/groups", json={"kind": "class", "name": "7a"}, headers=headers(school_admin)
    )
    import_users(client, school, school_admin, headers, OFFICE)

    assert created.status_code == 201
    assert members("7a", school) == (["emma.klein"], [])
    assert db.session.scalar(select(func.count()).select_from(Group)) == 3


def test_the_timetables_classes_are_groups_too(
    client: FlaskClient, headers: Headers, school_admin: User, school: School
) -> None:
    import_users(client, school, school_admin, headers, OFFICE)

    report = import_classes(client, school, school_admin, headers, "5a", "5b", "7a")

    assert report["class_groups"]["created"] == ["5b"]
    assert members("5b", school) == ([], [])
    assert members("5a", school)[0] == ["jonas.hoffmann", "lena.schmidt"]


def test_a_student_moving_class_moves_groups_with_the_devices(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
) -> None:
    import_users(client, school, school_admin, headers, OFFICE)
    lena = db.session.scalar(select(User).where(User.username == "lena.schmidt"))
    secret = make_token(user_role="student")["secret"]
    device_id = enroll(secret, headers=headers(lena)).get_json()["device_id"]
    assert members("5a", school)[1] == [device_id]
    version = db.session.get(Device, device_id).config_version

    moved = client.patch(
        f"/api/v1/users/{lena.id}", json={"class_name": "6a"}, headers=headers(school_admin)
    )

    assert moved.status_code == 200
    assert members("5a", school) == (["jonas.hoffmann"], [])
    assert members("6a", school) == (["lena.schmidt"], [device_id])
    device = db.session.get(Device, device_id)
    db.session.refresh(device)
    assert device.config_version == version + 1
    assert [g.name for g in device.groups] == ["6a"]


def test_a_class_gone_from_every_source_keeps_its_group_emptied_and_marked(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    teacher: User,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
) -> None:
    import_users(client, school, school_admin, headers, OFFICE)
    import_classes(client, school, school_admin, headers, "5a", "7a")
    group = db.session.scalar(select(Group).where(Group.name == "7a"))
    shared = enroll(make_token(user_role="shared", group_ids=[group.id])["secret"]).get_json()
    auth = headers(school_admin)
    client.post(f"/api/v1/groups/{group.id}/users", json={"user_ids": [teacher.id]}, headers=auth)

    import_users(client, school, school_admin, headers, OFFICE.replace(";7a", ";8a"))
    report = import_classes(client, school, school_admin, headers, "5a", "8a")

    assert report["class_groups"]["gone"] == ["7a"]
    assert members("7a", school) == ([teacher.username], [shared["device_id"]])
    body = client.get(f"/api/v1/groups/{group.id}", headers=auth).get_json()
    assert body["class_gone_at"] is not None and body["synced_with_class"] is True
    assert members("8a", school)[0] == ["emma.klein"]

    back = import_classes(client, school, school_admin, headers, "5a", "7a", "8a")
    assert back["class_groups"]["back"] == ["7a"]
    assert (
        client.get(f"/api/v1/groups/{group.id}", headers=auth).get_json()["class_gone_at"] is None
    )


def test_admins_own_groups_stay_untouched(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
) -> None:
    auth = headers(school_admin)
    import_users(client, school, school_admin, headers, OFFICE)
    lena = db.session.scalar(select(User).where(User.username == "lena.schmidt"))
    custom = client.post("/api/v1/groups", json={"kind": "custom", "name": "9c"}, headers=auth)
    band = client.post(
        "/api/v1/groups", json={"kind": "class", "name": "Bläserklasse"}, headers=auth
    )
    for group in (custom, band):
        client.post(
            f"/api/v1/groups/{group.get_json()['id']}/users",
            json={"user_ids": [lena.id]},
            headers=auth,
        )

    report = import_users(client, school, school_admin, headers, OFFICE + "Max;Muster;9c\n")

    assert report["class_groups"]["name_taken"] == ["9c"]
    assert members("9c", school) == (["lena.schmidt"], [])
    assert members("Bläserklasse", school) == (["lena.schmidt"], [])
    assert (
        client.get(f"/api/v1/groups/{custom.get_json()['id']}", headers=auth).get_json()[
            "synced_with_class"
        ]
        is False
    )


def test_a_renamed_class_group_becomes_the_admins(
    client: FlaskClient, headers: Headers, school_admin: User, school: School
) -> None:
    import_users(client, school, school_admin, headers, OFFICE)
    group = db.session.scalar(select(Group).where(Group.name == "5a"))

    client.patch(
        f"/api/v1/groups/{group.id}", json={"name": "5a 2025"}, headers=headers(school_admin)
    )

    assert members("5a 2025", school)[0] == ["jonas.hoffmann", "lena.schmidt"]
    assert members("5a", school)[0] == ["jonas.hoffmann", "lena.schmidt"]
    assert db.session.get(Group, group.id).class_key is None


def test_new_enrollments_land_in_the_owners_class_group(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    notice: dict[str, Any],
) -> None:
    import_users(client, school, school_admin, headers, OFFICE)
    emma = db.session.scalar(select(User).where(User.username == "emma.klein"))
    token = make_token(user_role="student", class_name="5a")
    assert token["token"]["classes"] == ["5a"]

    tablet = enroll(token["secret"], headers=headers(emma)).get_json()
    byod = enroll(
        make_token(ownership="byod")["secret"], headers=headers(emma), privacy_notice_version=1
    ).get_json()
    cart = enroll(make_token(user_role="shared", class_name="5a")["secret"]).get_json()

    assert tablet["configuration"]["groups"] == ["7a"]
    assert byod["configuration"]["groups"] == ["7a"]
    assert cart["configuration"]["groups"] == ["5a"]
    assert members("7a", school)[1] == sorted([tablet["device_id"], byod["device_id"]])


def test_a_token_for_a_class_names_it(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    make_token: Callable[..., Any],
) -> None:
    import_users(client, school, school_admin, headers, OFFICE)
    token = make_token(user_role="shared", class_name="7A")

    listed = client.get("/api/v1/enrollment-tokens", headers=headers(school_admin)).get_json()
    page = client.get(f"/enroll/{token['secret']}")

    assert listed[0]["classes"] == ["7a"]
    assert "Geräte dieses Links kommen in die Klasse 7a" in page.get_data(as_text=True)
    unknown = client.post(
        "/api/v1/enrollment-tokens",
        json={"ownership": "school", "user_role": "student", "class_name": "9z"},
        headers=headers(school_admin),
    )
    assert unknown.status_code == 400 and "class_name" in unknown.get_json()["errors"]


def test_a_device_given_to_a_student_joins_the_class_group(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    student: User,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
) -> None:
    device_id = enroll(make_token(user_role="student")["secret"]).get_json()["device_id"]

    client.patch(
        f"/api/v1/devices/{device_id}", json={"user_id": student.id}, headers=headers(school_admin)
    )

    assert members("7a", school) == ([student.username], [device_id])
    assert db.session.get(Device, device_id).config_version == 2


@pytest.mark.parametrize("students", [20, 200])
def test_a_sync_is_a_few_statements_however_many_students(
    app: Any,
    school: School,
    students: int,
    count_queries: Callable[..., Any],
) -> None:
    users = [
        User(username=f"s{n}", role="student", school_id=school.id, class_name=f"{5 + n % 6}a")
        for n in range(students)
    ]
    db.session.add_all(users)
    db.session.flush()
    db.session.add_all(
        Device(
            school_id=school.id,
            ownership="school",
            platform="ipados",
            name=f"iPad {user.username}",
            user_role="student",
            user_id=user.id,
        )
        for user in users
    )
    db.session.flush()

    with count_queries() as statements:
        changes = class_groups.sync_class_groups(db.session, Actor.system("test"), school.id)

    assert (changes.students_added, changes.devices_added) == (students, students)
    # the sync's own reads, then the moved devices' policies, per chunk of devices: a fixed
    # number of statements for 20 students as for 200
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) <= 12, reads
    for user in users[:3]:
        user.class_name = "11b"
    with count_queries() as statements:
        moved = class_groups.sync_class_groups(db.session, Actor.system("test"), school.id)
    assert (moved.students_removed, moved.students_added, moved.devices_added) == (3, 3, 3)
    assert len([s for s in statements if s.startswith("SELECT")]) <= 12
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "group.class_sync")
        )
        == 2
    )


def test_the_command_syncs_every_school(
    runner: Any, school: School, other_school: School, create_user: Callable[..., User]
) -> None:
    create_user("student", school, username="a1", class_name="5a")
    create_user("student", other_school, username="b1", class_name="6b")

    result = runner.invoke(args=["sync-class-groups"])

    assert result.exit_code == 0, result.output
    assert "gymnasium-a: new class groups: 5a" in result.output
    assert "realschule-b: new class groups: 6b" in result.output
    assert members("5a", school)[0] == ["a1"]
