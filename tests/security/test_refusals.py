"""Tokens only ever open what they were made for. The refusals the protocol already promises are
proven next to their features (listed in docs/RELIABILITY.md); these are the ones missing there:
a survey link cannot be turned into an answer about another cancellation, nor crossed to another
site over HTTP."""

from __future__ import annotations

import base64
import json

from sidecar.domain.sites import create_site
from sidecar.domain.tokens import survey_token
from tests.conftest import make_event


def _answer(at: str, **survey) -> dict:
    event = make_event(type_="survey.submitted", occurred_at=at)
    del event["subscription"], event["member"]  # a signed-out member, coming from the email link
    event["survey"] = {"version": 1, **survey}
    return event


def _cancellations(admin_get, site) -> dict[str, dict]:
    items = admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]
    return {item["subscription"]["id"]: item for item in items}


def _two_cancellations(post_event, admin_get, site) -> dict[str, dict]:
    """Ana cancelled two subscriptions: sub_7 on 1 November, sub_8 on 5 November."""
    assert post_event(make_event(occurred_at="2026-11-01T10:00:00Z")).status_code == 202
    second = make_event(occurred_at="2026-11-05T10:00:00Z")
    second["subscription"] = {**second["subscription"], "id": "sub_8"}
    assert post_event(second).status_code == 202
    return _cancellations(admin_get, site)


def test_a_survey_link_answers_for_its_own_cancellation_only(app, post_event, admin_get, site):
    cancellations = _two_cancellations(post_event, admin_get, site)
    link = survey_token(app.config["SECRET_KEY"], site["id"], cancellations["sub_7"]["id"])
    # The answer names the other subscription: the link wins, the other cancellation stays unanswered.
    assert post_event(_answer("2026-11-06T09:00:00Z", token=link, subscription_id="sub_8",
                              reason="other", comment="about sub_7")).status_code == 202
    after = _cancellations(admin_get, site)
    assert after["sub_7"]["comment"] == "about sub_7" and after["sub_8"]["answered_at"] is None


def test_a_survey_link_rewritten_to_name_another_cancellation_is_refused(app, post_event, admin_get, site):
    cancellations = _two_cancellations(post_event, admin_get, site)
    link = survey_token(app.config["SECRET_KEY"], site["id"], cancellations["sub_7"]["id"])
    payload, *signature = link.split(".")
    rewritten = base64.urlsafe_b64encode(
        json.dumps([site["id"], cancellations["sub_8"]["id"]], separators=(",", ":")).encode()).decode().rstrip("=")
    forged = ".".join([rewritten, *signature])
    response = post_event(_answer("2026-11-06T09:00:00Z", token=forged, reason="other"))
    assert response.status_code == 400
    assert response.json["fields"] == {"survey.token": "is not a valid survey link for this site"}
    assert all(item["answered_at"] is None for item in _cancellations(admin_get, site).values())


def test_a_survey_link_of_site_a_is_refused_by_site_b_over_http(app, post_event, admin_get, site):
    cancellations = _two_cancellations(post_event, admin_get, site)
    link = survey_token(app.config["SECRET_KEY"], site["id"], cancellations["sub_7"]["id"])
    other = create_site(app.extensions["farewell.engine"], "https://other.example.org", "Other")
    response = post_event(_answer("2026-11-06T09:00:00Z", token=link, reason="other"),
                          site_id=other["id"], secret=other["secret"])  # properly signed for site B
    assert response.status_code == 400
    assert response.json["fields"] == {"survey.token": "is not a valid survey link for this site"}
    assert all(item["answered_at"] is None for item in _cancellations(admin_get, site).values())
