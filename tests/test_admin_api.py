"""The admin read API: authenticated, paginated, filtered, and safe with bad queries."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.conftest import make_event


def cancel(post_event, member_id: str, at: str):
    event = make_event(occurred_at=at)
    event["member"]["id"] = member_id
    event["subscription"]["id"] = f"sub_{member_id}"
    assert post_event(event).status_code == 202


def test_without_the_token_nothing_is_shown(admin_get, site):
    assert admin_get(f"/v1/sites/{site['id']}/cancellations", token=None).status_code == 401
    wrong = admin_get(f"/v1/sites/{site['id']}/cancellations", token="guess")
    assert wrong.status_code == 401
    assert wrong.json == {"error": "unauthorized"}


def test_an_unset_admin_token_refuses_everyone(app, client, site):
    app.config["FAREWELL_ADMIN_TOKEN"] = None
    response = client.get(f"/v1/sites/{site['id']}/cancellations", headers={"Authorization": "Bearer None"})
    assert response.status_code == 401
    assert client.get(f"/v1/sites/{site['id']}/cancellations", headers={"Authorization": "Bearer "}).status_code == 401


def test_unknown_site_is_404(admin_get):
    assert admin_get("/v1/sites/site_nope/cancellations").status_code == 404


def test_pages_follow_the_cursor_newest_first_without_gaps_or_repeats(post_event, admin_get, site):
    for n in range(7):
        cancel(post_event, str(n), f"2026-11-0{n + 1}T10:00:00Z")
    # Two cancellations at the same instant must still page deterministically.
    cancel(post_event, "same", "2026-11-04T10:00:00Z")
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = admin_get(f"/v1/sites/{site['id']}/cancellations", **params).json
        seen += [item["member"]["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 and len(set(seen)) == 8
    assert seen[0] == "6" and seen[-1] == "0"


def test_since_is_inclusive_and_until_exclusive(post_event, admin_get, site):
    for n in range(5):
        cancel(post_event, str(n), f"2026-11-0{n + 1}T10:00:00Z")
    page = admin_get(f"/v1/sites/{site['id']}/cancellations", since="2026-11-02T10:00:00Z",
                     until="2026-11-04T10:00:00Z").json
    assert [item["member"]["id"] for item in page["items"]] == ["2", "1"]


def test_offsets_in_the_query_are_honoured(post_event, admin_get, site):
    cancel(post_event, "1", "2026-11-01T10:00:00Z")
    page = admin_get(f"/v1/sites/{site['id']}/cancellations", since="2026-11-01T11:00:00+01:00").json
    assert len(page["items"]) == 1
    page = admin_get(f"/v1/sites/{site['id']}/cancellations", since="2026-11-01T11:00:01+01:00").json
    assert page["items"] == []


def test_other_sites_cancellations_are_never_listed(app, post_event, admin_get):
    from sidecar.domain.sites import create_site

    cancel(post_event, "1", "2026-11-01T10:00:00Z")
    other = create_site(app.extensions["farewell.engine"], "https://other.example.org", "Other")
    assert admin_get(f"/v1/sites/{other['id']}/cancellations").json["items"] == []


@pytest.mark.parametrize(
    "params, field",
    [({"limit": "0"}, "limit"), ({"limit": "501"}, "limit"), ({"limit": "ten"}, "limit"),
     ({"since": "last week"}, "since"), ({"until": "2026-11-01"}, "until"), ({"cursor": "!!!"}, "cursor"),
     ({"cursor": "WzEsMl0"}, "cursor"),
     ({"cursor": __import__("base64").urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).decode()}, "cursor")],
)
def test_bad_queries_name_the_field(admin_get, site, params, field):
    response = admin_get(f"/v1/sites/{site['id']}/cancellations", **params)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_query"
    assert field in response.json["fields"]


def test_openapi_describes_every_route(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"] == "3.1.0"
    assert set(spec["paths"]) == {
        "/v1/sites/{site_id}/events", "/v1/sites/{site_id}/ping", "/v1/sites/{site_id}/cancellations", "/healthz",
        "/v1/sites/{site_id}/privacy/export", "/v1/sites/{site_id}/privacy/erase", "/v1/sites/{site_id}/survey",
        "/v1/sites/{site_id}/contact-requests", "/v1/sites/{site_id}/cancellations/{cancellation_id}/survey-link",
        "/v1/sites/{site_id}/emails", "/v1/sites/{site_id}/winbacks", "/v1/sites/{site_id}/digest", "/u/{token}",
        "/v1/sites/{site_id}/summary", "/v1/sites/{site_id}/site-info", "/metrics", "/",
        "/v1/sites/{site_id}/unapplied-events", "/v1/sites/{site_id}/events/batch",
        "/v1/sites/{site_id}/digest/settings", "/v1/sites/{site_id}/digest/sample",
    }
    assert spec["components"]["schemas"]["Event"]["properties"]["type"]["enum"][0] == "subscription.created"
    # The history the bridge imports says so (docs/PROTOCOL.md).
    assert spec["components"]["schemas"]["Event"]["properties"]["imported"] == {"type": "boolean", "default": False}


def test_every_route_of_the_app_is_in_the_openapi_document(app, client):
    import re

    spec_paths = set(client.get("/openapi.json").json["paths"])
    # The dashboard's HTML pages (blueprint "dashboard", under /admin) are not an API: they are
    # left out of the OpenAPI document on purpose. Its /v1 summary route is in it like every other.
    routes = {re.sub(r"<(?:[^>]*:)?(\w+)>", r"{\1}", rule.rule) for rule in app.url_map.iter_rules()
              if rule.endpoint not in ("static", "openapi.openapi") and not rule.endpoint.startswith("dashboard.")}
    assert routes == spec_paths


def test_each_cancellation_and_win_back_says_its_holdout_group_as_the_openapi_document_describes(
        app, client, post_event, admin_get, site):
    """Issue 20: the admin API gives the group the answers' CSV gives, "followups" or "holdout"
    as drawn when the cancellation opened, null outside the comparison (here: an admin's cancel)."""
    from jsonschema import Draft202012Validator
    from sqlalchemy import select

    from sidecar.domain.holdout import FOLLOWUPS, HOLDOUT, draw
    from sidecar.domain.site_settings import update_settings
    from sidecar.storage.tables import sites

    engine = app.extensions["farewell.engine"]
    update_settings(engine, site["id"], {"holdout_percent": 50})
    with engine.connect() as conn:
        seed = conn.execute(select(sites.c.holdout_seed).where(sites.c.id == site["id"])).scalar_one()
    expected = {}
    for n in range(8):
        at = f"2026-11-0{n + 1}T10:00:00Z"
        cancel(post_event, str(n), at)
        number = draw(seed, site["id"], "memberpress", f"sub_{n}", datetime.fromisoformat(at.replace("Z", "+00:00")))
        expected[str(n)] = HOLDOUT if number < 0.5 else FOLLOWUPS
    assert set(expected.values()) == {FOLLOWUPS, HOLDOUT}, "eight draws at 50 % give both groups"
    by_admin = make_event(occurred_at="2026-11-09T10:00:00Z", initiated_by="admin")
    by_admin["member"]["id"], by_admin["subscription"]["id"] = "admin", "sub_admin"
    assert post_event(by_admin).status_code == 202
    expected["admin"] = None
    for member in ("0", "1"):  # both come back, in whichever group they were drawn
        resumed = make_event("subscription.resumed", f"2026-11-2{member}T10:00:00Z")
        resumed["member"]["id"] = member
        resumed["subscription"].update(id=f"sub_{member}", status="active")
        assert post_event(resumed).status_code == 202

    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]
    listed = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert {item["member"]["id"]: item["group"] for item in listed} == expected
    for item in listed:
        Draft202012Validator(schemas["Cancellation"]).validate(item)
    winbacks_page = spec["paths"]["/v1/sites/{site_id}/winbacks"]["get"]["responses"]["200"]
    winback_schema = winbacks_page["content"]["application/json"]["schema"]
    won = admin_get(f"/v1/sites/{site['id']}/winbacks").json
    assert {item["member"]["id"]: item["group"] for item in won["items"]} == {m: expected[m] for m in ("0", "1")}
    Draft202012Validator({**winback_schema, "components": spec["components"]}).validate(won)
    # The document says what the values mean and that null is a value, not a missing field.
    assert "group" in schemas["Cancellation"]["required"]
    assert schemas["Cancellation"]["properties"]["group"]["enum"] == [FOLLOWUPS, HOLDOUT, None]
