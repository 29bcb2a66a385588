"""Members at risk (issue 18): failed renewals and pauses, shown to the owner before they become
cancellations. Farewell never writes to a member about a payment (the membership plugin and the
payment service do); it only shows the owner who is at risk.

The rules:

- A member is at risk when their subscription's latest renewal failed and no payment succeeded
  since (``payment.failed`` with no later ``payment.succeeded``), or when the subscription is
  paused (``subscription.paused`` with no later ``subscription.resumed``).
- They leave the list when a later payment succeeds (recovered; a paused subscription stays on
  it until resumed), the subscription is resumed (recovered), cancelled or expires (cancelled,
  expired). A failure after that puts them back on it: a new stay.
- An expiry at the very instant of a failed renewal is the plugin ending access *because of* that
  failure while the subscription goes on (MemberPress's gateways expire its transactions when a
  renewal fails, and the payment service retries): the member stays on the list, access ended,
  until a payment succeeds, the subscription is resumed or cancelled, or a later expiry ends it.
  Counted as leaving, it would keep every MemberPress member off the list.
- "Later" is by occurred_at, never by arrival: the state is recomputed from the subscription's
  applied events each time one of them is applied, so a ``payment.succeeded`` applied before the
  ``payment.failed`` it follows still leaves the member off the list. At the same instant a
  success, resume, cancel or expiry counts after the failure or pause.
- Kept per subscription: the first failure of the current run and how many failures since the
  last success, the last success, since when paused, and each stay on the list (entered, left,
  why) for the weekly figures; no other history of renewals.
- Imported history (events with imported = true) fills the list only with what is still open
  today: a stay that both began and ended in imported events is left out (it was over before
  Farewell knew the site); one still open, or ended by a live event, is kept from its start.
- Figures for a week [start, start + 7 days): stays that entered in it, stays that left in it by
  reason, and the monthly revenue at stake: the monthly amount (monthly_amounts.MONTHLY_FACTOR) of
  every stay still open at the week's end, per currency, with the subscription's current amount;
  lifetime plans and unknown intervals are left out of the revenue (and counted).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Connection

from ..storage import at_risk as store
from .monthly_amounts import CENTS, MONTHLY_FACTOR

OPENS = ("payment.failed", "subscription.paused")
CLOSES = {"payment.succeeded": "recovered", "subscription.resumed": "recovered",
          "subscription.cancelled": "cancelled", "subscription.expired": "expired"}
TYPES = (*OPENS, *CLOSES)
LEFT_REASONS = ("recovered", "cancelled", "expired")
# The ends that record nothing of their own (a success records when it was): applied to a
# subscription without a state row, they cannot change the list (on_event_applied).
ENDS_ONLY = ("subscription.resumed", "subscription.cancelled", "subscription.expired")


def on_event_applied(conn: Connection, site_id: str, subscription_id: int, event_type: str | None = None,
                     has_state: bool | None = None) -> None:
    """Recompute the subscription's place on the list; called in the transaction that applies an
    event of TYPES (``event_type``).

    A state row is kept as soon as one event has opened a stay or recorded a success, even a stay
    left out as imported history. So without one, the subscription's applied events are ends of
    ENDS_ONLY alone, and another one of them changes nothing: its recompute (the subscription's
    events read back, about a third of the applier's CPU for cancellations, BENCHMARKS.md) is
    skipped. Read after the lock: an applier applying this subscription's opening event meanwhile
    has committed its row by then, or reads this event when it recomputes after us."""
    if has_state is None:
        store.lock_subscription(conn, subscription_id)
        if event_type in ENDS_ONLY and store.state_of(conn, subscription_id) is None:
            return
    elif event_type in ENDS_ONLY and not has_state:
        return  # the batch's upsert holds the row; its read of the ids read the state row
    events = store.subscription_events(conn, subscription_id, TYPES)
    state, spells = compute(events)
    if (spells or any(v for v in state.values()) or any(e["type"] in OPENS for e in events)
            or store.state_of(conn, subscription_id) is not None):
        store.replace_state(conn, site_id, subscription_id, state, spells)


def compute(events: list[dict]) -> tuple[dict, list[dict]]:
    """The state and the stays on the list that a subscription's events (type, occurred_at,
    imported) imply, in any order given. Pure: the rules above, in code."""
    ordered = sorted(events, key=lambda e: (e["occurred_at"], e["type"] in CLOSES))
    spells: list[dict] = []
    open_spell: dict | None = None
    failing_since = paused_since = last_succeeded_at = last_failed_at = None
    failed_attempts = 0
    for event in ordered:
        at, type_ = event["occurred_at"], event["type"]
        if type_ in OPENS:
            if open_spell is None:
                open_spell = {"entered_at": at, "imported": event["imported"]}
            if type_ == "payment.failed":
                failing_since = failing_since or at
                failed_attempts += 1
                last_failed_at = at
            else:
                paused_since = paused_since or at
            continue
        if type_ == "subscription.expired" and failing_since is not None and at == last_failed_at:
            continue  # access ended for this failure: still at risk (see the rules)
        failing_since, failed_attempts = None, 0
        if type_ == "payment.succeeded":
            last_succeeded_at = at
            if paused_since is not None:
                continue  # still paused: on the list until resumed
        else:
            paused_since = None
        if open_spell is not None:
            if not (open_spell["imported"] and event["imported"]):
                spells.append({"entered_at": open_spell["entered_at"], "left_at": at, "left_reason": CLOSES[type_]})
            open_spell = None
    if open_spell is not None:
        spells.append({"entered_at": open_spell["entered_at"], "left_at": None, "left_reason": None})
    state = {"failing_since": failing_since, "failed_attempts": failed_attempts,
             "last_succeeded_at": last_succeeded_at, "paused_since": paused_since,
             "since": open_spell["entered_at"] if open_spell else None}
    return state, spells


def members_at_risk(conn: Connection, site_id: str) -> list[dict]:
    """The list now, oldest first: member (their id in the source plugin too, for a link to the
    WordPress admin), plan, amount, currency, interval, since when, why (failed renewal and/or
    paused), failed attempts, when access ends, and the monthly amount at stake."""
    rows = store.members_at_risk(conn, site_id)
    for row in rows:
        row["reasons"] = [r for r, on in (("failed", row["failed_attempts"] > 0),
                                          ("paused", row["paused_since"] is not None)) if on]
        row["monthly"] = _monthly(row["amount"], row["interval"])
    return rows


def week_figures(conn: Connection, site_id: str, start: datetime, end: datetime | None = None) -> dict:
    """Entered, left by reason, still on the list at the week's end and the monthly revenue at
    stake then (per currency), for [start, end): by default start + 7 days; the digest gives its
    week's own end, an hour off across a DST change."""
    end = end or start + timedelta(days=7)
    figures = {"entered": 0, "left": dict.fromkeys(LEFT_REASONS, 0), "at_end": 0, "revenue_at_stake": {},
               "revenue_excluded": 0}
    for spell in store.spells_between(conn, site_id, start, end):
        if spell["entered_at"] >= start:
            figures["entered"] += 1
        if spell["left_at"] is not None and spell["left_at"] < end:
            figures["left"][spell["left_reason"]] += 1
            continue
        figures["at_end"] += 1
        monthly = _monthly(spell["amount"], spell["interval"])
        if monthly is None or not spell["currency"]:
            figures["revenue_excluded"] += 1
        else:
            totals = figures["revenue_at_stake"]
            totals[spell["currency"]] = totals.get(spell["currency"], Decimal(0)) + monthly
    figures["revenue_at_stake"] = {c: v.quantize(CENTS) for c, v in sorted(figures["revenue_at_stake"].items())}
    return figures


def _monthly(amount, interval: str | None) -> Decimal | None:
    factor = MONTHLY_FACTOR.get(interval or "")
    return None if amount is None or factor is None else (Decimal(amount) * factor).quantize(CENTS)
