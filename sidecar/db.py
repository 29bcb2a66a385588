"""Database engines for SQLite (embedded default) and MySQL/MariaDB (production), and migrations."""

from __future__ import annotations

import importlib
import random
import time
from pathlib import Path
from typing import Callable, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import URL, Connection, Engine, make_url

T = TypeVar("T")

# mysql-connector's C extension must be loaded before the rest of the sidecar's libraries: loaded
# after them (create_app imports the web and digest modules before it makes the engine, the jobs
# process its scheduler), dlopen fails with "cannot allocate memory in static TLS block" and
# mysql.connector silently falls back to its pure-Python protocol, several times slower per
# statement. Every entry point imports this module first.
try:
    importlib.import_module("_mysql_connector")
except ImportError:  # not installed or not loadable here: the pure-Python protocol, as before
    pass

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# Errors that mean "the database cannot do this right now" (down, restarting, deadlock, locked):
# callers answer 503 and the sender retries. Nothing was committed when these are raised.
UNAVAILABLE_ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


def error_kind(error: BaseException) -> str:
    """The class name of the driver's error behind ``error`` (else of ``error``), for a log line:
    the message itself may quote a statement's values, that is members' data."""
    return type(getattr(error, "orig", None) or error).__name__


def is_mysql(engine_or_url: Engine | URL | str) -> bool:
    url = engine_or_url.url if isinstance(engine_or_url, Engine) else make_url(engine_or_url)
    return url.get_backend_name() in ("mysql", "mariadb")


def create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if is_mysql(parsed):
        engine = sa.create_engine(
            parsed,
            hide_parameters=True,  # errors and their logs never show members' data bound to a statement
            pool_pre_ping=True,  # a MariaDB restart must not leave dead connections in the pool
            pool_recycle=3600,
            # READ COMMITTED: fewer gap locks between concurrent ingest and job claims.
            isolation_level="READ COMMITTED",
            connect_args={"charset": "utf8mb4", "collation": "utf8mb4_bin", "connection_timeout": 5},
            # The rollback on return is sent only when a transaction is open (_reset below).
            pool_reset_on_return=None,
        )
        event.listen(engine, "handle_error", _client_errors_are_unavailable)
        event.listen(engine, "connect", _no_ping_per_cursor)
        event.listen(engine.pool, "reset", _rollback_if_open)
        return engine
    raise ValueError(f"unsupported database URL scheme {parsed.drivername!r} (use sqlite or mysql+mysqlconnector)")


# The server rolled the transaction back so that another could go on: a deadlock victim (1213) or a
# lock wait that timed out (1205). Nothing was committed; running it again is the cure.
ROLLED_BACK_ERRNOS = (1205, 1213)


def _client_errors_are_unavailable(context):
    """mysql-connector's C extension reports a refused or lost connection (client error codes
    2000-2999, e.g. 2003 "can't connect", 2013 "lost connection") as a plain DatabaseError, and a
    deadlock as an InternalError; make them the OperationalError they are, so callers answer 503
    and retry instead of crashing."""
    errno = getattr(context.original_exception, "errno", None)
    if not isinstance(errno, int) or isinstance(context.sqlalchemy_exception, UNAVAILABLE_ERRORS):
        return None
    if 2000 <= errno < 3000:
        context.is_disconnect = True
    elif errno not in ROLLED_BACK_ERRNOS:
        return None
    return exc.OperationalError(context.statement, context.parameters, context.original_exception,
                                hide_parameters=True)


def _no_ping_per_cursor(dbapi_connection, _record) -> None:
    """mysql-connector pings the server before every cursor (``cursor()`` calls ``is_connected()``,
    which is a ping): one round trip more per statement, about half of the applier's. The pool
    already pings once per checkout (pool_pre_ping), and a connection lost after that fails on its
    statement, which _client_errors_are_unavailable makes a 503 or a retried batch. So the check
    before a cursor becomes the connection's local state."""
    if not hasattr(dbapi_connection, "is_closed"):
        return

    def is_connected() -> bool:
        dbapi_connection.handle_unread_result()  # what the original does besides its ping
        return not dbapi_connection.is_closed()

    dbapi_connection.is_connected = is_connected


def _rollback_if_open(dbapi_connection, _record, reset_state) -> None:
    """The pool's reset on return: a rollback only when the server says a transaction is open.
    SQLAlchemy's default sends ROLLBACK whenever a connection goes back after a commit, one round
    trip per request for nothing (the server's status flags, read locally, tell)."""
    if reset_state.terminate_only or reset_state.transaction_was_reset:
        return
    if getattr(dbapi_connection, "in_transaction", True):
        dbapi_connection.rollback()


def in_transaction(engine: Engine, work: Callable[[Connection], T], attempts: int = 3) -> T:
    """``work(conn)`` in one transaction; when the server rolls it back for another's sake (a
    deadlock), run it again, a few times, so that a member's click is not answered with an error
    that only meant "wait a moment"."""
    for attempt in range(1, attempts + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except exc.OperationalError as error:
            if attempt == attempts or getattr(error.orig, "errno", None) not in ROLLED_BACK_ERRNOS:
                raise
            time.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def _sqlite_engine(url: URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # SQLite has one writer. Taking the write lock at BEGIN makes concurrent writers queue on
        # busy_timeout instead of failing when a read lock cannot be upgraded mid-transaction.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def ping(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return True
    except UNAVAILABLE_ERRORS:
        return False


def alembic_config(engine: Engine):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision``. Safe to run from several processes at start-up."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def init_app(app) -> None:
    """One engine per app, created from the app's configuration."""
    app.extensions["farewell.engine"] = create_engine(app.config["FAREWELL_DATABASE_URL"])


def get_engine() -> Engine:
    from flask import current_app

    return current_app.extensions["farewell.engine"]
