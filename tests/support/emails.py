"""Fixtures and events for the tests of the members' emails: a French site (``club``) whose events
are posted signed through the real ingest (``post``), a clock the tests move (``clock``), one
dispatch tick to the test SMTP server (``send``) or to any mail URL (``dispatcher``), what the
admin API says was planned (``emails_of``) and how many messages were built (``message_builds``).
Loaded for every test by tests/conftest.py (``pytest_plugins``): test modules name the fixtures,
and import the event builders from here."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.domain import compose
from sidecar.domain.dispatch import DispatchConfig
from sidecar.domain.site_settings import update_settings
from sidecar.domain.sites import create_site
from sidecar.jobs import tasks
from sidecar.mail.transports import transport_from_url
from sidecar.signing import sign
from tests.conftest import ADMIN_TOKEN, make_event
from tests.support.net import LOOPBACK_NETWORKS, free_port

CANCELLED_AT = datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc)  # a Sunday, 11:00 in Paris


@pytest.fixture
def message_builds(monkeypatch) -> list[int]:
    """One entry per member email built (``compose.sequence_email`` counted): the dispatch tests
    read how far ahead of the server the messages are built."""
    built: list[int] = []
    real = compose.sequence_email

    def counted(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(compose, "sequence_email", counted)
    return built


class FakeClock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def set(self, at: datetime) -> None:
        self.at = at


@pytest.fixture
def club(app):
    """A French site whose WordPress is not reachable (a closed local port): coupons fall back."""
    engine = app.extensions["farewell.engine"]
    site = create_site(engine, f"http://127.0.0.1:{free_port()}", "Le Club Hélène", "Europe/Paris", "fr_FR",
                       allowed_networks=LOOPBACK_NETWORKS)
    update_settings(engine, site["id"], {"support_email": "aide@club.example", "postal_address": "12 rue des Lilas\n75011 Paris",
                                         "owner_emails": "patronne@club.example", "default_offer_code": "REVIENS10"})
    return site


@pytest.fixture
def clock():
    return FakeClock(CANCELLED_AT)


@pytest.fixture
def send(app, smtp, clock):
    """One dispatch tick at the clock's time; returns the report."""
    engine = app.extensions["farewell.engine"]
    transport = transport_from_url(smtp.url)
    config = DispatchConfig.from_app_config(app.config)

    def tick(at: datetime | None = None):
        if at is not None:
            clock.set(at)
        return tasks.dispatch_tick(engine, transport, config, clock)

    return tick


@pytest.fixture
def post(client, club):
    def post(event: dict):
        body = json.dumps(event)
        headers = sign(club["secret"], f"msg_{uuid.uuid4().hex}", body)
        response = client.post(f"/v1/sites/{club['id']}/events", data=body,
                               headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 202, response.json
        return response

    return post


@pytest.fixture
def emails_of(client, club):
    def emails(member_id="42"):
        response = client.get(f"/v1/sites/{club['id']}/emails", query_string={"member_id": member_id},
                              headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert response.status_code == 200, response.json
        return {item["step"]: item for item in response.json["items"]}

    return emails


def cancel(at=CANCELLED_AT, **overrides):
    return make_event(occurred_at=at.isoformat().replace("+00:00", "Z"), **overrides)


def answer(reason, at=CANCELLED_AT + timedelta(hours=2), **fields):
    event = make_event(type_="survey.submitted", occurred_at=at.isoformat().replace("+00:00", "Z"))
    del event["subscription"]
    event["survey"] = {"version": 1, "subscription_id": "sub_7", "reason": reason, **fields}
    return event


def comeback(at, type_="subscription.created", sub_id="sub_8"):
    event = make_event(type_=type_, occurred_at=at.isoformat().replace("+00:00", "Z"))
    event["subscription"] = {**event["subscription"], "id": sub_id, "status": "active", "amount": "24.00"}
    return event


def bodies(received) -> tuple[str, str]:
    """The text and HTML parts, whitespace collapsed (the text part is wrapped at 72 columns)."""
    message = received.message
    return tuple(" ".join(message.get_body((kind,)).get_content().split()) for kind in ("plain", "html"))


@pytest.fixture
def survey_ready(client, club):
    """The survey's version 1 exists once the bridge fetched it."""
    survey = f"/v1/sites/{club['id']}/survey"
    assert client.get(survey, headers=sign(club["secret"], "s", "", method="GET", path=survey)).status_code == 200


def member_event(n: int):
    event = cancel()
    event["member"] = {"id": str(n), "email": f"m{n}@example.org", "first_name": "Zoë", "locale": "fr_FR"}
    event["subscription"]["id"] = f"sub_{n}"
    return event


@pytest.fixture
def dispatcher(app, clock):
    engine = app.extensions["farewell.engine"]
    config = DispatchConfig.from_app_config(app.config)

    def run(url: str, at: datetime):
        clock.set(at)
        return tasks.dispatch_tick(engine, transport_from_url(url), config, clock)

    return run
