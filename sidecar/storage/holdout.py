"""The holdout's reads (sidecar.domain.holdout): the cancellations that have a group, with whether
they were won back, and when their addresses were suppressed.

Each read is bounded by the grouped cancellations, never by the site's whole history: a site
with a million older cancellations (before the holdout, imported, by an admin) reads the
figures as fast as a new one (bench/holdout.py). The index (site_id, followup_group,
cancelled_at) finds the grouped rows without reading the others, and suppressions are looked
up by key for the members compared, not read whole."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from .tables import cancellations, members, subscriptions, suppressions, survey_answers, winbacks

_c, _m, _w, _s, _a = cancellations, members, winbacks, subscriptions, survey_answers


def grouped_cancellations(conn: Connection, site_id: str, until: datetime, groups) -> list[dict]:
    """The site's cancellations in one of ``groups``, opened at or before ``until``, oldest first:
    group, when, the member's address, the survey's reason and when it was given, and the win-back
    if any (with the amount, currency and interval of the subscription the member came back on)."""
    query = (
        select(_c.c.id, _c.c.followup_group, _c.c.cancelled_at, _m.c.email, _a.c.reason, _a.c.answered_at,
               _w.c.id.isnot(None).label("won_back"), _w.c.amount, _w.c.currency, _s.c.interval)
        .join(_m, _m.c.id == _c.c.member_id)
        .outerjoin(_a, _a.c.cancellation_id == _c.c.id)
        .outerjoin(_w, _w.c.cancellation_id == _c.c.id)
        .outerjoin(_s, _s.c.id == _w.c.subscription_id)
        # The groups by name, not "IS NOT NULL", and no ORDER BY: SQLite (no statistics) would
        # otherwise walk (site_id, cancelled_at), in order, through every ungrouped row too.
        .where(_c.c.site_id == site_id, _c.c.followup_group.in_(list(groups)), _c.c.cancelled_at <= until)
    )
    rows = [{**row, "won_back": bool(row["won_back"])} for row in conn.execute(query).mappings()]
    return sorted(rows, key=lambda row: (row["cancelled_at"], row["id"]))


def grouped_count_since(conn: Connection, site_id: str, since: datetime, groups) -> int:
    """How many cancellations in one of ``groups`` opened after ``since``: not judged yet."""
    query = select(func.count()).where(_c.c.site_id == site_id, _c.c.followup_group.in_(list(groups)),
                                       _c.c.cancelled_at > since)
    return conn.execute(query).scalar_one()


# Keys per lookup: a bounded IN list (and statement size) whatever the number compared.
SUPPRESSION_CHUNK = 500


def suppressed_since(conn: Connection, site_id: str, keys) -> dict[str, datetime]:
    """Those of ``keys`` (address keys, sidecar.domain.unsubscribe.email_hash) the site has
    suppressed, each with when it was suppressed."""
    wanted = sorted(set(keys))
    found: dict[str, datetime] = {}
    for start in range(0, len(wanted), SUPPRESSION_CHUNK):
        query = select(suppressions.c.email_hash, suppressions.c.created_at).where(
            suppressions.c.site_id == site_id, suppressions.c.email_hash.in_(wanted[start:start + SUPPRESSION_CHUNK]))
        found.update({key: at for key, at in conn.execute(query)})
    return found
