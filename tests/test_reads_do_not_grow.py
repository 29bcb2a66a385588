"""Reads and writes that run per email or per event do the same work however many emails the
database holds: each goes by its own rows' key, not through the (status, ...) indexes that SQLite,
which keeps no statistics, otherwise prefers, reading every sent or waiting email of every site.
Counted in the database's own units, which the machine's load does not move: SQLite's
virtual-machine steps (a progress handler), MariaDB's handler reads (SHOW SESSION STATUS).

- the dispatcher's batch read (storage.emails.sequence_contexts) counts each cancellation's
  emails sent so far by the cancellation;
- a win-back reads the emails its cancellation sent before the comeback by the cancellation;
- a win-back's stop cancels its cancellations' waiting emails by the member;
- the applier reads its batch's members' comebacks from events by the member (an index SQLite
  lacked: InnoDB makes one for a foreign key by itself, migration 0017);
- each jobs tick reads the contact requests waiting for an owner alert by those neither alerted nor
  answered (migration 0018);
- each /metrics scrape sums interrupted_sends over the emails above zero (migration 0019);
- a cancellation arriving after its comeback reads its member's subscriptions by the member (an
  index SQLite lacked, as for events: migration 0020)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar import db
from sidecar.domain.sites import create_site
from sidecar.storage import emails as emails_store
from sidecar.storage.tables import scheduled_emails

BATCH = 20
SENT_BEFORE = 2000


def _work(conn, read):
    """(the database's work for ``read(conn)``, what it returned)."""
    if db.is_mysql(conn.engine):
        def reads() -> int:
            rows = conn.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%'").all()
            return sum(int(value) for _, value in rows)

        before = reads()
        result = read(conn)
        return reads() - before, result
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0  # go on

    raw = conn.connection.driver_connection
    raw.set_progress_handler(count, 10)
    try:
        result = read(conn)
    finally:
        raw.set_progress_handler(None, 10)
    return steps[0], result


def _mark_sent(engine, email_ids: list[int]) -> None:
    with engine.begin() as conn:
        conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.id.in_(email_ids)).values(status="sent"))


def test_a_batch_read_does_not_grow_with_the_emails_sent_before(engine):
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc)
    batch = seed_due_emails(engine, site["id"], BATCH, now)
    with engine.connect() as conn:
        alone, contexts = _work(conn, lambda c: emails_store.sequence_contexts(c, batch))
    assert {c["sent_so_far"] for c in contexts.values()} == {0}

    _mark_sent(engine, seed_due_emails(engine, site["id"], SENT_BEFORE, now))
    # Emails of the batch's cancellations sent already: the first's own farewell; for the second,
    # its feedback and door-open emails sent, its offer skipped.
    _mark_sent(engine, [batch[0]])
    with engine.begin() as conn:
        cancellation_id = conn.execute(sa.select(scheduled_emails.c.cancellation_id)
                                       .where(scheduled_emails.c.id == batch[1])).scalar_one()
        conn.execute(sa.insert(scheduled_emails), [
            {"site_id": site["id"], "member_id": batch[1], "cancellation_id": cancellation_id, "step": step,
             "status": status, "due_at": now, "attempts": 1, "created_at": now, "updated_at": now}
            for step, status in (("feedback", "sent"), ("door_open", "sent"), ("offer", "skipped"))])
    with engine.connect() as conn:
        after, contexts = _work(conn, lambda c: emails_store.sequence_contexts(c, batch))
    assert [contexts[i]["sent_so_far"] for i in batch] == [1, 2] + [0] * (BATCH - 2)
    # Before: every sent email read again for each email of the batch, 2,000 × 20 rows.
    assert after < 2 * alone, (alone, after)


def test_a_win_backs_read_of_the_emails_sent_before_it_does_not_grow_with_the_database(engine):
    """domain.winbacks reads the cancellation's emails sent before the comeback (the last one, and
    the offer's coupon) for each win-back the applier records: by the cancellation, not by every
    sent email of the database."""
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    [mine] = seed_due_emails(engine, site["id"], 1, now)
    with engine.begin() as conn:
        cancellation_id, member_id = conn.execute(sa.select(scheduled_emails.c.cancellation_id,
                                                            scheduled_emails.c.member_id)
                                                  .where(scheduled_emails.c.id == mine)).one()
        conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.id == mine)
                     .values(status="sent", sent_at=now - timedelta(days=3)))
        conn.execute(sa.insert(scheduled_emails), [
            {"site_id": site["id"], "member_id": member_id, "cancellation_id": cancellation_id, "step": step,
             "status": status, "due_at": now, "sent_at": sent_at, "attempts": 1, "created_at": now, "updated_at": now,
             "coupon_code": coupon}
            for step, status, sent_at, coupon in (
                ("offer", "sent", now - timedelta(days=2), "BACK10"),  # the latest sent before
                ("feedback", "skipped", None, None),
                ("door_open", "sent", now + timedelta(days=1), None))])  # after the comeback

    def read(conn):
        sent = emails_store.sent_before(conn, cancellation_id, now)
        return sent[0] if sent else None, sent

    with engine.connect() as conn:
        alone, (last, sent) = _work(conn, read)
    assert last["step"] == "offer" and [email["step"] for email in sent] == ["offer", "farewell"]
    assert sent[0]["coupon_code"] == "BACK10"

    others = seed_due_emails(engine, site["id"], SENT_BEFORE, now)
    with engine.begin() as conn:
        conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.id.in_(others))
                     .values(status="sent", sent_at=now))
    with engine.connect() as conn:
        after, (last_after, sent_after) = _work(conn, read)
    assert (last_after, sent_after) == (last, sent)
    # Before c938bdf: every sent email of the database read (twice, by the two reads a win-back made then).
    assert after < 2 * alone, (alone, after)


def test_a_win_backs_stop_does_not_grow_with_the_emails_waiting_elsewhere(engine):
    """A win-back stops the waiting emails of the cancellations it undoes (domain.stops): by the
    member's rows, not by every waiting email of the database."""
    from sidecar.domain.stops import stop_emails_for

    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def stop_one(conn, email_id):
        cancellation_id, member_id = conn.execute(sa.select(scheduled_emails.c.cancellation_id,
                                                            scheduled_emails.c.member_id)
                                                  .where(scheduled_emails.c.id == email_id)).one()
        return _work(conn, lambda c: stop_emails_for(c, [member_id], "won_back", now,
                                                     cancellations=[cancellation_id]))

    first, second = seed_due_emails(engine, site["id"], 2, now)
    with engine.begin() as conn:
        alone, stopped = stop_one(conn, first)
    assert stopped == 1
    seed_due_emails(engine, site["id"], SENT_BEFORE, now)  # waiting for other members
    with engine.begin() as conn:
        after, stopped = stop_one(conn, second)
    assert stopped == 1
    with engine.connect() as conn:
        statuses = conn.execute(sa.select(scheduled_emails.c.status, sa.func.count())
                                .group_by(scheduled_emails.c.status)).all()
    assert sorted(statuses) == [("cancelled", 2), ("pending", SENT_BEFORE)]
    # Before: every waiting email of the database read.
    assert after < 2 * alone, (alone, after)


def test_the_appliers_read_of_its_members_comebacks_does_not_grow_with_the_events_stored(engine):
    from sidecar.storage import winbacks as winbacks_store

    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    [email_id] = seed_due_emails(engine, site["id"], 1, now)
    with engine.connect() as conn:
        member_id = conn.execute(sa.select(scheduled_emails.c.member_id)
                                 .where(scheduled_emails.c.id == email_id)).scalar_one()

    def read(conn):
        return (winbacks_store.comebacks_of_members(conn, [member_id]),
                winbacks_store.comeback_after(conn, member_id, now - timedelta(days=30), now))

    with engine.connect() as conn:
        alone, found = _work(conn, read)
    assert found == ({member_id: []}, None)
    seed_due_emails(engine, site["id"], SENT_BEFORE, now)  # other members' events
    with engine.connect() as conn:
        after, found_after = _work(conn, read)
    assert found_after == found
    # Before migration 0017, on SQLite: every event of the database read, twice.
    # (A handful of units alone: the margin keeps one more index page from counting as growth.)
    assert after < 2 * alone + 10, (alone, after)


def _contact_requests(engine, site_id: str, count: int, now: datetime, **values) -> list[int]:
    """``count`` members who cancelled and asked to be contacted (one answer and one request each);
    ``values`` set on the requests. Returns the requests' ids."""
    from sidecar.storage.tables import contact_requests, survey_answers

    ids = seed_due_emails(engine, site_id, count, now)  # member, cancellation and event ids alike
    with engine.begin() as conn:
        conn.execute(sa.insert(survey_answers), [
            {"id": i, "site_id": site_id, "member_id": i, "cancellation_id": i, "event_id": i,
             "definition_version": 1, "reason": "price", "contact_requested": True, "contact": "email",
             "answered_at": now, "created_at": now, "updated_at": now} for i in ids])
        conn.execute(sa.insert(contact_requests), [
            {"id": i, "site_id": site_id, "answer_id": i, "member_id": i, "contact": "email",
             "requested_at": now, "created_at": now, **values} for i in ids])
    return ids


def test_the_owner_alerts_read_does_not_grow_with_the_contact_requests_alerted_or_answered(engine):
    """Each jobs tick reads the contact requests whose owner alert is neither sent nor planned
    (domain.alerts): by the requests still open and not alerted, not by every request the
    database ever held."""
    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    [waiting] = _contact_requests(engine, site["id"], 1, now)
    with engine.connect() as conn:
        alone, found = _work(conn, lambda c: emails_store.contact_requests_to_alert(c, 200))
    assert [request["id"] for request in found] == [waiting]

    _contact_requests(engine, site["id"], SENT_BEFORE // 2, now - timedelta(days=30), alerted_at=now)
    _contact_requests(engine, site["id"], SENT_BEFORE // 2, now - timedelta(days=30), answered_at=now)
    with engine.connect() as conn:
        after, found_after = _work(conn, lambda c: emails_store.contact_requests_to_alert(c, 200))
    assert found_after == found
    # Before: every contact request of the database read (and looked up among the emails).
    assert after < 2 * alone + 10, (alone, after)


def test_the_sum_of_interrupted_sends_does_not_grow_with_the_emails_stored(engine):
    """/metrics and /healthz sum interrupted_sends at each scrape: by the emails whose send was
    interrupted, not every email stored. (The rest of the fleet's figures read the live emails by
    index; on MariaDB, with a table this small, the optimizer may still choose to read it whole
    for the retry count, which it stops doing at some 20,000 rows.)"""
    from sidecar.storage.operations import fleet_figures, interrupted_sends

    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    interrupted, _ = seed_due_emails(engine, site["id"], 2, now)
    with engine.begin() as conn:
        conn.execute(sa.update(scheduled_emails).where(scheduled_emails.c.id == interrupted)
                     .values(status="sent", sent_at=now, interrupted_sends=2))
    with engine.connect() as conn:
        alone, total = _work(conn, interrupted_sends)
        assert fleet_figures(conn, now).interrupted_sends == total == 2

    _mark_sent(engine, seed_due_emails(engine, site["id"], SENT_BEFORE, now))
    with engine.connect() as conn:
        after, total_after = _work(conn, interrupted_sends)
    assert total_after == total
    # Before migration 0019: every email of the database read.
    assert after < 2 * alone + 10, (alone, after)


def test_a_members_subscriptions_are_read_by_the_member(engine):
    """A cancellation that arrives after its member's comeback reads the member's subscriptions
    for the win-back's amount (domain.winbacks), as an erasure does: by the member's rows, not by
    every subscription of the database (SQLite had no index on subscriptions.member_id; InnoDB
    makes one for the foreign key by itself)."""
    from sidecar.storage.subscriptions import subscriptions_of_member

    db.migrate(engine)
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    [mine] = seed_due_emails(engine, site["id"], 1, now)  # the member's id and subscription's alike

    def read(conn):
        return [subscription["id"] for subscription in subscriptions_of_member(conn, mine)]

    with engine.connect() as conn:
        alone, found = _work(conn, read)
    assert found == [mine]
    seed_due_emails(engine, site["id"], SENT_BEFORE, now)  # other members' subscriptions
    with engine.connect() as conn:
        after, found_after = _work(conn, read)
    assert found_after == found
    # Before migration 0020, on SQLite: every subscription of the database read.
    assert after < 2 * alone + 10, (alone, after)
