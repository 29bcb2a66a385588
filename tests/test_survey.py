"""The exit survey: a default that needs no set-up, answers tied to the right cancellation,
replacement, contact requests, and email-link tokens that only ever answer for their own member."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from sidecar.domain import survey as survey_domain
from sidecar.domain.tokens import SURVEY_SALT, TokenError, read_survey_token, survey_token
from sidecar.signing import sign
from tests.conftest import make_event

SECRET_KEY = "test-secret-key-24-chars"  # the app fixture's FAREWELL_SECRET_KEY


@pytest.fixture
def fetch_survey(client, site):
    def fetch(**params):
        path = f"/v1/sites/{site['id']}/survey"
        return client.get(path, query_string=params,
                          headers=sign(site["secret"], "survey_get", "", method="GET", path=path))

    return fetch


@pytest.fixture
def cancelled(post_event, fetch_survey, admin_get, site):
    """Ana cancelled sub_7 on 1 November; the survey's version 1 exists."""
    assert fetch_survey().status_code == 200
    assert post_event(make_event(occurred_at="2026-11-01T10:00:00Z")).status_code == 202
    return admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"][0]


def answer(at="2026-11-01T10:05:00Z", member=True, **survey):
    event = make_event(type_="survey.submitted", occurred_at=at)
    del event["subscription"]
    if not member:
        del event["member"]
    event["survey"] = {"version": 1, "subscription_id": "sub_7", **survey}
    return event


def listed(admin_get, site):
    return admin_get(f"/v1/sites/{site['id']}/cancellations").json["items"]


# --- the definition ------------------------------------------------------------------------


def test_the_default_survey_needs_no_set_up_and_speaks_french(fetch_survey):
    response = fetch_survey(locale="fr_FR")
    assert response.status_code == 200
    body = response.json
    assert body["version"] == 1 and body["language"] == "fr"
    assert body["definition"]["comment_label"] == "Qu’est-ce qui vous a décidé·e à résilier ?"
    codes = [r["code"] for r in body["definition"]["reasons"]]
    assert set(codes) == {"too_expensive", "unused", "missing_features", "switched_service", "customer_service",
                          "too_complex", "low_quality", "other", "temporary"}
    assert body["definition"]["pinned_last"] == ["other"] and body["definition"]["shuffle_reasons"] is True


def test_the_members_locale_picks_the_language_then_the_sites(fetch_survey):
    assert fetch_survey(locale="en_GB").json["definition"]["title"] == "Before you go"
    assert fetch_survey(locale="fr_CA").json["language"] == "fr"
    assert fetch_survey(locale="de_DE").json["language"] == "fr"  # the site is fr_FR
    assert fetch_survey().json["language"] == "fr"


def test_every_label_exists_in_english_and_french():
    def labels(node):
        if isinstance(node, dict):
            if set(node) <= {"en", "fr"} and node:
                yield node
            else:
                for value in node.values():
                    yield from labels(value)
        elif isinstance(node, list):
            for item in node:
                yield from labels(item)

    found = list(labels(survey_domain.DEFAULT_DEFINITION))
    assert len(found) > 30
    assert all(set(label) == {"en", "fr"} and all(label.values()) for label in found)


def test_the_survey_endpoint_is_signed(client, site):
    assert client.get(f"/v1/sites/{site['id']}/survey").status_code == 401


# --- answers ---------------------------------------------------------------------------------


def test_an_answer_is_tied_to_the_cancellation_and_listed(post_event, cancelled, admin_get, site):
    response = post_event(answer(reason="too_expensive", follow_up="19 €", comment="Merci pour tout"))
    assert response.status_code == 202, response.json
    [item] = listed(admin_get, site)
    assert (item["reason"], item["follow_up"], item["comment"]) == ("too_expensive", "19 €", "Merci pour tout")


def test_an_empty_answer_is_still_an_answer(post_event, cancelled, admin_get, site):
    assert post_event(answer()).status_code == 202
    [item] = listed(admin_get, site)
    assert item["answered_at"] == "2026-11-01T10:05:00Z" and item["reason"] is None


def test_a_second_answer_replaces_the_first(post_event, cancelled, admin_get, site):
    post_event(answer(reason="too_expensive"))
    post_event(answer(at="2026-11-01T10:09:00Z", reason="unused", follow_up="no_time"))
    [item] = listed(admin_get, site)
    assert (item["reason"], item["follow_up"]) == ("unused", "no_time")


def test_an_older_answer_arriving_late_does_not_replace_a_newer_one(post_event, cancelled, admin_get, site):
    post_event(answer(at="2026-11-01T10:09:00Z", reason="unused"))
    post_event(answer(at="2026-11-01T10:05:00Z", reason="too_expensive"))
    assert listed(admin_get, site)[0]["reason"] == "unused"


def test_an_answer_arriving_before_its_cancellation_is_attached_when_it_comes(post_event, fetch_survey, admin_get, site):
    fetch_survey()
    assert post_event(answer(reason="temporary", follow_up="in_a_few_months")).status_code == 202
    assert post_event(make_event(occurred_at="2026-11-01T10:00:00Z")).status_code == 202
    [item] = listed(admin_get, site)
    assert (item["reason"], item["follow_up"]) == ("temporary", "in_a_few_months")


def test_a_member_whose_cancellation_is_not_here_yet_keeps_one_answer_however_often_they_send(
        post_event, fetch_survey, admin_get, site, app):
    """Answers waiting for their cancellation (it may come later, or never) are one per member
    and subscription, the newest by the member's own time whatever the arrival order, with one
    contact request: sending again and again piles nothing up for the owner."""
    from sidecar.storage.tables import survey_answers

    fetch_survey()
    for minute in (5, 9, 7):
        sent = answer(at=f"2026-11-01T10:0{minute}:00Z", reason="other", comment=f"envoi {minute}",
                      contact_requested=True, contact="ana@example.org")
        assert post_event(sent).status_code == 202
    with app.extensions["farewell.engine"].connect() as conn:
        [kept] = conn.execute(survey_answers.select()).mappings().all()
    assert kept["comment"] == "envoi 9" and kept["cancellation_id"] is None
    assert len(admin_get(f"/v1/sites/{site['id']}/contact-requests").json["items"]) == 1

    assert post_event(make_event(occurred_at="2026-11-01T10:00:00Z")).status_code == 202
    [item] = listed(admin_get, site)
    assert item["comment"] == "envoi 9"
    assert len(admin_get(f"/v1/sites/{site['id']}/contact-requests").json["items"]) == 1


@pytest.mark.parametrize(
    "fields, bad",
    [
        ({"reason": "hates_us"}, "survey.reason"),
        ({"reason": "unused", "follow_up": "free text where a choice is expected"}, "survey.follow_up"),
        ({"comment": "x" * 5001}, "survey.comment"),
        ({"contact_requested": "yes"}, "survey.contact_requested"),
        ({"version": 99}, "survey.version"),
    ],
)
def test_bad_answers_name_the_field_and_store_nothing(post_event, cancelled, admin_get, site, fields, bad):
    response = post_event(answer(**fields))
    assert response.status_code == 400
    assert bad in response.json["fields"]
    assert listed(admin_get, site)[0]["answered_at"] is None


def test_html_is_kept_as_text_and_control_characters_are_stripped(post_event, cancelled, admin_get, site):
    comment = "<script>alert('x')</script>\x00\x1b Trop cher !\nVraiment."
    assert post_event(answer(comment=comment)).status_code == 202
    assert listed(admin_get, site)[0]["comment"] == "<script>alert('x')</script> Trop cher !\nVraiment."


def test_a_member_cannot_answer_about_another_members_subscription(post_event, cancelled):
    intruder = answer(reason="other")
    intruder["member"] = {"id": "666", "email": "eve@example.org"}
    response = post_event(intruder)
    assert response.status_code == 400
    assert "survey.subscription_id" in response.json["fields"]


# --- contact requests ------------------------------------------------------------------------


def test_asking_to_be_contacted_opens_a_request_with_its_waiting_time(post_event, cancelled, admin_get, site):
    post_event(answer(reason="customer_service", comment="Personne ne m'a répondu", contact_requested=True,
                      contact="+33 6 12 34 56 78"))
    asked_at = datetime(2026, 11, 1, 10, 5, tzinfo=timezone.utc)
    before = (datetime.now(timezone.utc) - asked_at).total_seconds()
    [request] = admin_get(f"/v1/sites/{site['id']}/contact-requests").json["items"]
    after = (datetime.now(timezone.utc) - asked_at).total_seconds()
    assert request["contact"] == "+33 6 12 34 56 78"
    assert request["member"]["email"] == "ana@example.org"
    assert request["reason"] == "customer_service" and request["answered_at"] is None
    # Waiting since it was asked, as of the moment the list was read (a second for rounding).
    assert before - 1 <= request["waited_seconds"] <= after + 1


def test_withdrawing_the_request_in_a_new_answer_closes_it(post_event, cancelled, admin_get, site):
    post_event(answer(contact_requested=True, contact="ana@example.org"))
    post_event(answer(at="2026-11-01T10:09:00Z", contact_requested=False))
    assert admin_get(f"/v1/sites/{site['id']}/contact-requests").json["items"] == []


def test_contact_requests_query_is_checked(admin_get, site):
    assert admin_get(f"/v1/sites/{site['id']}/contact-requests", status="maybe").status_code == 400
    assert admin_get(f"/v1/sites/{site['id']}/contact-requests", token=None).status_code == 401


# --- email links -----------------------------------------------------------------------------


@pytest.fixture
def link(cancelled, admin_get, site):
    return admin_get(f"/v1/sites/{site['id']}/cancellations/{cancelled['id']}/survey-link").json


def test_a_survey_link_points_at_the_site(link, site):
    assert link["url"] == f"https://club.example.org/?farewell_survey={link['token']}"


def test_a_signed_out_member_answers_through_the_link(post_event, link, admin_get, site, fetch_survey):
    status = fetch_survey(token=link["token"]).json
    assert status["token"] == {"status": "valid"}
    assert status["answering_for"]["member"]["first_name"] == "Ana"
    assert status["answering_for"]["already_answered"] is False
    response = post_event(answer(member=False, token=link["token"], reason="missing_features",
                                 follow_up="Des podcasts"))
    assert response.status_code == 202, response.json
    assert listed(admin_get, site)[0]["follow_up"] == "Des podcasts"
    assert fetch_survey(token=link["token"]).json["answering_for"]["already_answered"] is True


def test_a_link_answers_for_its_own_member_even_when_someone_else_is_signed_in(post_event, link, admin_get, site):
    signed_in_as_bob = answer(token=link["token"], reason="other", comment="Bob's view")
    signed_in_as_bob["member"] = {"id": "43", "email": "bob@example.org"}
    assert post_event(signed_in_as_bob).status_code == 202
    [item] = listed(admin_get, site)
    assert item["member"]["id"] == "42" and item["comment"] == "Bob's view"


def test_a_tampered_link_is_refused(post_event, link, fetch_survey):
    tampered = link["token"][:-3] + ("AAA" if not link["token"].endswith("AAA") else "BBB")
    assert fetch_survey(token=tampered).json["token"] == {"status": "invalid"}
    response = post_event(answer(member=False, token=tampered, reason="other"))
    assert response.status_code == 400
    assert response.json["fields"] == {"survey.token": "is not a valid survey link for this site"}


def _token_issued_days_ago(days: int, site_id: str, cancellation_id: int) -> str:
    class IssuedInThePast(TimestampSigner):
        def get_timestamp(self):
            return int(time.time()) - days * 86400

    return URLSafeTimedSerializer(SECRET_KEY, salt=SURVEY_SALT, signer=IssuedInThePast).dumps(
        [site_id, cancellation_id])


def test_an_expired_link_is_refused_politely(post_event, cancelled, fetch_survey, site):
    old = _token_issued_days_ago(61, site["id"], cancelled["id"])
    assert fetch_survey(token=old).json["token"] == {"status": "expired"}
    now = datetime.now(timezone.utc).isoformat()
    response = post_event(answer(at=now, member=False, token=old))
    assert response.json["fields"] == {"survey.token": "has expired"}


def test_a_link_used_in_time_but_delivered_late_still_counts(post_event, cancelled, site):
    token = _token_issued_days_ago(59, site["id"], cancelled["id"])
    used_yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    assert post_event(answer(at=used_yesterday, member=False, token=token, reason="other")).status_code == 202


def test_a_link_of_one_site_is_invalid_on_another(app, cancelled, site):
    token = survey_token(SECRET_KEY, site["id"], cancelled["id"])
    with pytest.raises(TokenError) as refused:
        read_survey_token(SECRET_KEY, "site_other", token, datetime.now(timezone.utc))
    assert refused.value.reason == "invalid"


def test_a_token_of_another_purpose_is_invalid():
    other_purpose = URLSafeTimedSerializer(SECRET_KEY, salt="farewell.unsubscribe.v1").dumps(["site_x", 1])
    with pytest.raises(TokenError):
        read_survey_token(SECRET_KEY, "site_x", other_purpose, datetime.now(timezone.utc))


def test_version_1_is_answerable_before_the_bridge_ever_fetched_it(post_event, admin_get, site):
    assert post_event(make_event(occurred_at="2026-11-01T10:00:00Z")).status_code == 202
    assert post_event(answer(reason="too_expensive")).status_code == 202
    assert listed(admin_get, site)[0]["reason"] == "too_expensive"


def test_answers_keep_the_definition_version_and_locale(post_event, cancelled, app):
    from sidecar.storage.tables import survey_answers

    post_event(answer(locale="fr_FR", reason="other"))
    with app.extensions["farewell.engine"].connect() as conn:
        row = conn.execute(survey_answers.select()).mappings().one()
    assert (row["definition_version"], row["locale"]) == (1, "fr_FR")
    assert json.loads(json.dumps(row["answered_at"].isoformat())) == "2026-11-01T10:05:00+00:00"
