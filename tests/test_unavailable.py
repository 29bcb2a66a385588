"""When the database cannot take an event, the bridge is told to retry and nothing is half-written."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import exc

from sidecar import create_app
from sidecar.domain.applier import apply_pending
from sidecar.domain.sites import create_site
from sidecar.storage import cancellations as cancellations_store
from sidecar.storage import events as events_store
from sidecar.storage.tables import cancellations, events, members, subscriptions
from tests.conftest import count_rows, make_event


def test_a_failure_midway_leaves_no_trace_and_answers_503(post_event, app, monkeypatch):
    engine = app.extensions["farewell.engine"]

    def database_gone(*args, **kwargs):
        raise exc.OperationalError("INSERT INTO events", {}, Exception("server has gone away"))

    monkeypatch.setattr(events_store, "insert_event", database_gone)
    response = post_event(make_event(), webhook_id="msg_1")
    assert response.status_code == 503
    assert response.json == {"error": "unavailable"}
    for table in (events, members, subscriptions, cancellations):
        assert count_rows(engine, table) == 0
    monkeypatch.undo()
    # The bridge's retry carries the same webhook id and is applied in full.
    assert post_event(make_event(), webhook_id="msg_1").status_code == 202
    assert count_rows(engine, cancellations) == 1


def test_a_failure_midway_through_an_apply_leaves_no_trace_and_it_is_applied_in_full_later(post_event, app,
                                                                                        monkeypatch):
    engine = app.extensions["farewell.engine"]
    assert post_event(make_event(), webhook_id="msg_1", apply=False).status_code == 202

    def database_gone(*args, **kwargs):
        raise exc.OperationalError("INSERT INTO cancellations", {}, Exception("server has gone away"))

    monkeypatch.setattr(cancellations_store, "insert_cancellation", database_gone)
    with pytest.raises(exc.OperationalError):
        apply_pending(engine)
    # Rolled back whole: none of its effects, the event still waiting, and no attempt counted
    # against it (the database failed, not the event).
    for table in (members, subscriptions, cancellations):
        assert count_rows(engine, table) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(events.c.applied_at, events.c.apply_attempts)).one() == (None, 0)
    monkeypatch.undo()
    assert apply_pending(engine).applied == 1
    assert count_rows(engine, cancellations) == 1


@pytest.mark.slow
def test_a_real_mariadb_outage_answers_503_then_recovers(own_mariadb, tmp_path):
    url = own_mariadb.create_database("farewell")
    app = create_app({"FAREWELL_DATABASE_URL": url, "FAREWELL_DATA_DIR": str(tmp_path),
                      "FAREWELL_SECRET_KEY": "test-secret-key-24-chars",
                      "FAREWELL_ADMIN_TOKEN": "test-admin-token-24-char"})
    from sidecar import db

    db.migrate(app.extensions["farewell.engine"])
    site = create_site(app.extensions["farewell.engine"], "https://club.example.org", "Club")
    client = app.test_client()

    def post(webhook_id):
        import json

        from sidecar.signing import sign

        body = json.dumps(make_event())
        return client.post(f"/v1/sites/{site['id']}/events", data=body,
                           headers={"Content-Type": "application/json", **sign(site["secret"], webhook_id, body)})

    own_mariadb.stop()
    down = post("msg_1")
    assert down.status_code == 503
    assert down.json == {"error": "unavailable"}
    assert client.get("/healthz").status_code == 503
    own_mariadb.start()
    assert client.get("/healthz").status_code == 200
    assert post("msg_1").status_code == 202
    assert post("msg_1").status_code == 200
    assert count_rows(app.extensions["farewell.engine"], events) == 1
    app.extensions["farewell.engine"].dispose()
