"""The connections of device check-ins, which every transport (the agent protocol, Apple's
MDM protocol) uses for its hottest requests: statements that commit on their own."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import Connection, Engine, create_engine

from mdm.extensions import db

_ENGINE_LOCK = threading.Lock()
CHECK_IN_ENGINE = "device_check_in_engine"  # its key in app.extensions


def check_in_engine() -> Engine:
    """The engine of check-ins: every statement commits on its own, without BEGIN and COMMIT.

    A check-in is one SELECT (who is this device) and one UPDATE (it is alive, its inventory):
    neither needs the other in one transaction, since the UPDATE itself checks that the device is
    still enrolled. On PostgreSQL the check-ins have their own connections, which also do not
    wait for the WAL flush at commit: a check-in only records liveness and inventory that the
    device sends again at its next check-in, so a crash can lose at most the last moment's
    check-ins, never anything else, and the database stays consistent. That halves the round
    trips of the hottest request of the service. Created in the process that uses it (after
    gunicorn forked), once.
    """
    engine = current_app.extensions.get(CHECK_IN_ENGINE)
    if engine is None:
        with _ENGINE_LOCK:
            engine = current_app.extensions.get(CHECK_IN_ENGINE)
            if engine is None:
                engine = _new_check_in_engine(db.engine)
                current_app.extensions[CHECK_IN_ENGINE] = engine
    return engine


def _new_check_in_engine(main: Engine) -> Engine:
    if main.dialect.name != "postgresql":
        # SQLite: the same connections (and their set-up), used without a transaction.
        return main.execution_options(isolation_level="AUTOCOMMIT")
    # The app's engine options (pool, connect arguments) with autocommit, and the setting added
    # to any server options the deployment passes already.
    options = dict(current_app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    connect_args = dict(options.pop("connect_args", {}))
    server_options = connect_args.get("options", "")
    connect_args["options"] = f"{server_options} -c synchronous_commit=off".strip()
    options["isolation_level"] = "AUTOCOMMIT"
    # No connection check on every checkout (a round trip per check-in): check_in_request tries
    # once more on a new connection when the pooled one turns out to be dead.
    options["pool_pre_ping"] = False
    return create_engine(main.url, connect_args=connect_args, **options)


@contextmanager
def check_in_connection() -> Iterator[Connection]:
    """A connection of the check-in engine, back in its pool afterwards."""
    with check_in_engine().connect() as connection:
        yield connection
