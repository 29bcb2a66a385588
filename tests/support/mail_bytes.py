"""An email's bytes as a mailbox provider reads them: checks shared by every transport's test.

Reading ``message["List-Unsubscribe"]`` is not enough: the email package decodes RFC 2047
encoded words on the way, so a header that left as ``=?utf-8?q?=3Chttps=3A//…?=`` (which no
provider accepts as a one-click link) reads back as ``<https://…>``. These checks look at the raw
header text that was sent.
"""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import strict

ONE_CLICK = "List-Unsubscribe=One-Click"
# Headers whose values are tokens (<URI>s, msg-ids, keywords, dates): an encoded word there is an error.
TOKEN_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID", "Date", "Auto-Submitted",
                 "MIME-Version", "Content-ID", "Content-Transfer-Encoding")
ADDRESS_HEADERS = ("From", "To", "Reply-To")
MAX_LINE = 998  # octets, without the CRLF (RFC 5322 §2.1.1)


def display_name(message: EmailMessage, name: str) -> str:
    """The first address's display name, decoded by RFC 2047's rule that whitespace between two
    encoded words is not text (the email package's address parser keeps it: "d’Auv ergne")."""
    value = raw_values(message, name)[0]
    if "=?" not in value:
        return message[name].addresses[0].display_name  # plain or quoted: the parser is right
    decoded = str(make_header(decode_header(value)))
    return decoded[:decoded.rindex("<")].strip()


def raw_values(message: EmailMessage, name: str) -> list[str]:
    """The header's values as written on the wire, unfolded, never decoded."""
    return [re.sub(r"\r?\n(?=[ \t])", "", value).strip()
            for key, value in message.raw_items() if key.lower() == name.lower()]


def check_as_providers_read(raw: bytes, *, unsubscribe_url: str | None) -> EmailMessage:
    """Parses ``raw`` with the strict parser and checks its headers; returns the parsed message.

    ``unsubscribe_url``: the one URL List-Unsubscribe must hold exactly (with List-Unsubscribe-Post
    beside it), or None when the email must carry neither (a transactional or owner's email)."""
    message = BytesParser(policy=strict).parsebytes(raw)
    too_long = [line[:80] for line in raw.splitlines() if len(line) > MAX_LINE]
    assert not too_long, f"lines longer than {MAX_LINE} octets: {too_long}"
    head = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    assert head.isascii(), "7-bit headers: non-ASCII names and subjects go as encoded words"

    for part in message.walk():
        for name in part.keys():
            assert not part[name].defects, f"{name}: {part[name].defects}"
        for name in TOKEN_HEADERS:
            for value in raw_values(part, name):
                assert "=?" not in value, f"{name} written as RFC 2047 encoded words: {value!r}"

    for name in ADDRESS_HEADERS:
        for value in raw_values(message, name):
            for address in message[name].addresses:
                # The address itself is never encoded; only a display name may be.
                assert f"<{address.addr_spec}>" in value or value == address.addr_spec, (name, value)

    [message_id] = raw_values(message, "Message-ID")
    assert re.fullmatch(r"<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>", message_id), message_id

    unsubscribe, post = raw_values(message, "List-Unsubscribe"), raw_values(message, "List-Unsubscribe-Post")
    if unsubscribe_url is None:
        assert (unsubscribe, post) == ([], []), "one-click unsubscribe only on marketing emails"
    else:
        assert unsubscribe == [f"<{unsubscribe_url}>"]
        assert post == [ONE_CLICK]
    return message
