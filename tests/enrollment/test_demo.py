"""The demo seeds enrollment tokens and devices of both ownerships, once."""

from flask import Flask
from sqlalchemy import func, select

from enrollment.models import Consent, EnrollmentToken
from mdm.accounts.demo import seed_demo
from mdm.devices.models import Device
from mdm.extensions import db


def test_demo_enrolls_devices_once(app: Flask) -> None:
    first = seed_demo(app, db.session)
    db.session.commit()
    second = seed_demo(app, db.session)
    db.session.commit()

    assert any("/enroll/et_" in line for line in first.notes)
    assert not any("/enroll/et_" in line for line in second.notes)
    assert db.session.scalar(select(func.count()).select_from(EnrollmentToken)) == 2
    devices = list(db.session.scalars(select(Device).order_by(Device.id)))
    assert [d.ownership for d in devices] == ["school", "school", "byod"]
    assert devices[0].inventory["serial_number"] == "DMPX00001"
    assert devices[2].inventory == {"battery": 81}
    assert db.session.scalar(select(Consent.notice_version)) == 1
