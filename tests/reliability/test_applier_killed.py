"""The applier killed with SIGKILL mid-batch, twice in a row.

600 events are accepted (stored as a 202 stores them, not applied yet): 400 known members cancel,
200 of them resume later. A real jobs process applies them; the test holds one member's row, so
the applier's batch stops at that member with the events before it written and uncommitted
(MariaDB shows the transaction waiting with rows written), and kills it there, twice, a new one
started each time. In the end every event is applied once, no attempt counted against any, and
the history is exactly the one an applier nobody killed gives from the same events.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from sidecar import db
from sidecar.domain.events import parse_event
from sidecar.domain.ingest import Outcome, accept_event
from sidecar.domain.sites import create_site
from sidecar.storage.tables import cancellations, events, members, scheduled_emails, subscriptions
from tests.reliability.conftest import SECRET_KEY, cancellation
from tests.support.applier import apply_pending_events
from tests.support.sidecar import JobsProcess

pytestmark = pytest.mark.slow

MEMBERS = 400
KILLS = 2


def the_events(now: datetime) -> list[tuple[str, str]]:
    """(webhook id, body) of each event, in the order they arrived."""
    bodies = []
    for m in range(MEMBERS):
        cancelled_at = now - timedelta(minutes=30) + timedelta(seconds=m)
        bodies.append((f"cancel-{m}", json.dumps(cancellation(m, cancelled_at))))
        if m % 2:
            bodies.append((f"resume-{m}", json.dumps(cancellation(m, cancelled_at + timedelta(minutes=5),
                                                                  type="subscription.resumed"))))
    return bodies


def accept_all(engine, site_id: str, bodies: list[tuple[str, str]]) -> None:
    for webhook_id, body in bodies:
        assert accept_event(engine, site_id, webhook_id, body, parse_event(json.loads(body))) is Outcome.ACCEPTED


def history(engine) -> dict:
    """Everything applying made, in plain values (no row ids), comparable across databases."""
    with engine.connect() as conn:
        return {
            "members": sorted(conn.execute(sa.select(members.c.external_id, members.c.email)).all()),
            "subscriptions": sorted(conn.execute(sa.select(subscriptions.c.external_id, subscriptions.c.status))
                                    .all()),
            "cancellations": sorted(conn.execute(
                sa.select(subscriptions.c.external_id, cancellations.c.kind, cancellations.c.cancelled_at,
                          cancellations.c.resumed_at, cancellations.c.ended_at)
                .join(subscriptions, subscriptions.c.id == cancellations.c.subscription_id)).all()),
            "emails": sorted(conn.execute(
                # Not their status: the jobs process may send the first steps meanwhile.
                sa.select(members.c.external_id, scheduled_emails.c.step, scheduled_emails.c.due_at)
                .join(members, members.c.id == scheduled_emails.c.member_id)).all()),
            "linked_events": conn.execute(sa.select(sa.func.count()).where(events.c.member_id.is_not(None)))
            .scalar_one(),
        }


def applied(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(events.c.applied_at.is_not(None))).scalar_one()


def blocked_batches(mariadb) -> int:
    """InnoDB transactions that have written rows and wait for a lock: an applier stopped inside a
    batch. Read from SHOW ENGINE INNODB STATUS ("LOCK WAIT … undo log entries N"): the applier's
    waiting transaction was seen there while information_schema.INNODB_TRX did not list it.

    Read as bytes: the status quotes each transaction's statement cut at a byte count, which may
    split a character, and the applier's batch now waits inside a multi-row upsert of members'
    names (ingest.prepare_batch); decoded strictly, that cut made this helper raise now and then."""
    status = subprocess.run(
        ["mariadb", "--no-defaults", f"--socket={mariadb.socket}", "-uroot", "-e", "SHOW ENGINE INNODB STATUS\\G"],
        check=True, capture_output=True).stdout.decode("utf-8", "replace")
    return sum(1 for written in re.findall(r"LOCK WAIT [^\n]*undo log entries (\d+)", status) if int(written) > 5)


def open_transactions(mariadb) -> int:
    result = mariadb.sql("SELECT COUNT(*) FROM information_schema.INNODB_TRX")
    return int(result.stdout.strip().splitlines()[-1])


def known_members(engine, site_id: str) -> None:
    """Every member known before the cancellations arrive (a member.updated each, applied), so
    that the test can hold a member's row and stop a batch at that member."""
    bodies = []
    for m in range(MEMBERS):
        event = {**cancellation(m, datetime(2026, 1, 1, tzinfo=timezone.utc)), "type": "member.updated"}
        del event["subscription"]
        bodies.append((f"member-{m}", json.dumps(event)))
    accept_all(engine, site_id, bodies)
    apply_pending_events(engine)


def test_two_sigkills_mid_batch_apply_every_event_once(mariadb, fresh_mariadb_url, smtp, tmp_path, figures):
    now = datetime.now(timezone.utc)
    bodies = the_events(now)
    engine = db.create_engine(fresh_mariadb_url)
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    known_members(engine, site["id"])
    accept_all(engine, site["id"], bodies)

    # The reference: the same events, applied by one applier that nobody interrupts.
    reference = db.create_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    db.migrate(reference)
    reference_site = create_site(reference, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")["id"]
    known_members(reference, reference_site)
    accept_all(reference, reference_site, bodies)
    apply_pending_events(reference)

    env = {"FAREWELL_SECRET_KEY": SECRET_KEY}
    generations: list[JobsProcess] = []
    applied_at_kill = []
    # Each generation's batch stops at a member whose row the test holds: the 50th, then the 250th
    # in occurred_at order (the second applier commits the batches before it, then stops there).
    held_members = ["m50", "m250"]
    holder = None
    try:
        for generation in range(KILLS + 1):
            holder = None
            if generation < KILLS:
                holder = engine.connect()
                holder.begin()
                # By its unique key, so that this locks that one row, not every row scanned.
                holder.execute(sa.select(members.c.id).where(members.c.site_id == site["id"],
                                                             members.c.external_id == held_members[generation])
                               .with_for_update()).one()
            jobs = JobsProcess(fresh_mariadb_url, tmp_path / f"jobs-{generation}", smtp.url, extra_env=env).start()
            generations.append(jobs)
            if holder is None:
                break
            deadline = time.monotonic() + 300
            while blocked_batches(mariadb) == 0:
                assert jobs.alive(), jobs.log()[-3000:]
                assert time.monotonic() < deadline, "the applier never reached the held member"
                time.sleep(0.05)
            jobs.process.send_signal(signal.SIGKILL)
            jobs.process.wait(timeout=10)
            applied_at_kill.append(applied(engine))
            holder.rollback()
            holder.close()
            # The server rolls the dead batch back before the next applier starts.
            while open_transactions(mariadb) > 0 and time.monotonic() < deadline:
                time.sleep(0.05)
        deadline = time.monotonic() + 300
        while applied(engine) < len(bodies) + MEMBERS and time.monotonic() < deadline:
            time.sleep(0.1)
        assert generations[-1].alive()
        final = history(engine)
        applied_in_the_end = applied(engine)
        with engine.connect() as conn:
            attempts = conn.execute(sa.select(sa.func.max(events.c.apply_attempts))).scalar_one()
    finally:
        for process in generations:
            if process.alive():
                process.stop()
        if holder is not None and not holder.closed:  # a failed wait left the member held
            holder.close()
        engine.dispose()
    expected = history(reference)
    reference.dispose()

    figures.update(events=len(bodies), kills=len(applied_at_kill), applied_at_each_kill=applied_at_kill,
                   cancellations=len(final["cancellations"]), emails=len(final["emails"]))
    assert len(applied_at_kill) == KILLS, "each kill landed inside a batch"
    assert all(n < len(bodies) + MEMBERS for n in applied_at_kill), "each kill left events to apply"
    assert applied_in_the_end == len(bodies) + MEMBERS, "every event applied"
    assert attempts == 0, "a killed batch is no failed attempt: it was rolled back whole"
    assert final == expected, "the same history as an applier nobody killed: nothing lost, nothing twice"
    assert final["linked_events"] == len(bodies) + MEMBERS
    assert len(final["cancellations"]) == MEMBERS
