"""Win-backs: a member who subscribes again, or resumes, within the window after cancelling.

A comeback stops the rest of the sequence at once and is recorded with what it is worth, the last
email sent before it and the coupon that email carried, so the owner sees what brought people back.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from ..storage import emails as emails_store
from ..storage import winbacks as winbacks_store
from ..storage.subscriptions import subscriptions_of_member
from .sequences import SkipReason
from .site_settings import effective_settings
from .stops import stop_emails_for

COMEBACK_EVENTS = ("subscription.created", "subscription.resumed")


def record_comeback(
    conn: Connection, *, site_id: str, member_id: int, subscription_id: int, event_id: int, event_type: str,
    at: datetime, amount, currency: str | None, now: datetime, imported: bool = False,
    not_won_back: list[dict] | None = None,
) -> bool:
    """Called with a subscription.created/resumed event; returns whether it was a win-back.

    An imported comeback (history) is a win-back too, but no email gets the credit for it: what
    brought that member back was never seen. ``not_won_back``: the member's
    ``cancellations_not_won_back_of_members``, read by the applier's batch after the member's row
    was written (and so held) in this transaction."""
    if not_won_back is None:
        # Wait for a message to this member being handed to the mail server right now (the
        # dispatcher holds its recipient): once this transaction commits, no more of the sequence
        # leaves. Taken before the reads below, so two comebacks of one member take turns;
        # stop_emails_for takes it again (a no-op for the holder). The applier's batch holds it
        # already: its upsert of the member's row locked that row until the commit.
        emails_store.hold_recipients(conn, [member_id])
    window = timedelta(days=effective_settings(conn, site_id)["winback_window_days"])
    since = at - window
    if not_won_back is None:
        recent = winbacks_store.cancellations_not_won_back(conn, member_id, since, at)
    else:  # cancellations_not_won_back's choice and order
        recent = sorted((c for c in not_won_back if since <= c["cancelled_at"] <= at),
                        key=lambda c: (c["cancelled_at"], c["id"]), reverse=True)
    recent = [c for c in recent if c["kind"] == "cancelled"]
    if not recent:
        return False
    stop_emails_for(conn, [member_id], SkipReason.WON_BACK, now, cancellations=[c["id"] for c in recent])
    _record(conn, recent[0], site_id=site_id, member_id=member_id, subscription_id=subscription_id,
            event_id=event_id, event_type=event_type, at=at, amount=amount, currency=currency, now=now,
            credit_emails=not imported)
    return True


def comeback_before_cancellation_arrived(conn: Connection, site_id: str, cancellation: dict, now: datetime,
                                         comebacks: list[dict] | None = None) -> bool:
    """A cancellation that reaches us after the member already came back (the bridge delivers out
    of order) is a win-back at once, and gets no sequence. ``comebacks``: the member's
    ``comebacks_of_members``, when the applier's batch read them already."""
    comeback = comeback_after_cancellation(conn, site_id, cancellation, comebacks)
    if comeback is None:
        return False
    subscription = next((s for s in subscriptions_of_member(conn, cancellation["member_id"])
                         if s["id"] == comeback["subscription_id"]), None)
    _record(conn, cancellation, site_id=site_id, member_id=cancellation["member_id"],
            subscription_id=comeback["subscription_id"], event_id=comeback["id"], event_type=comeback["type"],
            at=comeback["occurred_at"], amount=subscription["amount"] if subscription else None,
            currency=subscription["currency"] if subscription else None, now=now)
    return True


def comeback_after_cancellation(conn: Connection, site_id: str, cancellation: dict,
                                comebacks: list[dict] | None = None) -> dict | None:
    """The comeback that wins back this cancellation as soon as it arrives, if any: the member's
    first subscription.created/resumed event in the window after it (None for a reason-less
    ending). Needs only the cancellation's values, not its id."""
    if cancellation["kind"] != "cancelled":
        return None
    window = timedelta(days=effective_settings(conn, site_id)["winback_window_days"])
    after, until = cancellation["cancelled_at"], cancellation["cancelled_at"] + window
    if comebacks is None:
        return winbacks_store.comeback_after(conn, cancellation["member_id"], after, until)
    # comeback_after's choice: the first in (after, until] by (occurred_at, id)
    return min((c for c in comebacks if after < c["occurred_at"] <= until),
               key=lambda c: (c["occurred_at"], c["id"]), default=None)


def _record(conn: Connection, cancellation: dict, *, site_id, member_id, subscription_id, event_id, event_type, at,
            amount, currency, now, credit_emails: bool = True) -> None:
    # The emails the member had received before coming back, the latest first: the last one is
    # credited, and the offer's coupon, if it was among them.
    sent = emails_store.sent_before(conn, cancellation["id"], at) if credit_emails else []
    last = sent[0] if sent else None
    winbacks_store.record(
        conn, site_id=site_id, member_id=member_id, cancellation_id=cancellation["id"], event_id=event_id,
        subscription_id=subscription_id, event_type=event_type, won_back_at=at, amount=amount, currency=currency,
        last_email_id=last["id"] if last else None, last_email_step=last["step"] if last else None,
        coupon_code=next((email["coupon_code"] for email in sent if email["coupon_code"]), None), created_at=now,
    )
