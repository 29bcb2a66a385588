"""The demo mode of ``serve --demo`` (or FAREWELL_DEMO=1): a sample member cancels when the server
starts, and the jobs' clock runs 14,400 times faster, so the whole sequence lands in the mail
folder within minutes: farewell at once, feedback after ~20 s, offer after ~3 min, "door open"
after ~6 min (quiet hours shift each by a few seconds)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy.engine import Engine

from .domain.events import parse_event
from .domain.ingest import record_event


def record_demo_cancellation(engine: Engine, site: dict, now: datetime | None = None) -> str:
    """A member-initiated cancellation by a new sample member; returns the member's id."""
    now = now or datetime.now(timezone.utc)
    member_id = f"demo-{uuid.uuid4().hex[:8]}"
    french = site["locale"].startswith("fr")
    document = {
        "type": "subscription.cancelled",
        "occurred_at": now.isoformat(),
        "source": "test",
        "initiated_by": "member",
        "member": {"id": member_id, "email": f"{member_id}@example.org",
                   "first_name": "Zoé" if french else "Zoe", "locale": site["locale"]},
        "subscription": {"id": f"sub-{member_id}", "plan_name": "Premium", "amount": "12.00", "currency": "EUR",
                         "interval": "month", "status": "cancelled",
                         "started_at": (now - timedelta(days=400)).isoformat(),
                         "access_ends_at": (now + timedelta(days=2)).isoformat()},
    }
    body = json.dumps(document)
    record_event(engine, site["id"], f"demo_{member_id}", body, parse_event(document), now=now)
    return member_id
