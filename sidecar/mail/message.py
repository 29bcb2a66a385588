"""A rendered email as a MIME message: multipart text + HTML, headers right for any name.

``email.message.EmailMessage`` with the default policy encodes non-ASCII names and subjects as
RFC 2047 words and refuses line breaks in headers, so a member called "Hélène" or a subject with
"é" comes out right, and no header can be injected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime

from .render import Rendered


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
    message = EmailMessage(policy=default_policy)
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = to
    if reply_to is not None:
        message["Reply-To"] = reply_to
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    if unsubscribe_url:
        # RFC 8058 one-click: the provider POSTs "List-Unsubscribe=One-Click" to the URL.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message
