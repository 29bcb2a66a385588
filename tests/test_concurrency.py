"""Retries racing each other, and many events for one member at once, against the real server."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa

from sidecar import db
from sidecar.signing import sign
from sidecar.storage.tables import cancellations, events, members
from tests.conftest import make_event
from tests.support.applier import wait_until_applied


@pytest.fixture(params=["sqlite", "mariadb"])
def server(request, sidecar_server):
    database_url = request.getfixturevalue("fresh_mariadb_url") if request.param == "mariadb" else None
    return sidecar_server(database_url=database_url)


def post(server, event, webhook_id):
    body = json.dumps(event)
    headers = {"Content-Type": "application/json", **sign(server.secret, webhook_id, body)}
    return requests.post(f"{server.url}/v1/sites/{server.site_id}/events", data=body, headers=headers, timeout=30)


def count(server, table):
    engine = db.create_engine(server.database_url)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    engine.dispose()
    return n


def test_the_same_event_sent_twelve_times_at_once_is_applied_once(server):
    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: post(server, make_event(), "msg_race"), range(12)))
    assert statuses == [200] * 11 + [202]
    assert count(server, events) == 1
    wait_until_applied(server.database_url)
    assert count(server, cancellations) == 1


def test_many_events_for_one_new_member_at_once_all_land(server):
    def send(n):
        event = make_event(occurred_at=f"2026-11-{n + 1:02d}T10:00:00Z")
        event["subscription"]["id"] = f"sub_{n}"
        for _ in range(5):  # what the bridge does with a 503: try again
            response = post(server, event, f"msg_{n}")
            if response.status_code != 503:
                return response.status_code
        return response.status_code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(send, range(24)))
    assert statuses == [202] * 24
    wait_until_applied(server.database_url)
    assert count(server, members) == 1
    assert count(server, cancellations) == 24
