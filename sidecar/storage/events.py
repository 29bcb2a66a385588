from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from .tables import events


def insert_event(conn: Connection, **values) -> int:
    """Raises IntegrityError when (site_id, webhook_id) was stored before."""
    # Values passed as parameters, not .values(): the statement (and its cache key) stays the same
    # on every call, which matters on the ingest path (see _upsert).
    return conn.execute(insert(events), values).inserted_primary_key[0]


def event_exists(conn: Connection, site_id: str, webhook_id: str) -> bool:
    query = select(events.c.id).where(events.c.site_id == site_id, events.c.webhook_id == webhook_id)
    return conn.execute(query).first() is not None


# Statements on the ingest path are built once, with named parameters (see _upsert).
_LINK = (
    update(events)
    .where(events.c.id == bindparam("event_id"))
    .values(member_id=bindparam("new_member_id"), subscription_id=bindparam("new_subscription_id"))
)
_FIRST_EVENTS_AFTER = (
    select(events.c.type, func.min(events.c.occurred_at))
    .where(events.c.subscription_id == bindparam("subscription_id"),
           events.c.type.in_(bindparam("types", expanding=True)), events.c.occurred_at > bindparam("after"))
    .group_by(events.c.type)
)
_FIRST_EVENTS_BETWEEN = _FIRST_EVENTS_AFTER.where(events.c.occurred_at < bindparam("before"))


def link_event(conn: Connection, event_id: int, member_id: int, subscription_id: int | None) -> None:
    conn.execute(_LINK, {"event_id": event_id, "new_member_id": member_id, "new_subscription_id": subscription_id})


def first_events_between(
    conn: Connection, subscription_id: int, types: tuple[str, ...], after: datetime, before: datetime | None
) -> dict[str, datetime]:
    """occurred_at of the earliest event of each of ``types`` for the subscription in (after,
    before), by type; a type with no such event is left out."""
    params = {"subscription_id": subscription_id, "types": list(types), "after": after}
    if before is None:
        rows = conn.execute(_FIRST_EVENTS_AFTER, params)
    else:
        rows = conn.execute(_FIRST_EVENTS_BETWEEN, {**params, "before": before})
    return {type_: at for type_, at in rows}


def events_of_member(conn: Connection, member_id: int) -> list[dict]:
    query = select(events).where(events.c.member_id == member_id).order_by(events.c.occurred_at, events.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def replace_payloads_of_member(conn: Connection, member_id: int, payload: str) -> int:
    return conn.execute(update(events).where(events.c.member_id == member_id).values(payload=payload)).rowcount
