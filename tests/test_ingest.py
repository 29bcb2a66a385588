"""The bridge's events are accepted once, refused clearly, and never half-written.

Each test runs on SQLite and on MariaDB (the ``db_url`` fixture behind ``app``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.storage.tables import cancellations, events, members, sites, subscriptions
from tests.conftest import count_rows, make_event


@pytest.fixture
def engine_of(app):
    return app.extensions["farewell.engine"]


def test_a_new_event_is_accepted_and_applied(post_event, engine_of, admin_get, site):
    response = post_event(make_event(), webhook_id="msg_1")
    assert response.status_code == 202
    assert response.json == {"status": "accepted"}
    assert count_rows(engine_of, events) == 1
    listed = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert len(listed) == 1
    assert listed[0]["member"] == {"id": "42", "email": "ana@example.org", "first_name": "Ana", "locale": "fr_FR"}
    assert listed[0]["subscription"]["amount"] == "29.00"
    assert listed[0]["initiated_by"] == "member"


def test_the_same_webhook_id_again_is_a_duplicate_and_changes_nothing(post_event, engine_of):
    assert post_event(make_event(), webhook_id="msg_1").status_code == 202
    again = post_event(make_event(occurred_at="2026-11-30T10:00:00Z"), webhook_id="msg_1")
    assert again.status_code == 200
    assert again.json == {"status": "duplicate"}
    assert count_rows(engine_of, events) == 1
    assert count_rows(engine_of, cancellations) == 1


def test_the_same_webhook_id_on_another_site_is_a_different_event(app, post_event, engine_of):
    from sidecar.domain.sites import create_site

    other = create_site(engine_of, "https://other.example.org", "Other")
    assert post_event(make_event(), webhook_id="msg_1").status_code == 202
    second = post_event(make_event(), webhook_id="msg_1", site_id=other["id"], secret=other["secret"])
    assert second.status_code == 202
    assert count_rows(engine_of, events) == 2


def test_a_forged_signature_is_refused(post_event, engine_of):
    forged = "whsec_" + "Zm9yZ2VkIGZvcmdlZCBmb3JnZWQgZm9yZ2VkIGZvcmdlZA=="
    response = post_event(make_event(), secret=forged)
    assert response.status_code == 401
    assert response.json == {"error": "invalid_signature"}
    assert count_rows(engine_of, events) == 0


def test_a_missing_signature_is_refused(client, site, engine_of):
    response = client.post(f"/v1/sites/{site['id']}/events", json=make_event())
    assert response.status_code == 401
    assert response.json == {"error": "invalid_signature"}
    assert count_rows(engine_of, events) == 0


def test_a_body_changed_after_signing_is_refused(client, site, engine_of):
    from sidecar.signing import sign

    body = json.dumps(make_event())
    headers = sign(site["secret"], "msg_1", body)
    tampered = body.replace("ana@example.org", "eve@example.org")
    response = client.post(f"/v1/sites/{site['id']}/events", data=tampered,
                           headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 401
    assert count_rows(engine_of, events) == 0


def test_a_replay_with_a_stale_timestamp_is_refused(post_event, engine_of):
    captured_at = datetime.now(timezone.utc) - timedelta(minutes=6)
    response = post_event(make_event(), at=captured_at)
    took = (datetime.now(timezone.utc) - captured_at).total_seconds() - 360
    assert response.status_code == 401
    # Signed with the site's secret, so the answer says the clocks are apart (the bridge retries it).
    assert response.json["error"] == "invalid_signature"
    assert response.json["reason"] == "clock_skew"
    # Six minutes behind, plus however long the request took here (a second either way: the
    # timestamp and the answer are whole seconds), not a margin guessed for a fast machine.
    assert -(360 + took) - 1 <= response.json["clock_skew_seconds"] <= -359
    assert "behind" in response.json["message"]
    assert count_rows(engine_of, events) == 0


def test_a_stale_forged_request_learns_nothing_about_the_clocks(post_event):
    captured_at = datetime.now(timezone.utc) - timedelta(minutes=6)
    response = post_event(make_event(), at=captured_at, secret="whsec_" + "QUJD" * 8)
    assert response.status_code == 401
    assert response.json == {"error": "invalid_signature"}


def test_a_timestamp_from_the_future_is_refused(post_event):
    assert post_event(make_event(), at=datetime.now(timezone.utc) + timedelta(minutes=6)).status_code == 401


def test_a_signature_for_site_a_is_refused_on_site_b(app, post_event, engine_of):
    from sidecar.domain.sites import create_site

    other = create_site(engine_of, "https://other.example.org", "Other")
    response = post_event(make_event(), site_id=other["id"])  # signed with the first site's secret
    assert response.status_code == 401


def test_an_unknown_site_is_404(post_event):
    response = post_event(make_event(), site_id="site_doesnotexist")
    assert response.status_code == 404
    assert response.json == {"error": "unknown_site"}


def test_a_body_of_65_kib_is_refused_as_too_large(post_event, engine_of):
    event = make_event()
    event["padding"] = "x" * (65 * 1024)
    response = post_event(event)
    assert response.status_code == 413
    assert response.json == {"error": "too_large"}
    assert count_rows(engine_of, events) == 0


def test_a_body_just_under_64_kib_is_accepted_and_kept_whole(post_event, engine_of):
    event = make_event()
    event["padding"] = ""
    event["padding"] = "é" * ((64 * 1024 - len(json.dumps(event, ensure_ascii=False).encode())) // 2)
    body = json.dumps(event, ensure_ascii=False)
    assert 64 * 1024 - 2 <= len(body.encode()) <= 64 * 1024
    assert post_event(body=body).status_code == 202
    with engine_of.connect() as conn:
        stored = conn.execute(events.select()).mappings().one()
    assert stored["payload"] == body


def test_a_body_that_is_not_json_is_400(post_event, engine_of):
    response = post_event(body="{not json")
    assert response.status_code == 400
    assert response.json == {"error": "invalid_json"}
    assert count_rows(engine_of, events) == 0


def test_a_deeply_nested_body_is_400_not_a_crash(post_event):
    response = post_event(body="[" * 30000 + "]" * 30000)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_json"


def test_a_body_that_is_not_utf8_is_400(post_event):
    response = post_event(body=b'{"type": "\xff\xfe"}')
    assert response.status_code == 400
    assert response.json["error"] == "invalid_encoding"


def test_a_content_type_other_than_json_is_415(post_event):
    response = post_event(make_event(), content_type="text/plain")
    assert response.status_code == 415
    assert response.json["error"] == "unsupported_media_type"


def test_every_bad_field_is_named(post_event, engine_of):
    event = make_event(type_="subscription.exploded", occurred_at="yesterday", source="wix")
    event["member"] = {"id": "", "email": "not-an-email"}
    event["subscription"].update(amount="29,00", currency="euro", interval="fortnight")
    response = post_event(event)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_event"
    assert set(response.json["fields"]) == {
        "type", "occurred_at", "source", "member.id", "member.email",
        "subscription.amount", "subscription.currency", "subscription.interval",
    }
    assert count_rows(engine_of, events) == 0


def test_missing_required_fields_are_named(post_event):
    response = post_event({"type": "subscription.cancelled", "member": {}})
    assert response.status_code == 400
    assert set(response.json["fields"]) == {"occurred_at", "source", "member.id", "member.email", "subscription"}


def test_a_timestamp_without_an_offset_is_refused(post_event):
    response = post_event(make_event(occurred_at="2026-11-29T10:00:00"))
    assert response.status_code == 400
    assert "offset" in response.json["fields"]["occurred_at"]


def test_a_json_array_is_an_invalid_event(post_event):
    response = post_event(body="[1, 2]")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_event"


def test_an_answer_with_an_empty_token_and_no_member_is_400_not_a_crash(post_event, engine_of):
    # Found by the fuzz suite: "" passed the schema as a token, then named nobody (a 500).
    event = make_event(type_="survey.submitted")
    del event["member"], event["subscription"]
    event["survey"] = {"version": 1, "token": ""}
    response = post_event(event)
    assert response.status_code == 400
    assert set(response.json["fields"]) == {"survey.token"}
    assert count_rows(engine_of, events) == 0


def test_member_updated_needs_no_subscription(post_event, engine_of):
    event = make_event(type_="member.updated")
    del event["subscription"]
    assert post_event(event).status_code == 202
    assert count_rows(engine_of, members) == 1
    assert count_rows(engine_of, subscriptions) == 0


def test_survey_submitted_is_stored_with_its_answers(post_event, engine_of, client, site):
    from sidecar.signing import sign

    survey = f"/v1/sites/{site['id']}/survey"
    client.get(survey, headers=sign(site["secret"], "p", "", method="GET", path=survey))  # creates version 1
    event = make_event(type_="survey.submitted")
    event["survey"] = {"version": 1, "reason": "too_expensive", "comment": "Trop cher pour moi 💸"}
    assert post_event(event).status_code == 202
    with engine_of.connect() as conn:
        stored = json.loads(conn.execute(events.select()).mappings().one()["payload"])
    assert stored["survey"]["comment"] == "Trop cher pour moi 💸"


def test_french_and_emoji_survive_byte_exact(post_event, engine_of, admin_get, site):
    event = make_event()
    event["member"]["first_name"] = "Zoë-Hélène 🌻 Ñandú"
    event["subscription"]["plan_name"] = "Offre « Liberté » 🎉 — été"
    body = json.dumps(event, ensure_ascii=False)
    assert post_event(body=body).status_code == 202
    item = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"][0]
    assert item["member"]["first_name"] == "Zoë-Hélène 🌻 Ñandú"
    assert item["subscription"]["plan_name"] == "Offre « Liberté » 🎉 — été"
    with engine_of.connect() as conn:
        assert conn.execute(events.select()).mappings().one()["payload"].encode() == body.encode()


def test_control_characters_are_stripped_from_names(post_event, admin_get, site):
    event = make_event()
    event["member"]["first_name"] = "Ana\x00\x07 "
    assert post_event(event).status_code == 202
    assert admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"][0]["member"]["first_name"] == "Ana"


def test_a_webhook_id_with_spaces_is_refused_after_the_signature(post_event):
    response = post_event(make_event(), webhook_id="msg with spaces")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_webhook_id"


def test_ping_answers_ok_with_a_valid_signature(client, site):
    from sidecar.signing import sign

    path = f"/v1/sites/{site['id']}/ping"
    response = client.get(path, headers=sign(site["secret"], "ping_1", "", method="GET", path=path))
    assert response.status_code == 200
    assert response.json == {"status": "ok", "site_id": site["id"], "site_name": "Le Club"}


def test_ping_refuses_a_wrong_secret_and_an_unknown_site(client, site):
    from sidecar.domain.sites import new_secret
    from sidecar.signing import sign

    path = f"/v1/sites/{site['id']}/ping"
    assert client.get(path, headers=sign(new_secret(), "p", "", method="GET", path=path)).status_code == 401
    nope = "/v1/sites/site_nope/ping"
    assert client.get(nope, headers=sign(site["secret"], "p", "", method="GET", path=nope)).status_code == 404


def test_a_rotated_secret_and_the_previous_one_both_verify_for_a_day(app, post_event, engine_of, site):
    from sidecar.domain.sites import rotate_secret

    new = rotate_secret(engine_of, site["id"])
    assert post_event(make_event(), secret=new).status_code == 202
    assert post_event(make_event(occurred_at="2026-11-29T11:00:00Z"), secret=site["secret"]).status_code == 202


def test_the_previous_secret_stops_verifying_after_24_hours(app, post_event, engine_of, site):
    from sidecar.domain.sites import rotate_secret

    rotate_secret(engine_of, site["id"], now=datetime.now(timezone.utc) - timedelta(hours=25))
    assert post_event(make_event(), secret=site["secret"]).status_code == 401


def test_a_secret_revoked_after_the_process_kept_the_site_is_refused_at_once(app, post_event, engine_of, site):
    from sidecar.domain.sites import rotate_secret

    # The first 202 keeps the site's row in the process (web/ingest.py); the next ones verify against it.
    assert post_event(make_event(), secret=site["secret"]).status_code == 202
    assert post_event(make_event(occurred_at="2026-11-29T11:00:00Z"), secret=site["secret"]).status_code == 202
    new = rotate_secret(engine_of, site["id"], immediately=True)  # a leaked secret: no grace
    refused = post_event(make_event(occurred_at="2026-11-29T12:00:00Z"), secret=site["secret"], webhook_id="msg_old")
    assert refused.status_code == 401 and refused.json["error"] == "invalid_signature"
    # Refused again with a bad event, as 401 (not the 400 the kept row alone would have led to).
    assert post_event(make_event(occurred_at="yesterday"), secret=site["secret"]).status_code == 401
    assert post_event(make_event(occurred_at="2026-11-29T12:00:00Z"), secret=new, webhook_id="msg_new").status_code == 202
    assert post_event(make_event(occurred_at="2026-11-29T13:00:00Z"), secret=new).status_code == 202
    assert post_event(make_event(occurred_at="2026-11-29T14:00:00Z"), secret=site["secret"]).status_code == 401
    with engine_of.connect() as conn:
        stored = {row[0] for row in conn.execute(events.select().with_only_columns(events.c.webhook_id))}
    assert len(stored) == 4 and "msg_old" not in stored and "msg_new" in stored


def test_a_site_kept_by_the_process_takes_the_new_secret_and_the_previous_one_after_a_rotation(
        app, post_event, engine_of, site):
    from sidecar.domain.sites import rotate_secret

    assert post_event(make_event(), secret=site["secret"]).status_code == 202
    new = rotate_secret(engine_of, site["id"])
    # The kept row knows neither the new secret nor the old one's expiry: both are read again.
    assert post_event(make_event(occurred_at="2026-11-29T11:00:00Z"), secret=new).status_code == 202
    assert post_event(make_event(occurred_at="2026-11-29T12:00:00Z"), secret=site["secret"]).status_code == 202
    assert post_event(make_event(occurred_at="2026-11-29T13:00:00Z"), secret=site["secret"]).status_code == 202
    with engine_of.begin() as conn:  # the previous secret's day is over
        conn.execute(sites.update().where(sites.c.id == site["id"]).values(
            previous_secret_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert post_event(make_event(occurred_at="2026-11-29T14:00:00Z"), secret=site["secret"]).status_code == 401
    assert post_event(make_event(occurred_at="2026-11-29T14:00:00Z"), secret=new).status_code == 202
    assert count_rows(engine_of, events) == 5


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert (response.json["status"], response.json["database"]) == ("ok", "ok")
    assert "jobs" in response.json


def test_unknown_paths_answer_json_404(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json == {"error": "not_found"}


def test_a_member_locale_longer_than_its_column_is_invalid(post_event, engine_of):
    # The locale pattern alone lets 21 characters through; MariaDB would refuse to store them when
    # the event is applied, after its 202 (the fuzz of the batch route found it).
    event = make_event(member={"id": "42", "email": "ana@example.org", "locale": "fra_ABCDEFGH_IJKLMNOP"})
    response = post_event(event)
    assert response.status_code == 400
    assert set(response.json["fields"]) == {"member.locale"}
    assert count_rows(engine_of, events) == 0
    assert post_event(make_event(member={"id": "42", "email": "ana@example.org", "locale": "fr_FR"})).status_code == 202
