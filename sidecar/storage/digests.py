"""Digest settings as stored (defaults live in the domain) and the claim rows of sent digests.

A digest is claimed by (site, ISO week): the row is inserted once (a unique key), then taken with
a lease (sidecar.storage.leases) that only one sender can win — the row must be pending, or its
holder's lease must have ended. Every later change names the lease token, so a sender that lost
its lease can never mark someone else's digest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Connection

from . import leases
from ._upsert import insert_if_absent
from .statuses import DigestStatus
from .tables import digest_settings, digests

_PENDING = DigestStatus.PENDING.value


def get_settings(conn: Connection, site_id: str) -> dict | None:
    row = conn.execute(select(digest_settings).where(digest_settings.c.site_id == site_id)).mappings().first()
    return dict(row) if row else None


def save_settings(conn: Connection, site_id: str, values: dict, now: datetime) -> None:
    insert_if_absent(conn, digest_settings, {"site_id": site_id, "updated_at": now})
    conn.execute(update(digest_settings).where(digest_settings.c.site_id == site_id)
                 .values(updated_at=now, **values))


def get_digest(conn: Connection, site_id: str, week: str) -> dict | None:
    query = select(digests).where(digests.c.site_id == site_id, digests.c.week == week)
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


def claim(conn: Connection, site_id: str, week: str, token: str, now: datetime, lease_until: datetime,
          max_attempts: int, ended_before: datetime) -> bool:
    """Take the digest of (site, week) for this sender; False when someone else has it or it is done.
    Another sender's lease may be taken over when it ended before ``ended_before``."""
    insert_if_absent(conn, digests, {"site_id": site_id, "week": week, "status": _PENDING, "attempts": 0,
                                     "created_at": now, "updated_at": now})
    d = digests.c
    where = [d.site_id == site_id, d.week == week, d.attempts < max_attempts,
             or_(d.status == _PENDING, leases.ended(digests, ended_before))]
    return leases.claim(conn, digests, where, token, now, lease_until) == 1


def finish(conn: Connection, site_id: str, week: str, token: str, status: str, now: datetime, **values) -> bool:
    """Move a claimed digest to ``status`` (sent, skipped, failed, or pending for a retry)."""
    d = digests.c
    return leases.release(conn, digests, [d.site_id == site_id, d.week == week], token, status, now, **values) == 1
