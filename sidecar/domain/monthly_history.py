"""The site's last 24 months, as plain data for the overview and its CSV, imported history
included (the bridge can send a membership plugin's past: events.Event.imported).

Rules, as the digest's (domain.digest_figures):

- A month runs from the 1st 00:00 to the next 1st 00:00 in the site's time zone. The 24 months
  end with the current one, counted so far.
- Cancellations are counted when they happened; "voluntary" is ``initiated_by = member``;
  "unknown" is ``initiated_by = unknown``, imported history whose plugin did not record who
  cancelled (MemberPress, Restrict Content): neither the member's nor someone else's, so counted
  apart rather than as "not voluntary"; the rest (admin, payment gateway, system, expiry) is not
  voluntary.
- Monthly revenue lost: the cancelled subscriptions' prices as a month (digest_figures'
  MONTHLY_FACTOR); lifetime plans are left out and counted. One total per currency.
- Comebacks are the win-backs: members who came back (a resume, a new subscription), imported
  ones included; ``after_email`` counts those after a follow-up email, which an imported
  comeback never is.
- Reasons are only known since the survey was there: when some history was imported, the
  overview and the digest say since when (digest_figures.reasons_known_since).
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection

from ..storage import history
from .digest_figures import CENTS, MONTHLY_FACTOR
from .sequences import member_timezone

MONTHS = 24

# Which count an initiator goes to; every other one is "not_voluntary".
_WHO = {"member": "voluntary", "unknown": "unknown"}


def month_starts(today: date, count: int = MONTHS) -> list[date]:
    """The first day of the ``count`` months ending with ``today``'s, oldest first."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def _utc(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)


def month_bounds(starts: list[date], zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    last = starts[-1]
    after = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    edges = [_utc(day, zone) for day in [*starts, after]]
    return list(zip(edges, edges[1:]))


def _monthly(amount, interval: str | None) -> Decimal | None:
    factor = MONTHLY_FACTOR.get(interval or "")
    return None if amount is None or factor is None else Decimal(amount) * factor


def _add(totals: dict, currency: str | None, amount: Decimal | None) -> None:
    if amount is not None and currency:
        totals[currency] = totals.get(currency, Decimal(0)) + amount


def build_months(conn: Connection, site: dict, now: datetime) -> list[dict]:
    """The last 24 months, oldest first: cancellations (voluntary or not, by plan), monthly
    revenue lost per currency, and comebacks."""
    zone = member_timezone(site)
    starts = month_starts(now.astimezone(zone).date())
    bounds = month_bounds(starts, zone)
    months = [{"month": f"{day.year:04d}-{day.month:02d}", "cancellations": 0, "voluntary": 0, "not_voluntary": 0,
               "unknown": 0, "plans": {}, "revenue_lost": {}, "lifetime_excluded": 0, "comebacks": 0, "after_email": 0,
               "revenue_won_back": {}} for day in starts]
    for row in history.cancellations_by_month(conn, site["id"], bounds):
        m = months[row["bucket"]]
        m["cancellations"] += row["count"]
        m[_WHO.get(row["initiated_by"], "not_voluntary")] += row["count"]
        plan = row["plan"] or ""
        m["plans"][plan] = m["plans"].get(plan, 0) + row["count"]
        if row["interval"] == "lifetime":
            m["lifetime_excluded"] += row["count"]
        _add(m["revenue_lost"], row["currency"], _monthly(row["amount"], row["interval"]))
    for row in history.comebacks_by_month(conn, site["id"], bounds):
        m = months[row["bucket"]]
        m["comebacks"] += row["count"]
        m["after_email"] += row["after_email"]
        _add(m["revenue_won_back"], row["currency"], _monthly(row["amount"], row["interval"]))
    for m in months:
        # Most cancelled plan first, then by name; "" is a plan with no name nor id.
        m["plans"] = [{"plan": p, "count": n} for p, n in sorted(m["plans"].items(), key=lambda i: (-i[1], i[0]))]
        for key in ("revenue_lost", "revenue_won_back"):
            m[key] = {c: a.quantize(CENTS, rounding=ROUND_HALF_UP) for c, a in sorted(m[key].items())}
    return months
