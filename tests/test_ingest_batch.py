"""POST /v1/sites/{site_id}/events/batch: many events in one fw2-signed request, each stored once per
(site, webhook id), each answered for itself; the whole request refused only as the single route
would refuse it. Each test runs on SQLite and on MariaDB (the ``db_url`` fixture behind ``app``).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from sidecar.signing import sign
from sidecar.storage.tables import cancellations, events, scheduled_emails
from tests.conftest import count_rows, make_event
from tests.support.applier import apply_pending_events


@pytest.fixture
def engine_of(app):
    return app.extensions["farewell.engine"]


@pytest.fixture
def post_batch(app, client, site):
    """POST a batch signed as the bridge would (fw2, bound to the batch route); ``apply=False``
    leaves the accepted events pending."""

    def post(items=None, *, body=None, secret=None, bound=True, path=None, apply=True):
        text = body if body is not None else json.dumps({"events": items})
        route = f"/v1/sites/{site['id']}/events/batch"
        signed_for = {"method": "POST", "path": path or route} if bound else {}
        headers = sign(secret or site["secret"], f"batch_{uuid.uuid4().hex}", text, datetime.now(timezone.utc),
                       **signed_for)
        wake = app.extensions.pop("farewell.wake_applier") if not apply else None
        try:
            return client.post(route, data=text.encode("utf-8"),
                               headers={"Content-Type": "application/json", **headers})
        finally:
            if wake is not None:
                app.extensions["farewell.wake_applier"] = wake

    return post


def _item(webhook_id, **event):
    return {"webhook_id": webhook_id, "event": make_event(**event)}


def _member(n: int) -> dict:
    return {"id": str(n), "email": f"m{n}@example.org", "first_name": "M"}


def _sub(n: int) -> dict:
    return {**make_event()["subscription"], "id": f"sub_{n}"}


def test_each_event_is_answered_for_itself_and_one_invalid_event_refuses_no_other(post_batch, post_event,
                                                                                  engine_of, admin_get, site):
    assert post_event(make_event(member=_member(1), subscription=_sub(1)), webhook_id="old_1").status_code == 202
    response = post_batch([
        _item("new_1", member=_member(2), subscription=_sub(2)),
        _item("old_1", member=_member(1), subscription=_sub(1)),  # stored by the single route before
        _item("new_2", type="bogus", member=_member(3)),
        _item("new_1", member=_member(2), subscription=_sub(2)),  # twice in the same batch
        {"webhook_id": "", "event": make_event()},
        {"webhook_id": "new_3"},
        "not an item",
        _item("new_4", member={"id": "4", "email": "not an address"}, subscription=_sub(4)),
        _item("new_5", member=_member(5), subscription=_sub(5)),
    ])
    assert response.status_code == 200
    results = response.json["results"]
    assert [(r["webhook_id"], r["status"]) for r in results] == [
        ("new_1", "accepted"), ("old_1", "duplicate"), ("new_2", "invalid"), ("new_1", "duplicate"),
        ("", "invalid"), ("new_3", "invalid"), (None, "invalid"), ("new_4", "invalid"), ("new_5", "accepted")]
    # The fields as the single route names them.
    single = post_event(make_event(type="bogus", member=_member(3)), webhook_id="single_bogus")
    assert results[2]["fields"] == single.json["fields"]
    assert set(results[7]["fields"]) == {"member.email"}
    assert results[4]["fields"] == {"webhook_id": "must be 1-255 printable ASCII characters"}
    assert results[5]["fields"] == {"event": "is required"}
    with engine_of.connect() as conn:
        stored = sorted(conn.execute(select(events.c.webhook_id)).scalars())
    assert stored == ["new_1", "new_5", "old_1"]
    # Applied by the applier the request woke: three cancellations, one per member.
    listed = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    assert sorted(c["member"]["id"] for c in listed) == ["1", "2", "5"]


def test_a_batch_sent_again_adds_nothing(post_batch, engine_of):
    items = [_item(f"msg_{n}", member=_member(n), subscription=_sub(n)) for n in range(20)]
    first = post_batch(items)
    assert {r["status"] for r in first.json["results"]} == {"accepted"}
    tables = (events, cancellations, scheduled_emails)
    before = [count_rows(engine_of, t) for t in tables]
    again = post_batch(items)
    assert again.status_code == 200
    assert [r["status"] for r in again.json["results"]] == ["duplicate"] * 20
    assert [count_rows(engine_of, t) for t in tables] == before
    assert before[0] == 20 and before[1] == 20


def test_the_imported_flag_is_stored_as_the_single_route_stores_it(post_batch, post_event, engine_of):
    response = post_batch([_item("imp_1", imported=True, member=_member(1), subscription=_sub(1)),
                           _item("live_1", member=_member(2), subscription=_sub(2)),
                           _item("str_1", imported="true", member=_member(3), subscription=_sub(3))])
    assert [r["status"] for r in response.json["results"]] == ["accepted", "accepted", "invalid"]
    assert set(response.json["results"][2]["fields"]) == {"imported"}
    post_event(make_event(imported=True, member=_member(4), subscription=_sub(4)), webhook_id="imp_single")
    with engine_of.connect() as conn:
        flags = dict(conn.execute(select(events.c.webhook_id, events.c.imported)).all())
        planned = {row.cancellation_id for row in conn.execute(select(scheduled_emails.c.cancellation_id))}
        by_event = dict(conn.execute(select(events.c.webhook_id, events.c.id)).all())
        cancelled = dict(conn.execute(select(cancellations.c.event_id, cancellations.c.id)).all())
    assert flags == {"imp_1": True, "live_1": False, "imp_single": True}
    # History plans no email, as through the single route; the live ones do.
    assert cancelled[by_event["imp_1"]] not in planned and cancelled[by_event["imp_single"]] not in planned
    assert cancelled[by_event["live_1"]] in planned


def test_the_events_wait_for_the_applier_which_applies_them(post_batch, engine_of, admin_get, site):
    response = post_batch([_item(f"p_{n}", member=_member(n), subscription=_sub(n)) for n in range(5)], apply=False)
    assert [r["status"] for r in response.json["results"]] == ["accepted"] * 5
    assert count_rows(engine_of, cancellations) == 0
    assert len(admin_get(f"/v1/sites/{site['id']}/unapplied-events").json["items"]) == 5
    report = apply_pending_events(engine_of)
    assert report.applied == 5 and report.parked == 0
    assert count_rows(engine_of, cancellations) == 5
    assert admin_get(f"/v1/sites/{site['id']}/unapplied-events").json["items"] == []


def test_a_survey_answer_is_checked_as_the_single_route_checks_it(post_batch, engine_of):
    answer = {"version": 99, "reason": "too_expensive"}
    survey_item = _item("s_1", type="survey.submitted", survey=answer)
    del survey_item["event"]["subscription"]
    response = post_batch([survey_item,
                           _item("c_1", member=_member(1), subscription=_sub(1))])
    results = response.json["results"]
    assert results[0] == {"webhook_id": "s_1", "status": "invalid",
                          "fields": {"survey.version": "is not a version of this site's survey"}}
    assert results[1]["status"] == "accepted"
    assert count_rows(engine_of, events) == 1


def test_over_500_events_is_refused_whole(post_batch, engine_of):
    items = [_item(f"m_{n}", member=_member(n), subscription=_sub(n)) for n in range(501)]
    response = post_batch(items)
    assert response.status_code == 413
    assert response.json["error"] == "too_many_events" and response.json["max_events"] == 500
    assert count_rows(engine_of, events) == 0
    assert post_batch(items[:500]).status_code == 200
    assert count_rows(engine_of, events) == 500


def test_a_body_over_1_mib_is_refused_whole(post_batch, engine_of):
    padding = "x" * 190
    items = [_item(f"m_{n}", member={**_member(n), "first_name": padding}, subscription=_sub(n)) for n in range(400)]
    items += [{"webhook_id": "pad", "event": make_event(), "padding": "y" * (1024 * 1024)}]
    response = post_batch(items)
    assert response.status_code == 413
    assert response.json == {"error": "too_large"}
    assert count_rows(engine_of, events) == 0


def test_an_event_over_64_kib_is_invalid_alone(post_batch, engine_of):
    big = _item("big", member=_member(1), subscription=_sub(1))
    big["event"]["extra"] = "z" * (64 * 1024)
    response = post_batch([big, _item("small", member=_member(2), subscription=_sub(2))])
    assert [r["status"] for r in response.json["results"]] == ["invalid", "accepted"]
    assert response.json["results"][0]["fields"] == {"event": "is over 64 KiB"}


@pytest.mark.parametrize("body", ["[]", '{"events": {}}', '{"items": []}', "null"])
def test_a_body_that_is_not_a_batch_is_refused(post_batch, body):
    response = post_batch(body=body)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_batch"


def test_signatures_are_bound_to_the_batch_route(post_batch, client, site, engine_of):
    items = [_item("m_1", member=_member(1), subscription=_sub(1))]
    # Standard Webhooks v1, as the single route takes: an outdated sender.
    outdated = post_batch(items, bound=False)
    assert outdated.status_code == 426
    assert outdated.json["error"] == "signature_scheme_outdated"
    # Signed for another route: refused.
    elsewhere = post_batch(items, path=f"/v1/sites/{site['id']}/events")
    assert elsewhere.status_code == 401
    assert elsewhere.json == {"error": "invalid_signature", "signature_scheme": "fw2"}
    forged = post_batch(items, secret="whsec_" + "Zm9yZ2VkIGZvcmdlZCBmb3JnZWQgZm9yZ2VkIGZvcmdlZA==")
    assert forged.status_code == 401
    unsigned = client.post(f"/v1/sites/{site['id']}/events/batch", json={"events": items})
    assert unsigned.status_code == 401
    unknown = client.post("/v1/sites/site_nope/events/batch", json={"events": items})
    assert unknown.status_code == 404
    assert count_rows(engine_of, events) == 0


@pytest.mark.parametrize("version", [2 ** 31, 2 ** 63])
def test_a_survey_version_no_column_can_hold_is_invalid_not_a_server_error(post_batch, post_event, engine_of,
                                                                           version):
    # Found by tests/security/test_fuzz_api.py: 2 ** 63 reached SQLite's binding (OverflowError, a 500).
    survey_item = _item("s_1", type="survey.submitted", survey={"version": version, "reason": "too_expensive"})
    response = post_batch([survey_item, _item("c_1", member=_member(1), subscription=_sub(1))])
    assert response.status_code == 200
    results = response.json["results"]
    assert results[0]["status"] == "invalid" and list(results[0]["fields"]) == ["survey.version"]
    assert results[1]["status"] == "accepted"
    single = post_event(make_event("survey.submitted", survey={"version": version, "reason": "too_expensive"}))
    assert single.status_code == 400 and list(single.json["fields"]) == ["survey.version"]
    assert count_rows(engine_of, events) == 1
