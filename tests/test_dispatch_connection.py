"""The dispatcher keeps one SMTP connection for its batches, and a server that closes it or takes
only so many messages on one is not an outage: the next message goes on a new connection, and each
email still reaches its member exactly once (docs/RELIABILITY.md). Real aiosmtpd server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from bench.dispatch import seed_due_emails
from sidecar import db
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.sites import create_site
from sidecar.mail import message as mime
from sidecar.mail.render import Rendered
from sidecar.mail.transports import TransportUnavailable, transport_from_url
from sidecar.storage.tables import scheduled_emails
from tests.support.smtp import SmtpServer, _Handler

CONFIG = DispatchConfig(mail=MailConfig("connection-secret-0123456789", "http://sidecar.test", "farewell@localhost"),
                        batch_size=5)


class _Capped(_Handler):
    """Takes ``cap`` messages per connection; then answers the next MAIL FROM with a 421 (as Exim's
    smtp_accept_max_per_connection does) or, with ``drop``, closes the connection without a word."""

    def __init__(self, inbox, cap: int, drop: bool):
        super().__init__(inbox)
        self.cap, self.drop = cap, drop
        self.connections: set[int] = set()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.connections.add(id(session))
        taken = getattr(session, "farewell_taken", 0)
        if taken >= self.cap:
            if self.drop:
                server.transport.close()
            return "421 4.7.0 Too many messages on this connection, closing"
        session.farewell_taken = taken + 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


@pytest.fixture
def capped_smtp():
    servers = []

    def start(cap: int, drop: bool = False) -> tuple[SmtpServer, _Capped]:
        server = SmtpServer()
        handler = _Capped(server, cap, drop)
        server.controller = Controller(handler, hostname="127.0.0.1", port=server.port)
        server.controller.start()
        servers.append(server)
        return server, handler

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def engine(tmp_path):
    engine = db.create_engine(f"sqlite:///{tmp_path}/dispatch.db")
    db.migrate(engine)
    yield engine
    engine.dispose()


def _seed(engine, count: int) -> list[int]:
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    return seed_due_emails(engine, site["id"], count, datetime.now(timezone.utc))


def _statuses(engine, ids) -> set[str]:
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.select(scheduled_emails.c.id, scheduled_emails.c.status)).all())
    return {rows[i] for i in ids}


def test_one_connection_carries_every_batch_of_a_run(engine, capped_smtp):
    server, handler = capped_smtp(cap=1000)
    ids = _seed(engine, 12)
    report = dispatch_due(engine, transport_from_url(server.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert (report.claimed, report.sent, report.released) == (12, 12, 0)
    assert sorted(m.recipients[0] for m in server.messages()) == sorted(f"member{i}@example.org" for i in ids)
    assert len(handler.connections) == 1  # three batches: one connect, EHLO and QUIT, not three


@pytest.mark.parametrize("drop", [False, True], ids=["421", "closed"])
def test_a_server_that_caps_messages_per_connection_is_not_an_outage(engine, capped_smtp, drop):
    """Three messages per connection, batches of five: every email goes out once, none waits."""
    server, handler = capped_smtp(cap=3, drop=drop)
    ids = _seed(engine, 12)
    report = dispatch_due(engine, transport_from_url(server.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert (report.claimed, report.sent, report.released, report.retrying) == (12, 12, 0, 0)
    delivered = sorted(m.recipients[0] for m in server.messages())
    assert delivered == sorted(f"member{i}@example.org" for i in ids)  # each exactly once
    assert _statuses(engine, ids) == {"sent"}
    assert len(handler.connections) == 4


def test_a_server_that_refuses_a_new_connections_first_message_is_still_an_outage(capped_smtp):
    """Only a connection that already carried a message is tried again: a server that closes a new
    one before it took anything is down, and the message waits (nothing is sent twice)."""
    server, handler = capped_smtp(cap=0, drop=True)
    message = mime.build(Rendered(subject="Bonjour", text="Bonjour", html="<p>Bonjour</p>"),
                         sender=mime.address("farewell@localhost"), to=[mime.address("ana@example.org")],
                         message_id="<farewell.test.1@localhost>", date=datetime.now(timezone.utc))
    outgoing = mime.Outgoing(message, "farewell@localhost", ("ana@example.org",), {}, "<farewell.test.1@localhost>")
    with transport_from_url(server.url).session() as session, pytest.raises(TransportUnavailable):
        session.send(outgoing)
    assert server.messages() == [] and len(handler.connections) == 1
