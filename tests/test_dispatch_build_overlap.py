"""Each message is built while the server takes the one before it (the "." answered only once the
server has parsed and kept it), not with the whole batch before the first exchange, when the
server had nothing to do; and a message that cannot be built then is skipped or retried as it was
when built with the batch, the others going out. Real aiosmtpd, real SQLite and MariaDB."""

from __future__ import annotations

import sys
from datetime import datetime, timezone

import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar.domain import compose
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.sites import create_site
from sidecar.mail import message as mime
from sidecar.mail import transports
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import members, scheduled_emails

CONFIG = DispatchConfig(mail=MailConfig("build-overlap-secret-0123", "http://sidecar.test", "farewell@localhost"),
                        batch_size=5)
EMAILS = 8


def _seed(engine) -> list[int]:
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    return seed_due_emails(engine, site["id"], EMAILS, datetime.now(timezone.utc))


def _email_id(message_id: str) -> int:
    return int(message_id.split(".")[2].split("@")[0])


def _statuses(engine) -> dict[int, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(scheduled_emails.c.id, scheduled_emails.c.status,
                                      scheduled_emails.c.skip_reason, scheduled_emails.c.last_error))
        return {row.id: (row.status, row.skip_reason, row.last_error) for row in rows}


def test_each_message_is_built_at_most_one_ahead_of_what_the_server_took(engine, smtp, message_builds):
    """When the server keeps its k-th message (before it answers the "."), the dispatcher has built
    at most k + 1: the next one, while it waited. Built with the batch, 5 were built at the first."""
    ids = _seed(engine)
    built = message_builds
    seen: list[tuple[int, int]] = []
    smtp.on_accept = lambda count: seen.append((count, len(built)))
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert report.sent == EMAILS and len(built) == EMAILS
    assert sorted(_email_id(m.message_id) for m in smtp.messages()) == ids
    assert [count for count, _ in seen] == list(range(1, EMAILS + 1))
    assert all(made <= count + 1 for count, made in seen), seen


def _inside_an_exchange() -> bool:
    """Whether the caller runs inside an SMTP exchange's data (its ``meanwhile`` slot)."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is transports._SenderSeen.data.__code__:
            return True
        frame = frame.f_back
    return False


def test_each_messages_bytes_are_written_once_while_the_server_takes_the_one_before(engine, smtp, monkeypatch):
    """The SMTP session writes a message's bytes (mime.Outgoing.smtp_data) where the dispatcher
    builds it, while the server takes the message before: every message but the run's first (a
    full batch's last message's slot builds the next batch's first, dispatch._LookAhead), and only
    once (the exchange sends what was written). Before, send_message wrote them during the
    message's own exchange, while the connection waited."""
    ids = _seed(engine)
    where: list[bool] = []
    real = mime.smtp_bytes

    def counted(message):
        where.append(_inside_an_exchange())
        return real(message)

    monkeypatch.setattr(mime, "smtp_bytes", counted)
    # One check per batch: each hand-over's first message is built before its exchange.
    config = DispatchConfig(mail=CONFIG.mail, batch_size=CONFIG.batch_size, recheck_after=600)
    report = dispatch_due(engine, transport_from_url(smtp.url), config, lambda: datetime.now(timezone.utc))
    assert report.sent == EMAILS
    assert sorted(_email_id(m.message_id) for m in smtp.messages()) == ids
    assert len(where) == EMAILS
    assert where.count(True) == EMAILS - 1, where


def test_a_message_that_cannot_be_built_at_send_time_is_skipped_or_retried(engine, smtp, monkeypatch):
    """One member's address no header can hold (skipped, invalid address), one message whose build
    raises (retried: an internal error), in the middle of a batch; the others go out, each once.
    On MariaDB both are recorded beside the members the batch holds, without waiting for them."""
    ids = _seed(engine)
    bad_address, broken = ids[1], ids[3]
    with engine.begin() as conn:
        conn.execute(sa.update(members).where(members.c.id == bad_address).values(email="no address"))
    real = compose.sequence_email

    def failing(email, *args, **kwargs):
        if email["id"] == broken:
            raise RuntimeError("template bug")
        return real(email, *args, **kwargs)

    monkeypatch.setattr(compose, "sequence_email", failing)
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert (report.sent, report.skipped, report.retrying) == (EMAILS - 2, 1, 1)
    assert sorted(_email_id(m.message_id) for m in smtp.messages()) == [i for i in ids if i not in (bad_address,
                                                                                                       broken)]
    statuses = _statuses(engine)
    assert statuses[bad_address][:2] == ("skipped", "invalid_address")
    assert statuses[broken][0] == "pending" and statuses[broken][2] == "internal error: RuntimeError"
