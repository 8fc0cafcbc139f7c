"""Fixtures in the Flask tutorial's style: app, client, runner, factories, auth headers.

One app for the whole run, on a schema made once by the migrations. Each test runs in a
transaction that is rolled back afterwards: the test's and its requests' `db.session` work on one
connection, inside SAVEPOINTs, so a request's commit and rollback behave as usual and nothing
stays. Tests that need real commits (other connections, threads, a live server, the real
check-in engine) are marked `committing`: they get real commits and the tables are emptied
afterwards. SQLite by default; PostgreSQL when MDM_TEST_DATABASE_URL is set (e.g.
postgresql+psycopg://postgres@127.0.0.1:5432/test). Time is the test's: `clock` moves it.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_jwt_extended import create_access_token
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import Connection, event, text
from sqlalchemy.orm import scoped_session, sessionmaker

from mdm import create_app
from mdm.accounts import login
from mdm.accounts.models import School, User
from mdm.accounts.service import hash_password
from mdm.devices.check_ins import CHECK_IN_ENGINE
from mdm.extensions import db
from mdm.platform.ratelimit import make_counter

pytest_plugins = [
    "tests.fixtures.devices",
    "tests.fixtures.browser",
    "tests.fixtures.policies",
    "tests.fixtures.pages",
]

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
TEST_SECRETS = {
    "SECRET_KEY": "test-secret-key",
    "JWT_SECRET_KEY": "test-jwt-secret-key-that-is-long-enough-for-hs256",
    "ENCRYPTION_KEYS": ["nV2ikxxRlDk5YDBsj3EyQv8oZGJw6pF8JAyXqmBjGzQ="],
}
PASSWORD = "correct-horse-9"
# What the rolled-back test transaction adds around a request's own statements.
TEST_TRANSACTION_STATEMENTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
# The failure counters an app keeps, with the setting of their window.
COUNTERS = {
    login.FAILURES: "LOGIN_FAILURE_WINDOW_SECONDS",
    "enrollment_token_failures": "ENROLLMENT_TOKEN_FAILURE_WINDOW_SECONDS",
}


def pytest_configure(config: pytest.Config) -> None:
    """Keep MDM_* variables of the developer's shell out of the tests."""
    for name in list(os.environ):
        if name.startswith("MDM_") and name not in (
            "MDM_TEST_DATABASE_URL",
            "MDM_WRITE_SCREENSHOT",
        ):
            del os.environ[name]


class Clock:
    """The monotonic clock of the apps of one test (worker cache ages, rate-limit windows):
    it moves only when the test moves it."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        """Let time pass."""
        self.seconds += seconds


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
        "INITIAL_PASSWORD_HASH_METHOD": "scrypt:256:8:1",
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


@pytest.fixture(scope="session")
def session_app(migrated: str) -> Flask:
    """The one app of the test run."""
    return create_app(test_config(migrated))


def empty_all_tables() -> None:
    """Delete every row, children first (after a committing test)."""
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
    db.session.commit()


class _TestSession(FlaskSession):
    """Every statement of the test's sessions runs on the test's connection."""

    def get_bind(self, mapper: Any = None, clause: Any = None, bind: Any = None, **kw: Any) -> Any:
        return bind if bind is not None else self.bind


class _SharedConnection:
    """Stands in for the check-in engine: check-ins run on the test's connection too."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self.connection


def _fresh_worker_state(app: Flask, clock: Clock) -> None:
    """Forget what the app remembers as a worker, and give it the test's clock."""
    cache = app.extensions["mdm_cache"]
    cache.clear()
    cache.clock = clock
    for key, window in COUNTERS.items():
        counter = make_counter(app.config["RATELIMIT_STORAGE_URL"], int(app.config[window]))
        if hasattr(counter, "clock"):
            counter.clock = clock
        app.extensions[key] = counter


@contextmanager
def _rolled_back(app: Flask) -> Iterator[Connection]:
    """Bind db.session to one connection whose transaction is rolled back at the end."""
    connection = db.engine.connect()
    outer = connection.begin()
    if connection.dialect.name == "sqlite":
        # pysqlite opens a transaction only before writes, and the first RELEASE SAVEPOINT
        # would commit; an explicit BEGIN keeps every savepoint inside the outer transaction.
        connection.exec_driver_sql("BEGIN")
    original = db.session
    db.session = scoped_session(
        sessionmaker(
            class_=_TestSession,
            db=db,
            query_cls=db.Query,
            bind=connection,
            join_transaction_mode="create_savepoint",
        ),
        scopefunc=original.registry.scopefunc,  # type: ignore[attr-defined]
    )
    try:
        yield connection
    finally:
        db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


def _restore(app: Flask, settings: dict[str, Any]) -> None:
    """Undo what a test changed in the app's settings."""
    app.config.clear()
    app.config.update(settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(session_app: Flask, clock: Clock, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """The app, with an app context pushed so tests and factories can use db.session; its
    changes are rolled back after the test (emptied, for tests marked `committing`)."""
    _fresh_worker_state(session_app, clock)
    settings = dict(session_app.config)
    request.addfinalizer(lambda: _restore(session_app, settings))
    with session_app.app_context():
        if request.node.get_closest_marker("committing"):
            try:
                yield session_app
            finally:
                db.session.remove()
                empty_all_tables()
                engine = session_app.extensions.pop(CHECK_IN_ENGINE, None)
                if engine is not None:
                    engine.dispose()
            return
        with _rolled_back(session_app) as connection:
            session_app.extensions[CHECK_IN_ENGINE] = _SharedConnection(connection)
            try:
                yield session_app
            finally:
                session_app.extensions.pop(CHECK_IN_ENGINE, None)


@pytest.fixture
def make_app(app: Flask, clock: Clock) -> Iterator[Callable[..., Flask]]:
    """Build more apps (other workers, other settings) on the test's database and clock."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        other = create_app(test_config(app.config["DATABASE_URL"], **overrides))
        _fresh_worker_state(other, clock)
        shared = app.extensions.get(CHECK_IN_ENGINE)
        if isinstance(shared, _SharedConnection):
            other.extensions[CHECK_IN_ENGINE] = shared
        apps.append(other)
        return other

    yield factory
    for other in apps:
        with other.app_context():
            db.engine.dispose()
            engine = other.extensions.get(CHECK_IN_ENGINE)
            if engine is not None and not isinstance(engine, _SharedConnection):
                engine.dispose()


@pytest.fixture
def count_queries(app: Flask) -> Callable[..., Any]:
    """The SQL statements run while a block runs: `with count_queries() as statements:`, on the
    app's engine unless engines are named."""

    @contextmanager
    def counting(*engines: Any) -> Iterator[list[str]]:
        statements: list[str] = []
        targets = engines or (db.engine,)  # every app's statements, in a rolled-back test

        def record(*args: Any) -> None:
            if not args[2].startswith(TEST_TRANSACTION_STATEMENTS):
                statements.append(args[2])

        for target in targets:
            event.listen(target, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            for target in targets:
                event.remove(target, "before_cursor_execute", record)

    return counting


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
