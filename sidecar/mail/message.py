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

import binascii
import copy
import functools
import io
import re
from dataclasses import dataclass
from datetime import datetime
from email import contentmanager
from email.charset import ALIASES
from email.contentmanager import ContentManager, raw_data_manager
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, quote

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
        key = _value_key(value)
        if key is None:
            return super().header_store_parse(name, value)
        if LAZY_HEADERS and key[0] == "addresses" and len(value) == 1 and _DOT_ATOMS.fullmatch(value[0].addr_spec):
            return name, _Mailbox(self, name, value)
        if LAZY_HEADERS and key[0] == "str" and (name.lower() in AS_IS_HEADERS
                                                 or (name.lower() == "date" and _DATE.fullmatch(value))):
            return name, _AsWritten(self, name, value)
        key = (name, key)
        parsed = _PARSED.get(key)
        if parsed is None:
            parsed = super().header_store_parse(name, value)
            _remember(_PARSED, key, parsed)
        return parsed

    def header_max_count(self, name):
        # The email package answers by building a new header class on every header set (most of
        # the time setting a header took once its value was kept); the answer is the name's.
        key = name.lower()
        count = _MAX_COUNT.get(key, _MAX_COUNT)
        if count is _MAX_COUNT:
            count = _MAX_COUNT[key] = super().header_max_count(name)
        return count

    def fold(self, name, value):
        if self._as_is(name, value):
            return self.linesep.join(_as_is_lines(name, str(value))) + self.linesep
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if self._as_is(name, value):
            return self.fold(name, value).encode("ascii")
        if not hasattr(value, "name"):
            return super().fold_binary(name, value)
        # The same header object (from _PARSED) folds the same way under the same policy.
        key = (id(value), name, self.linesep, self.max_line_length, self.utf8, self.cte_type)
        folded = _FOLDED.get(key)
        if folded is None or folded[0] is not value:
            folded = (value, super().fold_binary(name, value))
            _remember(_FOLDED, key, folded)
        return folded[1]

    @staticmethod
    def _as_is(name, value) -> bool:
        # A value checked by header_store_parse; a header read from a parsed message is left to the
        # default policy, which keeps its source lines.
        return name.lower() in AS_IS_HEADERS and hasattr(value, "name")


class _Lazy(str):
    """A header value set with the email package's header object left unbuilt until something
    other than writing the message reads it (``message["To"].addresses``): parsing the value back
    was half of the time a message took to build, for headers that differ per member (To, Date,
    Message-ID, List-Unsubscribe). Writing it gives the bytes the header object would give
    (tests/test_mail_bytes.py compares them for many names)."""

    def __new__(cls, policy, name, value, text):
        self = str.__new__(cls, text)
        self._policy, self._name, self._value, self._header = policy, name, value, None
        return self

    @property
    def name(self):
        return self._name

    def __getattr__(self, attribute):
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        if self._header is None:
            self._header = EmailPolicy.header_store_parse(self._policy, self._name, self._value)[1]
        return getattr(self._header, attribute)

    def fold(self, *, policy):
        return self.__getattr__("fold")(policy=policy)


class _AsWritten(_Lazy):
    """AS_IS_HEADERS (Message-ID, List-Unsubscribe…: written as they are, _Policy.fold) and a Date
    as format_datetime writes it, which the header object would format back to the same text:
    one line, as given."""

    def __new__(cls, policy, name, value):
        return super().__new__(cls, policy, name, value, value)

    def fold(self, *, policy):
        if self._name.lower() == "date" and len(self._name) + 2 + len(self) <= policy.max_line_length:
            return f"{self._name}: {self}{policy.linesep}"
        return super().fold(policy=policy)


class _Mailbox(_Lazy):
    """One address with a plain addr-spec (dot-atoms: never quoted): its display name is written
    as the email package writes it after "To: " (RFC 2047 words for a non-ASCII name, a quoted
    string for one with commas or quotes), kept per name; a line that would not fit in
    max_line_length, which the package would fold, is left to the package."""

    def __new__(cls, policy, name, value):
        return super().__new__(cls, policy, name, value, str(value[0]))

    def fold(self, *, policy):
        address = self._value[0]
        if not address.display_name:
            line = f"{self._name}: {address.addr_spec}"
        else:
            key = (self._name, address.display_name, policy.max_line_length, policy.utf8)
            phrase = _PHRASES.get(key)
            if phrase is None:
                phrase = _phrase(self._name, address.display_name, policy)
                _remember(_PHRASES, key, phrase)
            line = f"{self._name}: {phrase} <{address.addr_spec}>" if phrase else None
        if line is None or len(line) > policy.max_line_length:
            return super().fold(policy=policy)
        return line + policy.linesep


_PHRASE_SAMPLE = "a@b.c"  # shorter than any address: whatever is written before it fits as well


def _phrase(name: str, display_name: str, policy) -> str | None:
    """The display name as the package writes it at the start of the ``name`` header, or None if it
    does not fit one line there."""
    folded = EmailPolicy.header_store_parse(policy, name, [Address(display_name, addr_spec=_PHRASE_SAMPLE)])[1] \
        .fold(policy=policy)
    head, tail = f"{name}: ", f" <{_PHRASE_SAMPLE}>{policy.linesep}"
    if folded.count(policy.linesep) != 1 or not folded.startswith(head) or not folded.endswith(tail):
        return None
    return folded[len(head):-len(tail)]


# Tests set it to False to compare with the bytes of the email package's own header objects.
LAZY_HEADERS = True
# A date as email.utils.format_datetime writes it, which the header object would write back alike.
_DATE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                   r"\d{4} \d\d:\d\d:\d\d [+-]\d{4}")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOMS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*")
_PHRASES: dict = {}

# Parsing a header value into the email package's header object, and folding that object into
# lines, were most of the time a message took to build and write: a batch repeats most headers
# (From, Reply-To, the subject of a site's email, the parts' Content-Type …), so both are kept,
# the parsed header by the value it was given (header objects are immutable), the folded lines by
# the header object and the policy's settings. A bounded cache: emptied when full.
_PARSED: dict = {}
_FOLDED: dict = {}
_MAX_COUNT: dict = {}
_CACHE_MAX = 4096


def _value_key(value):
    """A hashable key for a header value as given, or None for a value not worth keeping."""
    if isinstance(value, str) and not hasattr(value, "name"):
        return ("str", value)
    if isinstance(value, Address):
        return ("address", value.display_name, value.username, value.domain)
    if isinstance(value, (list, tuple)) and all(isinstance(item, Address) for item in value):
        return ("addresses", *((a.display_name, a.username, a.domain) for a in value))
    return None


def _remember(cache: dict, key, value) -> None:
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[key] = value


# --- the parts' quoted-printable, in C ----------------------------------------------------------
#
# The email package encodes a text part's quoted-printable in Python (quoprimime.body_encode: a
# str.translate with a string per byte, then a loop over every line), a third of the instructions
# a message took to build (callgrind); binascii.b2a_qp does it in C. Their bytes differ, both
# valid: the package cuts lines at the policy's max_line_length, 78, over RFC 2045's limit of 76
# for quoted-printable (§6.7, rule 5), where b2a_qp cuts them at 76, so soft breaks fall
# elsewhere; b2a_qp writes "=2E" for a "." alone on its line (the package: "."). Only one thing of
# b2a_qp's is put right: a space or tab that ends a line in column 75 or 76, which it escapes in
# place (a line of 77 or 78 characters, the only lines it writes over 76), goes to a line of its
# own after a soft break. tests/test_mail_bytes.py checks, on a corpus, that every part decodes to
# its text, in lines of 76 characters at most, and has the package's headers.


def quoted_printable(body: bytes) -> str:
    """``body``, whose lines end in \\n, in quoted-printable lines of 76 characters at most, ending in \\n."""
    encoded = binascii.b2a_qp(body, istext=True).decode("ascii")
    if "=20\n" not in encoded and "=09\n" not in encoded:
        return encoded
    lines = encoded.split("\n")
    if max(map(len, lines)) <= 76:
        return encoded
    return "\n".join(line if len(line) <= 76 else f"{line[:-3]}=\n{line[-3:]}" for line in lines)


def _set_text(message, text, subtype="plain", charset="utf-8", cte=None, disposition=None, filename=None,
              cid=None, params=None, headers=None):
    """email.contentmanager.set_text_content, with quoted-printable in C."""
    if cte != "quoted-printable":
        return contentmanager.set_text_content(message, text, subtype, charset, cte, disposition, filename,
                                               cid, params, headers)
    if headers:
        contentmanager._prepare_set(message, "text", subtype, headers)
        message.set_param("charset", ALIASES.get(charset, charset), replace=True)
    else:
        # What _prepare_set and set_param write, without set_param parsing the header back (6 % of
        # the instructions of a message's build, for the same value every time).
        message["Content-Type"] = f'text/{subtype}; charset="{quote(ALIASES.get(charset, charset))}"'
    message.set_payload(quoted_printable(b"\n".join(text.encode(charset).splitlines()) + b"\n"))
    message["Content-Transfer-Encoding"] = cte
    contentmanager._finalize_set(message, disposition, filename, cid, params)


_CONTENT = ContentManager()
_CONTENT.get_handlers.update(raw_data_manager.get_handlers)
_CONTENT.set_handlers.update(raw_data_manager.set_handlers)
_CONTENT.add_set_handler(str, _set_text)

# Lines end with \n in the maildir's files; smtplib.send_message writes \r\n on the wire itself.
POLICY = _Policy(content_manager=_CONTENT)


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

    @functools.cached_property
    def smtp_data(self) -> bytes | None:
        """The bytes smtplib's ``send_message`` would write for this message (lines ending in CRLF,
        no Bcc), written once: the SMTP session writes them before the message's exchange
        (``_SmtpSession.prepare``; the dispatcher calls it while the server takes the message
        before), not while the connection waits. None when the envelope is not ASCII: only
        ``send_message`` knows how to offer SMTPUTF8 then."""
        try:
            "".join([self.sender, *self.recipients]).encode("ascii")
        except UnicodeEncodeError:
            return None
        if self.message.get_all("Resent-Date") is not None:
            return None  # send_message's own checks of a resent message apply
        return smtp_bytes(self.message)


def smtp_bytes(message: EmailMessage) -> bytes:
    """``message`` written as smtplib.SMTP.send_message writes it for an ASCII envelope (Python
    3.11's code, step by step: a shallow copy without Bcc, flattened with the message's policy
    and CRLF line ends)."""
    written = copy.copy(message)
    del written["Bcc"]
    del written["Resent-Bcc"]
    with io.BytesIO() as buffer:
        _OneWriteGenerator(buffer).flatten(written, linesep="\r\n")
        return buffer.getvalue()


_LINE_ENDS = re.compile(r"\r\n|\r|\n")  # email.generator's NLCRE


class _OneWriteGenerator(BytesGenerator):
    """BytesGenerator writing a part's payload (and a preamble or epilogue) with its line ends
    changed in one write, where the package writes each line and each line end on its own (two
    writes a line, 172 a message; a fifth of smtp_bytes's instructions): the same bytes
    (tests/test_mail_bytes.py compares them with send_message's)."""

    def _write_lines(self, lines):
        if lines:
            self.write(_LINE_ENDS.sub(self._NL, lines))


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
    if BOUNDARY:  # tests set it to None to compare with the email package's own random boundary
        # What set_boundary writes on the alternative's "multipart/alternative", without its parse
        # of the header's parameters back.
        message.replace_header("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    return message


# The boundary of the text + HTML alternative. Without one, the email package makes a random one
# as it writes each message and searches the whole message for it with a regular expression
# compiled for it: a quarter of the time a message took to build and write. This one cannot occur
# in the parts: both are quoted-printable, where "=" is always followed by two hex digits or ends
# the line, so "=_" never appears; an image related to the HTML (the digest's chart) is base64,
# which has neither "-" nor "_", and its multipart/related makes a boundary of its own. Being the
# same for every message, its Content-Type header is parsed once (_PARSED).
BOUNDARY = "=_farewell-alternative"
