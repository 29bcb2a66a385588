"""Members who came back after a cancellation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, exists, select
from sqlalchemy.engine import Connection

from ._upsert import insert_if_absent
from .tables import cancellations, events, members, subscriptions, winbacks

_w, _c = winbacks, cancellations


def cancellations_not_won_back(conn: Connection, member_id: int, since: datetime, until: datetime) -> list[dict]:
    """The member's cancellations in [since, until] not yet counted as won back, newest first."""
    query = (
        select(_c)
        .outerjoin(_w, _w.c.cancellation_id == _c.c.id)
        .where(_c.c.member_id == member_id, _c.c.cancelled_at >= since, _c.c.cancelled_at <= until,
               _w.c.id.is_(None))
        .order_by(_c.c.cancelled_at.desc(), _c.c.id.desc())
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def cancellations_not_won_back_of_members(conn: Connection, member_ids: list[int]) -> dict[int, list[dict]]:
    """Each member's cancellations not yet counted as won back, by member (the applier's batch
    reads them once, then picks as ``cancellations_not_won_back``)."""
    found: dict[int, list[dict]] = {member_id: [] for member_id in member_ids}
    if member_ids:
        query = (select(_c).outerjoin(_w, _w.c.cancellation_id == _c.c.id)
                 .where(_c.c.member_id.in_(bindparam("ids", expanding=True)), _w.c.id.is_(None)))
        for row in conn.execute(query, {"ids": sorted(set(member_ids))}).mappings():
            found[row["member_id"]].append(dict(row))
    return found


def record(conn: Connection, **values) -> None:
    insert_if_absent(conn, _w, values)


def is_won_back(conn: Connection, cancellation_id: int) -> bool:
    return conn.execute(select(_w.c.id).where(_w.c.cancellation_id == cancellation_id)).first() is not None


# A plan change is no comeback: the subscription.created (or .resumed) that replaced another of
# the member's subscriptions (subscription.replaces) happened at that one's replaced_at.
_NOT_A_PLAN_CHANGE = ~exists().where(subscriptions.c.member_id == events.c.member_id,
                                     subscriptions.c.replaced_at == events.c.occurred_at)

# Built once: ingest runs it for every cancellation (see _upsert).
_COMEBACK_AFTER = (
    select(events.c.id, events.c.type, events.c.occurred_at, events.c.subscription_id)
    .where(events.c.member_id == bindparam("member_id"),
           events.c.type.in_(("subscription.created", "subscription.resumed")),
           events.c.occurred_at > bindparam("after"), events.c.occurred_at <= bindparam("until"),
           _NOT_A_PLAN_CHANGE)
    .order_by(events.c.occurred_at, events.c.id)
    .limit(1)
)


def comeback_after(conn: Connection, member_id: int, after: datetime, until: datetime) -> dict | None:
    """The member's first subscription.created/resumed event in (after, until], for a cancellation
    that arrives after the comeback did (the bridge delivers out of order)."""
    params = {"member_id": member_id, "after": after, "until": until}
    row = conn.execute(_COMEBACK_AFTER, params).mappings().first()
    return dict(row) if row else None


def comebacks_of_members(conn: Connection, member_ids: list[int]) -> dict[int, list[dict]]:
    """Each member's subscription.created/resumed events, as ``comeback_after`` returns them, by
    member (the applier's batch reads them once, then picks as ``comeback_after``)."""
    found: dict[int, list[dict]] = {member_id: [] for member_id in member_ids}
    if member_ids:
        query = (select(events.c.member_id, *_COMEBACK_AFTER.selected_columns)
                 .where(events.c.member_id.in_(bindparam("ids", expanding=True)),
                        events.c.type.in_(("subscription.created", "subscription.resumed")), _NOT_A_PLAN_CHANGE))
        for row in conn.execute(query, {"ids": sorted(set(member_ids))}).mappings():
            row = dict(row)
            found[row.pop("member_id")].append(row)
    return found


def list_winbacks(conn: Connection, site_id: str, limit: int) -> list[dict]:
    m = members
    query = (
        select(_w, m.c.external_id.label("member_external_id"), m.c.email, m.c.first_name,
               _c.c.cancelled_at, _c.c.followup_group)
        .join(m, m.c.id == _w.c.member_id)
        .join(_c, _c.c.id == _w.c.cancellation_id)
        .where(_w.c.site_id == site_id)
        .order_by(_w.c.won_back_at.desc(), _w.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(query).mappings()]
