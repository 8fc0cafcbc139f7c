"""The device pages: the list with filters and search, a device's detail with its effective
policy and commands, actions confirmed before they are queued, bulk actions; roles, schools and
CSRF."""

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.commands.models import Command
from mdm.devices.models import Device, Group
from mdm.extensions import db
from tests.fixtures.pages import csrf_of

PageClient = Callable[[User], FlaskClient]


def _devices(
    make_devices: Callable[..., list[dict[str, Any]]], count: int, **fields: Any
) -> list[Device]:
    return [db.session.get(Device, answer["device_id"]) for answer in make_devices(count, **fields)]


def test_the_list_finds_a_device_by_name_serial_number_and_class(
    page_client: PageClient,
    school_admin: User,
    school: School,
    make_devices: Callable[..., list[dict[str, Any]]],
) -> None:
    first, second = _devices(make_devices, 2)
    first.name, first.serial_number = "iPad Bio 1", "F9FXK2ABCD"
    group = Group(school_id=school.id, kind="class", name="7a")
    db.session.add(group)
    db.session.flush()
    group.devices = [second]
    db.session.commit()
    client = page_client(school_admin)

    listed = client.get("/admin/devices").get_data(as_text=True)
    by_name = client.get("/admin/devices?q=bio").get_data(as_text=True)
    by_serial = client.get("/admin/devices?q=f9fx k2").get_data(as_text=True)
    by_class = client.get("/admin/devices?q=7a").get_data(as_text=True)

    assert "iPad Bio 1" in listed and second.name in listed
    assert "iPad Bio 1" in by_name and second.name not in by_name
    assert "iPad Bio 1" in by_serial and second.name not in by_serial
    assert second.name in by_class and "iPad Bio 1" not in by_class
    filtered = client.get(f"/admin/devices?group={group.id}").get_data(as_text=True)
    assert second.name in filtered and "iPad Bio 1" not in filtered


def test_the_detail_shows_inventory_effective_policy_and_the_actions_the_device_allows(
    page_client: PageClient,
    school_admin: User,
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
) -> None:
    device = _devices(make_devices, 1)[0]
    device.inventory = {"battery": 80, "storage": {"free_gb": 12}}
    db.session.commit()
    make_policy(
        {"passcode": {"min_length": 6}},
        assign={"target": "school", "priority": 300},
        name="Code-Sperre Schule",
    )
    client = page_client(school_admin)

    html = client.get(f"/admin/devices/{device.id}").get_data(as_text=True)

    assert device.name in html and "battery" in html and "free_gb" in html
    assert "Mindestlänge" in html and "Code-Sperre Schule" in html and "Priorität 300" in html
    assert 'value="lock"' in html and 'value="refresh_inventory"' in html
    # An Android agent that is not fully managed may not be restarted or put in lost mode.
    assert 'value="restart"' not in html and 'value="enable_lost_mode"' not in html
    assert "braucht ein betreutes" in html


def test_a_personal_device_offers_no_erase_and_no_lock(
    page_client: PageClient, school_admin: User, byod_device: dict[str, Any]
) -> None:
    client = page_client(school_admin)
    html = client.get(f"/admin/devices/{byod_device['device_id']}").get_data(as_text=True)
    assert 'value="erase"' not in html and 'value="lock"' not in html
    assert "bei einem privaten Gerät nicht erlaubt" in html


def test_locking_a_device_asks_first_then_queues_the_command(
    page_client: PageClient, school_admin: User, make_devices: Callable[..., list[dict[str, Any]]]
) -> None:
    device = _devices(make_devices, 1)[0]
    client = page_client(school_admin)
    token = csrf_of(client, f"/admin/devices/{device.id}")
    path = f"/admin/devices/{device.id}/commands"

    asked = client.post(
        path, data={"type": "lock", "message": "Bitte im Sekretariat abgeben", "csrf_token": token}
    )
    assert asked.status_code == 200 and "Bitte bestätigen" in asked.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0

    done = client.post(
        path,
        data={
            "type": "lock",
            "message": "Bitte im Sekretariat abgeben",
            "confirmed": "yes",
            "csrf_token": token,
        },
    )
    assert done.status_code == 302
    command = db.session.scalar(select(Command))
    assert (command.device_id, command.type, command.status) == (device.id, "lock", "queued")
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "wartet auf 1 Gerät(e)" in shown and "Sperren" in shown


def test_an_action_the_device_may_not_take_is_refused_and_changes_nothing(
    page_client: PageClient, school_admin: User, byod_device: dict[str, Any]
) -> None:
    client = page_client(school_admin)
    path = f"/admin/devices/{byod_device['device_id']}/commands"
    token = csrf_of(client, f"/admin/devices/{byod_device['device_id']}")
    answer = client.post(path, data={"type": "erase", "confirmed": "yes", "csrf_token": token})
    assert answer.status_code == 302
    assert "Nicht gesendet" in client.get(answer.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0


def test_a_bulk_action_reaches_the_selected_devices_or_a_group(
    page_client: PageClient,
    school_admin: User,
    school: School,
    make_devices: Callable[..., list[dict[str, Any]]],
) -> None:
    devices = _devices(make_devices, 3)
    group = Group(school_id=school.id, kind="custom", name="Koffer 3")
    db.session.add(group)
    db.session.flush()
    group.devices = devices[:2]
    db.session.commit()
    client = page_client(school_admin)
    token = csrf_of(client, "/admin/devices")

    selected = {
        "type": "refresh_inventory",
        "device_ids": [str(devices[0].id), str(devices[2].id)],
        "confirmed": "yes",
        "csrf_token": token,
    }
    client.post("/admin/devices/commands", data=selected)
    whole = {"type": "lock", "group_id": str(group.id), "confirmed": "yes", "csrf_token": token}
    client.post("/admin/devices/commands", data=whole)

    rows = db.session.execute(select(Command.type, Command.device_id).order_by(Command.id)).all()
    assert sorted(rows) == sorted(
        [
            ("refresh_inventory", devices[0].id),
            ("refresh_inventory", devices[2].id),
            ("lock", devices[0].id),
            ("lock", devices[1].id),
        ]
    )


def test_students_and_teachers_get_403_and_another_school_gets_404(
    page_client: PageClient,
    student: User,
    teacher: User,
    create_user: Callable[..., User],
    other_school: School,
    make_devices: Callable[..., list[dict[str, Any]]],
) -> None:
    device = _devices(make_devices, 1)[0]
    for user in (student, teacher):
        client = page_client(user)
        assert client.get("/admin/devices").status_code == 403
        assert client.get(f"/admin/devices/{device.id}").status_code == 403
    stranger = page_client(create_user("school_admin", other_school))
    assert stranger.get(f"/admin/devices/{device.id}").status_code == 404
    assert device.name not in stranger.get("/admin/devices").get_data(as_text=True)
    token = csrf_of(stranger, "/admin/devices")
    answer = stranger.post(
        f"/admin/devices/{device.id}/commands",
        data={"type": "lock", "confirmed": "yes", "csrf_token": token},
    )
    assert answer.status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0


def test_a_command_without_the_csrf_token_is_refused(
    page_client: PageClient, school_admin: User, make_devices: Callable[..., list[dict[str, Any]]]
) -> None:
    device = _devices(make_devices, 1)[0]
    client = page_client(school_admin)
    answer = client.post(
        f"/admin/devices/{device.id}/commands", data={"type": "lock", "confirmed": "yes"}
    )
    assert answer.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Command)) == 0


def test_the_dashboards_links_filter_the_list_by_compliance_commands_and_silence(
    page_client: PageClient,
    school_admin: User,
    make_devices: Callable[..., list[dict[str, Any]]],
    clock: Any,
) -> None:
    from datetime import timedelta

    from mdm.platform.types import utcnow
    from mdm.policies.models import DevicePolicyState

    failing, busy, silent = _devices(make_devices, 3)
    failing.name, busy.name, silent.name = "Failing", "Busy", "Silent"
    state = db.session.get(DevicePolicyState, failing.id)
    state.failed_count = 1
    silent.last_seen_at = utcnow() - timedelta(days=8)
    db.session.commit()
    client = page_client(school_admin)
    token = csrf_of(client, "/admin/devices")
    client.post(
        f"/admin/devices/{busy.id}/commands",
        data={"type": "lock", "confirmed": "yes", "csrf_token": token},
    )

    def names(query: str) -> set[str]:
        html = client.get(f"/admin/devices?{query}").get_data(as_text=True)
        return {name for name in ("Failing", "Busy", "Silent") if f">{name}</a>" in html}

    assert names("compliance=non_compliant") == {"Failing"}
    assert names("command_status=pending") == {"Busy"}
    assert names("status=enrolled&not_seen_days=7") == {"Silent"}
    assert names("compliance=nonsense") == {"Failing", "Busy", "Silent"}
    shown = client.get("/admin/devices?compliance=non_compliant").get_data(as_text=True)
    assert "Nur Geräte: teilweise nicht anwendbar." in shown


def test_the_dashboards_figures_link_to_the_lists_they_count(
    page_client: PageClient, school_admin: User, make_devices: Callable[..., list[dict[str, Any]]]
) -> None:
    import html as html_module
    import re

    _devices(make_devices, 2)
    client = page_client(school_admin)
    dashboard = client.get("/admin").get_data(as_text=True)
    links = {html_module.unescape(link) for link in re.findall(r'href="(/admin/[^"]+)"', dashboard)}
    wanted = ("compliance=non_compliant", "command_status=pending", "not_seen_days=7")
    for fragment in wanted:
        link = next(link for link in links if fragment in link)
        page = client.get(link)
        assert page.status_code == 200 and "Nur Geräte:" in page.get_data(as_text=True), link
    history = next(link for link in links if link.startswith("/admin/timetable"))
    assert client.get(history).status_code == 200


def test_a_devices_page_and_its_audit_events_link_each_other(
    page_client: PageClient, school_admin: User, make_devices: Callable[..., list[dict[str, Any]]]
) -> None:
    device = _devices(make_devices, 1)[0]
    client = page_client(school_admin)
    detail = client.get(f"/admin/devices/{device.id}").get_data(as_text=True)
    link = f"/admin/audit?target_type=device&amp;target_id={device.id}"
    assert link in detail
    events = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "device.enroll" in events and f'href="/admin/devices/{device.id}"' in events
