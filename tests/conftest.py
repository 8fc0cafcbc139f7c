"""Fixtures in the Flask tutorial's style: app, client, runner, factories, auth headers.

The schema is made once per run by the migrations; after each test every table is emptied, so each
test starts from an empty database with real commits. SQLite by default; PostgreSQL when
MDM_TEST_DATABASE_URL is set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test).
"""

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_jwt_extended import create_access_token
from sqlalchemy import text

from mdm import create_app
from mdm.accounts.models import School, User
from mdm.accounts.service import hash_password
from mdm.agent.service import CHECK_IN_ENGINE
from mdm.extensions import db

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key",
    "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-for-hs256",
    "ENCRYPTION_KEYS": ["nV2ikxxRlDk5YDBsj3EyQv8oZGJw6pF8JAyXqmBjGzQ="],
}
PASSWORD = "correct-horse-9"


def pytest_configure(config: pytest.Config) -> None:
    """Keep MDM_* variables of the developer's shell out of the tests."""
    for name in list(os.environ):
        if name.startswith("MDM_") and name not in (
            "MDM_TEST_DATABASE_URL",
            "MDM_WRITE_SCREENSHOT",
        ):
            del os.environ[name]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database: MDM_TEST_DATABASE_URL, or a SQLite file for this run."""
    url = os.environ.get("MDM_TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite3")


def test_config(database_url: str, **overrides: Any) -> dict[str, Any]:
    """Configuration of a test app."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        **TEST_SECRETS,
        **overrides,
    }


@pytest.fixture(scope="session")
def migrated(database_url: str) -> str:
    """Make the schema once, with the migrations (the only way the schema is made)."""
    from flask_migrate import downgrade, upgrade

    app = create_app(test_config(database_url))
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        else:
            downgrade(revision="base")
        upgrade()
        db.engine.dispose()
    return database_url


def empty_all_tables() -> None:
    """Delete every row, children first."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def make_app(migrated: str) -> Iterator[Callable[..., Flask]]:
    """Build apps on the test database with extra settings; tables are emptied afterwards."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        app = create_app(test_config(migrated, **overrides))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        with app.app_context():
            db.session.remove()
    cleaner = next((a for a in apps if a.config["DATABASE_URL"] == migrated), None)
    if cleaner is not None:
        with cleaner.app_context():
            empty_all_tables()
    for app in apps:
        with app.app_context():
            db.engine.dispose()
        check_in_engine = app.extensions.get(CHECK_IN_ENGINE)
        if check_in_engine is not None:
            check_in_engine.dispose()


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Iterator[Flask]:
    """The app, with an app context pushed so tests and factories can use db.session."""
    app = make_app()
    with app.app_context():
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def create_school(app: Flask) -> Callable[..., School]:
    """Factory: a school committed to the database."""
    counter = iter(range(1, 10_000))

    def factory(slug: str | None = None, name: str | None = None) -> School:
        n = next(counter)
        school = School(
            slug=slug or f"school-{n}", name=name or f"Schule {n}", timezone="Europe/Berlin"
        )
        db.session.add(school)
        db.session.commit()
        return school

    return factory


@pytest.fixture
def create_user(app: Flask) -> Callable[..., User]:
    """Factory: a user committed to the database, with password PASSWORD."""
    counter = iter(range(1, 10_000))

    def factory(role: str = "student", school: School | None = None, **fields: Any) -> User:
        n = next(counter)
        fields.setdefault("username", f"{role}-{n}")
        fields.setdefault("last_name", f"Nachname{n}")
        user = User(
            role=role,
            school_id=school.id if school else None,
            password_hash=hash_password(fields.pop("password", PASSWORD)),
            **fields,
        )
        db.session.add(user)
        db.session.commit()
        return user

    return factory


@pytest.fixture
def school(create_school: Callable[..., School]) -> School:
    return create_school(slug="gymnasium-a", name="Gymnasium A")


@pytest.fixture
def other_school(create_school: Callable[..., School]) -> School:
    return create_school(slug="realschule-b", name="Realschule B")


@pytest.fixture
def headers(app: Flask) -> Callable[[User], dict[str, str]]:
    """Authorization headers of a user (an access token made directly, without a login)."""

    def factory(user: User) -> dict[str, str]:
        return {"Authorization": f"Bearer {create_access_token(identity=str(user.id))}"}

    return factory


@pytest.fixture
def it_admin(create_user: Callable[..., User]) -> User:
    return create_user("it_admin", username="city-it")


@pytest.fixture
def school_admin(create_user: Callable[..., User], school: School) -> User:
    return create_user("school_admin", school, username="admin-a")


@pytest.fixture
def teacher(create_user: Callable[..., User], school: School) -> User:
    return create_user(
        "teacher", school, username="teacher-a", first_name="Tina", last_name="Lehrerin"
    )


@pytest.fixture
def student(create_user: Callable[..., User], school: School) -> User:
    return create_user("student", school, username="student-a", class_name="7a")
