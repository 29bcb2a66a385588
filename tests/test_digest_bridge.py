"""The digest for the bridge's set-up checklist (issue 17): GET …/digest/settings says who receives
the digest and how mail leaves (never a password), POST …/digest/sample sends last week's digest
now to one address the site already knows, through a real SMTP server (aiosmtpd), at most
DIGEST_SAMPLE times per site in a window. On SQLite and MariaDB (the app fixture)."""

from __future__ import annotations

import json
import uuid

import pytest

from sidecar.domain.rate_limits import DIGEST_SAMPLE
from sidecar.signing import sign

ADMIN = "proprietaire@club.example.org"


@pytest.fixture
def signed(client, site):
    """A request signed as the bridge signs it, for this site; ``secret``/``signed_path`` to forge one."""

    def send(method, route, document=None, *, secret=None, signed_path=None):
        path = f"/v1/sites/{site['id']}/{route}"
        body = json.dumps(document) if document is not None else ""
        headers = sign(secret or site["secret"], f"fwb_req_{uuid.uuid4().hex}", body, method=method,
                       path=signed_path or path)
        return client.open(path, method=method, data=body, headers={"Content-Type": "application/json", **headers})

    return send


@pytest.fixture
def mail_to(app, smtp):
    app.config["FAREWELL_MAIL_URL"] = smtp.url
    return smtp


def report_admin_email(signed, email=ADMIN):
    assert signed("POST", "site-info", {"admin_email": email}).json == {"status": "ok"}


def test_the_settings_say_who_receives_the_digest_and_how_mail_leaves(app, signed):
    first = signed("GET", "digest/settings")
    assert first.status_code == 200
    assert first.json["recipients"] == [] and first.json["wordpress_admin_email"] is None
    assert first.json["transport"] == {"kind": "folder"}  # the default maildir: nothing leaves

    report_admin_email(signed)
    app.config["FAREWELL_MAIL_URL"] = "smtp://farewell-user:s3cr3t-pw@mail.example.org:587?starttls=1"
    body = signed("GET", "digest/settings")
    assert body.json == {
        "recipients": [ADMIN], "recipients_customised": False, "wordpress_admin_email": ADMIN,
        "weekday": 1, "hour": 8,
        "transport": {"kind": "smtp", "host": "mail.example.org", "port": 587, "security": "starttls"},
    }
    assert "s3cr3t-pw" not in body.get_data(as_text=True) and "farewell-user" not in body.get_data(as_text=True)
    app.config["FAREWELL_MAIL_URL"] = "wordpress://"
    assert signed("GET", "digest/settings").json["transport"] == {"kind": "wordpress"}


def test_a_sample_reaches_the_admin_through_the_real_smtp_server_in_their_language(signed, mail_to):
    report_admin_email(signed)
    sent = signed("POST", "digest/sample", {"to": ADMIN, "locale": "en_US"})
    assert sent.status_code == 200, sent.json
    assert sent.json["status"] == "sent" and sent.json["to"] == [ADMIN]
    french = signed("POST", "digest/sample", {"to": ADMIN.upper(), "locale": "fr_FR"})
    assert french.status_code == 200, french.json
    english, in_french = mail_to.received
    assert english.recipients == [ADMIN] and english.message["To"] == ADMIN
    assert "Le Club: " in english.message["Subject"]  # "your week" or "a quiet week"
    assert in_french.recipients == [ADMIN.upper()]
    assert "Le Club : " in in_french.message["Subject"]
    assert english.message.get_body(("html",)) is not None


def test_an_address_the_site_does_not_know_is_refused_and_nothing_is_sent(signed, mail_to):
    report_admin_email(signed)
    stranger = signed("POST", "digest/sample", {"to": "victim@example.net", "locale": "fr_FR"})
    assert stranger.status_code == 403 and stranger.json["error"] == "recipient_not_allowed"
    two = signed("POST", "digest/sample", {"to": f"{ADMIN}, victim@example.net"})
    assert two.status_code == 400 and two.json["fields"] == {"to": "must be an email address"}
    for document in ({}, {"to": 42}, ["x"], {"to": "a" * 250 + "@example.org"}):
        refused = signed("POST", "digest/sample", document)
        assert refused.status_code == 400 and refused.json["error"] == "invalid_request", document
    assert mail_to.received == []


def test_samples_are_rate_limited_per_site(signed, mail_to):
    report_admin_email(signed)
    statuses = []
    # A fixed window: 2 windows at most in this loop, so 2 x hits + 1 requests meet a 429 whatever the clock.
    for _ in range(2 * DIGEST_SAMPLE.hits + 1):
        answer = signed("POST", "digest/sample", {"to": ADMIN})
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert answer.json["error"] == "rate_limited"
            assert 1 <= int(answer.headers["Retry-After"]) <= DIGEST_SAMPLE.seconds
            break
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}
    assert len(mail_to.received) == statuses.count(200)  # a refused request sends nothing
    # Refused addresses count too: probing which address passes is what the limit stops.
    assert signed("POST", "digest/sample", {"to": "victim@example.net"}).status_code == 429


def test_a_bad_signature_is_refused_and_sends_nothing(client, site, signed, mail_to):
    report_admin_email(signed)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    assert signed("POST", "digest/sample", {"to": ADMIN}, secret=other).status_code == 401
    # A signature made for the settings route is refused on the sample route.
    moved = signed("POST", "digest/sample", {"to": ADMIN}, signed_path=f"/v1/sites/{site['id']}/digest/settings")
    assert moved.status_code == 401 and moved.json["signature_scheme"] == "fw2"
    assert client.post(f"/v1/sites/{site['id']}/digest/sample", json={"to": ADMIN}).status_code == 401
    assert signed("GET", "digest/settings", secret=other).status_code == 401
    assert client.get(f"/v1/sites/{site['id']}/digest/settings").status_code == 401
    assert client.get("/v1/sites/nope/digest/settings").status_code == 404
    assert mail_to.received == []


def test_a_mail_server_that_cannot_be_reached_is_said(app, signed):
    from tests.support.net import free_port

    report_admin_email(signed)
    app.config["FAREWELL_MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}?timeout=5"
    answer = signed("POST", "digest/sample", {"to": ADMIN})
    assert answer.status_code == 503 and answer.json["error"] == "mail_unavailable"


def test_a_mail_url_the_sidecar_cannot_use_is_said_not_a_500(app, signed):
    report_admin_email(signed)
    app.config["FAREWELL_MAIL_URL"] = "pigeon://loft.example.org"
    assert signed("GET", "digest/settings").json["transport"] == {"kind": "unknown"}
    answer = signed("POST", "digest/sample", {"to": ADMIN})
    assert answer.status_code == 503 and answer.json["error"] == "mail_unavailable"
