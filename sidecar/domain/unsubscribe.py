"""Stopping emails to an address: the member's unsubscribe, or a mail server's permanent refusal.

Suppressions are keyed by an HMAC of the lower-cased address with the secret key, so they survive
the member's erasure without keeping the address itself. (Changing FAREWELL_SECRET_KEY therefore
forgets every suppression: never change it on a running installation.)
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy.engine import Connection, Engine

from ..db import in_transaction
from ..storage import emails as emails_store
from ..storage import members as members_store
from ..storage import suppressions as suppressions_store
from .sequences import SkipReason
from .stops import stop_emails_for


def email_hash(secret_key: str, email: str) -> str:
    return hmac.new(secret_key.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()


def suppression_of(conn: Connection, secret_key: str, site_id: str, email: str) -> dict | None:
    return suppressions_store.suppression(conn, site_id, email_hash(secret_key, email))


def suppress_address(conn: Connection, secret_key: str, site_id: str, email: str, reason: str,
                     now: datetime) -> int:
    """Record the suppression and cancel every waiting email to that address on that site at once;
    returns how many emails were cancelled."""
    member_ids = [m["id"] for m in members_store.members_by_email(conn, site_id, email)]
    why = SkipReason.BOUNCED if reason == "bounced" else SkipReason.UNSUBSCRIBED
    # The members' rows first (stop_emails_for), then the suppression: a message to this address
    # being handed to the mail server right now is waited for, and none leaves after this commits.
    cancelled = stop_emails_for(conn, member_ids, why, now)
    suppressions_store.suppress(conn, site_id, email_hash(secret_key, email), reason, now)
    return cancelled


class UnknownMember(LookupError):
    pass


def member_of_link(engine: Engine, site_id: str, member_id: int) -> dict:
    """The member an unsubscribe link names, checked to belong to the link's site."""
    with engine.connect() as conn:
        member = emails_store.recipient(conn, site_id, member_id)
    if member is None:
        raise UnknownMember(member_id)
    return member


def unsubscribe(engine: Engine, secret_key: str, site_id: str, member_id: int, now: datetime) -> int:
    """The member asked to stop: suppress their address for the site; returns emails cancelled."""
    member = member_of_link(engine, site_id, member_id)

    def record(conn: Connection) -> int:
        return suppress_address(conn, secret_key, site_id, member["email"], "unsubscribed", now)

    # Under load, MariaDB may pick this transaction as a deadlock victim: run it again.
    return in_transaction(engine, record)


def is_unsubscribed(engine: Engine, secret_key: str, site_id: str, email: str) -> bool:
    with engine.connect() as conn:
        return suppression_of(conn, secret_key, site_id, email) is not None
