"""Devices and groups through the admin API: filters, paging, export, assignment, retire, delete."""

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from mdm.accounts.models import School, User
from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow

Headers = Callable[[User], dict[str, str]]


@pytest.fixture
def create_device(app: Any) -> Callable[..., Device]:
    """Factory: a device committed to the database."""

    def factory(school: School, **fields: Any) -> Device:
        fields.setdefault("ownership", "school")
        fields.setdefault("platform", "ipados")
        fields.setdefault("name", "iPad")
        fields.setdefault("user_role", "student")
        device = Device(school_id=school.id, **fields)
        db.session.add(device)
        db.session.commit()
        return device

    return factory


def ids(response: Any) -> list[int]:
    return [item["id"] for item in response.get_json()["items"]]


def test_list_and_filter_devices(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    student: User,
    school: School,
    other_school: School,
    create_device: Callable[..., Device],
) -> None:
    now = utcnow()
    group = Group(school_id=school.id, kind="class", name="7a")
    ipad = create_device(school, name="iPad 7a-01", last_seen_at=now - timedelta(days=3))
    phone = create_device(
        school,
        ownership="byod",
        platform="android",
        name="Handy",
        model="Pixel 8",
        user_id=student.id,
        last_seen_at=now,
    )
    old = create_device(school, platform="windows", name="Laptop", status="retired")
    create_device(other_school, name="iPad fremd")
    group.devices.append(ipad)
    db.session.add(group)
    db.session.commit()
    auth = headers(school_admin)

    def listing(query: str) -> Any:
        response = client.get(f"/api/v1/devices?{query}", headers=auth)
        assert response.status_code == 200, response.get_json()
        return response

    assert sorted(ids(listing(""))) == sorted([ipad.id, phone.id, old.id])
    assert ids(listing("ownership=byod")) == [phone.id]
    assert ids(listing("platform=windows")) == [old.id]
    assert ids(listing("status=retired")) == [old.id]
    assert ids(listing(f"group={group.id}")) == [ipad.id]
    assert ids(listing("q=pixel")) == [phone.id]
    assert ids(listing(f"q={student.username}")) == [phone.id]
    before = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(listing(f"last_seen_before={before}")) == [ipad.id]
    assert ids(listing(f"last_seen_after={before}")) == [phone.id]
    paged = listing("per_page=2&page=2").get_json()
    assert paged["total"] == 3 and len(paged["items"]) == 1
    item = listing("ownership=byod").get_json()["items"][0]
    assert item["user"]["username"] == student.username and "inventory" not in item
    bad = client.get("/api/v1/devices?platform=symbian", headers=auth)
    assert bad.status_code == 400 and "platform" in bad.get_json()["errors"]


def test_device_detail_rename_and_assign(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    student: User,
    school: School,
    other_school: School,
    create_user: Callable[..., User],
    create_device: Callable[..., Device],
) -> None:
    device = create_device(school, inventory={"storage_gb": 64})
    url = f"/api/v1/devices/{device.id}"
    auth = headers(school_admin)

    assert client.get(url, headers=auth).get_json()["inventory"] == {"storage_gb": 64}
    renamed = client.patch(url, json={"name": "iPad 7a-02", "user_id": student.id}, headers=auth)
    assert renamed.status_code == 200
    body = renamed.get_json()
    assert body["name"] == "iPad 7a-02" and body["user"]["id"] == student.id
    assert body["config_version"] == 2
    stranger = create_user("student", other_school)
    foreign = client.patch(url, json={"user_id": stranger.id}, headers=auth)
    assert foreign.status_code == 400 and "user_id" in foreign.get_json()["errors"]
    unassigned = client.patch(url, json={"user_id": None}, headers=auth)
    assert unassigned.get_json()["user"] is None
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "device.update"))


def test_byod_device_cannot_be_reassigned(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    student: User,
    teacher: User,
    school: School,
    create_device: Callable[..., Device],
) -> None:
    device = create_device(school, ownership="byod", user_id=teacher.id)
    response = client.patch(
        f"/api/v1/devices/{device.id}", json={"user_id": student.id}, headers=headers(school_admin)
    )
    assert response.status_code == 409


def test_retire_and_delete(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    create_device: Callable[..., Device],
) -> None:
    device = create_device(school)
    auth = headers(school_admin)

    retired = client.post(f"/api/v1/devices/{device.id}/retire", headers=auth)
    assert retired.status_code == 200 and retired.get_json()["status"] == "retired"
    assert client.post(f"/api/v1/devices/{device.id}/retire", headers=auth).status_code == 409
    assert client.delete(f"/api/v1/devices/{device.id}", headers=auth).status_code == 204
    assert db.session.get(Device, device.id) is None
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"device.retire", "device.delete"} <= actions


def test_a_personal_device_under_management_is_retired_before_it_is_deleted(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    teacher: User,
    create_device: Callable[..., Device],
) -> None:
    device = create_device(school, ownership="byod", user_id=teacher.id)
    auth = headers(school_admin)
    refused = client.delete(f"/api/v1/devices/{device.id}", headers=auth)
    assert refused.status_code == 409
    assert "retire it first" in refused.get_json()["detail"]
    db.session.expire_all()
    assert db.session.get(Device, device.id).status == "enrolled"  # type: ignore[union-attr]
    assert client.post(f"/api/v1/devices/{device.id}/retire", headers=auth).status_code == 200
    assert client.delete(f"/api/v1/devices/{device.id}", headers=auth).status_code == 204
    assert db.session.get(Device, device.id) is None


def test_devices_of_another_school_are_invisible(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    other_school: School,
    create_device: Callable[..., Device],
) -> None:
    device = create_device(other_school)
    auth = headers(school_admin)
    assert client.get(f"/api/v1/devices/{device.id}", headers=auth).status_code == 404
    assert (
        client.patch(f"/api/v1/devices/{device.id}", json={"name": "x"}, headers=auth).status_code
        == 404
    )
    assert client.post(f"/api/v1/devices/{device.id}/retire", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/devices/{device.id}", headers=auth).status_code == 404
    assert db.session.get(Device, device.id).name == "iPad"


def test_only_admins_manage_devices(
    client: FlaskClient, headers: Headers, teacher: User, student: User
) -> None:
    for user in (teacher, student):
        assert client.get("/api/v1/devices", headers=headers(user)).status_code == 403
        assert client.get("/api/v1/groups", headers=headers(user)).status_code == 403
    assert client.get("/api/v1/devices").status_code == 401


def test_city_admin_sees_every_school(
    client: FlaskClient,
    headers: Headers,
    it_admin: User,
    school: School,
    other_school: School,
    create_device: Callable[..., Device],
) -> None:
    create_device(school)
    theirs = create_device(other_school)
    assert len(ids(client.get("/api/v1/devices", headers=headers(it_admin)))) == 2
    only = client.get(f"/api/v1/devices?school_id={other_school.id}", headers=headers(it_admin))
    assert ids(only) == [theirs.id]


def test_csv_export(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    school: School,
    create_device: Callable[..., Device],
) -> None:
    create_device(school, name='=HYPERLINK("http://evil")', inventory={"storage_gb": 64})
    create_device(school, name="Laptop", platform="windows")

    response = client.get(
        "/api/v1/devices/export.csv?platform=ipados", headers=headers(school_admin)
    )

    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 1
    assert rows[0]["name"].startswith("'=") and rows[0]["school"] == school.slug
    assert rows[0]["inventory"] == '{"storage_gb": 64}'


def test_groups_and_membership(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    student: User,
    school: School,
    other_school: School,
    create_device: Callable[..., Device],
) -> None:
    auth = headers(school_admin)
    device = create_device(school)
    foreign = create_device(other_school)

    created = client.post("/api/v1/groups", json={"kind": "class", "name": "7a"}, headers=auth)
    assert created.status_code == 201
    group = created.get_json()
    assert group["school_id"] == school.id
    duplicate = client.post("/api/v1/groups", json={"kind": "custom", "name": "7a"}, headers=auth)
    assert duplicate.status_code == 409
    url = f"/api/v1/groups/{group['id']}"

    added = client.post(f"{url}/devices", json={"device_ids": [device.id]}, headers=auth)
    assert [d["id"] for d in added.get_json()["devices"]] == [device.id]
    assert db.session.get(Device, device.id).config_version == 2
    refused = client.post(f"{url}/devices", json={"device_ids": [foreign.id]}, headers=auth)
    assert refused.status_code == 400 and "device_ids" in refused.get_json()["errors"]
    users = client.post(f"{url}/users", json={"user_ids": [student.id]}, headers=auth)
    assert [u["id"] for u in users.get_json()["users"]] == [student.id]
    listed = client.get(f"/api/v1/devices?group={group['id']}", headers=auth)
    assert ids(listed) == [device.id]

    renamed = client.patch(url, json={"name": "7b"}, headers=auth)
    assert renamed.get_json()["name"] == "7b"
    assert client.delete(f"{url}/devices/{device.id}", headers=auth).status_code == 204
    assert client.delete(f"{url}/devices/{device.id}", headers=auth).status_code == 404
    assert client.delete(f"{url}/users/{student.id}", headers=auth).status_code == 204
    assert client.get(url, headers=auth).get_json()["devices"] == []
    # The student's class 7a has a group again: the renamed one is the admin's own now.
    assert [g["name"] for g in client.get("/api/v1/groups", headers=auth).get_json()] == [
        "7a",
        "7b",
    ]
    assert client.delete(url, headers=auth).status_code == 204
    assert client.get(url, headers=auth).status_code == 404
    assert db.session.get(Device, device.id) is not None


def test_groups_of_another_school_are_invisible(
    client: FlaskClient,
    headers: Headers,
    school_admin: User,
    other_school: School,
) -> None:
    group = Group(school_id=other_school.id, kind="class", name="5b")
    db.session.add(group)
    db.session.commit()
    auth = headers(school_admin)
    assert client.get("/api/v1/groups", headers=auth).get_json() == []
    assert client.get(f"/api/v1/groups/{group.id}", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/groups/{group.id}", headers=auth).status_code == 404
    response = client.post(
        "/api/v1/groups",
        json={"kind": "class", "name": "x", "school_id": other_school.id},
        headers=auth,
    )
    assert response.status_code == 404
