from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.engine import Connection

from ._upsert import insert_rows
from .tables import cancellations, members, scheduled_emails, subscriptions, survey_answers, winbacks

_c = cancellations
# Built once: insert_rows keeps its rendering by the statement's identity.
_INSERT = insert(_c)
# Where the database has INSERT … RETURNING (MariaDB ≥ 10.5, SQLite ≥ 3.35; not MySQL), the new
# ids come back with the insert: no query to read them (one statement per batch fewer).
_INSERT_RETURNING = insert(_c).returning(_c.c.event_id, _c.c.id)


def insert_cancellation(conn: Connection, **values) -> int:
    # Values as parameters: one statement (and cache key) for every call (see events.insert_event).
    return conn.execute(insert(_c), values).inserted_primary_key[0]


def insert_cancellations(conn: Connection, rows: list[dict]) -> dict[int, int]:
    """Insert the applier's batch of new cancellations (every row of one shape) in one statement;
    returns their ids by event_id, given back by the insert itself where the database can, else
    read back in one query (a multi-row INSERT reports only its first id, and InnoDB need not give
    the others consecutively)."""
    if not rows:
        return {}
    if conn.dialect.insert_returning:
        return {event_id: cancellation_id for event_id, cancellation_id in insert_rows(conn, _INSERT_RETURNING, rows)}
    insert_rows(conn, _INSERT, rows)
    query = select(_c.c.event_id, _c.c.id).where(
        # subscription_id first: the unique (subscription_id, cancelled_at) key finds them.
        _c.c.subscription_id.in_(bindparam("subscription_ids", expanding=True)),
        _c.c.event_id.in_(bindparam("event_ids", expanding=True)))
    found = conn.execute(query, {"subscription_ids": sorted({r["subscription_id"] for r in rows}),
                                 "event_ids": [r["event_id"] for r in rows]}).all()
    return {event_id: cancellation_id for event_id, cancellation_id in found}


def delete_plain_endings_from(conn: Connection, subscription_id: int, at: datetime) -> None:
    """Delete the subscription's reason-less endings (kind "expired") from ``at`` on that nothing
    refers to: recorded for a subscription whose replacement (a plan change at ``at``) arrived
    after them, they were no churn. Their events stay."""
    c = cancellations
    referred = [exists().where(table.c.cancellation_id == c.c.id)
                for table in (survey_answers, scheduled_emails, winbacks)]
    conn.execute(delete(c).where(c.c.subscription_id == subscription_id, c.c.kind == "expired",
                                 c.c.cancelled_at >= at, *(~r for r in referred)))


def update_cancellation(conn: Connection, cancellation_id: int, **values) -> None:
    conn.execute(update(_c).where(_c.c.id == cancellation_id).values(**values))


def latest_cancellation_before(
    conn: Connection, subscription_id: int, at: datetime, inclusive: bool = False
) -> dict | None:
    bound = _c.c.cancelled_at <= at if inclusive else _c.c.cancelled_at < at
    query = (
        select(_c).where(_c.c.subscription_id == subscription_id, bound).order_by(_c.c.cancelled_at.desc()).limit(1)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None


# Built once: ingest runs it for every cancellation (see _upsert).
_EARLIEST_FROM = (
    select(_c)
    .where(_c.c.subscription_id == bindparam("subscription_id"), _c.c.cancelled_at >= bindparam("at"))
    .order_by(_c.c.cancelled_at)
    .limit(1)
)


def earliest_cancellation_from(conn: Connection, subscription_id: int, at: datetime) -> dict | None:
    """The subscription's first cancellation at or after ``at``: one at ``at`` exactly (at most
    one, by the unique key) is the same cancellation reported again; a later one arrived first."""
    row = conn.execute(_EARLIEST_FROM, {"subscription_id": subscription_id, "at": at}).mappings().first()
    return dict(row) if row else None


def cancellations_of_subscriptions(conn: Connection, subscription_ids: list[int]) -> dict[int, list[dict]]:
    """Every cancellation of each of the subscriptions, by subscription (the applier's batch reads
    them once, then picks as ``earliest_cancellation_from`` and ``latest_cancellation_before``)."""
    found: dict[int, list[dict]] = {subscription_id: [] for subscription_id in subscription_ids}
    if subscription_ids:
        query = select(_c).where(_c.c.subscription_id.in_(bindparam("ids", expanding=True)))
        for row in conn.execute(query, {"ids": sorted(set(subscription_ids))}).mappings():
            found[row["subscription_id"]].append(dict(row))
    return found


def list_cancellations(
    conn: Connection,
    site_id: str,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    after: tuple[datetime, int] | None,
) -> list[dict]:
    """Newest first; ``after`` is the (cancelled_at, id) of the last row of the previous page."""
    m, s, a = members, subscriptions, survey_answers
    query = (
        select(
            _c.c.id,
            _c.c.initiated_by,
            _c.c.kind,
            _c.c.cancelled_at,
            _c.c.access_ends_at,
            _c.c.resumed_at,
            _c.c.ended_at,
            _c.c.followup_group,
            m.c.external_id.label("member_id"),
            m.c.email.label("member_email"),
            m.c.first_name.label("member_first_name"),
            m.c.locale.label("member_locale"),
            s.c.source,
            s.c.external_id.label("subscription_id"),
            s.c.plan_id,
            s.c.plan_name,
            s.c.amount,
            s.c.currency,
            s.c.interval,
            s.c.status,
            a.c.reason,
            a.c.follow_up,
            a.c.comment,
            a.c.contact_requested,
            a.c.answered_at,
        )
        .join(m, m.c.id == _c.c.member_id)
        .join(s, s.c.id == _c.c.subscription_id)
        .outerjoin(a, a.c.cancellation_id == _c.c.id)
        .where(_c.c.site_id == site_id)
    )
    if since is not None:
        query = query.where(_c.c.cancelled_at >= since)
    if until is not None:
        query = query.where(_c.c.cancelled_at < until)
    if after is not None:
        at, last_id = after
        query = query.where(or_(_c.c.cancelled_at < at, and_(_c.c.cancelled_at == at, _c.c.id < last_id)))
    query = query.order_by(_c.c.cancelled_at.desc(), _c.c.id.desc()).limit(limit)
    return [dict(r) for r in conn.execute(query).mappings()]


def cancellations_of_member(conn: Connection, member_id: int) -> list[dict]:
    query = select(_c).where(_c.c.member_id == member_id).order_by(_c.c.cancelled_at)
    return [dict(r) for r in conn.execute(query).mappings()]


def get_cancellation(conn: Connection, site_id: str, cancellation_id: int) -> dict | None:
    row = conn.execute(select(_c).where(_c.c.site_id == site_id, _c.c.id == cancellation_id)).mappings().first()
    return dict(row) if row else None


def latest_cancellation_of_member(conn: Connection, member_id: int, at: datetime) -> dict | None:
    query = (
        select(_c)
        .where(_c.c.member_id == member_id, _c.c.cancelled_at <= at)
        .order_by(_c.c.cancelled_at.desc(), _c.c.id.desc())
        .limit(1)
    )
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None
