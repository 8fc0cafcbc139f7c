"""Schools and users through the API, with school scoping for every role."""

from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.models import AuditEvent


def test_it_admin_creates_school_and_its_admin(
    client: FlaskClient, it_admin: User, headers
) -> None:
    created = client.post(
        "/api/v1/schools",
        headers=headers(it_admin),
        json={"slug": "gesamtschule-nord", "name": "Gesamtschule Nord"},
    )
    assert created.status_code == 201
    school = created.get_json()
    assert school["timezone"] == "Europe/Berlin"
    admin = client.post(
        "/api/v1/users",
        headers=headers(it_admin),
        json={
            "username": "admin-nord",
            "role": "school_admin",
            "school_id": school["id"],
            "password": "long-enough-1",
        },
    )
    assert admin.status_code == 201
    assert admin.get_json()["school_id"] == school["id"]
    actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["school.create", "user.create"]


def test_school_validation(client: FlaskClient, it_admin: User, headers) -> None:
    bad = client.post(
        "/api/v1/schools",
        headers=headers(it_admin),
        json={"slug": "Not A Slug!", "name": "X", "timezone": "Mars/Olympus"},
    )
    assert bad.status_code == 400
    assert "slug" in bad.get_json()["errors"]
    tz = client.post(
        "/api/v1/schools",
        headers=headers(it_admin),
        json={"slug": "ok-slug", "name": "X", "timezone": "Mars/Olympus"},
    )
    assert tz.status_code == 400 and "timezone" in tz.get_json()["errors"]
    assert db.session.scalar(select(func.count()).select_from(School)) == 0


def test_school_admin_cannot_create_schools(
    client: FlaskClient, school_admin: User, headers
) -> None:
    response = client.post(
        "/api/v1/schools", headers=headers(school_admin), json={"slug": "mine", "name": "Mine"}
    )
    assert response.status_code == 403


def test_school_admin_manages_own_school_users(
    client: FlaskClient, school_admin: User, school: School, headers
) -> None:
    created = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={
            "username": "neu.schueler",
            "role": "student",
            "first_name": "Neu",
            "last_name": "Schüler",
            "class_name": "5a",
            "password": "start-pass-1",
        },
    )
    assert created.status_code == 201
    assert created.get_json()["school_id"] == school.id
    user_id = created.get_json()["id"]
    changed = client.patch(
        f"/api/v1/users/{user_id}", headers=headers(school_admin), json={"class_name": "6a"}
    )
    assert changed.get_json()["class_name"] == "6a"
    listed = client.get("/api/v1/users?role=student&class=6a", headers=headers(school_admin))
    assert [u["username"] for u in listed.get_json()["items"]] == ["neu.schueler"]
    assert (
        client.delete(f"/api/v1/users/{user_id}", headers=headers(school_admin)).status_code == 204
    )
    assert db.session.get(User, user_id) is None


def test_school_admin_cannot_create_admins_or_other_schools_users(
    client: FlaskClient, school_admin: User, other_school: School, headers
) -> None:
    admin = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={"username": "sneaky", "role": "school_admin"},
    )
    assert admin.status_code == 403
    elsewhere = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={"username": "elsewhere", "role": "student", "school_id": other_school.id},
    )
    assert elsewhere.status_code == 404


def test_school_admin_gets_404_for_other_schools_users(
    client: FlaskClient, school_admin: User, other_school: School, create_user, headers
) -> None:
    stranger = create_user("student", other_school, username="fremd")
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"first_name": "X"}} if method == "patch" else {}
        response = getattr(client, method)(
            f"/api/v1/users/{stranger.id}", headers=headers(school_admin), **kwargs
        )
        assert response.status_code == 404, method
    listed = client.get("/api/v1/users", headers=headers(school_admin)).get_json()
    assert "fremd" not in [u["username"] for u in listed["items"]]
    filtered = client.get(
        f"/api/v1/users?school_id={other_school.id}", headers=headers(school_admin)
    ).get_json()
    assert filtered["items"] == [] and filtered["total"] == 0
    school_view = client.get(f"/api/v1/schools/{other_school.id}", headers=headers(school_admin))
    assert school_view.status_code == 404


def test_student_and_teacher_cannot_list_users(
    client: FlaskClient, student: User, teacher: User, headers
) -> None:
    assert client.get("/api/v1/users", headers=headers(student)).status_code == 403
    assert client.get("/api/v1/users", headers=headers(teacher)).status_code == 403


def test_it_admin_sees_all_schools_users(
    client: FlaskClient, it_admin: User, school: School, other_school: School, create_user, headers
) -> None:
    create_user("student", school, username="a1")
    create_user("student", other_school, username="b1")
    listed = client.get("/api/v1/users?role=student", headers=headers(it_admin)).get_json()
    assert {u["username"] for u in listed["items"]} == {"a1", "b1"}
    only_b = client.get(
        f"/api/v1/users?school_id={other_school.id}", headers=headers(it_admin)
    ).get_json()
    assert [u["username"] for u in only_b["items"]] == ["b1"]


def test_users_are_paged(
    client: FlaskClient, school_admin: User, school: School, create_user, headers
) -> None:
    for n in range(5):
        create_user("student", school, username=f"pupil-{n}", last_name=f"N{n}")
    first = client.get("/api/v1/users?role=student&per_page=2", headers=headers(school_admin))
    body = first.get_json()
    assert body["total"] == 5 and len(body["items"]) == 2 and body["page"] == 1
    third = client.get(
        "/api/v1/users?role=student&per_page=2&page=3", headers=headers(school_admin)
    ).get_json()
    assert [u["username"] for u in third["items"]] == ["pupil-4"]
    bad = client.get("/api/v1/users?per_page=0", headers=headers(school_admin))
    assert bad.status_code == 400 and "per_page" in bad.get_json()["errors"]


def test_duplicate_username_is_409(
    client: FlaskClient, school_admin: User, student: User, headers
) -> None:
    response = client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={"username": "STUDENT-A", "role": "student"},
    )
    assert response.status_code == 409


def test_cannot_delete_oneself(
    client: FlaskClient, school_admin: User, it_admin: User, headers
) -> None:
    assert (
        client.delete(f"/api/v1/users/{it_admin.id}", headers=headers(it_admin)).status_code == 409
    )


def test_schools_list_is_scoped(
    client: FlaskClient, school_admin: User, school: School, other_school: School, headers
) -> None:
    listed = client.get("/api/v1/schools", headers=headers(school_admin)).get_json()
    assert [s["slug"] for s in listed] == [school.slug]


def test_audit_log_is_listed_and_filtered_per_school(
    client: FlaskClient,
    it_admin: User,
    school_admin: User,
    school: School,
    other_school: School,
    headers,
) -> None:
    client.post(
        "/api/v1/users",
        headers=headers(it_admin),
        json={"username": "b-admin", "role": "school_admin", "school_id": other_school.id},
    )
    client.post(
        "/api/v1/users",
        headers=headers(school_admin),
        json={"username": "a-student", "role": "student"},
    )
    own = client.get("/api/v1/audit", headers=headers(school_admin)).get_json()
    assert [(e["action"], e["school_id"]) for e in own["items"]] == [("user.create", school.id)]
    assert own["items"][0]["actor"] == "admin-a"
    assert own["items"][0]["address"] == "127.0.0.1"
    everything = client.get("/api/v1/audit?action=user.", headers=headers(it_admin)).get_json()
    assert everything["total"] == 2
    by_target = client.get(
        f"/api/v1/audit?school_id={other_school.id}", headers=headers(it_admin)
    ).get_json()
    assert [e["details"]["username"] for e in by_target["items"]] == ["b-admin"]
    assert (
        client.get(
            "/api/v1/audit", headers=headers(db.session.get(User, school_admin.id))
        ).status_code
        == 200
    )


def test_owner_of_a_managed_personal_device_cannot_be_deleted(
    client: FlaskClient, school_admin: User, school: School, teacher: User, headers
) -> None:
    from mdm.devices.models import Device

    phone = Device(
        school_id=school.id,
        ownership="byod",
        platform="android",
        name="Handy",
        user_role="teacher",
        user_id=teacher.id,
    )
    db.session.add(phone)
    db.session.commit()
    refused = client.delete(f"/api/v1/users/{teacher.id}", headers=headers(school_admin))
    assert refused.status_code == 409
    assert "personal device" in refused.get_json()["detail"]
    assert db.session.get(User, teacher.id) is not None
    retired = client.post(f"/api/v1/devices/{phone.id}/retire", headers=headers(school_admin))
    assert retired.status_code == 200
    assert (
        client.delete(f"/api/v1/users/{teacher.id}", headers=headers(school_admin)).status_code
        == 204
    )
