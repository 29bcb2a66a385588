from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import bindparam, case, exists, or_, select, update
from sqlalchemy.engine import Connection

from ._upsert import ids_by_key, insert_if_absent, upsert_all_as_of, upsert_as_of
from .statuses import SUBSCRIPTION_REPLACED
from .tables import at_risk, cancellations, events, subscriptions


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


def upsert_subscriptions(conn: Connection, rows: list[tuple], replaced_at: dict[int, datetime] | None = None,
                         with_at_risk_state: set[int] | None = None,
                         with_history: set[int] | None = None) -> dict[tuple[str, str, str], int]:
    """``upsert_subscription`` of each row of its arguments (site_id, source, external_id,
    member_id, details, status, at, now), in order, in a few statements for them all (the
    applier's batch); returns the ids by (site_id, source, external_id). ``replaced_at``: filled
    with ``replaced_at_of`` of them all, ``with_at_risk_state`` with the ids of those that have
    an at-risk state row, and ``with_history`` with those that have an event or a cancellation,
    read by the same query as their ids (the upsert holds their rows to the commit: a statement
    per batch fewer for each than reading it apart)."""
    upsert_all_as_of(conn, subscriptions, _KEY, [_upsert(*row) for row in rows])
    keys = [tuple(row[:3]) for row in rows]
    if replaced_at is None and with_at_risk_state is None and with_history is None:
        return ids_by_key(conn, subscriptions, _KEY, keys)
    found = ids_by_key(conn, subscriptions, _KEY, keys, value=(subscriptions.c.id, subscriptions.c.replaced_at,
                                                                _HAS_AT_RISK_STATE, _HAS_HISTORY))
    if replaced_at is not None:
        replaced_at.update({id_: at for id_, at, _, _ in found.values() if at is not None})
    if with_at_risk_state is not None:
        with_at_risk_state.update(id_ for id_, _, has_state, _ in found.values() if has_state)
    if with_history is not None:
        with_history.update(id_ for id_, _, _, has_history in found.values() if has_history)
    return {key: id_ for key, (id_, _, _, _) in found.items()}


# Whether the subscription has an at-risk state row (sidecar.domain.at_risk), by its primary key;
# whether an event linked to it or a cancellation refers to it (each by an index on subscription_id).
_HAS_AT_RISK_STATE = exists().where(at_risk.c.subscription_id == subscriptions.c.id).label("has_at_risk_state")
_HAS_HISTORY = or_(*(exists().where(table.c.subscription_id == subscriptions.c.id)
                     for table in (events, cancellations))).label("has_history")


def members_of_subscriptions(conn: Connection, keys: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], int]:
    """The member_id of each existing subscription of ``keys`` (site_id, source, external_id)."""
    return ids_by_key(conn, subscriptions, _KEY, keys, value=subscriptions.c.member_id)


_KEY = (subscriptions.c.site_id, subscriptions.c.source, subscriptions.c.external_id)

# The details of a subscription first known by its replacement are older than anything its own
# events say: its subscription.created, arriving later, still writes its plan and price.
_NO_DETAILS_YET = datetime(1970, 1, 1, tzinfo=timezone.utc)


def mark_replaced(conn: Connection, site_id: str, source: str, external_id: str, member_id: int, at: datetime,
                  now: datetime) -> int | None:
    """The member's subscription ``external_id`` was replaced at ``at`` by another (a plan change):
    its status becomes "replaced" for good and ``replaced_at`` the earliest replacement reported.
    Created if not known yet (its own events may arrive after its replacement's). A subscription
    of another member is left alone: a replacement is always the same member's. Returns the
    replaced subscription's id (None: another member's)."""
    insert_if_absent(conn, subscriptions, {
        "site_id": site_id, "source": source, "external_id": external_id, "member_id": member_id,
        "status": SUBSCRIPTION_REPLACED, "status_at": at, "details_at": _NO_DETAILS_YET, "created_at": now,
        "replaced_at": at})
    s = subscriptions
    conn.execute(
        update(s)
        .where(s.c.site_id == site_id, s.c.source == source, s.c.external_id == external_id,
               s.c.member_id == member_id)
        # MySQL assigns left to right: status_at and replaced_at compare with their old values.
        .values(status=SUBSCRIPTION_REPLACED,
                status_at=case((s.c.status_at > at, s.c.status_at), else_=at),
                replaced_at=case((s.c.replaced_at.is_not(None) & (s.c.replaced_at < at), s.c.replaced_at),
                                 else_=at)))
    row = find_subscription(conn, site_id, source, external_id)
    return row["id"] if row is not None and row["member_id"] == member_id else None


def start_again(conn: Connection, subscription_id: int, status: str, at: datetime) -> None:
    """A subscription.created at ``at`` of a subscription replaced before then: the plugin started
    it again under the same id (PMPro's "{user}-{level}" when a member changes back to a level
    they left), so it is no longer replaced."""
    s = subscriptions
    conn.execute(update(s).where(s.c.id == subscription_id, s.c.replaced_at < at)
                 .values(status=status, status_at=at, replaced_at=None))


def replaced_at_of(conn: Connection, subscription_ids: list[int]) -> dict[int, datetime]:
    """When each of ``subscription_ids`` that was replaced was replaced (the others are left out)."""
    if not subscription_ids:
        return {}
    s = subscriptions
    query = select(s.c.id, s.c.replaced_at).where(s.c.id.in_(bindparam("ids", expanding=True)),
                                                  s.c.replaced_at.is_not(None))
    return {row[0]: row[1] for row in conn.execute(query, {"ids": sorted(set(subscription_ids))})}


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
