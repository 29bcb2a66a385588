"""History recorded after the fact (the demo's weeks; imported history later) is kept and counted,
but never sends an email, never opens a contact request, never alerts anyone and never counts as an
email's success: on SQLite and MariaDB, through the real ingest and the real dispatcher."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sidecar.domain import alerts
from sidecar.domain.dispatch import DispatchConfig
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import record_event
from sidecar.domain.site_settings import update_settings
from sidecar.domain.sites import create_site
from sidecar.jobs import tasks
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import cancellations, contact_requests, scheduled_emails, survey_answers, winbacks
from tests.conftest import count_rows, make_event

CANCELLED_AT = datetime(2026, 11, 2, 10, 0, tzinfo=timezone.utc)  # a Monday, 11:00 in Paris


@pytest.fixture
def club(app):
    engine = app.extensions["farewell.engine"]
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    update_settings(engine, site["id"], {"owner_emails": "patronne@club.example"})
    return engine, site


def record(engine, site, event: dict, imported: bool) -> None:
    parsed = parse_event(event)
    record_event(engine, site["id"], f"msg_{uuid.uuid4().hex}", json.dumps(event),
                 dataclasses.replace(parsed, imported=imported), now=parsed.occurred_at)


def at(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def contact_me(moment: datetime, member: str) -> dict:
    event = make_event(type_="survey.submitted", occurred_at=at(moment))
    del event["subscription"]
    event["member"] = {**event["member"], "id": member, "email": f"{member}@example.org"}
    event["survey"] = {"version": 1, "subscription_id": f"sub-{member}", "reason": "customer_service",
                       "contact_requested": True, "contact": "+33 6 00 00 00 00"}
    return event


def cancel(moment: datetime, member: str) -> dict:
    event = make_event(occurred_at=at(moment))
    event["member"] = {**event["member"], "id": member, "email": f"{member}@example.org"}
    event["subscription"] = {**event["subscription"], "id": f"sub-{member}"}
    return event


def comeback(moment: datetime, member: str) -> dict:
    event = cancel(moment, member)
    event["type"] = "subscription.created"
    event["subscription"] = {**event["subscription"], "id": f"sub2-{member}", "status": "active"}
    return event


def test_an_imported_cancellation_and_its_contact_me_answer_send_nothing(club, smtp):
    engine, site = club
    record(engine, site, cancel(CANCELLED_AT, "past"), imported=True)
    record(engine, site, contact_me(CANCELLED_AT + timedelta(hours=1), "past"), imported=True)
    assert count_rows(engine, cancellations) == 1 and count_rows(engine, survey_answers) == 1
    assert count_rows(engine, scheduled_emails) == 0 and count_rows(engine, contact_requests) == 0
    assert alerts.queue_owner_alerts(engine, CANCELLED_AT + timedelta(days=1)) == 0
    # The same two events, live: four emails planned, a request opened, the owner alerted.
    record(engine, site, cancel(CANCELLED_AT, "live"), imported=False)
    record(engine, site, contact_me(CANCELLED_AT + timedelta(hours=1), "live"), imported=False)
    assert count_rows(engine, scheduled_emails) == 4 and count_rows(engine, contact_requests) == 1
    assert alerts.queue_owner_alerts(engine, CANCELLED_AT + timedelta(days=1)) == 1


def test_an_imported_comeback_is_a_winback_that_no_email_gets_the_credit_for(club, smtp):
    engine, site = club
    record(engine, site, cancel(CANCELLED_AT, "ana"), imported=False)
    transport = transport_from_url(smtp.url)
    config = DispatchConfig.from_app_config({"SECRET_KEY": "k" * 32, "FAREWELL_PUBLIC_URL": "http://sidecar.test",
                                             "FAREWELL_MAIL_FROM": "farewell@club.example.org"})
    tasks.dispatch_tick(engine, transport, config, lambda: CANCELLED_AT + timedelta(hours=2))
    assert len(smtp.messages()) == 1  # the farewell went out
    record(engine, site, comeback(CANCELLED_AT + timedelta(days=2), "ana"), imported=True)
    with engine.connect() as conn:
        [winback] = conn.execute(sa.select(winbacks)).mappings().all()
        steps = dict(conn.execute(sa.select(scheduled_emails.c.step, scheduled_emails.c.status)).all())
    assert winback["last_email_id"] is None and winback["last_email_step"] is None
    assert winback["coupon_code"] is None
    # A comeback stops what was still to come, whoever reports it.
    assert steps["farewell"] == "sent" and steps["feedback"] == "cancelled"


def test_the_bridge_marks_imported_history_and_the_ingest_plans_nothing_for_it(app, post_event, smtp):
    """The bridge's history import sends each past event with "imported": true (docs/PROTOCOL.md):
    through the signed endpoint it is stored and counted, and plans nothing; without the marker
    the same cancellation plans the sequence."""
    engine = app.extensions["farewell.engine"]
    past = cancel(CANCELLED_AT, "imported")
    assert post_event({**past, "imported": True}).status_code == 202
    assert parse_event({**past, "imported": True}).imported and not parse_event(past).imported
    assert count_rows(engine, cancellations) == 1 and count_rows(engine, scheduled_emails) == 0
    assert post_event({**past, "imported": "yes"}).status_code == 400  # a boolean, nothing else
    assert post_event(cancel(CANCELLED_AT, "live")).status_code == 202
    assert count_rows(engine, cancellations) == 2 and count_rows(engine, scheduled_emails) > 0
    assert smtp.messages() == []


def test_a_cancellation_whose_initiator_the_plugin_did_not_record_is_stored_as_unknown(app, client, post_event, smtp):
    """The bridge imports MemberPress's and Restrict Content's cancellations with initiated_by
    "unknown" (docs/PROTOCOL.md): accepted through the signed endpoint, stored as such (the
    dashboard counts it apart), and like any initiator but the member it plans no email, imported
    or not; /openapi.json lists the value for the admin API's cancellations too."""
    engine = app.extensions["farewell.engine"]
    assert post_event({**cancel(CANCELLED_AT, "imported"), "initiated_by": "unknown", "imported": True}).status_code == 202
    assert post_event({**cancel(CANCELLED_AT, "live"), "initiated_by": "unknown"}).status_code == 202
    assert post_event({**cancel(CANCELLED_AT, "nobody"), "initiated_by": "nobody"}).status_code == 400
    with engine.connect() as conn:
        stored = conn.execute(sa.select(cancellations.c.initiated_by)).scalars().all()
    assert stored == ["unknown", "unknown"]
    assert count_rows(engine, scheduled_emails) == 0
    schema = client.get("/openapi.json").get_json()
    assert "unknown" in schema["components"]["schemas"]["Cancellation"]["properties"]["initiated_by"]["enum"]
    assert smtp.messages() == []
