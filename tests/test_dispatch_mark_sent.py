"""The record of a send (storage.emails.mark_sent, a statement built once) moves an email exactly
as transition() to sent does, and only under its lease; a lease taken over while the message was
on the wire is counted lost, not sent, the others recorded. Real SQLite and MariaDB, real aiosmtpd."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.email_status import EmailStatus, sources_of
from sidecar.domain.sites import create_site
from sidecar.mail.transports import transport_from_url
from sidecar.storage import emails as emails_store
from sidecar.storage.tables import scheduled_emails

COLUMNS = ("status", "lease_token", "lease_until", "updated_at", "sent_at", "last_error", "attempts")


def _seed(engine, count: int) -> list[int]:
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    return seed_due_emails(engine, site["id"], count, datetime.now(timezone.utc))


def _rows(engine, ids) -> dict[int, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(scheduled_emails).where(scheduled_emails.c.id.in_(ids))).mappings()
        return {row["id"]: tuple(row[c] for c in COLUMNS) for row in rows}


def test_mark_sent_moves_a_row_as_transition_does_and_only_under_its_lease(engine):
    ids = _seed(engine, 4)
    now = datetime(2026, 12, 6, 17, 0, tzinfo=timezone.utc)
    with engine.begin() as conn:
        conn.execute(sa.update(scheduled_emails).values(status="sending", lease_token="token", last_error="earlier",
                                                        lease_until=now + timedelta(minutes=10), attempts=1))
        conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.id == ids[3]).values(status="pending"))
    with engine.begin() as conn:
        assert emails_store.transition(conn, ids[0], sources_of(EmailStatus.SENT), "sent", now, lease_token="token",
                                       sent_at=now, last_error=None)
        assert emails_store.mark_sent(conn, ids[1], "token", now)
        assert not emails_store.mark_sent(conn, ids[2], "another token", now)
        assert not emails_store.mark_sent(conn, ids[3], "token", now)  # not being sent
    rows = _rows(engine, ids)
    assert rows[ids[1]] == rows[ids[0]] == ("sent", None, None, now.replace(tzinfo=rows[ids[0]][3].tzinfo),
                                            now.replace(tzinfo=rows[ids[0]][4].tzinfo), None, 1)
    assert rows[ids[2]][:3] == ("sending", "token", now.replace(tzinfo=rows[ids[2]][2].tzinfo) + timedelta(minutes=10))
    assert rows[ids[3]][0] == "pending"


def test_a_lease_taken_over_during_the_exchange_is_counted_lost_not_sent(engine, smtp):
    """While the server takes the third message, another sender takes its lease over (its token
    changes): the record moves nothing, the email is counted lost and left to its new holder; the
    other messages are recorded sent."""
    ids = _seed(engine, 5)
    taken = ids[2]

    def take_over(count: int) -> None:  # on_accept, before the server answers the "."
        if count == 3:
            with engine.connect() as conn:
                emails_store.check_members_on_write(conn, False)  # the dispatcher holds the member (MariaDB)
                conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.id == taken)
                             .values(lease_token="another sender"))
                conn.commit()

    smtp.on_accept = take_over
    config = DispatchConfig(mail=MailConfig("mark-sent-secret-0123456", "http://sidecar.test", "farewell@localhost"))
    report = dispatch_due(engine, transport_from_url(smtp.url), config, lambda: datetime.now(timezone.utc))
    assert (report.claimed, report.sent, report.lost) == (5, 4, 1)
    rows = _rows(engine, ids)
    assert rows[taken][:2] == ("sending", "another sender")
    assert all(rows[i][0] == "sent" and rows[i][1] is None for i in ids if i != taken)
