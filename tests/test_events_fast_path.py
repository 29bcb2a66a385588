"""The events route's 202 is served by a WSGI path of its own in front of Flask
(sidecar/web/events_fast_path.py), and answers exactly as Flask's route does: status, body, headers,
request id, access line and metrics. Every request is sent twice, once to the app as served and once
to Flask alone (the app's wsgi_app behind the fast path), and both answers are compared."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone

import pytest
from flask import request_started
from prometheus_client import REGISTRY
from sqlalchemy import exc
from werkzeug.test import Client

from sidecar.signing import sign
from sidecar.storage import events as events_store
from sidecar.storage.tables import events
from tests.conftest import count_rows, make_event

ROUTE = "/v1/sites/<site_id>/events"


@pytest.fixture
def flask_answers(app):
    """How many requests Flask itself handled (its request_started signal)."""
    seen = []

    def count(sender, **extra):
        seen.append(sender)

    request_started.connect(count, app)
    yield seen
    request_started.disconnect(count, app)


def _figures(status: int) -> tuple:
    def value(name, labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    return (
        tuple(value("farewell_events_total", {"outcome": outcome, "reason": ""})
              for outcome in ("accepted", "duplicate", "unavailable", "error")),
        value("farewell_events_total", {"outcome": "rejected", "reason": "bad_signature"}),
        value("farewell_http_requests_total", {"route": ROUTE, "method": "POST", "status": str(status)}),
        value("farewell_http_request_duration_seconds_count", {"route": ROUTE, "method": "POST"}),
    )


def _send(client, site, caplog, *, webhook_id, event=None, secret=None, content_type="application/json",
          request_id=None):
    body = json.dumps(event or make_event())
    headers = {"Content-Type": content_type, **sign(secret or site["secret"], webhook_id, body, datetime.now(timezone.utc))}
    if request_id:
        headers["X-Request-Id"] = request_id
    caplog.clear()
    response = client.post(f"/v1/sites/{site['id']}/events", data=body.encode(), headers=headers)
    [access] = [record for record in caplog.records if record.name == "sidecar.access"]
    return response, access


def _same(through_fast, through_flask, given_request_id):
    (fast, fast_line), (flask, flask_line) = through_fast, through_flask
    assert fast.status == flask.status
    assert fast.get_data() == flask.get_data()
    assert [name for name, _ in fast.headers] == [name for name, _ in flask.headers]
    for name, value in flask.headers:
        if name != "X-Request-Id" or given_request_id:
            assert fast.headers[name] == value, name
    assert len(fast.headers["X-Request-Id"]) == len(flask.headers["X-Request-Id"])
    # The access line: same logger, level, message (but for the time taken), fields and request id.
    assert (fast_line.levelno, fast_line.getMessage().rsplit(" ", 2)[0]) == \
        (flask_line.levelno, flask_line.getMessage().rsplit(" ", 2)[0])
    for field in ("method", "route", "status"):
        assert getattr(fast_line, field) == getattr(flask_line, field)
    assert fast_line.request_id == fast.headers["X-Request-Id"]
    assert isinstance(fast_line.duration_ms, float)


@pytest.mark.parametrize("request_id", [None, "req-given-by-the-proxy-0123456789"])
def test_a_202_and_a_duplicate_are_answered_by_the_fast_path_as_flask_answers_them(
        app, client, site, caplog, flask_answers, request_id):
    caplog.set_level(logging.INFO)
    flask_only = Client(app.wsgi_app.wsgi_app, app.response_class)
    engine = app.extensions["farewell.engine"]
    # The site's first event: Flask's route reads the site and the process keeps its row.
    assert _send(client, site, caplog, webhook_id="first")[0].status_code == 202
    flask_answers.clear()

    for status in (202, 200):  # the same ids twice: accepted, then duplicates
        ids = ("flask_1", "fast_1")
        before = _figures(status)
        through_flask = _send(flask_only, site, caplog, webhook_id=ids[0], request_id=request_id)
        middle = _figures(status)
        assert len(flask_answers) == 1
        through_fast = _send(client, site, caplog, webhook_id=ids[1], request_id=request_id)
        after = _figures(status)
        assert len(flask_answers) == 1, "the fast path answers without Flask's request machinery"
        flask_answers.clear()
        assert through_fast[0].status_code == status
        _same(through_fast, through_flask, request_id)
        # The same counters moved by the same amounts.
        assert [_delta(a, b) for a, b in zip(before, middle)] == [_delta(a, b) for a, b in zip(middle, after)]
    assert count_rows(engine, events) == 3  # first, flask_1, fast_1: each stored once


def _delta(before, after):
    if isinstance(before, tuple):
        return tuple(b - a for a, b in zip(before, after))
    return after - before


def test_a_503_is_answered_by_the_fast_path_as_flask_answers_it(app, client, site, caplog, flask_answers,
                                                                monkeypatch):
    caplog.set_level(logging.INFO)
    flask_only = Client(app.wsgi_app.wsgi_app, app.response_class)
    engine = app.extensions["farewell.engine"]
    assert _send(client, site, caplog, webhook_id="first")[0].status_code == 202
    flask_answers.clear()

    def database_gone(*args, **kwargs):
        raise exc.OperationalError("INSERT INTO events", {}, Exception("server has gone away"))

    monkeypatch.setattr(events_store, "insert_event_if_site_secrets_are", database_gone)
    before = _figures(503)
    through_flask = _send(flask_only, site, caplog, webhook_id="flask_1")
    flask_errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    middle = _figures(503)
    through_fast = _send(client, site, caplog, webhook_id="fast_1")
    fast_errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    after = _figures(503)
    assert len(flask_answers) == 1  # Flask answered only the first
    assert through_fast[0].status_code == 503
    _same(through_fast, through_flask, None)
    assert fast_errors == flask_errors == ["database unavailable: Exception"]
    assert [_delta(a, b) for a, b in zip(before, middle)] == [_delta(a, b) for a, b in zip(middle, after)]
    monkeypatch.undo()
    assert count_rows(engine, events) == 1
    # The bridge's retry is stored, by the fast path.
    assert _send(client, site, caplog, webhook_id="fast_1")[0].status_code == 202
    assert len(flask_answers) == 1


@pytest.mark.parametrize("case", ["forged", "media_type", "invalid", "survey"])
def test_a_request_the_fast_path_cannot_take_whole_is_answered_by_flask_with_its_body(
        app, client, site, caplog, flask_answers, case):
    caplog.set_level(logging.INFO)
    flask_only = Client(app.wsgi_app.wsgi_app, app.response_class)
    assert _send(client, site, caplog, webhook_id="first")[0].status_code == 202
    flask_answers.clear()
    forged = "whsec_" + "Zm9yZ2VkIGZvcmdlZCBmb3JnZWQgZm9yZ2VkIGZvcmdlZA=="
    kwargs = {
        "forged": {"secret": forged},
        "media_type": {"content_type": "text/plain"},
        "invalid": {"event": make_event(member={"id": "42"})},
        "survey": {"event": {**make_event("survey.submitted"), "survey": {"reason": "price"}}},
    }[case]
    before = _figures(400)
    through_flask = _send(flask_only, site, caplog, webhook_id=f"flask_{uuid.uuid4().hex}", **kwargs)
    middle = _figures(400)
    through_fast = _send(client, site, caplog, webhook_id=f"fast_{uuid.uuid4().hex}", **kwargs)
    after = _figures(400)
    assert len(flask_answers) == 2  # both answered by Flask, the body handed on as it came
    _same(through_fast, through_flask, None)
    assert [_delta(a, b) for a, b in zip(before, middle)] == [_delta(a, b) for a, b in zip(middle, after)]
