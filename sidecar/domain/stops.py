"""Stopping a member's waiting emails: the one way every path does it (an unsubscribe, a mail
server's permanent refusal, a win-back, an erasure), each with its own reason.

It takes the member's row first, as the dispatcher does (sidecar.domain.dispatch holds its
recipient's row from its last check until the mail server accepted the message): a stop either
waits for a message being handed over right now, or is seen by the check, so nothing leaves once
the stop is recorded. A path that cancelled by hand and forgot the lock would bring back "sent
after unsubscribe"; tests/test_stops.py checks that no other module cancels emails.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from ..storage import emails as emails_store
from .email_status import EmailStatus, sources_of


def stop_emails_for(conn: Connection, members: list[int], reason: str, now: datetime, *,
                    cancellations: list[int] | None = None) -> int:
    """Cancel the waiting emails of these members (only those of ``cancellations`` when given:
    a win-back stops the sequences of the cancellations it undoes, not the others) with
    ``reason``; returns how many. Call inside the transaction that records why they stop."""
    emails_store.hold_recipients(conn, members)
    return emails_store.cancel_pending(conn, now, reason, sources_of(EmailStatus.CANCELLED), members, cancellations)
