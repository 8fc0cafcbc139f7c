"""Previews of a policy change: which devices a new document or a new assignment would reach
and change, with nothing saved."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.devices.models import Device, Group
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import NotFound, ValidationFailed
from mdm.platform.models import AuditEvent
from mdm.policies import service
from mdm.policies.document import PolicyDocumentSchema
from mdm.policies.models import DevicePolicyState, PolicyAssignment, PolicyVersion


def _actor(user: User) -> Actor:
    return Actor(name=user.username, role=user.role, user_id=user.id, school_id=user.school_id)


def _states() -> dict[int, str]:
    return dict(
        db.session.execute(
            select(DevicePolicyState.device_id, DevicePolicyState.desired_hash)
        ).all()
    )


def test_a_new_document_previews_the_devices_it_changes_and_saves_nothing(
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
    school_admin: User,
    school: School,
) -> None:
    devices = make_devices(3)
    group = Group(school_id=school.id, kind="custom", name="Koffer")
    db.session.add(group)
    db.session.flush()
    group.devices = [db.session.get(Device, devices[0]["device_id"])]
    db.session.commit()
    policy = make_policy(
        {"passcode": {"required": True}}, assign={"target": "group", "group_id": group.id}
    )
    before = (_states(), db.session.scalar(select(func.count()).select_from(AuditEvent)))
    document = PolicyDocumentSchema().load({"restrictions": {"allow_camera": False}})

    preview = service.preview_update(db.session, _actor(school_admin), policy["id"], document)

    assert preview.reached == 1 and preview.changed_total == 1 and preview.new_version
    assert [device.id for device in preview.changed] == [devices[0]["device_id"]]
    assert (_states(), db.session.scalar(select(func.count()).select_from(AuditEvent))) == before
    versions = db.session.scalar(
        select(func.count()).where(PolicyVersion.policy_id == policy["id"])
    )
    assert versions == 1


def test_the_same_document_changes_no_device(
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
    school_admin: User,
) -> None:
    make_devices(2)
    policy = make_policy({"passcode": {"required": True}}, assign={"target": "school"})
    document = PolicyDocumentSchema().load({"passcode": {"required": True}})

    preview = service.preview_update(db.session, _actor(school_admin), policy["id"], document)

    assert (preview.reached, preview.changed_total, preview.new_version) == (2, 0, False)


def test_a_document_that_saving_would_refuse_is_refused_by_the_preview(
    make_policy: Callable[..., dict[str, Any]], school_admin: User
) -> None:
    policy = make_policy({})
    document = PolicyDocumentSchema().load({"wifi": [{"ssid": "Schule", "security": "wpa2"}]})
    with pytest.raises(ValidationFailed) as refused:
        service.preview_update(db.session, _actor(school_admin), policy["id"], document)
    assert "document" in refused.value.errors


def test_a_new_assignment_previews_its_reach_and_saves_nothing(
    make_devices: Callable[..., list[dict[str, Any]]],
    make_policy: Callable[..., dict[str, Any]],
    school_admin: User,
) -> None:
    devices = make_devices(2)
    overridden = make_policy(
        {"passcode": {"min_length": 6}}, assign={"target": "school", "priority": 500}
    )
    policy = make_policy({"passcode": {"min_length": 4}})
    device = devices[1]["device_id"]

    preview = service.preview_assign(
        db.session, _actor(school_admin), policy["id"], target="device", device_id=device
    )
    over = service.preview_assign(
        db.session,
        _actor(school_admin),
        policy["id"],
        target="device",
        device_id=device,
        priority=600,
    )

    assert (preview.reached, preview.changed_total) == (1, 0)  # priority 100 loses to 500
    assert (over.reached, [d.id for d in over.changed]) == (1, [device])
    assert (
        db.session.scalar(select(func.count()).select_from(PolicyAssignment)) == 1
        and overridden["assignment"]
    )


def test_another_schools_device_cannot_be_previewed(
    make_policy: Callable[..., dict[str, Any]],
    create_user: Callable[..., User],
    other_school: School,
    school_admin: User,
    make_devices: Callable[..., list[dict[str, Any]]],
) -> None:
    device = make_devices(1)[0]["device_id"]
    stranger = create_user("school_admin", other_school)
    policy = make_policy({})
    with pytest.raises(NotFound):
        service.preview_assign(
            db.session, _actor(stranger), policy["id"], target="device", device_id=device
        )
