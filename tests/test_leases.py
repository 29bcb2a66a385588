"""The lease rules of sidecar.storage.leases, which scheduled emails and digests share: one holder at a
time, a lease that ended is taken over, only the holder's token lets go of it, and when a lease
ends on one clock or on both. What the senders do with it is in test_dispatch.py,
test_dispatch_concurrency.py, test_digest.py and reliability/test_jobs_killed.py."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from sidecar.domain.sites import create_site
from sidecar.storage import digests as digests_store
from sidecar.storage import leases
from sidecar.storage.tables import digests

AT = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)
TEN = timedelta(minutes=10)


def test_on_the_jobs_clock_alone_a_lease_ends_its_length_after_that_clock():
    term = leases.Term(TEN, real_clock=lambda: AT + timedelta(days=30))
    assert term.end(AT) == AT + TEN
    assert term.ended_before(AT + TEN + timedelta(seconds=1)) == AT + TEN + timedelta(seconds=1)


def test_on_both_clocks_a_lease_outlasts_the_later_and_ends_when_both_are_past_it():
    real = AT
    term = leases.Term(TEN, both_clocks=True, real_clock=lambda: real)
    # The demo's jobs clock, hours ahead of real time: the lease still lasts ten real minutes.
    ahead = AT + timedelta(hours=5)
    assert term.end(ahead) == ahead + TEN
    assert term.ended_before(ahead + TEN + timedelta(hours=1)) == real
    # A jobs clock behind real time (another process started later): ten minutes of real time.
    assert term.end(AT - timedelta(hours=1)) == real + TEN
    assert term.ended_before(AT - timedelta(hours=1)) == AT - timedelta(hours=1)
    # With the real clock, as in production: now + length, ended once now is past it.
    assert (term.end(real), term.ended_before(real)) == (real + TEN, real)


def test_one_holder_at_a_time_an_ended_lease_is_taken_over_and_only_its_holder_lets_go(engine):
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")

    def claim(token, now):
        with engine.begin() as conn:
            return digests_store.claim(conn, site["id"], "2026-W47", token, now, now + TEN, 5, now)

    def release(token, now):
        with engine.begin() as conn:
            return digests_store.finish(conn, site["id"], "2026-W47", token, "sent", now, sent_at=now)

    def row():
        with engine.connect() as conn:
            return conn.execute(sa.select(digests)).mappings().one()

    assert claim("first", AT)
    assert not claim("second", AT + TEN - timedelta(seconds=1))  # the first one's lease holds
    assert not claim("second", AT + TEN)  # ended only after its end
    assert claim("second", AT + TEN + timedelta(seconds=1))  # taken over
    assert (row()["lease_token"], row()["attempts"]) == ("second", 2)
    # The first sender comes back: its token no longer lets it record anything.
    assert not release("first", AT + timedelta(minutes=11))
    assert release("second", AT + timedelta(minutes=11))
    assert (row()["status"], row()["lease_token"], row()["lease_until"]) == ("sent", None, None)
    # Nothing sent is claimed again, whatever the clock.
    assert not claim("third", AT + timedelta(days=1))
