"""Configuration order and the production secret checks."""

import json
from pathlib import Path

import pytest

from mdm import create_app
from mdm.settings import ConfigError


def test_production_without_secrets_stops_with_the_setting_named(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MDM_ENV", "production")
    monkeypatch.setenv("MDM_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    monkeypatch.setenv("MDM_SECRET_KEY", "s3cret")
    with pytest.raises(ConfigError) as caught:
        create_app()
    message = str(caught.value)
    assert "JWT_SECRET_KEY (MDM_JWT_SECRET_KEY)" in message
    assert "ENCRYPTION_KEYS (MDM_ENCRYPTION_KEYS)" in message
    assert "SECRET_KEY (MDM_SECRET_KEY)," not in message.split("JWT")[0]


def test_production_cli_prints_the_message(monkeypatch, tmp_path) -> None:
    from click.testing import CliRunner

    from mdm.cli import cli

    monkeypatch.setenv("MDM_ENV", "production")
    monkeypatch.setenv("MDM_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 2
    assert "SECRET_KEY (MDM_SECRET_KEY)" in result.output


def test_order_defaults_file_environment_overrides(monkeypatch, tmp_path: Path) -> None:
    config_file = tmp_path / "mdm.toml"
    config_file.write_text(
        'BASE_URL = "https://from-file.example"\n'
        'LOGIN_FAILURES_PER_ACCOUNT = 7\nDEFAULT_TIMEZONE = "Europe/Vienna"\n'
    )
    monkeypatch.setenv("MDM_CONFIG", str(config_file))
    monkeypatch.setenv("MDM_LOGIN_FAILURES_PER_ACCOUNT", "9")
    monkeypatch.setenv("MDM_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    app = create_app(
        {
            "DEFAULT_TIMEZONE": "Europe/Zurich",
            "SECRET_KEY": "a",
            "JWT_SECRET_KEY": "b" * 40,
            "ENCRYPTION_KEYS": ["nV2ikxxRlDk5YDBsj3EyQv8oZGJw6pF8JAyXqmBjGzQ="],
        }
    )
    assert app.config["BASE_URL"] == "https://from-file.example"
    assert app.config["LOGIN_FAILURES_PER_ACCOUNT"] == 9
    assert app.config["DEFAULT_TIMEZONE"] == "Europe/Zurich"
    assert app.config["ACCESS_TOKEN_SECONDS"] == 900


def test_bad_config_file_is_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("THIS IS = = not toml")
    monkeypatch.setenv("MDM_CONFIG", str(bad))
    with pytest.raises(ConfigError, match="not valid TOML"):
        create_app()
    monkeypatch.setenv("MDM_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match="not a readable file"):
        create_app()


def test_development_secrets_are_generated_once(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MDM_INSTANCE_PATH", str(tmp_path / "instance"))
    first = create_app()
    secrets_file = tmp_path / "instance" / "secrets.json"
    stored = json.loads(secrets_file.read_text())
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    assert first.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/mdm.sqlite3")
    second = create_app()
    assert first.config["JWT_SECRET_KEY"] == second.config["JWT_SECRET_KEY"]
    assert stored["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_bad_encryption_key_is_refused(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MDM_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    with pytest.raises(ConfigError, match="ENCRYPTION_KEYS"):
        create_app({"SECRET_KEY": "a", "JWT_SECRET_KEY": "b", "ENCRYPTION_KEYS": ["short"]})


def test_production_with_several_workers_needs_a_shared_limit_store() -> None:
    from mdm.settings import check_workers

    memory = {"ENV": "production", "RATELIMIT_STORAGE_URL": "memory://"}
    with pytest.raises(ConfigError) as caught:
        check_workers(memory, 5)
    assert "MDM_RATELIMIT_STORAGE_URL" in str(caught.value)
    check_workers(memory, 1)  # one process counts everything
    check_workers({**memory, "ENV": "development"}, 5)  # the embedded default
    check_workers({**memory, "RATELIMIT_STORAGE_URL": "redis://127.0.0.1:6379/0"}, 5)


def test_gunicorn_stops_before_serving_several_workers_with_memory_limits(tmp_path) -> None:
    import runpy
    from types import SimpleNamespace

    settings = runpy.run_path(str(Path(__file__).parents[2] / "config" / "gunicorn.conf.py"))
    app = SimpleNamespace(config={"ENV": "production", "RATELIMIT_STORAGE_URL": "memory://"})
    logged: list[str] = []
    server = SimpleNamespace(
        app=SimpleNamespace(wsgi=lambda: app),
        cfg=SimpleNamespace(workers=3),
        log=SimpleNamespace(error=lambda message, *args: logged.append(message % args)),
    )
    with pytest.raises(SystemExit) as stopped:
        settings["on_starting"](server)
    assert stopped.value.code == 2
    assert "RATELIMIT_STORAGE_URL" in logged[0]
    assert settings["control_socket_disable"] is True


def test_base_url_is_empty_by_default_and_must_be_an_address(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MDM_DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    secrets = {
        "SECRET_KEY": "a",
        "JWT_SECRET_KEY": "b" * 40,
        "ENCRYPTION_KEYS": ["nV2ikxxRlDk5YDBsj3EyQv8oZGJw6pF8JAyXqmBjGzQ="],
    }
    assert create_app(secrets).config["BASE_URL"] == ""
    monkeypatch.setenv("MDM_BASE_URL", "192.168.1.20:5000")
    with pytest.raises(ConfigError, match="BASE_URL '192.168.1.20:5000' is not an address"):
        create_app(secrets)


def test_mdm_run_serves_with_the_production_limits_and_no_control_socket() -> None:
    import runpy

    from mdm.cli import embedded_server_settings

    production = runpy.run_path(str(Path(__file__).parents[2] / "config" / "gunicorn.conf.py"))
    embedded = embedded_server_settings("127.0.0.1", 5001, 4)
    for name in ("limit_request_line", "limit_request_field_size", "limit_request_fields"):
        assert embedded[name] == production[name]
    # No gunicorn limit on the request line (it caps others at 8190): an iPad's SCEP GET needs
    # more, and the service answers over MAX_REQUEST_LINE_BYTES itself.
    assert embedded["limit_request_line"] == 0
    assert embedded["control_socket_disable"] is True
