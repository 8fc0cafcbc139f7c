"""Policies through the API: versions, assignments, the explained effective policy, marking
exactly the affected devices, delivery and compliance, time windows, audit, bad input."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.policies import service
from mdm.policies.merge import EMPTY_HASH
from mdm.policies.models import DevicePolicyState, Policy
from mdm.push.models import PushWakeup
from schedules.models import Holiday, TimeSlot

Headers = dict[str, str]
CAMERA_OFF = {"restrictions": {"allow_camera": False}}


def states() -> dict[int, DevicePolicyState]:
    """Each device's policy state as it is now (copies, so that later reads do not change them)."""
    db.session.expire_all()
    return {
        row.device_id: DevicePolicyState(
            **{c.key: getattr(row, c.key) for c in DevicePolicyState.__table__.columns}
        )
        for row in db.session.scalars(select(DevicePolicyState))
    }


def woken() -> set[int]:
    return set(db.session.scalars(select(PushWakeup.device_id)))


def make_group(school: School, name: str, devices: list[dict[str, Any]]) -> Group:
    group = Group(school_id=school.id, kind="custom", name=name)
    group.devices = [db.session.get(Device, d["device_id"]) for d in devices]
    db.session.add(group)
    db.session.commit()
    return group


def test_a_policy_has_immutable_versions_that_can_be_read_back(
    client: FlaskClient, admin_headers: Headers, make_policy: Callable[..., Any]
) -> None:
    wifi = {"ssid": "Schule", "security": "wpa2", "password": "geheim-123"}
    policy = make_policy({"wifi": [wifi], "passcode": {"min_length": 4}})
    assert policy["current_version"] == 1
    assert policy["document"]["wifi"][0]["password_set"] is True
    assert "geheim" not in str(policy)

    url = f"/api/v1/policies/{policy['id']}"
    changed = {"wifi": [{"ssid": "Schule", "security": "wpa2"}], "passcode": {"min_length": 6}}
    second = client.patch(url, json={"document": changed}, headers=admin_headers).get_json()
    same = client.patch(url, json={"document": changed}, headers=admin_headers).get_json()
    renamed = client.patch(url, json={"name": "Neu"}, headers=admin_headers).get_json()

    assert second["current_version"] == same["current_version"] == 2
    assert renamed["name"] == "Neu" and renamed["current_version"] == 2
    first = client.get(f"{url}/versions/1", headers=admin_headers).get_json()
    assert first["document"]["passcode"] == {"min_length": 4}
    versions = client.get(f"{url}/versions", headers=admin_headers).get_json()
    assert [v["version"] for v in versions] == [2, 1]
    restored = client.post(f"{url}/versions/1/restore", headers=admin_headers).get_json()
    assert restored["current_version"] == 3 and restored["document"]["passcode"]["min_length"] == 4
    assert client.post(f"{url}/versions/3/restore", headers=admin_headers).status_code == 409
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.target_type == "policy")
    )
    assert list(actions) == [
        "policy.create",
        "policy.update",
        "policy.update",
        "policy.update",
        "policy.restore",
    ]


def test_a_bad_document_is_refused_setting_by_setting_and_nothing_is_made(
    client: FlaskClient, admin_headers: Headers
) -> None:
    response = client.post(
        "/api/v1/policies",
        json={
            "name": "Kaputt",
            "document": {
                "passcode": {"min_length": 40},
                "wifi": [{"ssid": "Schule", "security": "wpa2"}],
                "windows": [{"kind": "weekly", "days": ["mon"], "start": "9:00", "end": "25:00"}],
            },
        },
        headers=admin_headers,
    )
    assert response.status_code == 400
    errors = response.get_json()["errors"]["document"]
    assert "min_length" in errors["passcode"]
    assert set(errors["windows"]["0"]) == {"start", "end"}
    missing_password = client.post(
        "/api/v1/policies",
        json={"name": "Ohne", "document": {"wifi": [{"ssid": "Schule", "security": "wpa2"}]}},
        headers=admin_headers,
    )
    assert missing_password.status_code == 400
    assert "password" in missing_password.get_json()["errors"]["document"]["wifi"]["0"]
    assert db.session.scalar(select(func.count()).select_from(Policy)) == 0


def test_other_schools_policies_groups_and_devices_are_not_found(
    client: FlaskClient,
    headers: Callable[[User], Headers],
    admin_headers: Headers,
    create_user: Callable[..., User],
    other_school: School,
    make_policy: Callable[..., Any],
    enrolled: dict[str, Any],
) -> None:
    policy = make_policy(CAMERA_OFF)
    group = Group(school_id=other_school.id, kind="class", name="5b")
    db.session.add(group)
    db.session.commit()
    other = headers(create_user("school_admin", other_school))

    assert client.get(f"/api/v1/policies/{policy['id']}", headers=other).status_code == 404
    device_url = f"/api/v1/devices/{enrolled['device_id']}/effective-policy"
    assert client.get(device_url, headers=other).status_code == 404
    assignments = f"/api/v1/policies/{policy['id']}/assignments"
    for body in ({"target": "group", "group_id": group.id}, {"target": "group", "group_id": 999}):
        assert client.post(assignments, json=body, headers=admin_headers).status_code == 404
    wrong = client.post(assignments, json={"target": "group"}, headers=admin_headers)
    assert wrong.status_code == 400 and "group_id" in wrong.get_json()["errors"]


def test_city_policies_are_the_city_admins_and_every_school_can_use_them(
    client: FlaskClient,
    headers: Callable[[User], Headers],
    it_admin: User,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    other_school: School,
    create_user: Callable[..., User],
) -> None:
    city = headers(it_admin)
    created = client.post(
        "/api/v1/policies", json={"name": "Stadt", "document": CAMERA_OFF}, headers=city
    )
    assert created.status_code == 201 and created.get_json()["school_id"] is None
    url = f"/api/v1/policies/{created.get_json()['id']}"
    assert client.get(url, headers=admin_headers).status_code == 200
    assert client.patch(url, json={"name": "x"}, headers=admin_headers).status_code == 403

    every_school = client.post(f"{url}/assignments", json={"target": "school"}, headers=city)
    assert every_school.status_code == 201 and every_school.get_json()["school_id"] is None
    effective = client.get(
        f"/api/v1/devices/{enrolled['device_id']}/effective-policy?explain=1", headers=admin_headers
    ).get_json()
    assert effective["document"] == CAMERA_OFF
    assert effective["explain"]["settings"][0]["set_by"]["target"] == "every school"
    # A school admin cannot undo the city's assignment, but may make one of its own.
    assignment = f"/api/v1/policy-assignments/{every_school.get_json()['id']}"
    assert client.delete(assignment, headers=admin_headers).status_code == 403
    own = client.post(
        f"{url}/assignments",
        json={"target": "ownership", "ownership": "byod"},
        headers=admin_headers,
    )
    assert own.status_code == 201 and own.get_json()["school_id"] is not None
    other_admin = headers(create_user("school_admin", other_school))
    listed = client.get("/api/v1/policy-assignments", headers=other_admin).get_json()
    assert [a["id"] for a in listed] == [every_school.get_json()["id"]]


def test_the_effective_policy_explains_each_setting(
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    make_devices: Callable[..., Any],
    make_policy: Callable[..., Any],
) -> None:
    device, _ = make_devices(2)
    group = make_group(school, "7a", [device])
    base = make_policy(
        {"passcode": {"min_length": 4, "required": True}, "restrictions": {"allow_camera": True}},
        assign={"target": "school", "priority": 10},
    )
    strict = make_policy(
        {"passcode": {"min_length": 8}},
        assign={"target": "group", "group_id": group.id, "priority": 50},
    )

    answer = client.get(
        f"/api/v1/devices/{device['device_id']}/effective-policy?explain=1", headers=admin_headers
    ).get_json()

    assert answer["document"] == {
        "passcode": {"min_length": 8, "required": True},
        "restrictions": {"allow_camera": True},
    }
    settings = {s["setting"]: s for s in answer["explain"]["settings"]}
    assert settings["passcode.min_length"]["set_by"]["assignment_id"] == strict["assignment"]["id"]
    assert settings["passcode.min_length"]["set_by"]["target"] == "group 7a"
    assert settings["passcode.min_length"]["overrides"][0]["value"] == 4
    assert settings["passcode.required"]["set_by"]["policy_id"] == base["id"]
    assert answer["state"]["compliance"] == "pending" and answer["state"]["due"] is True
    plain = client.get(
        f"/api/v1/devices/{device['device_id']}/effective-policy", headers=admin_headers
    ).get_json()
    assert "explain" not in plain and plain["hash"] == answer["hash"]


def test_a_personal_device_is_left_what_the_school_may_not_enforce(
    client: FlaskClient,
    admin_headers: Headers,
    byod_device: dict[str, Any],
    make_policy: Callable[..., Any],
) -> None:
    make_policy(
        {
            "passcode": {"required": True, "min_length": 8},
            "restrictions": {"allow_camera": False},
            "apps": {"required": ["de.schule.app"], "blocked": ["com.game"]},
        },
        assign={"target": "school"},
    )
    answer = client.get(
        f"/api/v1/devices/{byod_device['device_id']}/effective-policy?explain=1",
        headers=admin_headers,
    ).get_json()

    assert answer["document"] == {
        "passcode": {"required": True},
        "apps": {"required": ["de.schule.app"]},
    }
    left_out = {item["setting"]: item["reason"] for item in answer["explain"]["left_out"]}
    assert set(left_out) == {"passcode.min_length", "restrictions.allow_camera", "apps[com.game]"}
    assert "User Enrollment" in left_out["restrictions.allow_camera"]


def test_changes_mark_exactly_the_devices_whose_effective_policy_changed(
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    make_devices: Callable[..., Any],
    make_policy: Callable[..., Any],
) -> None:
    a, b, outsider = make_devices(3)
    group = make_group(school, "7a", [a, b])
    assert {s.due_at for s in states().values()} == {None}  # new devices hold the empty policy

    policy = make_policy(CAMERA_OFF, assign={"target": "group", "group_id": group.id})
    marked = {d for d, s in states().items() if s.due_at is not None}
    assert marked == {a["device_id"], b["device_id"]} == woken()
    assert states()[outsider["device_id"]].desired_hash == EMPTY_HASH

    # A higher-priority device assignment sets the camera for b: a new version of the group's
    # policy changes a only.
    make_policy(
        {"restrictions": {"allow_camera": True}},
        assign={"target": "device", "device_id": b["device_id"], "priority": 500},
    )
    before = states()
    db.session.execute(PushWakeup.__table__.delete())
    patched = client.patch(
        f"/api/v1/policies/{policy['id']}",
        json={"document": {"restrictions": {"allow_camera": True}}},
        headers=admin_headers,
    )
    assert patched.status_code == 200, patched.get_json()
    after = states()
    assert after[a["device_id"]].desired_hash != before[a["device_id"]].desired_hash
    assert after[b["device_id"]].desired_hash == before[b["device_id"]].desired_hash
    assert woken() == {a["device_id"]}

    # Group membership: the outsider joins and gets the group's policy.
    db.session.execute(PushWakeup.__table__.delete())
    client.post(
        f"/api/v1/groups/{group.id}/devices",
        json={"device_ids": [outsider["device_id"]]},
        headers=admin_headers,
    )
    assert states()[outsider["device_id"]].desired_hash == after[a["device_id"]].desired_hash
    assert woken() == {outsider["device_id"]}
    client.delete(
        f"/api/v1/groups/{group.id}/devices/{outsider['device_id']}", headers=admin_headers
    )
    assert states()[outsider["device_id"]].desired_hash == EMPTY_HASH

    # Unassigning returns a to the empty policy; deleting then works.
    assignment = policy["assignment"]["id"]
    assert (
        client.delete(f"/api/v1/policies/{policy['id']}", headers=admin_headers).status_code == 409
    )
    assert (
        client.delete(f"/api/v1/policy-assignments/{assignment}", headers=admin_headers).status_code
        == 204
    )
    assert states()[a["device_id"]].desired_hash == EMPTY_HASH
    assert (
        client.delete(f"/api/v1/policies/{policy['id']}", headers=admin_headers).status_code == 204
    )
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"policy.assign", "policy.unassign", "policy.delete"} <= actions


def test_a_device_gets_its_policy_reports_it_and_becomes_compliant(
    client: FlaskClient,
    admin_headers: Headers,
    make_devices: Callable[..., Any],
    make_policy: Callable[..., Any],
    check_in: Callable[..., Any],
    report: Callable[..., Any],
) -> None:
    good, partial = make_devices(2)
    wifi = {"ssid": "Schule", "security": "wpa2", "password": "geheim-123"}
    make_policy({**CAMERA_OFF, "wifi": [wifi]}, assign={"target": "school"})

    work = check_in(good)["work"]
    assert [item["kind"] for item in work] == ["policy"]
    payload = work[0]["payload"]
    assert work[0]["id"] == f"policy-{payload['hash']}"
    assert payload["document"]["wifi"][0]["password"] == "geheim-123"
    assert check_in(good)["work"] == []  # sent: not again until it is due again

    assert report(good, work[0]["id"], data={"applied_hash": payload["hash"]}).status_code == 204
    assert report(good, work[0]["id"], data={"applied_hash": payload["hash"]}).status_code == 204
    other = check_in(partial)["work"][0]
    failed = [{"setting": "wifi[Schule]", "reason": "no Wi-Fi hardware"}]
    assert report(partial, other["id"], data={"failed_settings": failed}).status_code == 204
    bad = report(partial, other["id"], data={"failed_settings": "all"})
    assert bad.status_code == 400 and "failed_settings" in bad.get_json()["errors"]["data"]
    assert report(partial, "policy-" + "0" * 64).status_code == 404

    listed = client.get("/api/v1/compliance", headers=admin_headers).get_json()
    assert listed["counts"] == {"compliant": 1, "non_compliant": 1, "pending": 0}
    only = client.get("/api/v1/compliance?status=non_compliant", headers=admin_headers).get_json()
    assert [item["device_id"] for item in only["items"]] == [partial["device_id"]]
    assert only["items"][0]["failed_settings"] == failed and only["total"] == 1


def test_a_policy_sent_without_a_result_is_sent_again_later(
    app: Flask, enrolled: dict[str, Any], make_policy: Callable[..., Any]
) -> None:
    make_policy(CAMERA_OFF, assign={"target": "school"})
    now = datetime.now(UTC)
    device = db.session.get(Device, enrolled["device_id"])

    def work(at: datetime) -> dict[str, Any] | None:
        return service.policy_work(db.session, device.id, device.school_id, "school", at, 300)

    first = work(now)
    assert first is not None
    assert work(now + timedelta(seconds=10)) is None
    again = work(now + timedelta(seconds=301))
    assert again is not None and again["id"] == first["id"]


@pytest.fixture
def timetable(school: School) -> None:
    """Periods 1-2 (08:00-08:45, 08:50-09:35) and the holidays from 21 December."""
    db.session.add_all(
        [
            TimeSlot(
                school_id=school.id, weekday=None, period=1, starts=time(8, 0), ends=time(8, 45)
            ),
            TimeSlot(
                school_id=school.id, weekday=None, period=2, starts=time(8, 50), ends=time(9, 35)
            ),
            Holiday(
                school_id=school.id,
                name="Weihnachten",
                from_date=date(2026, 12, 21),
                to_date=date(2027, 1, 3),
            ),
        ]
    )
    db.session.commit()


def berlin(day: int, hour: int, minute: int) -> datetime:
    """A moment of December 2026 in Berlin (UTC+1)."""
    return datetime(2026, 12, day, hour - 1, minute, tzinfo=UTC)


def test_the_scheduler_opens_and_closes_school_windows_on_time(
    app: Flask,
    timetable: None,
    enrolled: dict[str, Any],
    make_policy: Callable[..., Any],
) -> None:
    make_policy(
        {**CAMERA_OFF, "windows": [{"kind": "periods", "first_period": 1, "last_period": 2}]},
        assign={"target": "school"},
    )
    device_id = enrolled["device_id"]

    def desired(moment: datetime) -> str:
        service.refresh_windows(db.session, moment)
        return states()[device_id].desired_hash

    in_lesson = service.effective_of(
        db.session, db.session.get(Device, device_id), berlin(7, 8, 10)
    )
    assert in_lesson.document == CAMERA_OFF
    assert desired(berlin(7, 7, 59)) == EMPTY_HASH  # Monday before school
    assert desired(berlin(7, 8, 0)) == in_lesson.hash  # period 1 begins
    assert desired(berlin(7, 8, 47)) == EMPTY_HASH  # the break
    assert service.refresh_windows(db.session, berlin(7, 8, 48)) == []  # nothing changed
    assert desired(berlin(7, 8, 50)) == in_lesson.hash
    assert desired(berlin(7, 9, 35)) == EMPTY_HASH
    assert desired(berlin(21, 8, 10)) == EMPTY_HASH  # a holiday Monday
    explained = service.effective_of(
        db.session, db.session.get(Device, device_id), berlin(21, 8, 10)
    )
    assert explained.inactive[0].inactive_reason == "outside its time windows now"


def test_weekly_windows_follow_the_schools_time_zone(
    app: Flask, school: School, enrolled: dict[str, Any], make_policy: Callable[..., Any]
) -> None:
    make_policy(
        {
            **CAMERA_OFF,
            "windows": [{"kind": "weekly", "days": ["mon"], "start": "08:00", "end": "09:00"}],
        },
        assign={"target": "school"},
    )
    device = db.session.get(Device, enrolled["device_id"])
    assert service.effective_of(db.session, device, berlin(7, 8, 30)).document == CAMERA_OFF
    school.timezone = "Europe/London"  # 08:30 in Berlin is 07:30 in London
    db.session.commit()
    assert service.effective_of(db.session, device, berlin(7, 8, 30)).document == {}


def test_deleting_a_group_removes_its_assignments_and_re_marks_its_devices(
    client: FlaskClient,
    admin_headers: Headers,
    school: School,
    make_devices: Callable[..., Any],
    make_policy: Callable[..., Any],
) -> None:
    [device] = make_devices(1)
    group = make_group(school, "7a", [device])
    make_policy(CAMERA_OFF, assign={"target": "group", "group_id": group.id})
    assert states()[device["device_id"]].desired_hash != EMPTY_HASH

    assert client.delete(f"/api/v1/groups/{group.id}", headers=admin_headers).status_code == 204

    assert states()[device["device_id"]].desired_hash == EMPTY_HASH
    assert client.get("/api/v1/policy-assignments", headers=admin_headers).get_json() == []


def test_not_now_and_failure_reports_of_a_policy(
    app: Flask,
    client: FlaskClient,
    admin_headers: Headers,
    enrolled: dict[str, Any],
    make_policy: Callable[..., Any],
    check_in: Callable[..., Any],
    report: Callable[..., Any],
) -> None:
    make_policy(CAMERA_OFF, assign={"target": "school"})
    [work] = check_in(enrolled)["work"]
    assert report(enrolled, work["id"], "not_now").status_code == 204
    state = states()[enrolled["device_id"]]
    assert state.due_at is not None and state.applied_hash == EMPTY_HASH
    assert report(enrolled, work["id"], "failed", detail="no device admin").status_code == 204
    effective = client.get(
        f"/api/v1/devices/{enrolled['device_id']}/effective-policy", headers=admin_headers
    ).get_json()
    assert effective["state"]["compliance"] == "non_compliant"
    assert effective["state"]["failed_settings"] == [{"setting": "*", "reason": "no device admin"}]
    assert effective["state"]["due"] is False
    wrong = report(enrolled, work["id"], data={"applied_hash": "0" * 64})
    assert wrong.status_code == 400 and "applied_hash" in wrong.get_json()["errors"]["data"]


def test_a_devices_effective_policy_shows_wifi_passwords_only_as_set(
    client: FlaskClient,
    admin_headers: Headers,
    make_devices: Callable[..., Any],
    make_policy: Callable[..., Any],
) -> None:
    [device] = make_devices(1)
    wifi = {"ssid": "Schule", "security": "wpa2", "password": "geheim-123"}
    make_policy({"wifi": [wifi]}, assign={"target": "school"})
    policy = client.get(
        f"/api/v1/devices/{device['device_id']}/effective-policy?explain=1", headers=admin_headers
    ).get_json()
    shown = {"ssid": "Schule", "security": "wpa2", "hidden": False, "auto_join": True}
    assert policy["document"]["wifi"] == [{**shown, "password_set": True}]
    assert policy["explain"]["settings"][0]["value"] == {**shown, "password_set": True}
