"""The CLI: create-admin, demo, run."""

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from mdm import cli
from mdm.accounts.models import School, User
from mdm.extensions import db
from mdm.platform.http import SERVED_URL


def test_create_admin(runner: FlaskCliRunner, app: Flask) -> None:
    result = runner.invoke(
        args=["create-admin", "--username", "Stadt-IT", "--password", "very-secret-1"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.username == "stadt-it"))
    assert user.role == "it_admin" and user.school_id is None
    again = runner.invoke(
        args=["create-admin", "--username", "stadt-it", "--password", "very-secret-1"]
    )
    assert again.exit_code == 1 and "taken" in again.output
    short = runner.invoke(args=["create-admin", "--username", "x2", "--password", "short"])
    assert short.exit_code == 1 and "password" in short.output


def test_demo_seeds_once_and_admin_can_log_in(runner: FlaskCliRunner, app: Flask) -> None:
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "username 'admin'" in first.output
    users_after_first = db.session.scalar(select(func.count()).select_from(User))
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(User)) == users_after_first
    assert db.session.scalar(select(func.count()).select_from(School)) == 1
    classes = set(db.session.scalars(select(User.class_name).where(User.role == "student")))
    assert {"5a", "5b", "7a", "10c"} <= classes
    response = app.test_client().post(
        "/api/v1/auth/login", json={"username": "admin", "password": "demo1234"}
    )
    assert response.status_code == 200 and response.get_json()["access_token"]


def test_run_prints_the_address_it_serves_and_links_on_it(
    runner: FlaskCliRunner, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[tuple[str, int]] = []
    monkeypatch.setattr(cli, "_upgrade_database", lambda: None)  # the test's schema is current
    monkeypatch.setattr(
        cli, "_serve", lambda _app, host, port, _threads: served.append((host, port))
    )
    try:
        result = runner.invoke(args=["run", "--demo", "--port", "5001"])
    finally:
        app.extensions.pop(SERVED_URL, None)
    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 5001)]
    assert "Serving on http://127.0.0.1:5001/" in result.output
    assert "Enrollment link for more iPads of 5a: http://127.0.0.1:5001/enroll/et_" in result.output
    assert "Log in: curl -X POST http://127.0.0.1:5001/api/v1/auth/login" in result.output
    assert "localhost:5000" not in result.output
    assert "MDM_BASE_URL=http://<this machine's address>:5001 mdm run --host 0.0.0.0" in (
        result.output
    )


def test_run_on_all_addresses_and_with_base_url(
    runner: FlaskCliRunner, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_upgrade_database", lambda: None)
    monkeypatch.setattr(cli, "_serve", lambda *_args: None)
    app.config["BASE_URL"] = "http://192.168.1.20:5000"
    try:
        result = runner.invoke(args=["run", "--demo", "--host", "0.0.0.0"])
    finally:
        app.extensions.pop(SERVED_URL, None)
    assert result.exit_code == 0, result.output
    assert "Serving on http://127.0.0.1:5000/" in result.output
    assert "other devices open http://<this machine's address>:5000/" in result.output
    assert "Links and QR codes begin with MDM_BASE_URL: http://192.168.1.20:5000" in result.output
    assert "http://192.168.1.20:5000/enroll/et_" in result.output


def test_demo_without_base_url_prints_the_links_path_and_says_what_is_needed(
    runner: FlaskCliRunner,
) -> None:
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "Enrollment link for more iPads of 5a: /enroll/et_" in result.output
    assert "set MDM_BASE_URL to have whole links printed" in result.output
    assert "Log in: curl -X POST http://127.0.0.1:5000/api/v1/auth/login" in result.output


def test_served_url() -> None:
    assert cli.served_url("127.0.0.1", 5001) == "http://127.0.0.1:5001"
    assert cli.served_url("0.0.0.0", 5000) == "http://127.0.0.1:5000"
    assert cli.served_url("::", 8080) == "http://[::1]:8080"
    assert cli.served_url("fd00::20", 5000) == "http://[fd00::20]:5000"
    assert cli.served_url("schule.local", 5000) == "http://schule.local:5000"
