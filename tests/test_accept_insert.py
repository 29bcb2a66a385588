"""A 202's INSERT (storage/events.py: insert_event_if_site_secrets_are) sends only what the database
would not fill itself, compiled once per dialect, and stores the same row it always did; on MariaDB
its values are rendered by the driver's converter in one call, and an error shows its placeholders,
not the event it carries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event

from sidecar.domain.events import SCHEMA_DIGEST
from sidecar.domain.sites import rotate_secret
from sidecar.storage.tables import events
from tests.conftest import make_event


def _inserts(engine, monkeypatch):
    """The values each INSERT of events sends: its parameters, or on MariaDB, where the driver's
    converter renders them into the statement (one call, given the list), that list."""
    seen = []
    rendered = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO EVENTS"):
            seen.append(parameters or rendered.pop())

    sa_event.listen(engine, "before_cursor_execute", record)
    if engine.dialect.name == "mysql":
        from mysql.connector.connection_cext import CMySQLConnection

        convert = CMySQLConnection.prepare_for_mysql

        def kept(connection, params):
            if isinstance(params, list):
                rendered.append(params)
            return convert(connection, params)

        monkeypatch.setattr(CMySQLConnection, "prepare_for_mysql", kept)
    return seen


def test_a_202_inserts_only_the_values_the_database_does_not_fill(app, post_event, site, monkeypatch):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), webhook_id="first", apply=False).status_code == 202  # the site's row kept
    seen = _inserts(engine, monkeypatch)
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


def test_a_202s_insert_that_fails_shows_its_placeholders_not_the_event(engine, site, monkeypatch):
    """The values are in the statement itself on MariaDB: the error (and any log of it) shows the
    statement with its placeholders. The same webhook id stored twice makes it fail."""
    from sidecar.storage import events as events_store
    from sidecar.storage.sites import get_site

    with engine.connect() as conn:
        site = get_site(conn, site["id"])  # the whole row, as the route keeps it
    now = datetime.now(timezone.utc)
    row = dict(site_id=site["id"], webhook_id="msg_x", type="subscription.cancelled", source="memberpress",
               initiated_by="member", occurred_at=now, received_at=now, apply_after=now,
               payload="ana.secret@example.org " * 10, validated_with=SCHEMA_DIGEST)
    with engine.begin() as conn:
        assert events_store.insert_event_if_site_secrets_are(conn, site, **row) is not None
    with pytest.raises(sa.exc.IntegrityError) as raised, engine.begin() as conn:
        events_store.insert_event_if_site_secrets_are(conn, site, **row)  # the same webhook id again
    text = str(raised.value)
    assert "ana.secret" not in text and site["secret"] not in text, text
