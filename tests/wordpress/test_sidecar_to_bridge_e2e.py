"""End to end, the other way round: the sidecar asks the bridge to send its emails (wordpress://)
and to create a coupon, and WordPress's own wp_mail delivers them by SMTP to a real server.

    member cancels in WordPress ─▶ bridge ─▶ sidecar (plans the sequence)
    the jobs' dispatch tick (clock set to the step's time) ─▶ POST /wp-json/farewell/v1/coupons ─▶ MeprCoupon
                                                          ─▶ POST /wp-json/farewell/v1/mail ─▶ wp_mail ─▶ aiosmtpd

The tick runs in this process, with its clock set to when a step is due (like tests/test_emails.py),
on the real sidecar's database; requests to the bridge are signed with the real time.
"""

from __future__ import annotations

import functools
import json
import re
import time
import uuid
from datetime import timedelta
from email.header import decode_header, make_header

import pytest
import requests

from sidecar.jobs import tasks
from sidecar import config as sidecar_config
from sidecar import db
from sidecar.domain.dispatch import DispatchConfig
from sidecar.domain.events import parse_timestamp
from sidecar.mail.transports import transport_from_url
from sidecar.signing import sign
from tests.support.applier import wait_until_applied
from tests.support.net import LOOPBACK_NETWORKS
from tests.support.wordpress import cancel, make_members, wait_for

CODE = re.compile(r"FAREWELL-[A-HJKMNP-Z2-9]{8}")


def header(message, name: str) -> str:
    return str(make_header(decode_header(message[name]))) if message[name] else ""


def text_of(received) -> str:
    return " ".join(received.message.get_body(("plain",)).get_content().split())


def connect(sidecar, site, smtp) -> dict:
    """A sidecar site for this WordPress (French, Paris), the bridge configured for it, and
    WordPress's mail sent by SMTP to the test server."""
    created = json.loads(sidecar._cli("sites", "add", "--url", site.url, "--name", "Le Club Hélène",
                                      "--locale", "fr_FR", "--timezone", "Europe/Paris"))
    sidecar._cli("sites", "set", created["site_id"], "--sender-name", "Le Club Hélène",
                 "--support-email", "aide@club.example.org", "--postal-address", "12 rue des Lilas\\n75011 Paris",
                 "--min-account-age-days", "0", "--discount-percent", "20")
    site.constants = {"FAREWELL_SIDECAR_URL": sidecar.url, "FAREWELL_SITE_ID": created["site_id"],
                      "FAREWELL_SECRET": created["secret"]}
    site.write_config()
    site.start()
    # Plain permalinks (the default): the sidecar's ?rest_route= form must work without pretty ones.
    site.wp_eval(f"update_option('farewell_test_smtp_port', {smtp.port});")
    return created


def tick_at(sidecar, at):
    """One dispatch tick of the jobs, as `python -m jobs` runs it, its clock at ``at``."""
    settings = sidecar_config.load(sidecar.env)
    engine = db.create_engine(settings["FAREWELL_DATABASE_URL"])
    try:
        return tasks.dispatch_tick(engine, transport_from_url(settings["FAREWELL_MAIL_URL"],
                                                              settings["FAREWELL_BRIDGE_ALLOWED_NETWORKS"]),
                                   DispatchConfig.from_app_config(settings), lambda: at)
    finally:
        engine.dispose()


def emails_by_step(sidecar, site_id: str, member_id: str) -> dict:
    response = sidecar.get(f"/v1/sites/{site_id}/emails", member_id=member_id)
    assert response.status_code == 200, response.text
    return {item["step"]: item for item in response.json()["items"]}


def answer_survey(sidecar, site, created: dict, member: dict, subscription_id: str, reason: str) -> None:
    """The member answers the exit survey: the event the bridge's survey form sends, its member
    object built by the bridge itself."""
    body = json.dumps({
        "type": "survey.submitted", "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": "memberpress", "initiated_by": "member",
        "member": site.wp_json(f"return Farewell_Bridge_Event_Factory::member({int(member['id'])});"),
        "survey": {"version": 1, "subscription_id": subscription_id, "reason": reason},
    })
    response = requests.post(f"{sidecar.url}/v1/sites/{created['site_id']}/events", data=body, timeout=10,
                             headers={"Content-Type": "application/json",
                                      **sign(created["secret"], f"msg_{uuid.uuid4().hex}", body)})
    assert response.status_code == 202, response.text
    wait_until_applied(sidecar.database_url)


@pytest.mark.parametrize("wp_version", ["6.1", "6.8"])
def test_the_sequence_goes_out_through_wp_mail_with_a_real_coupon(wordpress_site, sidecar_server, smtp, wp_version):
    sidecar = sidecar_server(extra_env={"FAREWELL_MAIL_URL": "wordpress://",
                                        "FAREWELL_MAIL_FROM": "farewell@club.example.org"})
    site = wordpress_site(wp_version, start=False)
    created = connect(sidecar, site, smtp)
    member = make_members(site, 1, 1)[0]
    product_id = site.wp_json(f"return (int) (new MeprSubscription({member['subscriptions'][0]}))->product_id;")

    with site.login(member["login"], member["password"]) as session:
        cancel(session, site, member["subscriptions"][0])
    cancellation = wait_for(
        lambda: next(iter(sidecar.get(f"/v1/sites/{created['site_id']}/cancellations").json()["items"]), None),
        timeout=30, describe=lambda: "the cancellation never reached the sidecar")
    answer_survey(sidecar, site, created, member, cancellation["subscription"]["id"], "too_expensive")

    # The farewell an hour later; the offer a month later, once access has ended, at 11:00 in Paris.
    cancelled_at = parse_timestamp(cancellation["cancelled_at"])
    access_ends_at = parse_timestamp(cancellation["access_ends_at"])
    reports = [tick_at(sidecar, cancelled_at + timedelta(hours=2))]
    offer_time = (max(cancelled_at + timedelta(days=30), access_ends_at) + timedelta(days=1)).replace(hour=10, minute=0)
    reports.append(tick_at(sidecar, offer_time))
    reports.append(tick_at(sidecar, offer_time + timedelta(minutes=5)))  # nothing left: nothing sent twice
    steps = emails_by_step(sidecar, created["site_id"], str(member["id"]))
    problem = json.dumps(steps, indent=1) + "\n--- ticks\n" + repr(reports) + "\n--- debug.log\n" + site.debug_log()[-3000:]
    assert steps["farewell"]["status"] == "sent", problem
    assert steps["offer"]["status"] == "sent", problem

    received = smtp.to(member["email"])
    by_id = {m.message_id: m for m in received}
    assert len(by_id) == len(received), "an email was delivered twice"
    farewell, offer = received[0], next(m for m in received if CODE.search(text_of(m)))

    # The farewell, as wp_mail built it from the sidecar's request.
    message = farewell.message
    assert re.fullmatch(rf"<farewell\.{re.escape(created['site_id'])}\.\d+@[^>]+>", farewell.message_id)
    assert header(message, "From") == "Le Club Hélène <farewell@club.example.org>"
    assert header(message, "Reply-To") == "Le Club Hélène <aide@club.example.org>"
    assert header(message, "To") == f"Anaïs 0 <{member['email']}>"
    subject = header(message, "Subject")
    assert "Le Club Hélène" in subject and not subject.isascii()
    assert re.search(rb"^Subject: =\?UTF-8\?[QB]\?", farewell.raw, re.M), "a UTF-8 encoded-word subject"
    assert message.get_content_type() == "multipart/alternative"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
    assert "Anaïs" in text_of(farewell)
    assert "List-Unsubscribe" not in message, "the farewell confirms a cancellation: not a marketing email"

    # The offer: marketing headers, and a coupon that exists in MemberPress for the member's plan.
    assert offer.message["List-Unsubscribe"].startswith("<http")
    assert offer.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert offer.message["Auto-Submitted"] == "auto-generated"
    code = CODE.search(text_of(offer)).group(0)
    coupon = site.wp_json(f"""
        $c = MeprCoupon::get_one_from_code({code!r});
        return $c ? array('type' => $c->discount_type, 'amount' => (float) $c->discount_amount,
                          'uses' => (int) $c->usage_amount, 'valid' => $c->is_valid({int(product_id)})) : null;
    """)
    assert coupon == {"type": "percent", "amount": 20.0, "uses": 1, "valid": True}

    # Sent once each, even though the jobs ran several times and retries share a webhook-id.
    answered = site.wp_json("global $wpdb; return $wpdb->get_col('SELECT route FROM ' . Farewell_Bridge_Request_Log::table() . ' WHERE status_code > 0');")
    assert answered.count("coupons") == 1
    assert answered.count("mail") == len(received)


def test_the_weekly_digest_goes_out_through_wp_mail_with_its_chart(wordpress_site, sidecar_server, smtp):
    sidecar = sidecar_server(extra_env={"FAREWELL_MAIL_URL": "wordpress://",
                                        "FAREWELL_MAIL_FROM": "farewell@club.example.org"})
    site = wordpress_site("6.8", start=False)
    created = connect(sidecar, site, smtp)
    sidecar._cli("digest", "send", "--site", created["site_id"], "--to", "owner@club.example.org")

    [digest] = smtp.to("owner@club.example.org")
    html = digest.message.get_body(("html",))
    [cid] = re.findall(r'src="cid:([^"]+)"', html.get_content())
    related = digest.message.get_body(("related",))
    assert related is not None, "the HTML and its chart travel together (multipart/related)"
    [chart] = [part for part in related.iter_parts() if part.get_content_maintype() == "image"]
    assert chart["Content-ID"].strip("<>") == cid
    assert chart.get_content_type() == "image/png" and chart.get_content().startswith(b"\x89PNG")


def mail_request(to: str, message_id: str) -> dict:
    return {"message_id": message_id,
            "from": {"email": "farewell@club.example.org", "name": "Le Club"}, "reply_to": None,
            "to": [{"email": to, "name": "Zoé"}], "subject": "Un mot du Club", "text": "Bonjour Zoé,\nà bientôt.",
            "html": "<p>Bonjour Zoé,</p><p>à bientôt.</p>", "headers": {"Auto-Submitted": "auto-generated"}}


@pytest.mark.parametrize("wp_version", ["6.1", "6.8"])
def test_wp_mail_failures_are_told_apart_over_real_smtp(wordpress_site, smtp, wp_version):
    """A 5xx to RCPT is a refused recipient (the sidecar suppresses the address); a server that is
    down is a failure to retry; the retry then sends once, and a further retry is a duplicate."""
    from sidecar import bridge
    from sidecar.domain.sites import new_secret

    secret = new_secret()
    site = wordpress_site(wp_version, constants={"FAREWELL_SIDECAR_URL": "http://127.0.0.1:9", "FAREWELL_SITE_ID": "site_e2e",
                                            "FAREWELL_SECRET": secret})
    site.wp_eval(f"update_option('farewell_test_smtp_port', {smtp.port});"
                 "update_option('permalink_structure', '/%postname%/'); flush_rewrite_rules();")
    wp = {"url": site.url, "secret": secret}
    call = functools.partial(bridge.call, allowed_networks=LOOPBACK_NETWORKS)  # WordPress is on 127.0.0.1

    smtp.refuse("gone@example.org")
    with pytest.raises(bridge.BridgeRefused) as refused:
        call(wp, "mail", mail_request("gone@example.org", "<m1@club.example.org>"), "mail_" + "1" * 40)
    assert (refused.value.status, refused.value.error) == (422, "recipient_refused")

    smtp.refuse("busy@example.org", "450 4.2.1 Mailbox busy, try later")
    with pytest.raises(bridge.BridgeRefused) as deferred:
        call(wp, "mail", mail_request("busy@example.org", "<m2@club.example.org>"), "mail_" + "2" * 40)
    assert (deferred.value.status, deferred.value.error) == (502, "mail_failed")

    smtp.stop()
    with pytest.raises(bridge.BridgeRefused) as down:
        call(wp, "mail", mail_request("zoe@example.org", "<m3@club.example.org>"), "mail_" + "3" * 40)
    assert (down.value.status, down.value.error, down.value.temporary) == (502, "mail_failed", True)
    assert smtp.messages() == []

    smtp.start()
    assert call(wp, "mail", mail_request("zoe@example.org", "<m3@club.example.org>"), "mail_" + "3" * 40) == {"status": "sent"}
    assert call(wp, "mail", mail_request("zoe@example.org", "<m3@club.example.org>"), "mail_" + "3" * 40) == {"status": "duplicate"}
    received = smtp.messages()
    assert [m.message_id for m in received] == ["<m3@club.example.org>"]
    assert received[0].message["Reply-To"] is None  # reply_to null: no Reply-To

    # Signed with another site's secret: refused, nothing sent.
    with pytest.raises(bridge.BridgeRefused) as forged:
        call({**wp, "secret": new_secret()}, "mail", mail_request("zoe@example.org", "<m4@club.example.org>"), "mail_" + "4" * 40)
    assert (forged.value.status, forged.value.error) == (401, "invalid_signature")
    assert len(smtp.messages()) == 1
