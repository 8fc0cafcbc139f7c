"""The CLI: create-admin, demo."""

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from mdm.accounts.models import School, User
from mdm.extensions import db


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
