"""The digest's reads: every query is bounded by a time range on an indexed (site_id, time) column,
so building a digest costs what its weeks hold, never what the whole history holds.

Functions that compare several weeks take ``bounds``: contiguous [start, end) UTC ranges in
ascending order, and return rows tagged with the ``bucket`` (the index in ``bounds``) they fall in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.engine import Connection

from .statuses import OWNER_ALERT_STEP, EmailStatus
from .tables import (
    cancellations,
    contact_requests,
    members,
    scheduled_emails,
    subscriptions,
    suppressions,
    survey_answers,
    winbacks,
)

Bounds = list[tuple[datetime, datetime]]

_c, _s, _a, _w = cancellations, subscriptions, survey_answers, winbacks


def _bucket(column, bounds: Bounds):
    return case(*[(and_(column >= start, column < end), index) for index, (start, end) in enumerate(bounds)],
                else_=-1).label("bucket")


def _within(column, bounds: Bounds):
    return and_(column >= bounds[0][0], column < bounds[-1][1])


def cancellations_by_week(conn: Connection, site_id: str, bounds: Bounds) -> list[dict]:
    """Per week, who initiated and what plan price: how many, their summed amount, how many
    had an amount, and how many were answered (survey)."""
    bucket = _bucket(_c.c.cancelled_at, bounds)
    query = (
        select(bucket, _c.c.initiated_by, _s.c.interval, _s.c.currency, func.count().label("count"),
               func.sum(_s.c.amount).label("amount"), func.count(_s.c.amount).label("priced"),
               func.count(_a.c.id).label("answered"))
        .select_from(_c.join(_s, _s.c.id == _c.c.subscription_id).outerjoin(_a, _a.c.cancellation_id == _c.c.id))
        .where(_c.c.site_id == site_id, _within(_c.c.cancelled_at, bounds))
        .group_by(literal_column("bucket"), _c.c.initiated_by, _s.c.interval, _s.c.currency)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def cancellation_counts_by_week(conn: Connection, site_id: str, bounds: Bounds) -> dict[int, int]:
    """How many cancellations per week: read from the (site_id, cancelled_at) index alone, so a
    long trend stays cheap on a busy site."""
    bucket = _bucket(_c.c.cancelled_at, bounds)
    query = (select(bucket, func.count().label("count"))
             .where(_c.c.site_id == site_id, _within(_c.c.cancelled_at, bounds))
             .group_by(literal_column("bucket")))
    return {row["bucket"]: row["count"] for row in conn.execute(query).mappings()}


def winback_counts_by_week(conn: Connection, site_id: str, bounds: Bounds) -> dict[int, int]:
    bucket = _bucket(_w.c.won_back_at, bounds)
    query = (select(bucket, func.count().label("count"))
             .where(_w.c.site_id == site_id, _within(_w.c.won_back_at, bounds))
             .group_by(literal_column("bucket")))
    return {row["bucket"]: row["count"] for row in conn.execute(query).mappings()}


def winbacks_by_week(conn: Connection, site_id: str, bounds: Bounds) -> list[dict]:
    """Per week, the win-backs by the interval and currency of the subscription they came back on."""
    bucket = _bucket(_w.c.won_back_at, bounds)
    query = (
        select(bucket, _s.c.interval, _w.c.currency, func.count().label("count"),
               func.sum(_w.c.amount).label("amount"), func.count(_w.c.amount).label("priced"))
        .select_from(_w.join(_s, _s.c.id == _w.c.subscription_id))
        .where(_w.c.site_id == site_id, _within(_w.c.won_back_at, bounds))
        .group_by(literal_column("bucket"), _s.c.interval, _w.c.currency)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def reasons_by_week(conn: Connection, site_id: str, bounds: Bounds) -> list[dict]:
    """Per week, how many survey answers named each reason (answers received that week)."""
    bucket = _bucket(_a.c.answered_at, bounds)
    query = (
        select(bucket, _a.c.reason, func.count().label("count"))
        .where(_a.c.site_id == site_id, _within(_a.c.answered_at, bounds))
        .group_by(literal_column("bucket"), _a.c.reason)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def plans_cancelled(conn: Connection, site_id: str, start: datetime, end: datetime, limit: int) -> list[dict]:
    plan = func.coalesce(_s.c.plan_name, _s.c.plan_id)
    query = (
        select(plan.label("plan"), func.count().label("count"))
        .select_from(_c.join(_s, _s.c.id == _c.c.subscription_id))
        .where(_c.c.site_id == site_id, _c.c.cancelled_at >= start, _c.c.cancelled_at < end)
        .group_by(plan)
        .order_by(func.count().desc(), plan)
        .limit(limit)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def comments(conn: Connection, site_id: str, start: datetime, end: datetime) -> list[dict]:
    """The week's answers with a comment, newest first."""
    query = (
        select(_a.c.id, _a.c.reason, _a.c.comment, _a.c.answered_at)
        .where(_a.c.site_id == site_id, _a.c.answered_at >= start, _a.c.answered_at < end,
               _a.c.comment.is_not(None), _a.c.comment != "")
        .order_by(_a.c.answered_at.desc(), _a.c.id.desc())
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def open_contact_requests(conn: Connection, site_id: str, limit: int) -> tuple[int, list[dict]]:
    """How many requests wait for an answer, and the ``limit`` that have waited longest."""
    r = contact_requests
    waiting = and_(r.c.site_id == site_id, r.c.answered_at.is_(None))
    total = conn.execute(select(func.count()).select_from(r).where(waiting)).scalar_one()
    query = (
        select(r.c.id, r.c.contact, r.c.requested_at, members.c.first_name, members.c.email, _a.c.reason)
        .select_from(r.join(members, members.c.id == r.c.member_id).join(_a, _a.c.id == r.c.answer_id))
        .where(waiting)
        .order_by(r.c.requested_at, r.c.id)
        .limit(limit)
    )
    return total, [dict(row) for row in conn.execute(query).mappings()]


def contact_requests_answered(conn: Connection, site_id: str, start: datetime, end: datetime) -> list[dict]:
    r = contact_requests
    query = select(r.c.requested_at, r.c.answered_at).where(
        r.c.site_id == site_id, r.c.answered_at >= start, r.c.answered_at < end)
    return [dict(row) for row in conn.execute(query).mappings()]


def emails_sent_by_step(conn: Connection, site_id: str, start: datetime, end: datetime) -> dict[str, int]:
    e = scheduled_emails
    query = (
        select(e.c.step, func.count().label("count"))
        .where(e.c.site_id == site_id, e.c.sent_at >= start, e.c.sent_at < end, e.c.status == EmailStatus.SENT.value,
               e.c.step != OWNER_ALERT_STEP)
        .group_by(e.c.step)
    )
    return {row["step"]: row["count"] for row in conn.execute(query).mappings()}


def unsubscribes(conn: Connection, site_id: str, start: datetime, end: datetime) -> int:
    s = suppressions
    query = select(func.count()).select_from(s).where(
        s.c.site_id == site_id, s.c.created_at >= start, s.c.created_at < end, s.c.reason == "unsubscribed")
    return conn.execute(query).scalar_one()


def winbacks_with_reason(conn: Connection, site_id: str, start: datetime, end: datetime) -> list[dict]:
    """The week's win-backs with the last email before each and the reason its member gave."""
    query = (
        select(_w.c.id, _w.c.last_email_step, _w.c.coupon_code, _a.c.reason)
        .select_from(_w.outerjoin(_a, _a.c.cancellation_id == _w.c.cancellation_id))
        .where(_w.c.site_id == site_id, _w.c.won_back_at >= start, _w.c.won_back_at < end)
    )
    return [dict(row) for row in conn.execute(query).mappings()]
