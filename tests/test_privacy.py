"""A member's data can be exported and erased through the bridge, and only that member's."""

from __future__ import annotations

import json

import pytest

from sidecar.signing import sign
from sidecar.storage.tables import events
from tests.conftest import make_event


@pytest.fixture
def privacy(client, site):
    def call(action, document, secret=None, site_id=None):
        body = json.dumps(document)
        path = f"/v1/sites/{site_id or site['id']}/privacy/{action}"
        return client.post(path, data=body, headers={
            "Content-Type": "application/json",
            **sign(secret or site["secret"], f"privacy_{action}", body, method="POST", path=path)})

    return call


@pytest.fixture
def two_members(post_event, client, site):
    survey = f"/v1/sites/{site['id']}/survey"
    client.get(survey, headers=sign(site["secret"], "p", "", method="GET", path=survey))  # creates version 1
    ana = make_event()
    survey = make_event(type_="survey.submitted", occurred_at="2026-11-29T10:05:00Z")
    survey["survey"] = {"version": 1, "reason": "too_expensive", "comment": "C'était trop cher <b>pour moi</b>"}
    bob = make_event()
    bob["member"] = {"id": "43", "email": "bob@example.org", "first_name": "Bob"}
    bob["subscription"]["id"] = "sub_8"
    for event in (ana, survey, bob):
        assert post_event(event).status_code == 202


def test_export_returns_everything_about_that_email_only(privacy, two_members):
    response = privacy("export", {"email": "ANA@example.org", "locale": "fr_FR"})
    assert response.status_code == 200
    groups = response.json["data"]
    assert [g["group"] for g in groups] == [
        "farewell-member", "farewell-subscriptions", "farewell-cancellations", "farewell-answers"]
    flat = json.dumps(groups, ensure_ascii=False)
    assert "ana@example.org" in flat and "C'était trop cher <b>pour moi</b>" in flat
    assert "bob@example.org" not in flat
    assert groups[0]["label"] == "Farewell : profil du membre"


def test_erase_removes_personal_data_and_keeps_anonymous_counts(privacy, two_members, admin_get, site, app):
    response = privacy("erase", {"email": "ana@example.org"})
    assert response.status_code == 200
    assert response.json == {"items_removed": 1}
    assert privacy("export", {"email": "ana@example.org"}).json == {"data": []}
    items = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert len(items) == 2
    emails = {item["member"]["email"] for item in items}
    assert "ana@example.org" not in emails and "bob@example.org" in emails
    with app.extensions["farewell.engine"].connect() as conn:
        payloads = [row.payload for row in conn.execute(events.select())]
    assert not any("ana@example.org" in p or "trop cher" in p for p in payloads)
    assert any("bob@example.org" in p for p in payloads)


def test_erasing_an_unknown_email_removes_nothing(privacy, two_members):
    assert privacy("erase", {"email": "nobody@example.org"}).json == {"items_removed": 0}


@pytest.mark.parametrize("document", [{}, {"email": "not an email"}, {"email": 42}, ["ana@example.org"]])
def test_a_bad_request_names_the_email_field(privacy, document):
    response = privacy("export", document)
    assert response.status_code == 400
    assert response.json["fields"] == {"email": "must be an email address"}


def test_privacy_requests_must_be_signed_for_that_site(privacy, two_members, app):
    from sidecar.domain.sites import create_site

    other = create_site(app.extensions["farewell.engine"], "https://other.example.org", "Other")
    assert privacy("export", {"email": "ana@example.org"}, secret=other["secret"]).status_code == 401
    # Signed correctly for the other site: that site has no such member.
    response = privacy("export", {"email": "ana@example.org"}, secret=other["secret"], site_id=other["id"])
    assert response.json == {"data": []}
