"""The bytes that leave, as mailbox providers read them, on the SMTP (a real aiosmtpd server) and
maildir transports: List-Unsubscribe exactly ``<https://…/u/…>`` with List-Unsubscribe-Post on the
marketing emails only, no RFC 2047 encoded words in a header made of tokens, no line over 998
octets, names and subjects still encoded where they must be. The wordpress:// transport has its
own test in tests/wordpress/test_mail_bytes_wordpress.py.

A realistic public URL is used on purpose: ``https://farewell.example.org/u/<token>`` makes the
List-Unsubscribe line longer than 78 characters, which the email package's default policy used to
write as encoded words.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from datetime import datetime, timedelta, timezone
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from urllib.parse import urlsplit

import pytest

from sidecar.domain.compose import MailConfig
from sidecar.domain.digest import IsoWeek, send_digest
from sidecar.mail import message as mime
from sidecar.mail.render import Rendered
from sidecar.mail.transports import transport_from_url
from tests.support.mail_bytes import check_as_providers_read, display_name, raw_values
from tests.support.dashboard import csrf_token
from tests.support.emails import CANCELLED_AT, answer, cancel, member_event

PUBLIC_URL = "https://farewell.example.org"
MAIL_FROM = "farewell@mail.club-helene.example.org"
LONG_NAME = "Marie-Hélène Françoise de La Tour d’Auvergne, dite « Malou »"


@pytest.fixture
def realistic_addresses(app):
    """Used with usefixtures, which pytest sets up before the dispatcher reads the configuration."""
    app.config["FAREWELL_PUBLIC_URL"] = PUBLIC_URL
    app.config["FAREWELL_MAIL_FROM"] = MAIL_FROM


@pytest.fixture(params=["smtp", "maildir"])
def outbox(request, smtp, tmp_path):
    """(FAREWELL_MAIL_URL, a function giving the raw bytes that left for one address, oldest first)."""
    if request.param == "smtp":
        return smtp.url, lambda address: [m.raw for m in smtp.to(address)]
    folder = tmp_path / "maildir"

    def written(address: str) -> list[bytes]:
        files = sorted((folder / "new").glob("*.eml"))  # named by time: oldest first
        raws = [path.read_bytes() for path in files]
        return [raw for raw in raws if address in [a.addr_spec for a in
                                                   BytesParser(policy=default_policy).parsebytes(raw)["To"].addresses]]

    return f"maildir://{folder}", written


def unsubscribe_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    return re.search(rf"{re.escape(PUBLIC_URL)}/u/[\w.\-]+", text).group(0)


@pytest.mark.usefixtures("realistic_addresses")
def test_member_emails_carry_one_click_headers_as_written_only_when_marketing(client, post, dispatcher, outbox,
                                                                             survey_ready, emails_of):
    url, sent_to = outbox
    event = member_event(1)
    event["member"].update(email="malou@example.org", first_name=LONG_NAME)
    post(event)

    dispatcher(url, CANCELLED_AT + timedelta(hours=1))
    [farewell] = sent_to("malou@example.org")
    message = check_as_providers_read(farewell, unsubscribe_url=None)  # it confirms a cancellation
    assert display_name(message, "To") == LONG_NAME
    assert message["From"].addresses[0].addr_spec == MAIL_FROM

    dispatcher(url, CANCELLED_AT + timedelta(days=3, hours=1))
    farewell_again, feedback = sent_to("malou@example.org")
    assert farewell_again == farewell
    link = unsubscribe_link(BytesParser(policy=default_policy).parsebytes(feedback))
    assert len(f"List-Unsubscribe: <{link}>") > 78, "long enough to have been encoded by the old policy"
    message = check_as_providers_read(feedback, unsubscribe_url=link)
    assert display_name(message, "To") == LONG_NAME
    assert message["Subject"] == "Une question sur votre expérience avec Le Club Hélène"
    assert raw_values(message, "Auto-Submitted") == ["auto-generated"]

    # What the provider does with it: a POST of the form body, no cookies, no redirect followed.
    response = client.post(urlsplit(link).path, data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "Location" not in response.headers
    assert emails_of("1")["offer"]["status"] == "cancelled"


@pytest.mark.usefixtures("realistic_addresses")
def test_the_owners_alert_is_transactional(post, dispatcher, outbox, survey_ready):
    url, sent_to = outbox
    post(cancel())
    post(answer("customer_service", comment="Rappelez-moi", contact_requested=True, contact="ana.perso@example.org"))
    dispatcher(url, CANCELLED_AT + timedelta(minutes=10))
    [alert] = sent_to("patronne@club.example")
    message = check_as_providers_read(alert, unsubscribe_url=None)
    assert message["Reply-To"].addresses[0].addr_spec == "ana.perso@example.org"


@pytest.mark.usefixtures("realistic_addresses")
def test_the_digest_and_its_chart_are_transactional(app, club, outbox):
    url, sent_to = outbox
    mail = MailConfig(secret_key="k", public_url=PUBLIC_URL, mail_from=MAIL_FROM)
    now = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    result = send_digest(app.extensions["farewell.engine"], transport_from_url(url), club["id"],
                         IsoWeek.parse("2026-W47"), recipients=["owner@club.example"], now=now, mail=mail)
    assert result.status == "sent"
    [digest] = sent_to("owner@club.example")
    message = check_as_providers_read(digest, unsubscribe_url=None)
    assert display_name(message, "From") == "Farewell · Le Club Hélène"
    [chart] = [part for part in message.walk() if part.get_content_maintype() == "image"]
    assert raw_values(chart, "Content-ID") == ["<trend@farewell>"]


@pytest.mark.usefixtures("realistic_addresses")
def test_a_test_email_to_the_owner_is_transactional(client, app, site, sign_in, tmp_path):
    sign_in(email="camille.owner@example.org")
    response = client.post("/admin/sequence/offer/test", data={"csrf_token": csrf_token(client), "lang": "fr"})
    assert response.status_code == 303
    [path] = (tmp_path / "data" / "mail" / "new").iterdir()
    check_as_providers_read(path.read_bytes(), unsubscribe_url=None)


# --- build() itself, with what members and settings may hold ----------------------------------


NAMES = [
    LONG_NAME,
    "Dupont, Jean \"JJ\" (le grand)",
    "Zoë " + "très-long-nom-sans-espace" * 6,
    "李小龍 " * 12,
    "Ann",
    "",
]


@pytest.mark.parametrize("name", NAMES)
def test_names_subjects_and_long_links_serialise_as_providers_read_them(name):
    subject = f"Merci, {name or 'vous'} — votre accès à « Le Club Hélène » se termine le 3 décembre"
    link = PUBLIC_URL + "/u/" + "W" * 300
    message = mime.build(Rendered(subject=subject, text="Bonjour", html="<p>Bonjour</p>"),
                         sender=mime.address(MAIL_FROM, name), to=[mime.address("ana@example.org", name)],
                         reply_to=mime.address("aide@club.example.org", name),
                         message_id="<farewell.site_2ragyobuvfsc.123456@mail.club-helene.example.org>",
                         date=CANCELLED_AT, unsubscribe_url=link)
    for raw in (message.as_bytes(), message.as_bytes(policy=message.policy.clone(linesep="\r\n"))):
        parsed = check_as_providers_read(raw, unsubscribe_url=link)
        assert parsed["Subject"] == subject
        for header in ("From", "To", "Reply-To"):
            assert display_name(parsed, header) == " ".join(name.split())
        # Names and subjects are still folded into short lines; only the token headers run long.
        head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
        assert all(len(line) <= 78 for line in head.splitlines() if not line.startswith(b"List-Unsubscribe:"))


def test_no_header_can_be_injected_and_a_link_that_cannot_be_written_as_is_is_refused():
    rendered = Rendered(subject="Bonjour", text="x", html="<p>x</p>")
    common = dict(sender=mime.address(MAIL_FROM), to=[mime.address("ana@example.org")],
                  message_id="<a@b.example>", date=CANCELLED_AT)
    with pytest.raises(ValueError):
        mime.build(Rendered(subject="Bonjour\r\nBcc: victim@example.org", text="x", html="x"), **common)
    for link in ("https://farewell.example.org/u/x\r\nBcc: victim@example.org",
                 "https://farewell.example.org/u/é", "https://farewell.example.org/u/a b",
                 "https://farewell.example.org/u/" + "x" * 1000):
        with pytest.raises(ValueError):
            mime.build(rendered, **common, unsubscribe_url=link)
    with pytest.raises(mime.BadAddress):
        mime.address("ana@example.org\r\nBcc: victim@example.org")
    assert isinstance(mime.address("ana@example.org", "Ana\r\nBcc: x"), Address)  # the name is one line


# Texts that test the fixed boundary and quoted-printable: the boundary itself as a line, "=_",
# "=" at line ends, trailing spaces and tabs, lines of 75 to 77 characters (where soft breaks
# fall), a line longer than 998 octets, dots and "From " at line starts, non-ASCII and emoji.
TRICKY_TEXTS = [
    f"--{mime.BOUNDARY}\n--{mime.BOUNDARY}--\n=_ =_farewell-alternative =3D =\n",
    "Bonjour Zoë,\n\n" + "é" * 40 + "\n" + "x" * 75 + "\n" + "y" * 76 + "\n" + "z" * 77 + "=\n",
    "fin d'espace   \ntab\t\n.\n..\nFrom here\n" + "👩‍💻 " * 30 + "\n" + "w" * 1200 + "\n",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
@pytest.mark.parametrize("name", ["Zoë", LONG_NAME, ""])
def test_the_fixed_boundary_gives_the_bytes_of_the_email_packages_own(text, name, monkeypatch):
    """mime.build names the alternative's boundary instead of letting the email package draw and
    search for one per message: the bytes are the package's own, but for that boundary and the
    Content-Type line that carries it, and it occurs only where it separates the parts."""
    def built() -> tuple[bytes, str]:
        message = mime.build(Rendered(subject=f"Merci {name}", text=text, html=f"<p>{text}</p>"),
                             sender=mime.address(MAIL_FROM, name), to=[mime.address("ana@example.org", name)],
                             message_id="<farewell.s.1@mail.club-helene.example.org>", date=CANCELLED_AT,
                             unsubscribe_url=PUBLIC_URL + "/u/tok")
        raw = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        assert message.get_body(("plain",)).get_content() == (text if text.endswith("\n") else text + "\n")
        return raw, message.get_boundary()

    fixed, boundary = built()
    assert boundary == mime.BOUNDARY
    assert fixed.count(f"--{boundary}".encode()) == 3  # two parts and the end, nothing inside them
    monkeypatch.setattr(mime, "BOUNDARY", None)
    drawn, other = built()
    assert other != boundary
    head, body = fixed.split(b"\r\n\r\n", 1)
    drawn_head, drawn_body = drawn.split(b"\r\n\r\n", 1)
    assert body == drawn_body.replace(other.encode(), boundary.encode())

    def without_content_type(head: bytes) -> bytes:
        return re.sub(rb"Content-Type: multipart/alternative;(\r\n)?\s*boundary=\"[^\"]+\"", b"", head)

    assert without_content_type(head) == without_content_type(drawn_head)
    parsed = check_as_providers_read(fixed, unsubscribe_url=PUBLIC_URL + "/u/tok")
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == f"<p>{text}</p>\n"


def test_the_alternatives_content_type_is_the_one_set_boundary_writes(monkeypatch):
    """mime.build writes the alternative's Content-Type with its boundary itself (set_boundary
    parsed the header's parameters back first): the same bytes as set_boundary's."""
    def built():
        return mime.build(Rendered(subject="Merci", text="Bonjour", html="<p>Bonjour</p>"),
                          sender=mime.address(MAIL_FROM, "Le Club"), to=[mime.address("ana@example.org", "Zoë")],
                          message_id="<farewell.s.1@mail.club-helene.example.org>", date=CANCELLED_AT)

    ours = built()
    monkeypatch.setattr(mime, "BOUNDARY", None)
    theirs = built()
    theirs.set_boundary("=_farewell-alternative")
    assert ours.as_bytes() == theirs.as_bytes() and mime.smtp_bytes(ours) == mime.smtp_bytes(theirs)
    assert ours.get_boundary() == "=_farewell-alternative"


# Display names as members type them: accents, quotes, commas, brackets, CJK, emoji, an encoded
# word's look-alike, and lengths around where the package starts folding; addresses short and long.
MEMBER_NAMES = ["", "Zoë", "Ana", "Doe, John", 'Jo "JJ" Smith', "O'Brien", "José (Pepe)", "Émile; <x>", "back\\slash",
                "Anne.Marie", "a@b", "=?utf-8?q?x?=", "山田太郎", "李 小龍 ü", "👩‍💻 Zoé", "Zoë Éva Ñandú",
                LONG_NAME, "Ünïcödé " * 8, "a" * 40, "a" * 55, "a" * 90, "é" * 20, "é" * 30,
                "Marie-Hélène de La Tour", "Ana María García-López Fernández"]
MEMBER_ADDRESSES = ["ana@example.org", "x+tag@a.co", "member123456@example.org",
                    "very.long.local.part.of.an.address.that.goes.on@sub.domain.example.org", "bob@[127.0.0.1]",
                    "a b@example.org"]


@pytest.mark.parametrize("address", MEMBER_ADDRESSES)
def test_the_per_member_headers_written_without_parsing_are_the_email_packages_own_bytes(address, monkeypatch):
    """To, Date, Message-ID and List-Unsubscribe differ per member: mime keeps their values as
    given and writes them without building the email package's header objects, which parse the
    value back (mime._Lazy); the bytes are those the package's objects write, for every name."""
    def built(name: str):
        message = mime.build(Rendered(subject="Merci", text="Bonjour", html="<p>Bonjour</p>"),
                             sender=mime.address(MAIL_FROM, "Le Club"), to=[mime.address(address, name)],
                             message_id="<farewell.s.1@mail.club-helene.example.org>", date=CANCELLED_AT,
                             unsubscribe_url=PUBLIC_URL + "/u/" + "t" * 60)
        return message, [message.as_bytes(policy=message.policy.clone(linesep=sep)) for sep in ("\r\n", "\n")]

    for name in MEMBER_NAMES:
        monkeypatch.setattr(mime, "LAZY_HEADERS", True)
        lazy, lazy_bytes = built(name)
        monkeypatch.setattr(mime, "LAZY_HEADERS", False)
        own, own_bytes = built(name)
        assert lazy_bytes == own_bytes, name
        # What reads the headers (the wordpress:// transport) gets what the package's objects say.
        assert [a.addr_spec for a in lazy["To"].addresses] == [a.addr_spec for a in own["To"].addresses]
        assert lazy["To"].addresses[0].display_name == own["To"].addresses[0].display_name
        assert str(lazy["To"]) == str(own["To"]) and lazy["Date"].datetime == own["Date"].datetime
        assert str(lazy["Message-ID"]) == str(own["Message-ID"])


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_the_bytes_an_smtp_session_writes_ahead_are_those_send_message_writes(text, smtp):
    """The SMTP session writes a message's bytes before its exchange (``prepare``, which the
    dispatcher calls while the server takes the message before) and sends them with sendmail: the
    server receives what smtplib's own send_message writes for the same message, a Bcc left out,
    for every name."""
    to = "ana@example.org"
    with transport_from_url(smtp.url).session() as session, \
            smtplib.SMTP(*urlsplit(smtp.url).netloc.split(":")) as plain:
        for name in MEMBER_NAMES:
            message = mime.build(Rendered(subject=f"Merci {name}", text=text, html=f"<p>{text}</p>"),
                                 sender=mime.address(MAIL_FROM, "Le Club"), to=[mime.address(to, name)],
                                 message_id="<farewell.s.1@mail.club-helene.example.org>", date=CANCELLED_AT,
                                 unsubscribe_url=PUBLIC_URL + "/u/tok")
            message["Bcc"] = "hidden@example.org"
            outgoing = mime.Outgoing(message=message, sender=MAIL_FROM, recipients=(to,), site={},
                                     message_id=message["Message-ID"])
            session.prepare(outgoing)
            session.send(outgoing)
            plain.send_message(message, from_addr=MAIL_FROM, to_addrs=[to])
    raws = [m.raw for m in smtp.messages()]
    assert len(raws) == 2 * len(MEMBER_NAMES)
    assert raws[0::2] == raws[1::2]
    assert not any(b"hidden@example.org" in raw for raw in raws)


def test_an_envelope_that_needs_smtputf8_is_left_to_send_message():
    """send_message writes a message for a non-ASCII address with SMTPUTF8 (and 8-bit headers):
    nothing is written ahead for it."""
    message = mime.build(Rendered(subject="Merci", text="Bonjour", html="<p>Bonjour</p>"),
                         sender=mime.address(MAIL_FROM), to=[mime.address("zoë@exemple.fr")],
                         message_id="<farewell.s.1@mail.club-helene.example.org>", date=CANCELLED_AT)
    ascii_only = mime.Outgoing(message=message, sender=MAIL_FROM, recipients=("ana@example.org",), site={},
                               message_id="<farewell.s.1@mail.club-helene.example.org>")
    international = mime.Outgoing(message=message, sender=MAIL_FROM, recipients=("zoë@exemple.fr",), site={},
                                  message_id="<farewell.s.1@mail.club-helene.example.org>")
    assert international.smtp_data is None
    assert ascii_only.smtp_data.endswith(b"\r\n") and b"\r\n\r\n" in ascii_only.smtp_data


# --- the parts' quoted-printable (mime.quoted_printable, binascii's encoder in C) -----------------

# French and English copy, a long paragraph, lines of spaces and tabs, lone dots, "=" signs, CRLF
# and lone CRs, non-BMP characters, NULs and other control characters, and lines of 70 to 80
# characters ending in a space, a tab, "=", "é" or a dot, where soft breaks and the escaping of
# trailing whitespace fall.
QP_TEXTS = [
    "Bonjour Zoë,\n\nMerci pour le temps passé avec Le Club Hélène. Votre résiliation est bien confirmée.\n"
    "Vous gardez l’accès complet jusqu’au 1er décembre 2026 — « à bientôt » !\n",
    "Hello Ann,\n\nThanks for the time you spent with us. " + "Your access ends on December 3, 2026. " * 8 + "\n",
    "   \n\t\t\n \t \nfin d'espace   \ntab\t\n-- \n",
    ".\n..\n. \n.x\nfin\n.",
    "a=b =3D ==\n" + "=" * 100 + "\n=\n",
    "un\r\ndeux\r\n\r\ntrois\rquatre\n",
    "👩‍💻 𝄞 😀 " * 20 + "\n",
    "\x00.\x00\n.\x00x\n\x0b\x0c\x1c\x85\u2028\x7f\n",
    "w" * 1200 + "\n" + "é" * 300,
    "",
] + ["x" * length + tail for length in range(70, 81) for tail in (" ", "\t", "  ", "=", "é", ".", "x\n.")]


def _lines_as_the_package_reads_them(text: str) -> str:
    # email.contentmanager's: the lines split as bytes (at CR, LF and CRLF), each ending in LF.
    return (b"\n".join(text.encode("utf-8").splitlines()) + b"\n").decode("utf-8")


def test_the_parts_quoted_printable_is_valid_and_decodes_to_each_text():
    """Both parts of every message built with mime.POLICY are quoted-printable written by binascii's
    encoder (C) rather than the email package's (Python): each decodes to its text (lines ending in
    \\n, as the package writes them), in lines of at most 76 characters (RFC 2045 §6.7), none
    ending in whitespace, printable ASCII only, no bare CR or LF once written for SMTP; the parts'
    headers are the package's own.

    Where the bytes differ from the package's: it cuts lines at its policy's 78 characters, so its
    soft breaks fall elsewhere; binascii writes "=2E" for a "." alone on its line or before a NUL
    at a line's start; and it breaks before an escape that would end a wrapped line in column 74 to
    76. A text whose lines the package writes in 75 characters or fewer comes out the same, but
    for those dots."""
    for text in QP_TEXTS:
        message = mime.build(Rendered(subject="Merci", text=text, html=text),
                             sender=mime.address(MAIL_FROM), to=[mime.address("ana@example.org")],
                             message_id="<farewell.s.1@mail.club-helene.example.org>", date=CANCELLED_AT)
        package = EmailMessage(policy=default_policy)
        package.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
        package.add_alternative(text, subtype="html", charset="utf-8", cte="quoted-printable")
        expected = _lines_as_the_package_reads_them(text)
        for ours, theirs in zip(message.get_payload(), package.get_payload(), strict=True):
            payload = ours.get_payload()
            lines = payload.split("\n")
            assert ours.get_content() == expected, text
            assert all(len(line) <= 76 for line in lines), (text, max(lines, key=len))
            assert not any(line.endswith((" ", "\t")) for line in lines), text
            assert re.fullmatch(r"[\x20-\x7e\n\t]*", payload) and payload.endswith("\n"), text
            assert list(ours.items()) == list(theirs.items()), text
            assert str(ours["Content-Type"]) == 'text/%s; charset="utf-8"' % ours.get_content_subtype()
            assert ours["Content-Transfer-Encoding"] == "quoted-printable"
            package_lines = theirs.get_payload().split("\n")
            if all(len(line) <= 75 for line in package_lines):
                assert payload.replace("=2E", ".") == theirs.get_payload(), text
        raw = mime.smtp_bytes(message)
        assert not re.search(rb"(?<!\r)\n|\r(?!\n)", raw), text
        assert message.get_content_type() == "multipart/alternative" and message["MIME-Version"] == "1.0"


def test_a_quoted_printable_part_with_headers_of_its_own_has_the_packages_headers():
    text = QP_TEXTS[0]
    ours, theirs = EmailMessage(policy=mime.POLICY), EmailMessage(policy=default_policy)
    for message in (ours, theirs):
        message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable",
                            headers=["Content-Language: fr"], disposition="inline", filename="merci.txt",
                            params={"format": "flowed"})
    assert list(ours.items()) == list(theirs.items())
    assert ours.get_content() == theirs.get_content() == _lines_as_the_package_reads_them(text)
    assert max(len(line) for line in ours.get_payload().split("\n")) <= 76


class _CapturingTransport:
    """A transport that keeps the messages it is given."""

    def __init__(self):
        self.sent: list[mime.Outgoing] = []

    @contextlib.contextmanager
    def session(self):
        yield self

    def send(self, outgoing, before_end=None):
        self.sent.append(outgoing)


class _FlatteningSmtp(smtplib.SMTP):
    """smtplib.SMTP.send_message up to the bytes it hands to sendmail, without a server."""

    def ehlo_or_helo_if_needed(self):
        pass

    def sendmail(self, from_addr, to_addrs, msg, mail_options=(), rcpt_options=()):
        self.flattened = msg
        return {}


def _send_message_bytes(message, sender: str, recipients) -> bytes:
    smtp = _FlatteningSmtp()
    smtp.send_message(message, from_addr=sender, to_addrs=list(recipients))
    return smtp.flattened


@pytest.mark.usefixtures("realistic_addresses")
def test_the_digest_written_ahead_is_what_send_message_writes(app, club):
    """mime.smtp_bytes writes each part's payload in one write (mime._OneWriteGenerator): for the
    digest too, whose HTML and chart are a multipart/related inside the alternative, the chart in
    base64, the bytes are send_message's own."""
    transport = _CapturingTransport()
    mail = MailConfig(secret_key="k", public_url=PUBLIC_URL, mail_from=MAIL_FROM)
    result = send_digest(app.extensions["farewell.engine"], transport, club["id"], IsoWeek.parse("2026-W47"),
                         recipients=["owner@club.example"], now=datetime(2026, 11, 24, 9, tzinfo=timezone.utc),
                         mail=mail)
    assert result.status == "sent"
    [outgoing] = transport.sent
    [related] = [part for part in outgoing.message.walk() if part.get_content_type() == "multipart/related"]
    [chart] = [part for part in related.iter_parts() if part.get_content_maintype() == "image"]
    assert chart["Content-Transfer-Encoding"] == "base64"
    assert outgoing.smtp_data == _send_message_bytes(outgoing.message, outgoing.sender, outgoing.recipients)
    message = outgoing.message
    message.preamble, message.epilogue = "A preamble\non two lines\r\n", "\r\nfin\n"
    assert mime.smtp_bytes(message) == _send_message_bytes(message, outgoing.sender, outgoing.recipients)
