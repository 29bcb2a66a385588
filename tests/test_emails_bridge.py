"""The sidecar's side of the two calls it makes to the WordPress bridge (docs/PROTOCOL.md,
"Sidecar → bridge"): sending mail through wp_mail and creating a one-time coupon. A small local
HTTP server plays the bridge and checks every signature; the PHP side is tested with WordPress."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest

from sidecar.domain import offers
from sidecar.domain.sites import new_secret
from sidecar.mail import message as mime
from sidecar.mail.render import Rendered
from sidecar.mail.transports import RecipientRefused, TransientFailure, TransportUnavailable, WordPressTransport
from sidecar.signing import verify
from tests.support.net import LOOPBACK_NETWORKS, free_port
from tests.support.recording_site import Site

NOW = datetime(2026, 12, 29, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def bridge():
    """A local HTTP server playing the bridge (tests.support.recording_site.Site): it answers what
    the test sets (``answer_with``), 200 ``{"status": "sent"}`` by default, and keeps every request."""
    with Site() as site:
        site.secret = new_secret()
        yield site


def answer_with(bridge: Site, status: int, answer: dict) -> None:
    bridge.status, bridge.body = status, json.dumps(answer).encode()


def requests_to(bridge: Site) -> list[dict]:
    """What reached the bridge: each request's route, JSON body and headers, and whether its
    signature is one the real bridge accepts (bound to POST and its REST route)."""
    seen = []
    for request in bridge.received:
        route = request["path"].removeprefix("/?rest_route=/farewell/v1/")
        headers = {name.lower(): value for name, value in request["headers"].items()}
        signed = {name: headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        try:
            verify([bridge.secret], request["body"], signed, method=request["method"], path=f"/farewell/v1/{route}")
            valid = True
        except Exception:  # noqa: BLE001
            valid = False
        seen.append({"route": route, "body": json.loads(request["body"]), "headers": headers, "valid": valid})
    return seen


def site_of(bridge: Site) -> dict:
    return {"id": "site_test", "url": bridge.url() + "/", "secret": bridge.secret, "name": "Le Club"}


def outgoing(site: dict) -> mime.Outgoing:
    rendered = Rendered(subject="Un mot de Le Club", text="Bonjour Hélène,\n", html="<p>Bonjour Hélène,</p>")
    message = mime.build(rendered, sender=mime.address("farewell@club.example", "Le Club"),
                         to=[mime.address("helene@example.org", "Hélène")], message_id="<farewell.site_test.7@club.example>",
                         date=NOW, reply_to=mime.address("aide@club.example"),
                         unsubscribe_url="https://sidecar.example/u/abc")
    return mime.Outgoing(message=message, sender="farewell@club.example", recipients=("helene@example.org",),
                         site=site, message_id="<farewell.site_test.7@club.example>")


def test_wordpress_transport_posts_the_signed_message(bridge):
    site = site_of(bridge)
    with WordPressTransport(allowed_networks=LOOPBACK_NETWORKS).session() as session:
        session.send(outgoing(site))
        session.send(outgoing(site))  # a retry of the same email
    first, retry = requests_to(bridge)
    assert first["route"] == "mail" and first["valid"]
    assert first["headers"]["webhook-id"] == retry["headers"]["webhook-id"], "same email, same idempotency key"
    assert first["body"] == {
        "message_id": "<farewell.site_test.7@club.example>",
        "from": {"email": "farewell@club.example", "name": "Le Club"},
        "reply_to": {"email": "aide@club.example", "name": ""},
        "to": [{"email": "helene@example.org", "name": "Hélène"}],
        "subject": "Un mot de Le Club",
        "text": "Bonjour Hélène,\n",
        "html": "<p>Bonjour Hélène,</p>\n",
        "headers": {"List-Unsubscribe": "<https://sidecar.example/u/abc>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click", "Auto-Submitted": "auto-generated"},
    }


def test_an_image_the_html_shows_by_cid_travels_with_the_message(bridge):
    # The weekly digest's chart: an inline image beside the HTML (multipart/related), which wp_mail
    # cannot see in the text and HTML alone.
    site = site_of(bridge)
    message = outgoing(site)
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    message.message.get_body(("html",)).add_related(png, "image", "png", cid="<trend@farewell>",
                                                    filename="trend.png", disposition="inline")
    with WordPressTransport(allowed_networks=LOOPBACK_NETWORKS).session() as session:
        session.send(message)
    (sent,) = requests_to(bridge)
    assert sent["body"]["inline_images"] == [{"cid": "trend@farewell", "content_type": "image/png",
                                              "filename": "trend.png",
                                              "data": base64.b64encode(png).decode("ascii")}]


@pytest.mark.parametrize("status, answer, error", [
    (422, {"error": "recipient_refused", "message": "wp_mail: invalid address"}, RecipientRefused),
    (502, {"error": "mail_failed", "message": "SMTP plugin: connection refused"}, TransientFailure),
    (401, {"error": "invalid_signature"}, TransientFailure),
])
def test_wordpress_transport_maps_the_bridges_refusals(bridge, status, answer, error):
    answer_with(bridge, status, answer)
    with WordPressTransport(allowed_networks=LOOPBACK_NETWORKS).session() as session, pytest.raises(error):
        session.send(outgoing(site_of(bridge)))


def test_wordpress_transport_treats_an_unreachable_site_as_an_outage():
    site = {"id": "s", "url": f"http://127.0.0.1:{free_port()}", "secret": new_secret(), "name": "x"}
    with WordPressTransport(timeout=2, allowed_networks=LOOPBACK_NETWORKS).session() as session, pytest.raises(TransportUnavailable):
        session.send(outgoing(site))


MEMBER = {"external_id": "42", "email": "ana@example.org"}
SUBSCRIPTION = {"external_id": "sub_7", "source": "memberpress", "plan_id": "3"}


def test_a_coupon_is_created_through_the_bridge(bridge):
    answer_with(bridge, 201, {"code": "FAREWELL-7Q2X", "expires_at": "2027-01-12T10:00:00Z"})
    body = offers.coupon_request(MEMBER, SUBSCRIPTION, 20, 14, NOW)
    coupon = offers.create_coupon(site_of(bridge), body, "coupon_site_test_7", LOOPBACK_NETWORKS)
    assert coupon == offers.Coupon("FAREWELL-7Q2X", datetime(2027, 1, 12, 10, tzinfo=timezone.utc), 20)
    [request] = requests_to(bridge)
    assert request["valid"] and request["headers"]["webhook-id"] == "coupon_site_test_7"
    assert request["body"] == {
        "member": {"id": "42", "email": "ana@example.org"},
        "subscription": {"id": "sub_7", "source": "memberpress", "plan_id": "3"},
        "discount": {"type": "percent", "percent": 20}, "usage_limit": 1,
        "expires_at": (NOW + timedelta(days=14)).isoformat().replace("+00:00", "Z"),
    }


@pytest.mark.parametrize("status, answer", [
    (501, {"error": "coupons_unsupported", "message": "this membership plugin has no coupons"}),
    (200, {"code": "has spaces"}),
    (200, {"no": "code"}),
])
def test_when_the_bridge_cannot_make_a_coupon_the_offer_falls_back(bridge, status, answer):
    answer_with(bridge, status, answer)
    body = offers.coupon_request(MEMBER, SUBSCRIPTION, 20, 14, NOW)
    assert offers.create_coupon(site_of(bridge), body, "c1", LOOPBACK_NETWORKS) is None
    settings = {"default_offer_code": "REVIENS10", "news_url": None, "default_offer_text": None}
    assert offers.offer_for("too_expensive", settings, None) == offers.Offer("discount", code="REVIENS10")
    assert offers.offer_for("too_expensive", {**settings, "default_offer_code": None}, None).code is None


def test_the_offer_carries_the_bridges_coupon_and_the_winback_records_it(app, client, smtp, bridge, admin_get):
    """The whole path: a price-sensitive member gets the coupon the bridge created, once, and
    coming back records which code it was."""
    from sidecar.domain.dispatch import DispatchConfig
    from sidecar.domain.sites import create_site
    from sidecar.jobs import tasks
    from sidecar.mail.transports import transport_from_url
    from sidecar.signing import sign
    from tests.support.emails import CANCELLED_AT, FakeClock, answer, cancel, comeback

    engine = app.extensions["farewell.engine"]
    site = create_site(engine, bridge.url(), "Le Club", "Europe/Paris", "fr_FR", allowed_networks=LOOPBACK_NETWORKS)
    bridge.secret = site["secret"]
    answer_with(bridge, 201, {"code": "FAREWELL-7Q2X", "expires_at": "2027-01-12T10:00:00Z"})

    def post(event, number=[0]):
        number[0] += 1
        body = json.dumps(event)
        assert client.post(f"/v1/sites/{site['id']}/events", data=body, headers={
            "Content-Type": "application/json", **sign(site["secret"], f"m{number[0]}", body)}).status_code == 202

    survey = f"/v1/sites/{site['id']}/survey"
    client.get(survey, headers=sign(site["secret"], "s", "", method="GET", path=survey))
    post(cancel())
    post(answer("too_expensive"))
    clock = FakeClock(CANCELLED_AT + timedelta(days=30, hours=1))
    tasks.dispatch_tick(engine, transport_from_url(smtp.url),
                        DispatchConfig.from_app_config(app.config, bridge_networks=LOOPBACK_NETWORKS), clock)
    offer = smtp.messages()[-1]
    assert offer.message["Subject"] == "20 % sur votre réabonnement à Le Club, si vous le souhaitez"
    text = " ".join(offer.message.get_body(("plain",)).get_content().split())
    assert "FAREWELL-7Q2X" in text and "valable jusqu’au 12 janvier 2027" in text
    assert [(r["route"], r["valid"]) for r in requests_to(bridge)] == [("coupons", True)]
    post(comeback(CANCELLED_AT + timedelta(days=33)))
    [winback] = admin_get(f"/v1/sites/{site['id']}/winbacks").json["items"]
    assert (winback["coupon_code"], winback["last_email"]["step"]) == ("FAREWELL-7Q2X", "offer")


def test_during_a_rotation_the_sidecar_signs_with_both_secrets(bridge):
    """A bridge still holding the previous secret keeps verifying for the 24 h grace."""
    from sidecar import bridge as bridge_client

    old, new = new_secret(), new_secret()
    now = datetime.now(timezone.utc)
    site = {"url": bridge.url(), "secret": new, "previous_secret": old,
            "previous_secret_expires_at": now + timedelta(hours=23)}
    assert bridge_client.call(site, "mail", {"x": 1}, "wh_rotation", now=now,
                              allowed_networks=LOOPBACK_NETWORKS) == {"status": "sent"}
    [request] = bridge.received
    headers = {name.lower(): value for name, value in request["headers"].items()}
    signed = {name: headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert len(signed["webhook-signature"].split(" ")) == 2
    verify([old], request["body"], signed, method="POST", path="/farewell/v1/mail")
    verify([new], request["body"], signed, method="POST", path="/farewell/v1/mail")
