"""Where email leaves: one small interface, three transports chosen by FAREWELL_MAIL_URL.

    smtp://user:pass@host:587?starttls=1    an SMTP server (smtps:// for implicit TLS)
    maildir:///path/to/folder                .eml files in a Maildir (the embedded default)
    wordpress://                             the site's own wp_mail, through the bridge

A transport opens one ``session()`` per run of the dispatcher (one SMTP connection for its batches) whose
``send(outgoing)`` returns when the message was accepted, or raises one of the errors below; the
dispatcher decides what each means for the email's status.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import logging
import os
import smtplib
import socket
import ssl
import time
from pathlib import Path
from typing import Callable, Iterator, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from .. import bridge, safe_http
from .message import Outgoing

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """Base of what a transport raises; ``str()`` is the reason recorded on the email."""


class TransportUnavailable(DeliveryError):
    """The server cannot be reached or dropped us: nothing was delivered, the attempt does not
    count, and the rest of the batch waits too (an outage loses nothing)."""


class SiteUnreachable(TransportUnavailable):
    """wordpress://: the site could not be reached, for whatever reason (bridge.UNREACHABLE): an
    outage like any other, told apart only so the dashboard can say it in the owner's language."""


class TransientFailure(DeliveryError):
    """This message was refused for now (4xx): retry it later with backoff, a bounded number of times."""


class PermanentFailure(DeliveryError):
    """This message will never be accepted as it is (5xx)."""


class RecipientRefused(PermanentFailure):
    """The server says the address does not exist (5xx on RCPT): stop emailing it."""


class Sender(Protocol):
    def send(self, outgoing: Outgoing, before_end: Callable[[], None] | None = None,
             meanwhile: Callable[[], None] | None = None) -> None:
        """``before_end``: called once more of the message than its end went out, right before the
        point where the receiver takes it (SMTP: the "." that ends its data); what the caller must
        have made durable before another message can be taken (the previous one's record) is waited
        for there. If it raises, the message is left unended, so not delivered, and the error goes
        on to the caller.

        ``meanwhile``: work of the caller's (building its next message) that a transport may run
        while the receiver takes this message (SMTP: between the "." and the reply, the longest
        wait of an exchange, when the server parses and stores the message), or not at all; it
        must not raise."""

    def prepare(self, outgoing: Outgoing) -> None:
        """Do ahead what ``send`` would do to the message before its exchange (SMTP: write its
        bytes), so that the caller can have it done while it waits anyway (``meanwhile``)."""


class Transport(Protocol):
    name: str

    def session(self) -> contextlib.AbstractContextManager[Sender]: ...


# --- SMTP ---------------------------------------------------------------------------------------


class SmtpTransport:
    name = "smtp"

    def __init__(self, host: str, port: int, username: str | None = None, password: str | None = None,
                 implicit_tls: bool = False, starttls: bool = False, timeout: float = 20.0):
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.implicit_tls, self.starttls = implicit_tls, starttls
        self.timeout = timeout

    @contextlib.contextmanager
    def session(self) -> Iterator["_SmtpSession"]:
        session = _SmtpSession(self)
        try:
            yield session
        finally:
            session.close()

    def connect(self) -> "_Smtp | _SmtpSsl":
        try:
            if self.implicit_tls:
                connection = _SmtpSsl(self.host, self.port, timeout=self.timeout, context=ssl.create_default_context())
            else:
                connection = _Smtp(self.host, self.port, timeout=self.timeout)
                if self.starttls:
                    connection.starttls(context=ssl.create_default_context())
            if self.username:
                connection.login(self.username, self.password or "")
            # The end of data goes in a write of its own (_SenderSeen.data): without this, Nagle's
            # algorithm holds it until the server acknowledges the data, which a server delaying
            # its ACKs does 40 ms later, per message.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return connection
        except (smtplib.SMTPException, OSError) as error:
            raise TransportUnavailable(f"cannot connect to {self.host}:{self.port}: {_describe(error)}") from None


class _SenderSeen:
    """Knows whether the server took the current message's MAIL FROM: until it has, nothing of
    that message can have been delivered, whatever happens to the connection. And calls
    ``before_end`` between a message's data and the "." that ends it (Sender.send): the server
    takes the message only on the ".", so the exchange before it (MAIL FROM, RCPT TO, DATA and
    the data itself) can overlap with what the caller waits for."""

    sender_accepted = False
    before_end: Callable[[], None] | None = None
    meanwhile: Callable[[], None] | None = None

    def mail(self, *args, **kwargs):
        self.sender_accepted = False
        code, reply = super().mail(*args, **kwargs)
        self.sender_accepted = code == 250
        return code, reply

    def data(self, msg):
        if self.before_end is None and self.meanwhile is None:
            return super().data(msg)
        # smtplib's data(), with the end of data sent on its own after before_end, and meanwhile
        # run before its reply is read: single-threaded, so it takes no GIL from the exchange.
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        quoted = smtplib._quote_periods(msg)
        if quoted[-2:] != smtplib.bCRLF:
            quoted += smtplib.bCRLF
        self.send(quoted)
        if self.before_end is not None:
            self.before_end()
        self.send(b"." + smtplib.bCRLF)
        if self.meanwhile is not None:
            self.meanwhile()
        return self.getreply()


class _Smtp(_SenderSeen, smtplib.SMTP):
    pass


class _SmtpSsl(_SenderSeen, smtplib.SMTP_SSL):
    pass


class _SmtpSession:
    """One connection, opened on the first message and reused for every message the session
    sends (the dispatcher keeps a session across its batches).

    A server may close a connection it finds idle, or take only so many messages on one (Exim's
    smtp_accept_max_per_connection answers 421 to the next MAIL FROM): neither is an outage. So
    when a connection that already carried a message fails before the server took this message's
    MAIL FROM, nothing of the message was delivered, and it is sent once more on a new connection;
    only a failure there is the outage. A failure after MAIL FROM is never retried here: the
    server may have taken the message (at-least-once, see TransportUnavailable)."""

    def __init__(self, transport: SmtpTransport):
        self.transport = transport
        self.connection: _Smtp | _SmtpSsl | None = None
        self.carried = 0  # messages the current connection carried

    def send(self, outgoing: Outgoing, before_end: Callable[[], None] | None = None,
             meanwhile: Callable[[], None] | None = None) -> None:
        if self.connection is not None and self.carried:
            try:
                self._send_on_connection(outgoing, before_end, meanwhile)
                return
            except _NotTaken:
                self._drop()  # closed or capped by the server: once more on a new connection
        try:
            self._send_on_connection(outgoing, before_end, meanwhile)
        except _NotTaken as not_taken:
            raise not_taken.error from None

    def prepare(self, outgoing: Outgoing) -> None:
        outgoing.smtp_data  # written once, kept on the message (a cached property)

    def _send_on_connection(self, outgoing: Outgoing, before_end, meanwhile=None) -> None:
        if self.connection is None:
            self.connection = self.transport.connect()
            self.carried = 0
        connection = self.connection
        connection.sender_accepted = False
        connection.before_end, connection.meanwhile = before_end, meanwhile
        data = outgoing.smtp_data  # what send_message would write, written ahead if prepared
        try:
            if data is None:  # an envelope that needs SMTPUTF8
                refused = connection.send_message(outgoing.message, from_addr=outgoing.sender,
                                                  to_addrs=list(outgoing.recipients))
            else:
                refused = connection.sendmail(outgoing.sender, list(outgoing.recipients), data)
        except (smtplib.SMTPException, OSError) as error:
            meaning = self._error(error)
            if not connection.sender_accepted and _closing(error):
                raise _NotTaken(meaning) from None
            raise meaning from None
        except BaseException:
            # before_end failed with the message's data sent but not ended: closing the connection
            # without the "." makes the server discard it (RFC 5321 §4.1.1.4).
            self._drop()
            raise
        finally:
            connection.before_end = connection.meanwhile = None
        self.carried += 1
        if refused:
            log.warning("some recipients refused %s: %s", outgoing.message_id, refused)

    def _error(self, error: BaseException) -> DeliveryError:
        """What a failed exchange means for the email (the connection dropped where it is gone)."""
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in error.recipients.values()]
            reason = "; ".join(f"{code} {_text(msg)}" for code, msg in error.recipients.values())
            if codes and all(500 <= code < 600 for code in codes):
                return RecipientRefused(f"recipient refused: {reason}")
            return TransientFailure(f"recipient deferred: {reason}")
        if isinstance(error, smtplib.SMTPResponseException):  # sender refused, data refused, 421…
            reason = f"{error.smtp_code} {_text(error.smtp_error)}"
            if error.smtp_code == 421:
                self._drop()
                return TransportUnavailable(f"server closing: {reason}")
            if 500 <= error.smtp_code < 600 and not isinstance(error, smtplib.SMTPSenderRefused):
                return PermanentFailure(f"refused: {reason}")
            return TransientFailure(f"refused for now: {reason}")
        # Disconnected or timed out, possibly after the server took the message: it will be
        # sent again (at-least-once; the stable Message-ID makes the duplicate recognisable).
        self._drop()
        return TransportUnavailable(f"connection lost: {_describe(error)}")

    def _drop(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.quit()
            self._drop()


class _NotTaken(Exception):
    """The server closed the connection, or said it would (421), before it took the message's
    MAIL FROM: nothing of it was delivered. ``error``: what it means if no new connection helps."""

    def __init__(self, error: DeliveryError):
        super().__init__(str(error))
        self.error = error


def _closing(error: BaseException) -> bool:
    """The connection is gone or going: closed, reset, timed out, or a 421."""
    if isinstance(error, smtplib.SMTPResponseException):
        return error.smtp_code == 421
    return isinstance(error, (smtplib.SMTPServerDisconnected, OSError))


# --- Maildir ------------------------------------------------------------------------------------


class MaildirTransport:
    """Writes each message as ``new/<unique>.eml``: written in ``tmp/`` then renamed, so a reader
    never sees half a message (the Maildir rule). Any mail client opens the files."""

    name = "maildir"
    _counter = itertools.count()

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextlib.contextmanager
    def session(self) -> Iterator["MaildirTransport"]:
        try:
            for folder in ("tmp", "new", "cur"):
                (self.path / folder).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise TransportUnavailable(f"cannot use the mail folder {self.path}: {error}") from None
        yield self

    def prepare(self, outgoing: Outgoing) -> None:
        pass  # the file is written in send, which has nothing to wait for

    def send(self, outgoing: Outgoing, before_end: Callable[[], None] | None = None,
             meanwhile: Callable[[], None] | None = None) -> None:
        unique = f"{time.time_ns()}.P{os.getpid()}Q{next(self._counter)}.{socket.gethostname()[:40]}"
        temporary, final = self.path / "tmp" / f"{unique}.eml", self.path / "new" / f"{unique}.eml"
        try:
            with open(temporary, "xb") as file:
                file.write(outgoing.message.as_bytes())
                file.flush()
                os.fsync(file.fileno())
            if before_end is not None:
                before_end()  # the rename is what delivers it
            os.replace(temporary, final)
        except BaseException as error:
            with contextlib.suppress(OSError):
                temporary.unlink()
            if isinstance(error, OSError):
                raise TransportUnavailable(f"cannot write to {self.path}: {error}") from None
            raise


# --- WordPress (wp_mail through the bridge) -----------------------------------------------------


class WordPressTransport:
    """Asks the email's own site to send it with ``wp_mail``, so a site whose WordPress already
    sends mail (an SMTP plugin, a provider) needs nothing else. Contract: docs/PROTOCOL.md."""

    name = "wordpress"
    ROUTE = "mail"

    def __init__(self, timeout: float = 20.0, allowed_networks=()):
        self.timeout = timeout
        # The private networks the site may be in (FAREWELL_BRIDGE_ALLOWED_NETWORKS); public addresses always.
        self.allowed_networks = tuple(allowed_networks)

    @contextlib.contextmanager
    def session(self) -> Iterator["_WordPressSession"]:
        with safe_http.session(self.allowed_networks) as http:
            yield _WordPressSession(self, http)


class _WordPressSession:
    def __init__(self, transport: WordPressTransport, http):
        self.transport, self.http = transport, http

    def prepare(self, outgoing: Outgoing) -> None:
        pass  # the request is made of the message's headers and parts, read in send

    def send(self, outgoing: Outgoing, before_end: Callable[[], None] | None = None,
             meanwhile: Callable[[], None] | None = None) -> None:
        if before_end is not None:
            before_end()  # the site may send it as soon as it hears of it
        payload = mail_payload(outgoing)
        webhook_id = "mail_" + hashlib.sha256(outgoing.message_id.encode()).hexdigest()[:40]
        try:
            bridge.call(outgoing.site, WordPressTransport.ROUTE, payload, webhook_id,
                        timeout=self.transport.timeout, http=self.http)
        except bridge.BridgeUnavailable as error:
            raise SiteUnreachable(str(error)) from None  # no network detail: see bridge.UNREACHABLE
        except bridge.BridgeRefused as error:
            if error.error == "recipient_refused":
                raise RecipientRefused(f"WordPress: {error}") from None
            raise TransientFailure(f"WordPress: {error}") from None


def mail_payload(outgoing: Outgoing) -> dict:
    """The message as the bridge's mail route takes it (docs/PROTOCOL.md, "Sidecar → bridge")."""
    message = outgoing.message

    def addresses(header: str) -> list[dict]:
        value = message[header]
        return [{"email": a.addr_spec, "name": a.display_name} for a in value.addresses] if value else []

    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    reply_to = addresses("Reply-To")
    headers = {name: str(message[name]) for name in ("List-Unsubscribe", "List-Unsubscribe-Post", "Auto-Submitted")
               if message[name]}
    payload = {
        "message_id": outgoing.message_id,
        "from": addresses("From")[0],
        "reply_to": reply_to[0] if reply_to else None,
        "to": addresses("To"),
        "subject": str(message["Subject"]),
        "text": text.get_content() if text else "",
        "html": html.get_content() if html else "",
        "headers": headers,
    }
    images = inline_images(message)
    if images:
        payload["inline_images"] = images
    return payload


def inline_images(message) -> list[dict]:
    """The images the HTML shows by ``cid:`` (the digest's chart), base64-encoded, so that wp_mail
    can embed them as the SMTP transport does."""
    images = []
    for part in message.walk():
        content_id = part["Content-ID"]
        if part.get_content_maintype() == "image" and content_id:
            images.append({
                "cid": str(content_id).strip().strip("<>"),
                "content_type": part.get_content_type(),
                "filename": part.get_filename() or "image",
                "data": base64.b64encode(part.get_content()).decode("ascii"),
            })
    return images


# --- choosing one -------------------------------------------------------------------------------


def transport_from_url(url: str, allowed_networks=()) -> Transport:
    """Build the transport FAREWELL_MAIL_URL names; ValueError with a readable message otherwise.
    ``allowed_networks``: FAREWELL_BRIDGE_ALLOWED_NETWORKS, for wordpress:// (the site's own address)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ValueError("FAREWELL_MAIL_URL: smtp:// needs a host, e.g. smtp://user:pass@mail.example.org:587")
        try:
            port = parts.port or (465 if scheme == "smtps" else 25)
            timeout = float(query.get("timeout", 20))
        except ValueError:
            raise ValueError("FAREWELL_MAIL_URL: the port and timeout must be numbers") from None
        return SmtpTransport(
            parts.hostname, port, unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None, implicit_tls=scheme == "smtps",
            starttls=query.get("starttls", "0").lower() in ("1", "true", "yes"), timeout=min(max(timeout, 1), 120),
        )
    if scheme == "maildir":
        path = unquote(parts.path)
        if parts.netloc or not path.startswith("/"):
            raise ValueError("FAREWELL_MAIL_URL: maildir:// needs an absolute path, e.g. maildir:///var/lib/farewell/mail")
        return MaildirTransport(path)
    if scheme == "wordpress":
        return WordPressTransport(allowed_networks=allowed_networks)
    raise ValueError(f"FAREWELL_MAIL_URL: unsupported scheme {scheme!r} (use smtp, smtps, maildir or wordpress)")


def _text(value) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value))[:200]


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {str(error)[:200]}"
