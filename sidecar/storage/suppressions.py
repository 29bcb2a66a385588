"""Addresses a site must not email again, kept as keyed hashes only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from . import holdout
from ._upsert import insert_if_absent
from .tables import suppressions


def suppress(conn: Connection, site_id: str, email_hash: str, reason: str, now: datetime) -> None:
    """Idempotent: the first reason recorded stays."""
    insert_if_absent(conn, suppressions,
                     {"site_id": site_id, "email_hash": email_hash, "reason": reason, "created_at": now})
    holdout.touched_by_suppression(conn, site_id, now)  # a dated one may leave out kept cancellations


def suppression(conn: Connection, site_id: str, email_hash: str) -> dict | None:
    query = select(suppressions).where(suppressions.c.site_id == site_id, suppressions.c.email_hash == email_hash)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def reasons(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The suppressions among these (site id, email hash) keys, in one query: key -> reason."""
    if not keys:
        return {}
    rows = conn.execute(_REASONS, {"sites": sorted({site for site, _ in keys}),
                                   "hashes": sorted({key for _, key in keys})})
    return {(site, key): reason for site, key, reason in rows if (site, key) in keys}


# Built once: the dispatcher reads it for each batch (its 20 addresses), where building it with the
# keys as values took longer than the query, in the slot of one of the batch before's messages.
_REASONS = select(suppressions.c.site_id, suppressions.c.email_hash, suppressions.c.reason).where(
    suppressions.c.site_id.in_(bindparam("sites", expanding=True)),
    suppressions.c.email_hash.in_(bindparam("hashes", expanding=True)))
