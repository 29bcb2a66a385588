"""The owner's alert when a member asks to be contacted: queued as a scheduled email on the next
tick, exactly once (the unique contact_request_id key), then sent like any other email."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from ..storage import emails as emails_store
from .email_status import EmailStatus
from .sequences import OWNER_ALERT

BATCH = 200


def queue_owner_alerts(engine: Engine, now: datetime) -> int:
    """Schedule an alert for every open contact request that has none; returns how many."""
    with engine.begin() as conn:
        waiting = emails_store.contact_requests_to_alert(conn, BATCH)
        for request in waiting:
            emails_store.plan(conn, site_id=request["site_id"], member_id=request["member_id"],
                              contact_request_id=request["id"], step=OWNER_ALERT,
                              status=EmailStatus.PENDING.value, due_at=now, updated_at=now)
    return len(waiting)
