"""Alembic environment: the engine is handed over by ``sidecar.db.migrate``; no alembic.ini."""

from alembic import context
from sqlalchemy import text

from sidecar.db import is_mysql
from sidecar.storage.tables import metadata

engine = context.config.attributes["engine"]


def run_migrations_online() -> None:
    with engine.connect() as connection:
        mysql = is_mysql(engine)
        if mysql:
            # Several web and job processes may start together; one migrates, the others wait.
            connection.execute(text("SELECT GET_LOCK('farewell_migrate', 120)"))
        try:
            context.configure(
                connection=connection,
                target_metadata=metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            connection.commit()
        finally:
            if mysql:
                connection.execute(text("SELECT RELEASE_LOCK('farewell_migrate')"))


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `python -m sidecar migrate`")
run_migrations_online()
