from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection

from .tables import events


def insert_event(conn: Connection, **values) -> int:
    """Raises IntegrityError when (site_id, webhook_id) was stored before."""
    return conn.execute(insert(events).values(**values)).inserted_primary_key[0]


def event_exists(conn: Connection, site_id: str, webhook_id: str) -> bool:
    query = select(events.c.id).where(events.c.site_id == site_id, events.c.webhook_id == webhook_id)
    return conn.execute(query).first() is not None


def link_event(conn: Connection, event_id: int, member_id: int, subscription_id: int | None) -> None:
    conn.execute(
        update(events).where(events.c.id == event_id).values(member_id=member_id, subscription_id=subscription_id)
    )


def first_events_between(
    conn: Connection, subscription_id: int, types: tuple[str, ...], after: datetime, before: datetime | None
) -> dict[str, datetime]:
    """occurred_at of the earliest event of each of ``types`` for the subscription in (after,
    before), by type; a type with no such event is left out."""
    first = func.min(events.c.occurred_at)
    query = select(events.c.type, first).where(
        events.c.subscription_id == subscription_id, events.c.type.in_(types), events.c.occurred_at > after
    )
    if before is not None:
        query = query.where(events.c.occurred_at < before)
    return {type_: at for type_, at in conn.execute(query.group_by(events.c.type))}


def events_of_member(conn: Connection, member_id: int) -> list[dict]:
    query = select(events).where(events.c.member_id == member_id).order_by(events.c.occurred_at, events.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def replace_payloads_of_member(conn: Connection, member_id: int, payload: str) -> int:
    return conn.execute(update(events).where(events.c.member_id == member_id).values(payload=payload)).rowcount
