"""Parallel PKCSReqs with one challenge, each on its own connection: one certificate."""

import threading
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask
from sqlalchemy import func, select

from mdm.accounts.models import School
from mdm.apple.scep import service
from mdm.devices.models import Device, DeviceCredential
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from tests.mdm.apple.scep import client
from tests.mdm.apple.scep.conftest import Scep

pytestmark = [pytest.mark.committing, pytest.mark.concurrency]
REQUESTS = 8


def test_one_challenge_sent_at_once_gives_one_certificate(
    app: Flask,
    school: School,
    pending_device: Callable[..., Device],
    device_key: rsa.RSAPrivateKey,
) -> None:
    device = pending_device(school)
    school_id, device_id = school.id, device.id
    challenge = service.issue_challenge(db.session, device)
    db.session.commit()
    responder = Scep(app.test_client(), school_id).responder()  # made before the race
    enrollments = [client.Enrollment(device_key, f"tx-{n}") for n in range(REQUESTS)]
    messages = [e.pkcs_req(responder, challenge) for e in enrollments]
    db.session.remove()
    barrier = threading.Barrier(REQUESTS)
    replies: list[client.CertRep | BaseException | None] = [None] * REQUESTS

    def send(n: int) -> None:
        endpoint = Scep(app.test_client(), school_id)
        barrier.wait()
        try:
            response = endpoint.pki_operation(messages[n])
            assert response.status_code == 200, response.get_data(as_text=True)
            replies[n] = client.read_cert_rep(response.data, responder, enrollments[n])
        except BaseException as exc:  # reported below, by the test's thread
            replies[n] = exc

    threads = [threading.Thread(target=send, args=(n,)) for n in range(REQUESTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(isinstance(reply, client.CertRep) for reply in replies), replies
    statuses = sorted((r.status, r.fail_info) for r in replies)  # type: ignore[union-attr]
    assert statuses == [("0", None)] + [("2", "2")] * (REQUESTS - 1)
    count = select(func.count()).select_from(DeviceCredential)
    assert db.session.scalar(count.where(DeviceCredential.device_id == device_id)) == 1
    issued = select(func.count()).select_from(AuditEvent)
    assert (
        db.session.scalar(issued.where(AuditEvent.action == "device.scep_certificate.issue")) == 1
    )
