"""The holdout's reads (sidecar.domain.holdout): the cancellations that have a group, with whether
they were won back, and the site's suppressions with when each began."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .tables import cancellations, members, subscriptions, suppressions, survey_answers, winbacks

_c, _m, _w, _s, _a = cancellations, members, winbacks, subscriptions, survey_answers


def grouped_cancellations(conn: Connection, site_id: str, until: datetime) -> list[dict]:
    """The site's cancellations with a group, opened at or before ``until``: group, when, the
    member's address, the survey's reason and when it was given, and the win-back if any (with
    the amount, currency and interval of the subscription the member came back on)."""
    query = (
        select(_c.c.id, _c.c.followup_group, _c.c.cancelled_at, _m.c.email, _a.c.reason, _a.c.answered_at,
               _w.c.id.isnot(None).label("won_back"), _w.c.amount, _w.c.currency, _s.c.interval)
        .join(_m, _m.c.id == _c.c.member_id)
        .outerjoin(_a, _a.c.cancellation_id == _c.c.id)
        .outerjoin(_w, _w.c.cancellation_id == _c.c.id)
        .outerjoin(_s, _s.c.id == _w.c.subscription_id)
        .where(_c.c.site_id == site_id, _c.c.followup_group.isnot(None), _c.c.cancelled_at <= until)
        .order_by(_c.c.cancelled_at, _c.c.id)
    )
    return [{**row, "won_back": bool(row["won_back"])} for row in conn.execute(query).mappings()]


def grouped_count_since(conn: Connection, site_id: str, since: datetime) -> int:
    """How many cancellations with a group opened after ``since``: not judged yet."""
    query = select(func.count()).where(_c.c.site_id == site_id, _c.c.followup_group.isnot(None),
                                       _c.c.cancelled_at > since)
    return conn.execute(query).scalar_one()


def suppressed_since(conn: Connection, site_id: str) -> dict[str, datetime]:
    """The site's suppressed address keys, each with when it was suppressed."""
    query = select(suppressions.c.email_hash, suppressions.c.created_at).where(suppressions.c.site_id == site_id)
    return {key: at for key, at in conn.execute(query)}
