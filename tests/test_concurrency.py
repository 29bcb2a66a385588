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


def test_overlapping_batches_at_once_store_each_event_once_and_accept_it_once(server):
    """Six batches of the same 60 events (half of them in reverse order) sent at once: each event is
    stored once, and exactly one answer across all six says it was accepted."""
    path = f"/v1/sites/{server.site_id}/events/batch"
    items = []
    for n in range(60):
        event = make_event(occurred_at=f"2026-11-{n % 28 + 1:02d}T10:{n % 60:02d}:00Z")
        event["member"] = {**event["member"], "id": str(n)}
        event["subscription"] = {**event["subscription"], "id": f"sub_{n}"}
        items.append({"webhook_id": f"msg_{n}", "event": event})

    def send(k):
        body = json.dumps({"events": items if k % 2 else items[::-1]})
        for _ in range(5):  # what the bridge does with a 503: send the whole batch again
            headers = {"Content-Type": "application/json",
                       **sign(server.secret, f"batch_{k}", body, method="POST", path=path)}
            response = requests.post(f"{server.url}{path}", data=body, headers=headers, timeout=60)
            if response.status_code != 503:
                break
        assert response.status_code == 200, response.text
        return {r["webhook_id"]: r["status"] for r in response.json()["results"]}

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(send, range(6)))
    for n in range(60):
        statuses = sorted(answer[f"msg_{n}"] for answer in answers)
        assert statuses == ["accepted"] + ["duplicate"] * 5, (n, statuses)
    assert count(server, events) == 60
    wait_until_applied(server.database_url)
    assert count(server, cancellations) == 60
