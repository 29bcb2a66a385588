"""A rendered email as a MIME message: multipart text + HTML, headers right for any name.

``email.message.EmailMessage`` with the default policy encodes non-ASCII names and subjects as
RFC 2047 words and refuses line breaks in headers, so a member called "Hélène" or a subject with
"é" comes out right, and no header can be injected.

The default policy also writes as encoded words any token too long for its 78-character lines,
and an unsubscribe link always is: ``List-Unsubscribe: =?utf-8?q?=3Chttps=3A//…?=``, which no
mailbox provider reads as a link (RFC 2369 wants ``<URI>``s), so none offered one-click
unsubscribe (RFC 8058). ``POLICY`` writes the headers made of tokens as they are; every message
built here, the digest and the owner's emails included, uses it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime

from .render import Rendered


# Headers whose values are tokens that mailbox providers parse: <URI>s (RFC 2369), msg-ids (RFC
# 5322, 2392), keywords (RFC 3834, 8058). Encoded words are not allowed in them.
AS_IS_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "message-id", "content-id",
                           "auto-submitted"})
MAX_LINE = 998  # octets without the CRLF, RFC 5322 §2.1.1
_AS_IS_VALUE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")  # printable ASCII, single spaces
# A URL that can stand between < and > in List-Unsubscribe: no space, comma or angle bracket.
_LINK = re.compile(r"https?://[\x21-\x2b\x2d-\x3b\x3d\x3f-\x7e]+")


def _as_is_lines(name: str, value: str) -> list[str]:
    """The header on as few lines as fit in MAX_LINE, folded only after the commas between items
    (List-Unsubscribe may list several <URI>s), never inside one."""
    items = value.split(", ")
    lines = [f"{name}: {items[0]}"]
    for item in items[1:]:
        if len(lines[-1]) + 2 + len(item) <= MAX_LINE:
            lines[-1] += ", " + item
        else:
            lines[-1] += ","
            lines.append(" " + item)
    return lines


class _Policy(EmailPolicy):
    """The default policy (78-character lines, RFC 2047 for names and subjects), except for
    AS_IS_HEADERS: checked when set (printable ASCII that fits MAX_LINE, so nothing can be
    injected), then written as they are."""

    def header_store_parse(self, name, value):
        if name.lower() in AS_IS_HEADERS:
            text = str(value)
            if not _AS_IS_VALUE.fullmatch(text) or any(len(line) > MAX_LINE for line in _as_is_lines(name, text)):
                raise ValueError(f"{name} must be printable ASCII that fits a {MAX_LINE}-octet line: {text[:100]!r}")
        return super().header_store_parse(name, value)

    def fold(self, name, value):
        if self._as_is(name, value):
            return self.linesep.join(_as_is_lines(name, str(value))) + self.linesep
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if self._as_is(name, value):
            return self.fold(name, value).encode("ascii")
        return super().fold_binary(name, value)

    @staticmethod
    def _as_is(name, value) -> bool:
        # A value checked by header_store_parse; a header read from a parsed message is left to the
        # default policy, which keeps its source lines.
        return name.lower() in AS_IS_HEADERS and hasattr(value, "name")


# Lines end with \n in the maildir's files; smtplib.send_message writes \r\n on the wire itself.
POLICY = _Policy()


class BadAddress(ValueError):
    """An address the email package cannot put in a header (a member's typo, a broken setting)."""


@dataclass(frozen=True)
class Outgoing:
    """A message ready for a transport, with what some transports need besides the MIME text."""

    message: EmailMessage
    sender: str
    recipients: tuple[str, ...]
    # The site the email is for: the wordpress:// transport sends through that site.
    site: dict
    message_id: str


def address(email: str, name: str | None = None) -> Address:
    email = email.strip()
    if "@" not in email or any(ch in email for ch in "\r\n<>,;\"") or len(email) > 254:
        raise BadAddress(email)
    local, domain = email.rsplit("@", 1)
    if not local or not domain:
        raise BadAddress(email)
    display = " ".join((name or "").split())[:200]
    try:
        return Address(display_name=display, username=local, domain=domain)
    except (ValueError, IndexError, TypeError) as error:
        raise BadAddress(email) from error


def message_id_for(scheduled_email_id: int, site_id: str, sender_email: str) -> str:
    """The same id every time this scheduled email is sent, so a duplicate after a crash can be
    recognised (and deduplicated by mail clients and the bridge)."""
    domain = sender_email.rsplit("@", 1)[-1] or "localhost"
    return f"<farewell.{site_id}.{scheduled_email_id}@{domain}>"


def build(rendered: Rendered, *, sender: Address, to: list[Address], message_id: str, date: datetime,
          reply_to: Address | None = None, unsubscribe_url: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if unsubscribe_url:
        if not _LINK.fullmatch(unsubscribe_url):
            # FAREWELL_PUBLIC_URL with a space or a non-ASCII name: refused rather than sent broken.
            raise ValueError(f"the unsubscribe link must be an ASCII http(s) URL: {unsubscribe_url[:100]!r}")
        # RFC 8058 one-click: the provider POSTs "List-Unsubscribe=One-Click" to the URL.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
