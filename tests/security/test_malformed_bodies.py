"""Oversized and malformed bodies on every endpoint that takes one: a clear 4xx naming what is
wrong, and nothing changed (every table counted before and after). Both databases. The requests
are signed where the endpoint is, so each refusal comes from the body, not the signature."""

from __future__ import annotations

import json
import uuid

import pytest

from sidecar.signing import sign
from sidecar.storage.tables import metadata, rate_limit_hits
from tests.conftest import count_rows, make_event

SIGNED_ENDPOINTS = ["events", "privacy/export", "privacy/erase", "site-info", "digest/sample"]
EVENT = make_event()


def _with(path: tuple, value) -> bytes:
    """The valid event with the field at ``path`` replaced by ``value``, as JSON."""
    event = json.loads(json.dumps(EVENT))
    target = event
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return json.dumps(event).encode()


# (name, raw body, content type, expected status, expected error code)
MALFORMED = [
    ("deeply nested JSON", b'{"a":' * 5000 + b"1" + b"}" * 5000, "application/json", 400, "invalid_json"),
    ("a body over 64 KiB", json.dumps({**EVENT, "padding": "x" * 70_000}).encode(), "application/json", 413,
     "too_large"),
    ("a megabyte of brackets", b"[" * 1_048_576, "application/json", 413, "too_large"),
    ("invalid UTF-8", b'{"type": "\xff\xfe", "email": "\xc3("}', "application/json", 400, "invalid_encoding"),
    ("a raw NUL byte in a string", json.dumps(EVENT).replace('"Ana"', '"A\x00na"').encode(), "application/json",
     400, "invalid_json"),
    ("a lone surrogate escape", _with(("member", "first_name"), "\ud800"), "application/json", 400, None),
    ("a number of 5,000 digits", json.dumps(EVENT).replace('"42"', "1" * 5000).encode(), "application/json", 400,
     "invalid_json"),
    ("text/plain", json.dumps(EVENT).encode(), "text/plain", 415, "unsupported_media_type"),
    ("a form", b"type=subscription.cancelled", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("multipart", b"--x\r\n\r\n{}\r\n--x--", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
    ("no content type", json.dumps(EVENT).encode(), "", 415, "unsupported_media_type"),
    ("a JSON string", b'"hello"', "application/json", 400, None),
    ("an empty body", b"", "application/json", 400, "invalid_json"),
]

# Bodies that are valid JSON but wrong for events in ways only the content shows.
BAD_EVENTS = [
    ("a huge string in a name", _with(("member", "first_name"), "a" * 60_000), "member.first_name"),
    ("an escaped NUL in the email", _with(("member", "email"), "ana\u0000@example.org"), "member.email"),
    ("an escaped NUL in the member id", _with(("member", "id"), "4\u00002"), "member.id"),
    ("an escaped NUL in the subscription id", _with(("subscription", "id"), "sub\u00007"), "subscription.id"),
    ("a NUL in a key", json.dumps({**{k: v for k, v in EVENT.items() if k != "type"},
                                   "ty\u0000pe": EVENT["type"]}).encode(), "type"),
    ("NaN as an amount", json.dumps(EVENT).replace('"29.00"', "NaN").encode(), "subscription.amount"),
    ("a lone surrogate in a plan name", _with(("subscription", "plan_name"), "Or \udfff"), "subscription.plan_name"),
]


def _table_counts(engine) -> dict[str, int]:
    return {table.name: count_rows(engine, table) for table in metadata.sorted_tables if table is not rate_limit_hits}


@pytest.fixture
def signed_post(client, site):
    def post(endpoint: str, raw: bytes, content_type: str = "application/json"):
        path = f"/v1/sites/{site['id']}/{endpoint}"
        # The events route takes Standard Webhooks signatures, every other one signatures bound to it.
        bound = {} if endpoint == "events" else {"method": "POST", "path": path}
        headers = sign(site["secret"], f"msg_{uuid.uuid4().hex}", raw.decode("utf-8", "replace"), **bound)
        if content_type:
            headers["Content-Type"] = content_type
        return client.post(path, data=raw, headers=headers)

    return post


@pytest.mark.parametrize("endpoint", SIGNED_ENDPOINTS)
def test_malformed_bodies_get_a_clear_4xx_and_change_nothing(endpoint, signed_post, engine):
    assert signed_post("events", json.dumps(EVENT).encode()).status_code == 202  # something to keep intact
    before = _table_counts(engine)
    for name, raw, content_type, status, error in MALFORMED:
        response = signed_post(endpoint, raw, content_type)
        assert response.status_code == status, (name, response.text)
        assert response.is_json and isinstance(response.json.get("error"), str), name
        if error:
            assert response.json["error"] == error, (name, response.json)
    assert _table_counts(engine) == before


def test_events_with_bad_content_name_the_field_and_change_nothing(signed_post, engine):
    before = _table_counts(engine)
    for name, raw, field in BAD_EVENTS:
        response = signed_post("events", raw)
        assert response.status_code == 400, (name, response.text)
        assert response.json["error"] == "invalid_event" and field in response.json["fields"], (name, response.json)
    assert _table_counts(engine) == before


def test_an_escaped_nul_in_a_name_is_stripped_not_stored(signed_post, admin_get, site):
    """The protocol keeps text as typed minus control characters: a NUL never reaches a page or an email."""
    assert signed_post("events", _with(("member", "first_name"), "A\u0000na")).status_code == 202
    [item] = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert item["member"]["first_name"] == "Ana"


def test_an_unsubscribe_post_over_4_kib_is_refused(client):
    response = client.post("/u/anything", data=b"List-Unsubscribe=One-Click&" + b"x" * 5000,
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413


def test_a_dashboard_form_over_1_mib_is_refused_before_anything_is_read(client):
    response = client.post("/admin/settings", data=b"x=" + b"y" * (1024 * 1024 + 1),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
