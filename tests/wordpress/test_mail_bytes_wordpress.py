"""What PHPMailer writes for the wordpress:// transport, in a real WordPress (6.1 and 6.8), checked
as mailbox providers read it (tests/support/mail_bytes.py; the other transports: tests/test_mail_bytes.py).

The request body is the sidecar's own (``mail_payload`` of a message built by ``sidecar.mail``),
handed to the bridge's mail route (validate, then send, as the route does once the signature is
checked; the signed HTTP hop is covered by test_sidecar_to_bridge_e2e.py). wp_mail then sends it
the two ways a site does:

- with PHP's mail(), WordPress's default: PHP's sendmail_path points at a script that keeps what
  it is given, the bytes a local MTA would get. PHPMailer writes any custom header longer than 50
  characters as RFC 2047 encoded words there, unless the bridge prevents it;
- by SMTP, as an SMTP plugin sets it up (the test plugin's ``farewell_test_smtp_port``), to aiosmtpd.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from sidecar.mail import message as mime
from sidecar.mail.render import Rendered
from sidecar.mail.transports import mail_payload
from tests.support.mail_bytes import check_as_providers_read, display_name

LINK = "https://farewell.example.org/u/WyJzaXRlXzIyYWd5b2J1dmZzYyIsNV0.axSqqQ.ZnM-anmBpiXYS1IJ2BWB0PYdQCc"
NAME = "Anaïs Lefèvre-Duchâteau de la Grande Maison"


def request_body(n: int, unsubscribe_url: str | None) -> str:
    message_id = f"<farewell.site_2ragyobuvfsc.{n}@mail.club-helene.example.org>"
    message = mime.build(
        Rendered(subject="Une question sur votre expérience avec Le Club Hélène", text="Bonjour Anaïs,\nmerci.",
                 html="<p>Bonjour Anaïs,</p><p>merci.</p>"),
        sender=mime.address("farewell@club-helene.example.org", "Le Club Hélène"),
        to=[mime.address("anais@example.org", NAME)], reply_to=mime.address("aide@club-helene.example.org", "Le Club"),
        message_id=message_id, date=datetime.now(timezone.utc), unsubscribe_url=unsubscribe_url)
    outgoing = mime.Outgoing(message=message, sender="farewell@club-helene.example.org",
                             recipients=("anais@example.org",), site={}, message_id=message_id)
    return json.dumps(mail_payload(outgoing))


SEND_BOTH = """
    $answers = array();
    foreach (array('FAREWELL_TEST_MARKETING', 'FAREWELL_TEST_TRANSACTIONAL') as $name) {
        $message = Farewell_Bridge_Rest_Mail::validate(json_decode(getenv($name), true));
        if (is_wp_error($message)) { return $message->get_error_message(); }
        $answers[] = Farewell_Bridge_Rest_Mail::send($message)[1];
    }
    // The site's next email: WordPress's own mailer again, none of our headers.
    wp_mail('next@example.org', 'Next', 'Plain');
    global $phpmailer;
    $answers[] = get_class($phpmailer);
    return $answers;
"""
SENT = [{"status": "sent"}, {"status": "sent"}]
STOCK = ("PHPMailer\\PHPMailer\\PHPMailer", "WP_PHPMailer")
BODIES = {"FAREWELL_TEST_MARKETING": request_body(1, LINK), "FAREWELL_TEST_TRANSACTIONAL": request_body(2, None)}


def check(answers: list, marketing: bytes, transactional: bytes, next_one: bytes) -> None:
    assert answers[:2] == SENT and answers[2] in STOCK, answers
    message = check_as_providers_read(marketing, unsubscribe_url=LINK)
    assert display_name(message, "To") == NAME
    assert message["Subject"] == "Une question sur votre expérience avec Le Club Hélène"
    check_as_providers_read(transactional, unsubscribe_url=None)
    assert b"List-Unsubscribe" not in next_one and b"farewell.site_" not in next_one


@pytest.mark.parametrize("wp_version", ["6.1", "6.8"])
def test_wp_mail_with_php_mail_writes_the_one_click_headers_as_they_are(wordpress_site, tmp_path, wp_version):
    site = wordpress_site(wp_version, start=False)
    outbox = tmp_path / "sendmail-outbox"
    outbox.mkdir()
    sendmail = tmp_path / "sendmail"
    sendmail.write_text(f'#!/bin/sh\ncat > "{outbox}/$(date +%s%N)-$$.eml"\n')
    sendmail.chmod(0o755)

    answers = site.wp_json(SEND_BOTH, env=BODIES, ini={"sendmail_path": str(sendmail)})
    sent = [path.read_bytes() for path in sorted(outbox.iterdir())]
    assert len(sent) == 3, f"{answers}\n--- debug.log\n{site.debug_log()[-3000:]}"
    check(answers, *sent)


@pytest.mark.parametrize("wp_version", ["6.1", "6.8"])
def test_wp_mail_by_smtp_writes_them_as_they_are_too(wordpress_site, smtp, wp_version):
    site = wordpress_site(wp_version, start=False)
    site.wp_eval(f"update_option('farewell_test_smtp_port', {smtp.port});")
    answers = site.wp_json(SEND_BOTH, env=BODIES)
    sent = [m.raw for m in smtp.messages()]
    assert len(sent) == 3, f"{answers}\n--- debug.log\n{site.debug_log()[-3000:]}"
    check(answers, *sent)
