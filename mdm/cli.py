"""The `mdm` command: run, scheduler, db, create-admin, demo, and the packages' commands."""

import contextlib
import getpass
import signal
import sys
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, routes_command, shell_command, with_appcontext

from mdm import create_app
from mdm.accounts.demo import seed_demo
from mdm.extensions import db
from mdm.platform.actors import Actor
from mdm.platform.errors import DomainError
from mdm.platform.http import SERVED_URL, BaseUrlMissing, base_url
from mdm.settings import ACCESS_LOGGER, HTTP_SERVER_LIMITS, ConfigError


def _create_app() -> Flask:
    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Configuration error: {exc}", err=True)
        sys.exit(2)


cli = FlaskGroup(
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    help="School platform: devices, timetables and calendars of a city's schools.",
)
cli.add_command(shell_command)
cli.add_command(routes_command)
# The platform's commands live on app.cli (so `flask --app mdm` and test runners see them too);
# the `mdm` group above shows app.cli's commands beside its own.
commands = click.Group()


def _upgrade_database() -> None:
    from flask_migrate import upgrade

    upgrade()


@commands.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, help="Request threads.")
@click.option("--demo", is_flag=True, help="Seed the demo school first (idempotent).")
@with_appcontext
def run_command(host: str, port: int, threads: int, demo: bool) -> None:
    """Run the service in one process: upgrade the database, serve, and run the scheduler."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    address = served_url(host, port)
    # Links made outside a request (the demo's, jobs') use the address served, unless BASE_URL.
    app.extensions[SERVED_URL] = address
    _upgrade_database()
    if demo:
        for line in seed_demo(app, db.session).notes:
            click.echo(line)
        db.session.commit()
    db.session.remove()
    db.engine.dispose()
    for line in serving_notes(address, host, port, str(app.config["BASE_URL"] or "")):
        click.echo(line)
    if demo:
        click.echo(login_command(address))
    _serve(app, host, port, threads)


# Hosts that listen on every address of the machine; this machine reaches them on loopback.
ALL_ADDRESSES = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}


def served_url(host: str, port: int) -> str:
    """The address `mdm run` serves at, as a browser on this machine opens it."""
    shown = ALL_ADDRESSES.get(host, host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"  # an IPv6 address
    return f"http://{shown}:{port}"


def serving_notes(address: str, host: str, port: int, base_url: str) -> list[str]:
    """What `mdm run` says about the address it serves and the links it hands out."""
    notes = [f"Serving on {address}/ (start page; API docs at {address}/api/docs)"]
    if host in ALL_ADDRESSES:
        notes.append(
            "Listening on all addresses: other devices open "
            f"http://<this machine's address>:{port}/"
        )
    if base_url:
        notes.append(f"Links and QR codes begin with MDM_BASE_URL: {base_url}")
    else:
        notes.append(
            "Links and QR codes follow the address a browser uses. For phones on the school "
            f"network: MDM_BASE_URL=http://<this machine's address>:{port} mdm run --host 0.0.0.0"
        )
    return notes


def login_command(address: str) -> str:
    """How to log in as the demo school's admin."""
    return (
        f"Log in: curl -X POST {address}/api/v1/auth/login "
        "-H 'Content-Type: application/json' "
        '-d \'{"username": "admin", "password": "demo1234"}\''
    )


def embedded_server_settings(host: str, port: int, threads: int) -> dict[str, Any]:
    """Gunicorn's settings for `mdm run`: one worker, the production limits, no control socket
    (two services on one machine would share one)."""
    return {
        "bind": f"{host}:{port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": "-",
        "logger_class": ACCESS_LOGGER,
        "control_socket_disable": True,
        **HTTP_SERVER_LIMITS,
    }


def _serve(app: Flask, host: str, port: int, threads: int) -> None:
    from gunicorn.app.base import BaseApplication

    def start_scheduler(worker: Any) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        from mdm.platform.jobs import add_jobs

        scheduler = BackgroundScheduler(timezone="UTC")
        add_jobs(app, scheduler)
        scheduler.start()

    class EmbeddedServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in embedded_server_settings(host, port, threads).items():
                self.cfg.set(name, value)
            self.cfg.set("post_worker_init", start_scheduler)

        def load(self) -> Flask:
            return app

    EmbeddedServer().run()


@commands.command("scheduler")
@with_appcontext
def scheduler_command() -> None:
    """Run the scheduled jobs of every package (one such process beside the web workers)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from mdm.platform.jobs import add_jobs, registered_jobs

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(app, scheduler)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=True))
    click.echo(
        f"Scheduler running {len(registered_jobs(app))} jobs: "
        + ", ".join(spec.id for spec in registered_jobs(app))
    )
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@commands.command("create-admin")
@click.option("--username", required=True, help="Login name of the city IT admin.")
@click.option("--password", help="Password (asked for when not given).")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@with_appcontext
def create_admin_command(
    username: str, password: str | None, first_name: str, last_name: str
) -> None:
    """Create a city IT admin account (all schools)."""
    from mdm.accounts import service

    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise click.ClickException("the passwords differ")
    try:
        user = service.create_user(
            db.session,
            Actor.system("cli"),
            username=username,
            role="it_admin",
            password=password,
            first_name=first_name,
            last_name=last_name,
        )
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        reasons = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
        raise click.ClickException(reasons or exc.detail) from exc
    click.echo(f"Created IT admin {user.username!r} (id {user.id}).")


@commands.command("demo")
@with_appcontext
def demo_command() -> None:
    """Seed the demo school (upgrades the database first; running it again changes nothing)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _upgrade_database()
    result = seed_demo(app, db.session)
    db.session.commit()
    for line in result.notes:
        click.echo(line)
    try:
        address = base_url()
    except BaseUrlMissing:
        address = served_url("127.0.0.1", 5000)  # where `mdm run` serves by default
    click.echo(login_command(address))


def init_app(app: Flask) -> None:
    """Add the platform's commands to the app's CLI."""
    for command in commands.commands.values():
        app.cli.add_command(command)


def main() -> None:
    """Console script entry point."""
    cli.main(prog_name="mdm")
