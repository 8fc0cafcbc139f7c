"""The JSON agent protocol v1: enroll, check in, configuration, results, rotation, unenroll."""

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from sqlalchemy import Engine, select, text, update

from enrollment.models import EnrollmentToken
from mdm.accounts.models import School, User
from mdm.agent import service as agent
from mdm.devices import check_ins
from mdm.devices.identity import hash_secret, load_ca, verify_device_certificate
from mdm.devices.models import Device, DeviceCA, DeviceCredential, Group
from mdm.extensions import db
from mdm.platform.models import AuditEvent
from mdm.platform.types import utcnow
from tests.fixtures.devices import csr_pem, device_auth

Headers = Callable[[User], dict[str, str]]


def all_engines(app: Flask) -> list[Engine]:
    """The app's engine and, where it has its own, the engine of check-ins (committing tests)."""
    with app.test_request_context():
        engine = check_ins.check_in_engine()
    # On SQLite the check-in engine shares the main engine's connections and events.
    return [db.engine] if engine.dialect is db.engine.dialect else [db.engine, engine]


def test_enroll_a_school_device(
    client: FlaskClient,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    school: School,
) -> None:
    group = Group(school_id=school.id, kind="class", name="7a")
    db.session.add(group)
    db.session.commit()
    issued = make_token(group_ids=[group.id], platform="android")

    response = enroll(
        issued["secret"],
        name="Tablet 7",
        os_version="14",
        inventory={"serial_number": "SN7", "battery": 80},
    )

    assert response.status_code == 201
    body = response.get_json()
    assert body["protocol"] == 1
    device = db.session.get(Device, body["device_id"])
    assert (device.school_id, device.ownership, device.platform) == (school.id, "school", "android")
    assert (device.name, device.model, device.os_version) == ("Tablet 7", "Pixel 8", "14")
    assert device.inventory == {"serial_number": "SN7", "battery": 80}
    assert [g.name for g in device.groups] == ["7a"] and device.status == "enrolled"
    secret = body["credential"]["secret"]
    assert body["credential"]["certificate"] is None
    credential = db.session.scalar(select(DeviceCredential))
    assert credential.device_id == device.id and credential.secret_hash == hash_secret(secret)
    assert secret not in credential.secret_hash
    assert db.session.get(EnrollmentToken, issued["token"]["id"]).uses == 1
    configuration = body["configuration"]
    assert configuration["version"] == 1 and configuration["groups"] == ["7a"]
    assert configuration["name"] == "Tablet 7" and configuration["not_collected"] == []
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "device.enroll"))
    assert audit.target_id == str(device.id) and audit.school_id == school.id


@pytest.mark.parametrize("role", ["student", "teacher"])
def test_school_device_is_assigned_to_the_login_of_the_tokens_role(
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    headers: Headers,
    teacher: User,
    student: User,
    role: str,
) -> None:
    owner = teacher if role == "teacher" else student
    response = enroll(make_token(user_role=role)["secret"], headers=headers(owner))

    assert response.status_code == 201, response.get_json()
    device = db.session.get(Device, response.get_json()["device_id"])
    assert (device.user_id, device.user_role) == (owner.id, role)


def test_shared_school_device_is_assigned_to_nobody(
    make_token: Callable[..., Any], enroll: Callable[..., Any], headers: Headers, teacher: User
) -> None:
    response = enroll(make_token(user_role="shared")["secret"], headers=headers(teacher))

    assert response.status_code == 201, response.get_json()
    device = db.session.get(Device, response.get_json()["device_id"])
    assert (device.user_id, device.user_role) == (None, "shared")


def test_enroll_with_a_csr_issues_a_client_certificate_of_the_school_ca(
    app: Flask, make_token: Callable[..., Any], enroll: Callable[..., Any], ec_key: Any
) -> None:
    response = enroll(make_token()["secret"], csr=csr_pem(ec_key))

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    credential = body["credential"]
    cert = x509.load_pem_x509_certificate(credential["certificate"].encode())
    assert cert.public_key() == ec_key.public_key()
    row = db.session.scalar(select(DeviceCA))
    assert row.certificate_pem == credential["ca_certificate"]
    ca = load_ca(row.certificate_pem.encode(), row.key_pem, row.key_passphrase)
    device_id = verify_device_certificate(ca, credential["certificate"].encode(), utcnow(), set())
    assert device_id == str(body["device_id"])
    raw_key = db.session.execute(text("SELECT key_pem FROM device_cas")).scalar_one()
    assert b"PRIVATE KEY" not in bytes(raw_key)


def test_check_in_updates_last_seen_and_inventory(
    client: FlaskClient, enrolled: dict[str, Any]
) -> None:
    device = db.session.get(Device, enrolled["device_id"])
    enrolled_at = device.last_seen_at

    response = client.post(
        "/api/agent/v1/checkin",
        json={"inventory": {"battery": 42}, "os_version": "15"},
        headers=device_auth(enrolled),
    )

    assert response.status_code == 200
    assert response.get_json() == {
        "protocol": 1,
        "config_version": 1,
        "check_in_seconds": 900,
        "work": [],
    }
    db.session.expire_all()
    device = db.session.get(Device, enrolled["device_id"])
    assert device.last_seen_at >= enrolled_at and device.inventory == {"battery": 42}
    assert device.os_version == "15"


@pytest.mark.committing
def test_check_in_is_one_select_and_one_update_without_a_transaction(
    app: Flask, client: FlaskClient, enrolled: dict[str, Any], count_queries: Callable[..., Any]
) -> None:
    with count_queries(*all_engines(app)) as statements:
        for _ in range(2):
            response = client.post(
                "/api/agent/v1/checkin",
                json={"inventory": {"serial_number": "SN1", "battery": 90}},
                headers=device_auth(enrolled),
            )
            assert response.status_code == 200
    # No BEGIN, no COMMIT: each statement commits on its own (checked below for PostgreSQL).
    assert [statement.split()[0].upper() for statement in statements] == ["SELECT", "UPDATE"] * 2


@pytest.mark.committing
def test_check_ins_commit_each_statement_and_do_not_wait_for_the_wal_flush(
    app: Flask, client: FlaskClient, enrolled: dict[str, Any]
) -> None:
    with app.test_request_context(), check_ins.check_in_connection() as connection:
        device = agent.authenticate(
            connection, agent.credential_lookup(enrolled["credential"]["secret"], None), None
        )
        agent.check_in(connection, device, inventory={"battery": 7}, os_version=None)
        raw = connection.connection.dbapi_connection
        if connection.dialect.name == "postgresql":
            assert raw.info.transaction_status == raw.info.transaction_status.IDLE
            assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
            # Everything else keeps the server's default.
            assert db.session.execute(text("SHOW synchronous_commit")).scalar() == "on"
        else:
            assert raw.in_transaction is False
    # Committed: another connection sees it.
    db.session.expire_all()
    assert db.session.get(Device, device.device_id).inventory == {"battery": 7}


def test_nonsense_credentials_cost_no_database_work(
    client: FlaskClient, enrolled: dict[str, Any], count_queries: Callable[..., Any]
) -> None:
    with count_queries() as statements:
        for authorization in ("Bearer nonsense", "Basic dXNlcjpwdw=="):
            response = client.post(
                "/api/agent/v1/checkin", json={}, headers={"Authorization": authorization}
            )
            assert response.status_code == 401
    assert statements == []


@pytest.mark.committing
def test_the_check_in_engine_keeps_the_apps_engine_options(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app()
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("SQLite check-ins use the app's own engine")
    app = make_app(
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "pool_size": 3,
            "connect_args": {"options": "-c statement_timeout=5000"},
        }
    )
    with app.test_request_context(), check_ins.check_in_connection() as connection:
        assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "5s"
        assert connection.exec_driver_sql("SHOW synchronous_commit").scalar() == "off"
        assert connection.engine.pool.size() == 3


@pytest.mark.committing
def test_a_check_in_on_a_connection_the_database_dropped_is_tried_again(
    app: Flask, client: FlaskClient, enrolled: dict[str, Any]
) -> None:
    with app.test_request_context(), check_ins.check_in_connection() as connection:
        if connection.dialect.name != "postgresql":
            pytest.skip("a PostgreSQL server can drop a pooled connection")
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    # The connection is back in its pool; the server drops it, as on a restart.
    db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    db.session.commit()

    response = client.post(
        "/api/agent/v1/checkin", json={"inventory": {"battery": 3}}, headers=device_auth(enrolled)
    )

    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.get(Device, enrolled["device_id"]).inventory == {"battery": 3}


def test_a_device_retired_between_its_select_and_its_update_is_told_so(
    app: Flask, enrolled: dict[str, Any]
) -> None:
    with app.test_request_context(), check_ins.check_in_connection() as connection:
        device = agent.authenticate(
            connection, agent.credential_lookup(enrolled["credential"]["secret"], None), None
        )
        db.session.execute(
            update(Device).where(Device.id == device.device_id).values(status="retired")
        )
        db.session.commit()
        with pytest.raises(agent.DeviceRetired):
            agent.check_in(connection, device, inventory={"battery": 5}, os_version=None)
    db.session.expire_all()
    assert db.session.get(Device, device.device_id).inventory != {"battery": 5}


def test_unchanged_inventory_is_not_written_again(
    client: FlaskClient, enrolled: dict[str, Any], count_queries: Callable[..., Any]
) -> None:
    with count_queries() as statements:
        client.post(
            "/api/agent/v1/checkin",
            json={"inventory": {"battery": 90, "serial_number": "SN1"}},
            headers=device_auth(enrolled),
        )
    updates = [statement for statement in statements if statement.startswith("UPDATE")]
    assert len(updates) == 1 and "inventory" not in updates[0]


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer nonsense", "Bearer " + "A" * 43, "Basic dXNlcjpwdw=="],
)
def test_check_in_without_a_valid_device_credential(
    client: FlaskClient, enrolled: dict[str, Any], authorization: str | None
) -> None:
    response = client.post(
        "/api/agent/v1/checkin",
        json={},
        headers={"Authorization": authorization} if authorization else {},
    )
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_user_login_is_not_a_device_credential(
    client: FlaskClient, headers: Headers, school_admin: User, enrolled: dict[str, Any]
) -> None:
    response = client.post("/api/agent/v1/checkin", json={}, headers=headers(school_admin))
    assert response.status_code == 401


def test_a_wrong_secret_with_a_known_lookup_key_is_refused(
    client: FlaskClient, enrolled: dict[str, Any]
) -> None:
    secret = enrolled["credential"]["secret"]
    forged = secret[:12] + ("A" if secret[12] != "A" else "B") + secret[13:]
    response = client.post(
        "/api/agent/v1/checkin", json={}, headers={"Authorization": f"Bearer {forged}"}
    )
    assert response.status_code == 401


def test_configuration_follows_admin_changes(
    client: FlaskClient, headers: Headers, school_admin: User, enrolled: dict[str, Any]
) -> None:
    client.patch(
        f"/api/v1/devices/{enrolled['device_id']}",
        json={"name": "Tablet 9"},
        headers=headers(school_admin),
    )

    answer = client.post("/api/agent/v1/checkin", json={}, headers=device_auth(enrolled))
    configuration = client.get("/api/agent/v1/configuration", headers=device_auth(enrolled))

    assert answer.get_json()["config_version"] == 2
    assert configuration.status_code == 200
    assert configuration.get_json()["version"] == 2
    assert configuration.get_json()["name"] == "Tablet 9"


def test_result_of_unknown_work(client: FlaskClient, enrolled: dict[str, Any]) -> None:
    response = client.post(
        "/api/agent/v1/results",
        json={"work_id": "command-1", "status": "done"},
        headers=device_auth(enrolled),
    )
    assert response.status_code == 404 and "command-1" in response.get_json()["detail"]
    invalid = client.post(
        "/api/agent/v1/results",
        json={"work_id": "command-1", "status": "maybe"},
        headers=device_auth(enrolled),
    )
    assert invalid.status_code == 400 and "status" in invalid.get_json()["errors"]


def test_unenroll_retires_the_device_and_revokes_its_credential(
    client: FlaskClient, enrolled: dict[str, Any]
) -> None:
    response = client.post("/api/agent/v1/unenroll", headers=device_auth(enrolled))

    assert response.status_code == 204
    device = db.session.get(Device, enrolled["device_id"])
    assert device.status == "retired" and device.retired_at is not None
    assert db.session.scalar(select(DeviceCredential.revoked_at)) is not None
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "device.retire"))
    again = client.post("/api/agent/v1/checkin", json={}, headers=device_auth(enrolled))
    assert again.status_code == 410
    assert again.get_json()["type"] == "/problems/device-retired"


def test_check_in_of_a_retired_device(
    client: FlaskClient, headers: Headers, school_admin: User, enrolled: dict[str, Any]
) -> None:
    client.post(f"/api/v1/devices/{enrolled['device_id']}/retire", headers=headers(school_admin))

    response = client.post("/api/agent/v1/checkin", json={}, headers=device_auth(enrolled))

    assert response.status_code == 410
    assert response.get_json()["type"] == "/problems/device-retired"


def test_rotate_the_credential(
    client: FlaskClient, enrolled: dict[str, Any], ec_key: ec.EllipticCurvePrivateKey
) -> None:
    response = client.post(
        "/api/agent/v1/credential", json={"csr": csr_pem(ec_key)}, headers=device_auth(enrolled)
    )

    assert response.status_code == 200
    new = response.get_json()["credential"]
    assert new["secret"] != enrolled["credential"]["secret"] and new["certificate"]
    old = client.post("/api/agent/v1/checkin", json={}, headers=device_auth(enrolled))
    assert old.status_code == 401
    fresh = client.post(
        "/api/agent/v1/checkin", json={}, headers={"Authorization": f"Bearer {new['secret']}"}
    )
    assert fresh.status_code == 200
    assert db.session.scalar(
        select(AuditEvent.id).where(AuditEvent.action == "device.credential.rotate")
    )


def test_client_certificate_from_a_trusted_proxy(
    make_app: Callable[..., Flask], create_school: Callable[..., School], ec_key: Any
) -> None:
    app = make_app(AGENT_TRUST_CLIENT_CERT_HEADER=True)
    with app.app_context():
        school = create_school()
        admin = User(username="adm", role="school_admin", school_id=school.id)
        db.session.add(admin)
        db.session.commit()
        client = app.test_client()
        auth = {"Authorization": f"Bearer {create_access_token(identity=str(admin.id))}"}
        secret = client.post(
            "/api/v1/enrollment-tokens",
            json={"ownership": "school", "user_role": "shared"},
            headers=auth,
        ).get_json()["secret"]
        enrolled = client.post(
            "/api/agent/v1/enroll",
            json={"token": secret, "platform": "linux", "csr": csr_pem(ec_key)},
        ).get_json()
        header = {"X-SSL-Client-Cert": quote(enrolled["credential"]["certificate"])}

        assert client.post("/api/agent/v1/checkin", json={}, headers=header).status_code == 200
        client.post("/api/agent/v1/credential", json={}, headers=device_auth(enrolled))
        assert client.post("/api/agent/v1/checkin", json={}, headers=header).status_code == 401


def test_client_certificate_header_is_ignored_unless_trusted(
    client: FlaskClient, make_token: Callable[..., Any], enroll: Callable[..., Any], ec_key: Any
) -> None:
    enrolled = enroll(make_token()["secret"], csr=csr_pem(ec_key)).get_json()
    header = {"X-SSL-Client-Cert": quote(enrolled["credential"]["certificate"])}
    assert client.post("/api/agent/v1/checkin", json={}, headers=header).status_code == 401


def test_a_device_only_ever_touches_itself(
    client: FlaskClient,
    make_token: Callable[..., Any],
    enroll: Callable[..., Any],
    create_user: Callable[..., User],
    headers: Headers,
    other_school: School,
) -> None:
    mine = enroll(make_token()["secret"]).get_json()
    other_admin = create_user("school_admin", other_school)
    other_secret = make_token(admin=other_admin)["secret"]
    theirs = enroll(other_secret, inventory={"battery": 1}).get_json()

    client.post(
        "/api/agent/v1/checkin", json={"inventory": {"battery": 99}}, headers=device_auth(mine)
    )
    client.post("/api/agent/v1/unenroll", headers=device_auth(mine))

    other = db.session.get(Device, theirs["device_id"])
    assert other.inventory == {"battery": 1} and other.status == "enrolled"
    answer = client.post("/api/agent/v1/checkin", json={}, headers=device_auth(theirs))
    assert answer.status_code == 200


def test_openapi_describes_the_agent_protocol(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    for path in ("enroll", "checkin", "configuration", "results", "credential", "unenroll"):
        assert f"/api/agent/v1/{path}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["deviceSecret"]["scheme"] == "bearer"
    checkin = spec["paths"]["/api/agent/v1/checkin"]["post"]
    assert checkin["security"] == [{"deviceSecret": []}]
    assert "CheckInResponse" in str(checkin["responses"]["200"])
