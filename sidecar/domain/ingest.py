"""Recording an event and applying its effects, in one transaction.

Events arrive late, twice and out of order (the bridge retries for days), so every rule here is
written against ``occurred_at``, never against the order of arrival.
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone

from sqlalchemy import exc
from sqlalchemy.engine import Connection, Engine

from ..storage import cancellations as cancellations_store
from ..storage import events as events_store
from ..storage.members import upsert_member
from ..storage.subscriptions import upsert_subscription
from .events import Event

# The subscription status each lifecycle event implies; other events leave the status alone.
STATUS_AFTER = {
    "subscription.cancelled": "cancelled",
    "subscription.paused": "paused",
    "subscription.resumed": "active",
    "subscription.expired": "expired",
}


class Outcome(enum.Enum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"


def record_event(
    engine: Engine, site_id: str, webhook_id: str, raw_body: str, event: Event, now: datetime | None = None
) -> Outcome:
    """Store the event under its webhook id and apply it, or report it as a duplicate.

    Raises one of ``sidecar.db.UNAVAILABLE_ERRORS`` when the database cannot take it; then
    nothing was written.
    """
    now = now or datetime.now(timezone.utc)
    try:
        with engine.begin() as conn:
            event_id = events_store.insert_event(
                conn,
                site_id=site_id,
                webhook_id=webhook_id,
                type=event.type,
                source=event.source,
                initiated_by=event.initiated_by,
                occurred_at=event.occurred_at,
                received_at=now,
                payload=raw_body,
            )
            _apply(conn, site_id, event_id, event, now)
    except exc.IntegrityError:
        # The unique (site, webhook id) key turns a concurrent retry into this error. Anything
        # else that violates a constraint is a bug and must not be reported as a duplicate.
        with engine.connect() as conn:
            if events_store.event_exists(conn, site_id, webhook_id):
                return Outcome.DUPLICATE
        raise
    return Outcome.ACCEPTED


def _apply(conn: Connection, site_id: str, event_id: int, event: Event, now: datetime) -> None:
    at = event.occurred_at
    member = event.member
    member_id = upsert_member(
        conn,
        site_id,
        member.id,
        {"email": member.email, "first_name": member.first_name, "locale": member.locale},
        at,
        now,
    )
    sub = event.subscription
    if sub is None:
        events_store.link_event(conn, event_id, member_id, None)
        return
    status = STATUS_AFTER.get(event.type)
    if event.type == "subscription.created":
        status = sub.status or "active"
    subscription_id = upsert_subscription(
        conn,
        site_id,
        event.source,
        sub.id,
        member_id,
        {
            "plan_id": sub.plan_id,
            "plan_name": sub.plan_name,
            "amount": sub.amount,
            "currency": sub.currency,
            "interval": sub.interval,
            "started_at": sub.started_at,
            "access_ends_at": sub.access_ends_at,
        },
        status,
        at,
        now,
    )
    events_store.link_event(conn, event_id, member_id, subscription_id)
    context = dict(site_id=site_id, member_id=member_id, subscription_id=subscription_id, event_id=event_id)
    if event.type == "subscription.cancelled":
        _open_cancellation(conn, event, now, **context)
    elif event.type == "subscription.resumed":
        _close_by_resume(conn, subscription_id, at)
    elif event.type == "subscription.expired":
        _end(conn, event, now, **context)


def _open_cancellation(
    conn: Connection, event: Event, now: datetime, *, site_id, member_id, subscription_id, event_id
) -> None:
    at = event.occurred_at
    if cancellations_store.cancellation_at(conn, subscription_id, at):
        return  # the same cancellation, reported again under another webhook id
    later = cancellations_store.earliest_cancellation_after(conn, subscription_id, at)
    resumed_at = events_store.first_event_between(
        conn, subscription_id, "subscription.resumed", at, later["cancelled_at"] if later else None
    )
    access_ends_at = event.subscription.access_ends_at if event.subscription else None
    if later and later["kind"] == "expired" and resumed_at is None:
        # The expiry arrived first and was recorded as a reason-less ending; now that the cancel
        # that caused it is known, the record becomes that cancellation (one ending, not two).
        cancellations_store.update_cancellation(
            conn,
            later["id"],
            kind="cancelled",
            cancelled_at=at,
            initiated_by=event.initiated_by,
            event_id=event_id,
            access_ends_at=access_ends_at or later["access_ends_at"],
        )
        return
    ended_at = events_store.first_event_between(
        conn, subscription_id, "subscription.expired", at, later["cancelled_at"] if later else None
    )
    cancellations_store.insert_cancellation(
        conn,
        site_id=site_id,
        member_id=member_id,
        subscription_id=subscription_id,
        event_id=event_id,
        initiated_by=event.initiated_by,
        kind="cancelled",
        cancelled_at=at,
        access_ends_at=access_ends_at,
        resumed_at=resumed_at,
        ended_at=ended_at if resumed_at is None or (ended_at and ended_at < resumed_at) else None,
        created_at=now,
    )


def _close_by_resume(conn: Connection, subscription_id: int, at: datetime) -> None:
    previous = cancellations_store.latest_cancellation_before(conn, subscription_id, at)
    if previous is None or (previous["ended_at"] and previous["ended_at"] <= at):
        return  # nothing open to resume: a plain status change
    if previous["resumed_at"] is None or previous["resumed_at"] > at:
        cancellations_store.update_cancellation(conn, previous["id"], resumed_at=at)


def _end(conn: Connection, event: Event, now: datetime, *, site_id, member_id, subscription_id, event_id) -> None:
    at = event.occurred_at
    previous = cancellations_store.latest_cancellation_before(conn, subscription_id, at, inclusive=True)
    if previous and (previous["resumed_at"] is None or previous["resumed_at"] > at):
        if previous["ended_at"] is None or previous["ended_at"] > at:
            cancellations_store.update_cancellation(conn, previous["id"], ended_at=at)
        return
    # Ran out with no cancellation before it (e.g. a fixed-term plan, a failed renewal).
    cancellations_store.insert_cancellation(
        conn,
        site_id=site_id,
        member_id=member_id,
        subscription_id=subscription_id,
        event_id=event_id,
        initiated_by="system",
        kind="expired",
        cancelled_at=at,
        access_ends_at=at,
        ended_at=at,
        created_at=now,
    )
