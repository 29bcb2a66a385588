"""Members at risk (issue 18): failed renewals and pauses, shown before they become cancellations.

Each test runs on SQLite and on MariaDB (the ``db_url`` fixture behind ``app`` and ``engine``).
"""

from __future__ import annotations

from sidecar.storage.tables import events
from tests.conftest import count_rows, make_event


def _payment(type_: str, occurred_at: str, **subscription) -> dict:
    event = make_event(type_, occurred_at, initiated_by="gateway")
    event["subscription"].update(status="active", **subscription)
    return event


def test_a_renewal_payment_is_an_event_type_that_needs_its_subscription(post_event, app, client):
    engine = app.extensions["farewell.engine"]
    assert post_event(_payment("payment.succeeded", "2026-11-29T10:00:00Z")).status_code == 202
    without = make_event("payment.succeeded")
    del without["subscription"]
    refused = post_event(without, webhook_id="msg_2")
    assert refused.status_code == 400
    assert refused.json["fields"] == {"subscription": "is required"}
    assert count_rows(engine, events) == 1
    spec = client.get("/openapi.json").json
    assert "payment.succeeded" in str(spec)
