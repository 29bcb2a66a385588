from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ._upsert import upsert_as_of
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
    details = {k: v for k, v in details.items() if v is not None}
    s = subscriptions
    updates = []
    if details:
        updates.append((s.c.details_at, ["member_id", *details]))
    if status:
        updates.append((s.c.status_at, ["status"]))
    return upsert_as_of(
        conn,
        s,
        (s.c.site_id, s.c.source, s.c.external_id),
        {
            "site_id": site_id,
            "source": source,
            "external_id": external_id,
            "member_id": member_id,
            "status": status or "active",
            "status_at": at,
            "details_at": at,
            "created_at": now,
            **details,
        },
        updates,
    )


def subscriptions_of_member(conn: Connection, member_id: int) -> list[dict]:
    query = select(subscriptions).where(subscriptions.c.member_id == member_id).order_by(subscriptions.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def find_subscription(conn: Connection, site_id: str, source: str, external_id: str) -> dict | None:
    query = select(subscriptions).where(
        subscriptions.c.site_id == site_id, subscriptions.c.source == source, subscriptions.c.external_id == external_id
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None
