"""Leases: how a sender holds a row it is sending (a scheduled email, a site's weekly digest), for
every table that has ``status``, ``lease_token``, ``lease_until``, ``attempts`` and ``updated_at``.

- claim: a conditional UPDATE moves the rows to ``sending`` under the sender's random token until
  the lease's end, counting an attempt; only one sender's UPDATE can win a row.
- take over: a row still ``sending`` whose lease ended (its sender died or stalled) may be claimed
  again by another (``ended``).
- release: the holder moves the row on (sent, skipped, failed, or back to pending) and lets go of
  the lease; it names its token, so a sender whose lease was taken over never records over the
  new holder.

No lease is renewed: a lease is longer than a batch (or a digest) can take.

When a lease ends, and when it has ended, is a ``Term``'s rule: the clock rules are written here only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Table, and_, bindparam, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql.dml import Update
from sqlalchemy.sql.elements import ColumnElement

from .statuses import DigestStatus, EmailStatus

SENDING = EmailStatus.SENDING.value
assert SENDING == DigestStatus.SENDING.value


def _real_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Term:
    """How long a lease lasts, and on which clocks.

    The jobs' clock may run faster than real time (the demo's, thousands of times faster, one per
    process, started at different moments), while a send takes real seconds. Two rules:

    - ``both_clocks=False`` (scheduled emails): the jobs' clock alone. The caller gives a length
      that is already that many real seconds on the jobs' clock (DispatchConfig scales
      FAREWELL_DISPATCH_LEASE by FAREWELL_CLOCK_SPEED), so tests may drive the dispatcher with a
      clock of their own.
    - ``both_clocks=True`` (digests): the lease ends ``length`` after the later of the jobs' clock
      and the real clock, and has ended only when both clocks are past it. Ten minutes of the
      demo's clock last milliseconds, and a second process had taken a digest over and sent it
      again (tests/reliability/test_mixed_load.py). With the real clock this is now + length.
    """

    length: timedelta
    both_clocks: bool = False
    real_clock: Callable[[], datetime] = _real_now

    def end(self, now: datetime) -> datetime:
        """When a lease claimed at ``now`` (the jobs' clock) ends."""
        return (max(now, self.real_clock()) if self.both_clocks else now) + self.length

    def ended_before(self, now: datetime) -> datetime:
        """A lease whose end is before this point has ended: it may be taken over."""
        return min(now, self.real_clock()) if self.both_clocks else now


def ended(table: Table, before: datetime) -> ColumnElement:
    """The rows being sent under a lease that ended before ``before`` (``Term.ended_before``)."""
    return and_(table.c.status == SENDING, table.c.lease_until < before)


def claim(conn: Connection, table: Table, where: list, token: str, now: datetime, lease_until: datetime) -> int:
    """Move the rows that match ``where`` (the caller says which: waiting, or ``ended``) to
    ``sending`` under ``token`` until ``lease_until``, counting an attempt; returns how many."""
    return conn.execute(claiming(table, where), {"token": token, "now": now, "lease_until": lease_until}).rowcount


def claiming(table: Table, where: list) -> Update:
    """``claim`` as a statement, with ``token``, ``now`` and ``lease_until`` as parameters: one a
    caller may build once and run for each of its claims."""
    return (update(table).where(*where)
            .values(status=SENDING, lease_token=bindparam("token"), lease_until=bindparam("lease_until"),
                    attempts=table.c.attempts + 1, updated_at=bindparam("now")))


def release(conn: Connection, table: Table, where: list, token: str, status: str, now: datetime, **values) -> int:
    """The holder of ``token`` moves the rows that match ``where`` to ``status`` and lets go of
    the lease; returns how many moved (0: the lease was lost, taken over by another sender)."""
    c = table.c
    result = conn.execute(
        update(table)
        .where(*where, c.lease_token == token, c.status == SENDING)
        .values(status=status, lease_token=None, lease_until=None, updated_at=now, **values)
    )
    return result.rowcount
