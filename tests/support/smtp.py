"""A real SMTP server for the tests (aiosmtpd in a thread) that keeps what it receives.

aiosmtpd checks the port it was given, so ``port=0`` does not work: a free port is picked first.
"""

from __future__ import annotations

import email
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy

from aiosmtpd.controller import Controller

from .net import free_port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    raw: bytes
    message: EmailMessage
    # time.time() when the server accepted the message (end of DATA), for ordering checks
    accepted_at: float = field(default_factory=time.time)

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


class _Handler:
    def __init__(self, inbox: "SmtpServer"):
        self.inbox = inbox

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = self.inbox.refusals.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.inbox.on_data is not None:
            self.inbox.on_data(list(envelope.rcpt_tos))  # the message is being received, not yet kept
        if self.inbox.delay:
            time.sleep(self.inbox.delay)  # blocks the server loop on purpose: a slow server
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        parsed = email.message_from_bytes(raw, policy=default_policy)
        with self.inbox.lock:
            self.inbox.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
            count = len(self.inbox.received)
        if self.inbox.on_accept is not None:
            # Runs after the message is kept and before the client hears "250": a crash of the
            # client here is the worst case, a message delivered but not known to be.
            self.inbox.on_accept(count)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.received: list[Received] = []
        self.refusals: dict[str, str] = {}
        self.delay = 0.0
        self.on_accept = None  # called with the number of messages kept so far
        self.on_data = None  # called with the recipients when a message's DATA begins
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def refuse(self, address: str, reply: str = "550 5.1.1 No such user here") -> None:
        self.refusals[address.lower()] = reply

    def start(self) -> "SmtpServer":
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages() if address in m.recipients]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return self.messages()
            time.sleep(0.02)
        raise TimeoutError(f"{len(self.received)} message(s) received, {count} expected")
