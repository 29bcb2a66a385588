"""The site's history by month (the overview's 24 months and their CSV), imported history
included, and whether any was imported.

Like storage.reports, every query is bounded by a time range on an indexed (site_id, time)
column and groups in the database: one query per table for all the months, never one per month.
``bounds`` are contiguous [start, end) UTC ranges in ascending order; rows carry the ``bucket``
(the index in ``bounds``) they fall in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import false, func, literal_column, select, true
from sqlalchemy.engine import Connection

from .reports import Bounds, _bucket, _within
from .tables import cancellations, events, subscriptions, survey_answers, winbacks

_c, _s, _w = cancellations, subscriptions, winbacks


def cancellations_by_month(conn: Connection, site_id: str, bounds: Bounds) -> list[dict]:
    """Per month, who initiated, plan and price: how many, and their summed amount."""
    bucket = _bucket(_c.c.cancelled_at, bounds)
    plan = func.coalesce(_s.c.plan_name, _s.c.plan_id)
    query = (
        select(bucket, _c.c.initiated_by, plan.label("plan"), _s.c.interval, _s.c.currency,
               func.count().label("count"), func.sum(_s.c.amount).label("amount"))
        .select_from(_c.join(_s, _s.c.id == _c.c.subscription_id))
        .where(_c.c.site_id == site_id, _within(_c.c.cancelled_at, bounds))
        .group_by(literal_column("bucket"), _c.c.initiated_by, plan, _s.c.interval, _s.c.currency)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def comebacks_by_month(conn: Connection, site_id: str, bounds: Bounds) -> list[dict]:
    """Per month, the members who came back (win-backs, imported ones included), how many of
    them after a follow-up email (``after_email``: an imported comeback is credited to none), and
    their summed price by the interval and currency they came back on."""
    bucket = _bucket(_w.c.won_back_at, bounds)
    query = (
        select(bucket, _s.c.interval, _w.c.currency, func.count().label("count"),
               func.count(_w.c.last_email_id).label("after_email"), func.sum(_w.c.amount).label("amount"))
        .select_from(_w.join(_s, _s.c.id == _w.c.subscription_id))
        .where(_w.c.site_id == site_id, _within(_w.c.won_back_at, bounds))
        .group_by(literal_column("bucket"), _s.c.interval, _w.c.currency)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def has_imported_events(conn: Connection, site_id: str) -> bool:
    query = select(events.c.id).where(events.c.site_id == site_id, events.c.imported == true()).limit(1)
    return conn.execute(query).first() is not None


def first_live_event_at(conn: Connection, site_id: str) -> datetime | None:
    """When the first event the bridge sent live happened: since then, members were asked."""
    query = select(func.min(events.c.occurred_at)).where(events.c.site_id == site_id, events.c.imported == false())
    return conn.execute(query).scalar_one()


def first_answer_at(conn: Connection, site_id: str) -> datetime | None:
    """When the site's first survey answer was given (on the (site_id, answered_at) index)."""
    query = select(func.min(survey_answers.c.answered_at)).where(survey_answers.c.site_id == site_id)
    return conn.execute(query).scalar_one()
