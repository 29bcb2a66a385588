"""Storage of the at-risk list (rules in sidecar.domain.at_risk)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, case, delete, insert, literal, or_, select
from sqlalchemy.engine import Connection

from .tables import at_risk, at_risk_spells, events, members, subscriptions


def lock_subscription(conn: Connection, subscription_id: int) -> None:
    """Hold the subscription's row until the transaction ends, so two appliers recomputing the
    same subscription take turns and the second one reads the first one's event (READ COMMITTED
    on MariaDB). SQLite has one writer at a time and no FOR UPDATE."""
    query = select(subscriptions.c.id).where(subscriptions.c.id == subscription_id)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    conn.execute(query)


def subscription_events(conn: Connection, subscription_id: int, types: tuple[str, ...]) -> list[dict]:
    """The subscription's applied events of ``types``: type, occurred_at and imported, oldest first."""
    query = (select(events.c.type, events.c.occurred_at, events.c.imported)
             .where(events.c.subscription_id == subscription_id,
                    events.c.type.in_(bindparam("types", expanding=True)))
             .order_by(events.c.occurred_at, events.c.id))
    return [dict(r) for r in conn.execute(query, {"types": list(types)}).mappings()]


def replace_state(conn: Connection, site_id: str, subscription_id: int, state: dict, spells: list[dict]) -> None:
    """Write the subscription's current state and replace its stays on the list."""
    conn.execute(delete(at_risk).where(at_risk.c.subscription_id == subscription_id))
    conn.execute(insert(at_risk), {"site_id": site_id, "subscription_id": subscription_id, **state})
    conn.execute(delete(at_risk_spells).where(at_risk_spells.c.subscription_id == subscription_id))
    if spells:
        conn.execute(insert(at_risk_spells),
                     [{"site_id": site_id, "subscription_id": subscription_id, **spell} for spell in spells])


def state_of(conn: Connection, subscription_id: int) -> dict | None:
    row = conn.execute(select(at_risk).where(at_risk.c.subscription_id == subscription_id)).mappings().first()
    return dict(row) if row else None


def spells_of(conn: Connection, subscription_id: int) -> list[dict]:
    query = (select(at_risk_spells.c.entered_at, at_risk_spells.c.left_at, at_risk_spells.c.left_reason)
             .where(at_risk_spells.c.subscription_id == subscription_id).order_by(at_risk_spells.c.entered_at))
    return [dict(r) for r in conn.execute(query).mappings()]


def members_at_risk(conn: Connection, site_id: str) -> list[dict]:
    """Everyone on the list now, with their subscription and member, oldest first."""
    s, m = subscriptions, members
    query = (
        select(at_risk.c.since, at_risk.c.failing_since, at_risk.c.failed_attempts, at_risk.c.paused_since,
               at_risk.c.last_succeeded_at, s.c.id.label("subscription_id"), s.c.source,
               s.c.external_id.label("subscription_external_id"), s.c.plan_id, s.c.plan_name, s.c.amount,
               s.c.currency, s.c.interval, s.c.access_ends_at, m.c.id.label("member_id"),
               m.c.external_id.label("member_external_id"), m.c.email, m.c.first_name)
        .join(s, s.c.id == at_risk.c.subscription_id)
        .join(m, m.c.id == s.c.member_id)
        # A replaced subscription (a plan change) is over: its member is on the list, if at all,
        # by the subscription that replaced it.
        .where(at_risk.c.site_id == site_id, at_risk.c.since.is_not(None), s.c.replaced_at.is_(None))
        .order_by(at_risk.c.since, s.c.id)
    )
    return [dict(r) for r in conn.execute(query).mappings()]


def spells_between(conn: Connection, site_id: str, start: datetime, end: datetime) -> list[dict]:
    """Stays that entered, left, or were open during [start, end), with their subscription's
    amount, currency and interval. A stay still open when its subscription was replaced (a plan
    change: the member kept paying, on another plan) left then, recovered."""
    sp, s = at_risk_spells, subscriptions
    replaced = and_(sp.c.left_at.is_(None), s.c.replaced_at.is_not(None))
    left_at = case((replaced, s.c.replaced_at), else_=sp.c.left_at)
    query = (
        select(sp.c.entered_at, left_at.label("left_at"),
               case((replaced, literal("recovered")), else_=sp.c.left_reason).label("left_reason"),
               s.c.amount, s.c.currency, s.c.interval)
        .join(s, s.c.id == sp.c.subscription_id)
        .where(sp.c.site_id == site_id, sp.c.entered_at < end,
               or_(left_at.is_(None), left_at >= start))
    )
    return [dict(r) for r in conn.execute(query).mappings()]
