"""Re-engagement emails, end to end through the real ingest, the real dispatcher and a real SMTP
server (aiosmtpd), on SQLite and MariaDB, with an injected clock."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sidecar.domain.sites import create_site
from sidecar.signing import sign
from sidecar.storage.tables import scheduled_emails
from tests.conftest import make_event
from tests.support.emails import CANCELLED_AT, answer, bodies, cancel, comeback

# --- the sequence ------------------------------------------------------------------------------


OFFER_SIGNS = {
    "too_expensive": "REVIENS10",  # the bridge is unreachable: the site's fallback code
    "unused": "mettre votre abonnement en pause",
    "temporary": "mettre votre abonnement en pause",
    "missing_features": "Voir les nouveautés",
    "customer_service": "vous répondra personnellement",
    "other": "Votre compte est toujours là",
}


@pytest.mark.parametrize("reason", list(OFFER_SIGNS))
def test_a_members_whole_journey_for_each_reason(reason, post, send, smtp, emails_of, survey_ready):
    post(cancel())
    assert send(CANCELLED_AT + timedelta(minutes=59)).claimed == 0
    send(CANCELLED_AT + timedelta(hours=1))
    [farewell] = smtp.messages()
    assert farewell.message["Subject"] == "Votre résiliation Le Club Hélène est confirmée"
    text, html = bodies(farewell)
    assert "jusqu’au 3 décembre 2026" in text and "?farewell_survey=" in text

    post(answer(reason))
    send(CANCELLED_AT + timedelta(days=3, hours=1))
    assert len(smtp.messages()) == 1, "no feedback request to a member who answered"

    send(CANCELLED_AT + timedelta(days=30, hours=1))
    offer = smtp.messages()[-1]
    text, html = bodies(offer)
    assert OFFER_SIGNS[reason] in text and OFFER_SIGNS[reason] in html
    assert "?farewell_survey=" not in text, "no survey link once answered"

    send(CANCELLED_AT + timedelta(days=60, hours=1))
    door = smtp.messages()[-1]
    assert door.message["Subject"] == "La porte reste ouverte chez Le Club Hélène"
    send(CANCELLED_AT + timedelta(days=400))
    assert len(smtp.messages()) == 3

    steps = emails_of()
    assert {s: e["status"] for s, e in steps.items()} == {
        "farewell": "sent", "feedback": "skipped", "offer": "sent", "door_open": "sent"}
    assert steps["feedback"]["skip_reason"] == "survey_answered"
    assert len({m.message_id for m in smtp.messages()}) == 3


def test_a_member_who_does_not_answer_gets_one_feedback_request(post, send, smtp, emails_of):
    post(cancel())
    send(CANCELLED_AT + timedelta(days=3, hours=1))
    assert [m.message["Subject"] for m in smtp.messages()] == [
        "Votre résiliation Le Club Hélène est confirmée", "Une question sur votre expérience avec Le Club Hélène"]
    text, _ = bodies(smtp.messages()[1])
    assert "?farewell_survey=" in text


def test_cancellations_by_an_admin_the_gateway_or_the_system_get_no_emails(post, send, smtp, emails_of):
    for number, initiator in enumerate(("admin", "gateway", "system")):
        event = cancel(CANCELLED_AT + timedelta(minutes=number), initiated_by=initiator)
        event["subscription"]["id"] = f"sub_{initiator}"
        post(event)
    send(CANCELLED_AT + timedelta(days=90))
    assert smtp.messages() == [] and emails_of() == {}


def test_planning_is_idempotent_when_the_cancel_is_reported_twice(post, send, smtp, emails_of):
    post(cancel())
    post(cancel())  # another webhook id, same occurrence
    assert len(emails_of()) == 4
    send(CANCELLED_AT + timedelta(hours=2))
    assert len(smtp.messages()) == 1


def test_an_account_younger_than_five_days_gets_only_the_farewell(post, send, smtp, emails_of):
    event = cancel()
    event["subscription"]["started_at"] = (CANCELLED_AT - timedelta(days=2)).isoformat()
    post(event)
    send(CANCELLED_AT + timedelta(days=61))
    for at in (CANCELLED_AT + timedelta(days=d, hours=1) for d in (3, 30, 60)):
        send(at)
    assert len(smtp.messages()) == 1
    steps = emails_of()
    assert steps["door_open"]["skip_reason"] == "account_too_young"


def test_the_offer_waits_until_access_has_ended(post, send, smtp, emails_of, survey_ready):
    event = cancel()
    event["subscription"]["access_ends_at"] = "2027-01-20T09:00:00Z"  # a yearly plan ending later
    post(event)
    post(answer("other"))
    assert emails_of()["offer"]["due_at"] == "2027-01-20T09:00:00Z"  # 10:00 in Paris
    send(CANCELLED_AT + timedelta(days=31))
    assert "offer" not in [m.message["Subject"] for m in smtp.messages()]
    assert emails_of()["offer"]["status"] == "pending"


# --- stopping ----------------------------------------------------------------------------------


@pytest.mark.parametrize("type_, sub_id", [("subscription.created", "sub_8"), ("subscription.resumed", "sub_7")])
def test_a_member_who_comes_back_between_steps_gets_nothing_more(type_, sub_id, post, send, smtp, emails_of,
                                                                   admin_get, club):
    post(cancel())
    send(CANCELLED_AT + timedelta(days=3, hours=1))
    post(comeback(CANCELLED_AT + timedelta(days=10), type_, sub_id))
    send(CANCELLED_AT + timedelta(days=400))
    assert len(smtp.messages()) == 2
    steps = emails_of()
    assert steps["offer"]["status"] == "cancelled" and steps["offer"]["skip_reason"] == "won_back"
    [winback] = admin_get(f"/v1/sites/{club['id']}/winbacks").json["items"]
    assert winback["last_email"]["step"] == "feedback" and winback["amount"] == "24.00"
    assert winback["event_type"] == type_


def test_a_comeback_within_the_first_hour_stops_even_the_farewell(post, send, smtp, emails_of):
    post(cancel())
    post(comeback(CANCELLED_AT + timedelta(minutes=20)))
    send(CANCELLED_AT + timedelta(days=400))
    assert smtp.messages() == []
    assert {e["status"] for e in emails_of().values()} == {"cancelled"}


def test_a_comeback_that_arrives_before_its_cancellation_still_stops_the_sequence(post, send, smtp, emails_of,
                                                                                   admin_get, club):
    post(comeback(CANCELLED_AT + timedelta(days=2)))
    post(cancel())
    send(CANCELLED_AT + timedelta(days=400))
    assert smtp.messages() == [] and emails_of() == {}
    assert len(admin_get(f"/v1/sites/{club['id']}/winbacks").json["items"]) == 1


def test_a_comeback_after_the_window_is_not_a_winback(post, send, smtp, admin_get, club):
    post(cancel())
    post(comeback(CANCELLED_AT + timedelta(days=91)))
    assert admin_get(f"/v1/sites/{club['id']}/winbacks").json["items"] == []


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize("zone, cancelled_at, feedback_due", [
    # 3 days after 22:00 in Paris is 22:00: the next 09:00 Paris time (08:00 UTC in winter).
    ("Europe/Paris", "2026-11-29T21:00:00Z", "2026-12-03T08:00:00Z"),
    # 03:00 in Paris: held until 09:00 the same day.
    ("Europe/Paris", "2026-11-30T02:00:00Z", "2026-12-03T08:00:00Z"),
    # New York at 20:00 (01:00 UTC the next day): 09:00 New York is 14:00 UTC.
    ("America/New_York", "2026-11-30T01:00:00Z", "2026-12-03T14:00:00Z"),
    # Across the spring DST change in Paris (29 March 2026): 09:00 is 07:00 UTC afterwards.
    ("Europe/Paris", "2026-03-26T20:00:00Z", "2026-03-30T07:00:00Z"),
    # Across the autumn change in New York (1 November 2026): 09:00 EST is 14:00 UTC.
    ("America/New_York", "2026-10-30T00:30:00Z", "2026-11-02T14:00:00Z"),
    # Tokyo, in the daytime: sent at the due time.
    ("Asia/Tokyo", "2026-11-29T03:00:00Z", "2026-12-02T03:00:00Z"),
])
def test_marketing_emails_wait_for_the_daytime_in_the_members_time_zone(app, zone, cancelled_at, feedback_due,
                                                                         client, admin_get):
    engine = app.extensions["farewell.engine"]
    site = create_site(engine, "https://example.org", "Zone", zone, "en_US")
    body = json.dumps(make_event(occurred_at=cancelled_at))
    client.post(f"/v1/sites/{site['id']}/events", data=body,
                headers={"Content-Type": "application/json", **sign(site["secret"], "m1", body)})
    steps = {e["step"]: e for e in admin_get(f"/v1/sites/{site['id']}/emails", member_id="42").json["items"]}
    assert steps["feedback"]["due_at"] == feedback_due
    # The farewell is transactional: it confirms the cancel one hour later, day or night.
    farewell_due = datetime.fromisoformat(cancelled_at) + timedelta(hours=1)
    assert steps["farewell"]["due_at"] == farewell_due.isoformat().replace("+00:00", "Z")


def test_an_email_retried_into_the_night_waits_for_the_morning(post, send, smtp, emails_of, app):
    post(cancel())
    engine = app.extensions["farewell.engine"]
    night = datetime(2026, 12, 2, 22, 30, tzinfo=timezone.utc)  # 23:30 in Paris
    with engine.begin() as conn:
        conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.step == "feedback").values(due_at=night))
    send(night)
    assert [m.message["Subject"] for m in smtp.messages()] == ["Votre résiliation Le Club Hélène est confirmée"]
    feedback = emails_of()["feedback"]
    assert (feedback["status"], feedback["due_at"]) == ("pending", "2026-12-03T08:00:00Z")
    assert feedback["attempts"] == 0


# --- the messages themselves --------------------------------------------------------------------


def test_the_french_email_renders_with_correct_headers(post, send, smtp, club):
    event = cancel()
    event["member"] = {"id": "42", "email": "helene@example.org", "first_name": "Hélène-Françoise", "locale": "fr_FR"}
    post(event)
    send(CANCELLED_AT + timedelta(days=3, hours=1))
    farewell, feedback = smtp.messages()
    raw = farewell.raw.decode("ascii")  # every header is 7-bit: encoded words for the accents
    assert "Hélène" not in raw
    message = farewell.message
    assert message["To"].addresses[0].display_name == "Hélène-Françoise"
    assert message["From"].addresses[0].display_name == "Le Club Hélène"
    assert message["Reply-To"].addresses[0].addr_spec == "aide@club.example"
    assert message["Subject"] == "Votre résiliation Le Club Hélène est confirmée"
    assert re.fullmatch(rf"<farewell\.{club['id']}\.\d+@localhost>", message["Message-ID"])
    assert message.get_content_type() == "multipart/alternative"
    text, html = bodies(farewell)
    assert text.startswith("Bonjour Hélène-Françoise,")
    assert "12 rue des Lilas" in text and "Ne plus recevoir ces e-mails : http://sidecar.test/u/" in text
    assert 'style="' in html and "<style" not in html, "CSS is inlined"
    # The farewell confirms a cancel (transactional); the feedback request is marketing.
    assert message["List-Unsubscribe"] is None
    assert feedback.message["List-Unsubscribe"].startswith("<http://sidecar.test/u/")
    assert feedback.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_english_member_of_a_french_site_reads_english(post, send, smtp):
    event = cancel()
    event["member"] = {"id": "42", "email": "ann@example.org", "first_name": None, "locale": "en_GB"}
    post(event)
    send(CANCELLED_AT + timedelta(hours=1))
    text, _ = bodies(smtp.messages()[0])
    assert text.startswith("Hello,") and "3 December 2026" in text


def test_names_are_escaped_in_html_and_never_break_headers(post, send, smtp):
    event = cancel()
    event["member"] = {"id": "42", "email": "x@example.org", "first_name": "<b>Eve</b>", "locale": "en_US"}
    post(event)
    send(CANCELLED_AT + timedelta(hours=1))
    _, html = bodies(smtp.messages()[0])
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html and "<b>Eve" not in html


def test_copy_overrides_replace_the_default_text_per_language(app, post, send, smtp, club):
    from sidecar.storage.site_settings import save_step

    with app.extensions["farewell.engine"].begin() as conn:
        save_step(conn, club["id"], "farewell", {"copy_overrides": json.dumps(
            {"fr": {"subject": "À bientôt, {first_name} !"}})}, CANCELLED_AT)
    post(cancel())
    send(CANCELLED_AT + timedelta(hours=1))
    assert smtp.messages()[0].message["Subject"] == "À bientôt, Ana !"


def test_a_disabled_step_is_not_planned(app, post, send, emails_of, club):
    from sidecar.storage.site_settings import save_step

    with app.extensions["farewell.engine"].begin() as conn:
        save_step(conn, club["id"], "offer", {"enabled": False}, CANCELLED_AT)
    post(cancel())
    assert set(emails_of()) == {"farewell", "feedback", "door_open"}
