"""The owner's alert when a member asks to be contacted: queued as a scheduled email on the next
tick, exactly once (the unique contact_request_id key), then sent like any other email.

At most one alert about a member goes out in any ALERT_INTERVAL, whatever the number of their
requests (one per cancellation: a member with several subscriptions, or several cancellations
in a row): one email is enough for the owner to call them back, and a member cannot flood the
owner's inbox. The alert of a request that comes within the interval is recorded at once as
skipped (``member_alerted_within_a_day``); the request itself waits in the dashboard and the
weekly digest like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from ..storage import emails as emails_store
from .email_status import EmailStatus
from .sequences import OWNER_ALERT, SkipReason

BATCH = 200
ALERT_INTERVAL = timedelta(days=1)


def queue_owner_alerts(engine: Engine, now: datetime) -> int:
    """Schedule an alert for every open contact request that has none; returns how many requests
    were handled (alerts planned or skipped)."""
    with engine.begin() as conn:
        waiting = emails_store.contact_requests_to_alert(conn, BATCH)
        # Two jobs processes queueing two requests of one member at once would each see no alert
        # yet: the member's row makes them take turns (the second sees the first's alert).
        emails_store.hold_recipients(conn, sorted({request["member_id"] for request in waiting}))
        for request in waiting:
            alerted = emails_store.member_alerted_since(conn, request["member_id"], OWNER_ALERT,
                                                        now - ALERT_INTERVAL)
            outcome = (dict(status=EmailStatus.SKIPPED.value, skip_reason=SkipReason.ALERTED_WITHIN_A_DAY)
                       if alerted else dict(status=EmailStatus.PENDING.value, skip_reason=None))
            emails_store.plan(conn, site_id=request["site_id"], member_id=request["member_id"],
                              contact_request_id=request["id"], step=OWNER_ALERT, due_at=now, updated_at=now,
                              **outcome)
    return len(waiting)
