"""A 202's INSERT (storage/events.py: insert_event_if_site_secrets_are) sends only what the database
would not fill itself, compiled once per dialect, and stores the same row it always did."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from sidecar.domain.events import SCHEMA_DIGEST
from sidecar.domain.sites import rotate_secret
from sidecar.storage.tables import events
from tests.conftest import make_event


def _inserts(engine):
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            seen.append(parameters)

    sa_event.listen(engine, "before_cursor_execute", record)
    return seen


def test_a_202_inserts_only_the_values_the_database_does_not_fill(app, post_event, site):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), webhook_id="first", apply=False).status_code == 202  # the site's row kept
    seen = _inserts(engine)
    assert post_event(make_event(), webhook_id="second", apply=False).status_code == 202
    # The event's ten columns, the site's id and its secret: no NULL, no default sent.
    [parameters] = seen
    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters)
    assert len(values) == 12
    assert None not in values and False not in values

    # During a rotation the previous secret and its expiry are checked too.
    new_secret = rotate_secret(engine, site["id"])
    assert post_event(make_event(), webhook_id="third", apply=False).status_code == 202  # the row read again
    seen.clear()
    assert post_event(make_event(), webhook_id="fourth", apply=False, secret=new_secret).status_code == 202
    [parameters] = seen
    assert len(list(parameters.values()) if isinstance(parameters, dict) else list(parameters)) == 14


def test_the_row_a_202_stores_holds_what_it_always_did(app, post_event):
    engine = app.extensions["farewell.engine"]
    before = datetime.now(timezone.utc) - timedelta(seconds=1)
    for webhook_id in ("first", "second"):  # the route reads the site, then the process's kept row
        assert post_event(make_event(occurred_at="2026-11-29T10:00:00+01:00"), webhook_id=webhook_id,
                          apply=False).status_code == 202
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events).order_by(events.c.id)).mappings().all()
    for row in rows:
        assert row["type"] == "subscription.cancelled" and row["source"] == "memberpress"
        assert row["initiated_by"] == "member"
        assert row["occurred_at"] == datetime(2026, 11, 29, 9, 0, tzinfo=timezone.utc)
        assert before < row["received_at"] == row["apply_after"] < before + timedelta(minutes=1)
        assert row["applied_at"] is None and row["survey_cancellation_id"] is None
        assert row["member_id"] is None and row["subscription_id"] is None
        assert row["imported"] in (False, 0) and row["apply_attempts"] == 0 and row["apply_error"] is None
        assert row["validated_with"] == SCHEMA_DIGEST
    assert rows[0]["payload"] == rows[1]["payload"]
