from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ._upsert import ids_by_key, upsert_all_as_of, upsert_as_of
from .tables import subscriptions


def upsert_subscription(
    conn: Connection,
    site_id: str,
    source: str,
    external_id: str,
    member_id: int,
    details: dict,
    status: str | None,
    at: datetime,
    now: datetime,
) -> int:
    """Create the subscription if new, then apply ``details`` and ``status`` as of ``at``.

    Only fields that are not None are written, and only when no newer event already wrote them:
    late and out-of-order events never roll the state back. Returns the subscription's row id.
    """
    return upsert_as_of(conn, subscriptions, _KEY,
                        *_upsert(site_id, source, external_id, member_id, details, status, at, now))


def upsert_subscriptions(conn: Connection, rows: list[tuple]) -> dict[tuple[str, str, str], int]:
    """``upsert_subscription`` of each row of its arguments (site_id, source, external_id,
    member_id, details, status, at, now), in order, in a few statements for them all (the
    applier's batch); returns the ids by (site_id, source, external_id)."""
    upsert_all_as_of(conn, subscriptions, _KEY, [_upsert(*row) for row in rows])
    return ids_by_key(conn, subscriptions, _KEY, [tuple(row[:3]) for row in rows])


def members_of_subscriptions(conn: Connection, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """The member_id of each existing subscription of ``keys`` (site_id, source, external_id)."""
    return ids_by_key(conn, subscriptions, _KEY, keys, value=subscriptions.c.member_id)


_KEY = (subscriptions.c.site_id, subscriptions.c.source, subscriptions.c.external_id)


def _upsert(site_id: str, source: str, external_id: str, member_id: int, details: dict, status: str | None,
            at: datetime, now: datetime):
    details = {k: v for k, v in details.items() if v is not None}
    s = subscriptions
    updates = []
    if details:
        updates.append((s.c.details_at, ["member_id", *details]))
    if status:
        updates.append((s.c.status_at, ["status"]))
    values = {
        "site_id": site_id,
        "source": source,
        "external_id": external_id,
        "member_id": member_id,
        "status": status or "active",
        "status_at": at,
        "details_at": at,
        "created_at": now,
        **details,
    }
    return values, updates


def subscriptions_of_member(conn: Connection, member_id: int) -> list[dict]:
    query = select(subscriptions).where(subscriptions.c.member_id == member_id).order_by(subscriptions.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def find_subscription(conn: Connection, site_id: str, source: str, external_id: str) -> dict | None:
    query = select(subscriptions).where(
        subscriptions.c.site_id == site_id, subscriptions.c.source == source, subscriptions.c.external_id == external_id
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None
