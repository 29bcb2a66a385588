"""The dispatcher's promises under failure: an outage loses nothing, refusals are handled as the
server meant them, leases expire, owners are alerted once. Real aiosmtpd, both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from sidecar.domain import dispatch
from sidecar.domain.dispatch import DispatchConfig
from sidecar.domain.unsubscribe import is_unsubscribed
from sidecar.mail.transports import transport_from_url
from tests.conftest import ADMIN_TOKEN
from tests.support.emails import CANCELLED_AT, answer, cancel, member_event
from tests.support.smtp import SmtpServer


def test_an_smtp_outage_loses_nothing_and_sends_everything_once_when_it_is_back(post, dispatcher, emails_of):
    for n in range(5):
        post(member_event(n))
    down = SmtpServer()  # a free port with nothing listening yet
    report = dispatcher(down.url, CANCELLED_AT + timedelta(hours=1))
    assert report.released == 5 and report.sent == 0
    for n in range(5):
        farewell = emails_of(str(n))["farewell"]
        assert (farewell["status"], farewell["attempts"]) == ("pending", 0), "an outage is not a failed attempt"
    down.start()
    try:
        # Still in the outage pause: nothing is retried yet.
        assert dispatcher(down.url, CANCELLED_AT + timedelta(hours=1, seconds=30)).claimed == 0
        report = dispatcher(down.url, CANCELLED_AT + timedelta(hours=1, minutes=2))
        assert report.sent == 5
        assert dispatcher(down.url, CANCELLED_AT + timedelta(hours=2)).claimed == 0
        received = down.messages()
        assert len(received) == 5 and len({m.message_id for m in received}) == 5
    finally:
        down.stop()


def test_a_temporary_refusal_is_retried_with_backoff_then_given_up(post, dispatcher, smtp, emails_of):
    post(cancel())
    smtp.refuse("ana@example.org", "451 4.3.0 Mailbox busy, try later")
    at = CANCELLED_AT + timedelta(hours=1)
    dispatcher(smtp.url, at)
    farewell = emails_of()["farewell"]
    assert farewell["status"] == "pending" and "451" in farewell["last_error"]
    assert farewell["due_at"] == "2026-11-29T11:01:00Z"  # one minute later, then 2, 4, 8…
    delays = []
    for _ in range(10):
        due = datetime.fromisoformat(emails_of()["farewell"]["due_at"])
        delays.append(due - at)
        at = due
        dispatcher(smtp.url, at)
        if emails_of()["farewell"]["status"] == "failed":
            break
    farewell = emails_of()["farewell"]
    assert farewell["status"] == "failed" and farewell["attempts"] == 8
    assert farewell["last_error"].startswith("gave up after 8 attempts: recipient deferred: 451")
    assert delays[:4] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert smtp.messages() == []


def test_a_permanent_refusal_suppresses_the_address(app, post, dispatcher, smtp, emails_of, club):
    post(cancel())
    smtp.refuse("ana@example.org", "550 5.1.1 No such user")
    dispatcher(smtp.url, CANCELLED_AT + timedelta(hours=1))
    steps = emails_of()
    assert steps["farewell"]["status"] == "failed" and "550" in steps["farewell"]["last_error"]
    assert {steps[s]["status"] for s in ("feedback", "offer", "door_open")} == {"cancelled"}
    assert steps["feedback"]["skip_reason"] == "address_bounced"
    assert is_unsubscribed(app.extensions["farewell.engine"], "test-secret-key-24-chars", club["id"],
                           "ANA@example.org")


def test_a_dead_dispatchers_claims_expire_and_are_sent_by_another(app, post, smtp, clock, emails_of):
    engine = app.extensions["farewell.engine"]
    config = DispatchConfig.from_app_config(app.config)
    post(cancel())
    at = CANCELLED_AT + timedelta(hours=1)
    _, claimed = dispatch.claim(engine, at, config)  # a dispatcher claims, then dies
    assert len(claimed) == 1 and emails_of()["farewell"]["status"] == "sending"
    clock.set(at + timedelta(minutes=5))
    assert dispatch.dispatch_batch(engine, transport_from_url(smtp.url), config, clock).claimed == 0
    clock.set(at + config.lease + timedelta(seconds=1))
    assert dispatch.dispatch_batch(engine, transport_from_url(smtp.url), config, clock).sent == 1
    assert len(smtp.messages()) == 1


def test_the_owner_is_alerted_once_with_a_reply_to_the_member(post, dispatcher, smtp, survey_ready):
    post(cancel())
    post(answer("customer_service", comment="Personne ne m’a répondu <3", contact_requested=True,
                contact="ana.perso@example.org"))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(minutes=10))
    [alert] = smtp.to("patronne@club.example")
    assert alert.message["Subject"] == "Ana aimerait être recontacté·e"
    assert alert.message["Reply-To"].addresses[0].addr_spec == "ana.perso@example.org"
    text = alert.message.get_body(("plain",)).get_content()
    assert "Personne ne m’a répondu <3" in text and "Je n’ai pas été satisfait·e du service client" in text
    html = alert.message.get_body(("html",)).get_content()
    assert "Personne ne m’a répondu &lt;3" in html
    dispatcher(smtp.url, CANCELLED_AT + timedelta(minutes=20))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(hours=2))
    assert len(smtp.to("patronne@club.example")) == 1


def owner_alerts(client, club) -> list[dict]:
    response = client.get(f"/v1/sites/{club['id']}/emails", query_string={"member_id": "42"},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    return sorted((e for e in response.json["items"] if e["step"] == "owner_alert"), key=lambda e: e["id"])


def test_the_owner_is_alerted_about_a_member_at_most_once_a_day(post, dispatcher, smtp, survey_ready, client, club):
    """Even across cancellations: Ana cancels two subscriptions and asks to be contacted about
    both, then changes her first answer; two days later she cancels a third and asks again."""
    def cancel_and_ask(sub_id: str, at: datetime, answered_at: datetime | None = None):
        event = cancel(at)
        event["subscription"]["id"] = sub_id
        post(event)
        asked = answer("customer_service", at=answered_at or at + timedelta(minutes=5), contact_requested=True,
                       contact="ana.perso@example.org")
        asked["survey"]["subscription_id"] = sub_id
        post(asked)

    cancel_and_ask("sub_7", CANCELLED_AT)
    cancel_and_ask("sub_8", CANCELLED_AT + timedelta(minutes=20))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(hours=1))
    assert len(smtp.to("patronne@club.example")) == 1
    assert [(e["status"], e["skip_reason"]) for e in owner_alerts(client, club)] == [
        ("sent", None), ("skipped", "member_alerted_within_a_day")]

    replaced = answer("customer_service", at=CANCELLED_AT + timedelta(hours=3), comment="Toujours personne",
                      contact_requested=True, contact="ana.perso@example.org")
    post(replaced)  # a new answer about sub_7: it replaces the first, its request stays the one alerted
    dispatcher(smtp.url, CANCELLED_AT + timedelta(days=2))
    assert len(smtp.to("patronne@club.example")) == 1

    cancel_and_ask("sub_9", CANCELLED_AT + timedelta(days=2))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(days=2, hours=1))
    assert len(smtp.to("patronne@club.example")) == 2
    # The skipped alert's request still waits for the owner in the dashboard and the digest.
    waiting = client.get(f"/v1/sites/{club['id']}/contact-requests",
                         headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).json["items"]
    assert len(waiting) == 3


def test_a_withdrawn_request_never_swallows_the_next_members_alert(post, dispatcher, smtp, survey_ready):
    """SQLite gives a deleted row's id to the next row: the alert of a withdrawn request must not
    pass for the alert of whichever request comes next."""
    post(cancel())
    post(answer("customer_service", contact_requested=True, contact="ana.perso@example.org"))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(hours=3))
    post(answer("customer_service", at=CANCELLED_AT + timedelta(hours=4), contact_requested=False))
    bob = member_event(43)
    post(bob)
    asked = answer("too_complex", at=CANCELLED_AT + timedelta(hours=5), contact_requested=True,
                   contact="m43@example.org")
    asked["member"], asked["survey"]["subscription_id"] = bob["member"], "sub_43"
    post(asked)
    dispatcher(smtp.url, CANCELLED_AT + timedelta(hours=6))
    alerts = smtp.to("patronne@club.example")
    assert [a.message["Reply-To"].addresses[0].addr_spec for a in alerts] == ["ana.perso@example.org",
                                                                             "m43@example.org"]


def test_an_answer_that_came_before_its_cancellation_alerts_the_owner_once(post, dispatcher, smtp, survey_ready):
    """The cancel's event can reach the sidecar days after the answer about it (its outbox row
    retried by the admin); tying the answer on must not raise the member's request again."""
    post(answer("customer_service", contact_requested=True, contact="ana.perso@example.org"))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(hours=3))
    assert len(smtp.to("patronne@club.example")) == 1
    post(cancel())
    dispatcher(smtp.url, CANCELLED_AT + timedelta(days=3))
    dispatcher(smtp.url, CANCELLED_AT + timedelta(days=3, minutes=5))
    assert len(smtp.to("patronne@club.example")) == 1


def test_the_maildir_transport_writes_eml_files_a_mail_client_opens(post, dispatcher, tmp_path):
    post(cancel())
    dispatcher(f"maildir://{tmp_path / 'mail'}", CANCELLED_AT + timedelta(hours=1))
    [file] = (tmp_path / "mail" / "new").glob("*.eml")
    message = message_from_bytes(file.read_bytes(), policy=default_policy)
    assert message["Subject"] == "Votre résiliation Le Club Hélène est confirmée"
    assert list((tmp_path / "mail" / "tmp").iterdir()) == []


def test_mail_urls_are_checked():
    for bad in ("ftp://x", "smtp://", "maildir://relative/path", "smtp://host:notaport"):
        with pytest.raises(ValueError, match="FAREWELL_MAIL_URL"):
            transport_from_url(bad)
    smtp_transport = transport_from_url("smtps://user%40x:p%3Ass@mail.example.org?timeout=5")
    assert (smtp_transport.port, smtp_transport.username, smtp_transport.password) == (465, "user@x", "p:ss")
    assert transport_from_url("smtp://mail.example.org:587?starttls=1").starttls is True
