"""Hits per client in fixed time windows, shared by every web process through the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import mysql, sqlite
from sqlalchemy.engine import Connection

from .tables import rate_limit_hits


def count_hit(conn: Connection, bucket: str, window_start: datetime) -> int:
    """Count one hit for ``bucket`` in the window starting at ``window_start``; the window's total.

    One upsert (MySQL: ON DUPLICATE KEY UPDATE, SQLite: ON CONFLICT DO UPDATE) holds the row's
    write lock until the caller's transaction ends, so the read that follows in the same
    transaction sees exactly the hits counted before and including this one, whichever process
    counted them. Call it inside ``engine.begin()``.
    """
    values = {"bucket": bucket, "window_start": window_start, "hits": 1}
    if conn.dialect.name == "sqlite":
        statement = sqlite.insert(rate_limit_hits).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[rate_limit_hits.c.bucket, rate_limit_hits.c.window_start],
            set_={"hits": rate_limit_hits.c.hits + 1})
    else:
        statement = mysql.insert(rate_limit_hits).values(values)
        statement = statement.on_duplicate_key_update(hits=rate_limit_hits.c.hits + 1)
    conn.execute(statement)
    query = select(rate_limit_hits.c.hits).where(rate_limit_hits.c.bucket == bucket,
                                                 rate_limit_hits.c.window_start == window_start)
    return conn.execute(query).scalar_one()


def prune_rate_limits(conn: Connection, before: datetime) -> int:
    """Delete the windows that started before ``before``; how many rows went."""
    return conn.execute(rate_limit_hits.delete().where(rate_limit_hits.c.window_start < before)).rowcount


def hits_by_bucket(conn: Connection, prefix: str = "") -> dict[str, int]:
    """Total hits per bucket over every stored window (for operators and tests)."""
    query = select(rate_limit_hits.c.bucket, rate_limit_hits.c.hits).where(
        rate_limit_hits.c.bucket.startswith(prefix, autoescape=True))
    totals: dict[str, int] = {}
    for bucket, hits in conn.execute(query):
        totals[bucket] = totals.get(bucket, 0) + hits
    return totals
