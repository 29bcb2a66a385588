"""Insert-if-absent that is race-free on both backends."""

from sqlalchemy import Table
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection


def insert_if_absent(conn: Connection, table: Table, values: dict) -> None:
    """Insert ``values`` unless a row with the same unique key exists; never raises on that.

    MySQL's INSERT IGNORE would also silence truncation and other errors, so a no-op
    ON DUPLICATE KEY UPDATE is used instead.
    """
    if conn.dialect.name == "sqlite":
        conn.execute(sqlite.insert(table).values(values).on_conflict_do_nothing())
    else:
        pk = next(iter(table.primary_key.columns))
        conn.execute(mysql.insert(table).values(values).on_duplicate_key_update({pk.name: pk}))
