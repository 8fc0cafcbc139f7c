"""The policy pages: a policy made and edited section by section through the same schema as the
API, a preview of the devices a change reaches before saving, versions and their diff,
assignments with priorities; roles, schools and CSRF."""

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from mdm.accounts.models import School, User
from mdm.devices.models import Group
from mdm.extensions import db
from mdm.policies.models import Policy, PolicyAssignment, PolicyVersion
from tests.fixtures.pages import csrf_of

PageClient = Callable[[User], FlaskClient]


def _policy(client: FlaskClient, name: str = "Unterricht") -> Policy:
    token = csrf_of(client, "/admin/policies")
    answer = client.post("/admin/policies", data={"name": name, "csrf_token": token})
    assert answer.status_code == 302
    return db.session.scalar(select(Policy).where(Policy.name == name))


def test_a_section_is_previewed_then_saved_as_a_new_version(
    page_client: PageClient,
    school_admin: User,
    make_devices: Callable[..., list[dict[str, Any]]],
) -> None:
    devices = make_devices(2)
    client = page_client(school_admin)
    policy = _policy(client)
    db.session.add(
        PolicyAssignment(
            policy_id=policy.id,
            school_id=school_admin.school_id,
            target="school",
            priority=100,
            created_by="test",
        )
    )
    db.session.commit()
    path = f"/admin/policies/{policy.id}/sections/passcode"
    token = csrf_of(client, path)
    form = {
        "passcode.required": "true",
        "passcode.min_length": "6",
        "passcode.complexity": "alphanumeric",
        "csrf_token": token,
    }

    previewed = client.post(path, data={**form, "do": "preview"})
    html = previewed.get_data(as_text=True)
    assert previewed.status_code == 200
    assert "erreicht 2 eingeschriebene Geräte" in html and "2 davon bekommen" in html
    assert devices[0]["device_id"] and policy.current_version == 1

    saved = client.post(path, data={**form, "do": "save"})
    assert saved.status_code == 302
    version = db.session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.version == 2
        )
    )
    assert version.document == {
        "passcode": {"required": True, "min_length": 6, "complexity": "alphanumeric"}
    }


def test_the_schema_refuses_a_bad_value_and_names_the_field(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    policy = _policy(client)
    path = f"/admin/policies/{policy.id}/sections/passcode"
    answer = client.post(
        path, data={"passcode.min_length": "3", "do": "save", "csrf_token": csrf_of(client, path)}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="f-passcode.min_length-error"' in html and 'aria-invalid="true"' in html
    assert db.session.scalar(select(Policy.current_version).where(Policy.id == policy.id)) == 1


def test_wifi_and_windows_rows_become_the_documents_lists(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    policy = _policy(client)
    wifi = f"/admin/policies/{policy.id}/sections/wifi"
    client.post(
        wifi,
        data={
            "wifi-0-ssid": "Schul-WLAN",
            "wifi-0-security": "wpa2",
            "wifi-0-password": "geheim123",
            "wifi-0-auto_join": "yes",
            "do": "save",
            "csrf_token": csrf_of(client, wifi),
        },
    )
    windows = f"/admin/policies/{policy.id}/sections/windows"
    client.post(
        windows,
        data={
            "windows-0-kind": "weekly",
            "windows-0-days": ["mon", "tue"],
            "windows-0-start": "08:00",
            "windows-0-end": "13:00",
            "do": "save",
            "csrf_token": csrf_of(client, windows),
        },
    )
    version = db.session.scalar(
        select(PolicyVersion).where(
            PolicyVersion.policy_id == policy.id, PolicyVersion.version == 3
        )
    )
    assert version.document["windows"] == [
        {"kind": "weekly", "days": ["mon", "tue"], "start": "08:00", "end": "13:00"}
    ]
    network = version.document["wifi"][0]
    assert network["ssid"] == "Schul-WLAN" and "password" not in network and network["auto_join"]
    # The form shows that a password is kept, never the password.
    shown = client.get(wifi).get_data(as_text=True)
    assert "geheim123" not in shown and "das bisherige Passwort bleibt" in shown


def test_two_versions_are_compared_setting_by_setting(
    page_client: PageClient, school_admin: User
) -> None:
    client = page_client(school_admin)
    policy = _policy(client)
    path = f"/admin/policies/{policy.id}/sections/apps"
    for blocked in ("com.example.game", "com.example.chat"):
        client.post(
            path, data={"apps.blocked": blocked, "do": "save", "csrf_token": csrf_of(client, path)}
        )
    html = client.get(f"/admin/policies/{policy.id}/diff?a=2&b=3").get_data(as_text=True)
    assert "apps[com.example.game]" in html and "apps[com.example.chat]" in html
    assert html.count("blocked") == 2


def test_assigning_to_a_class_previews_then_assigns_with_its_priority(
    page_client: PageClient,
    school_admin: User,
    school: School,
    make_devices: Callable[..., list[dict[str, Any]]],
) -> None:
    devices = make_devices(3)
    group = Group(school_id=school.id, kind="class", name="7a")
    db.session.add(group)
    db.session.flush()
    from mdm.devices.models import Device

    group.devices = [db.session.get(Device, devices[0]["device_id"])]
    db.session.commit()
    client = page_client(school_admin)
    policy = _policy(client)
    path = f"/admin/policies/{policy.id}/assignments"
    form = {
        "target": "group",
        "group_id": str(group.id),
        "priority": "250",
        "csrf_token": csrf_of(client, f"/admin/policies/{policy.id}"),
    }

    previewed = client.post(path, data=form)
    assert "erreicht 1 eingeschriebene Geräte" in previewed.get_data(as_text=True)
    assert db.session.scalar(select(PolicyAssignment)) is None
    client.post(path, data={**form, "confirmed": "yes"})

    assignment = db.session.scalar(select(PolicyAssignment))
    assert (assignment.target, assignment.group_id, assignment.priority) == ("group", group.id, 250)
    detail = client.get(f"/admin/policies/{policy.id}").get_data(as_text=True)
    assert "Gruppe 7a" in detail and 'value="250"' in detail


def test_roles_schools_and_csrf(
    page_client: PageClient,
    school_admin: User,
    teacher: User,
    create_user: Callable[..., User],
    other_school: School,
) -> None:
    policy = _policy(page_client(school_admin))
    assert page_client(teacher).get("/admin/policies").status_code == 403
    stranger = page_client(create_user("school_admin", other_school))
    assert stranger.get(f"/admin/policies/{policy.id}").status_code == 404
    assert "Unterricht" not in stranger.get("/admin/policies").get_data(as_text=True)
    client = page_client(school_admin)
    answer = client.post(
        f"/admin/policies/{policy.id}/sections/passcode",
        data={"passcode.required": "true", "do": "save"},
    )
    assert answer.status_code == 400
    assert db.session.scalar(select(Policy.current_version).where(Policy.id == policy.id)) == 1
