"""The dispatcher claims and prepares the next batch while the current one is on the wire, and the
batch prepared ahead keeps every promise of one prepared just in time (docs/RELIABILITY.md): it is
checked at send time (an unsubscribe, quiet hours), given back at once when the run stops (an
outage, a stop request), and its leases last until it is sent. Real aiosmtpd, real SQLite and
MariaDB (the ``engine`` fixture). Each test waits, inside the server's handling of the run's first
message, until the preparing thread has prepared the next batch, then changes the world."""

from __future__ import annotations

import collections
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from bench.dispatch import seed_due_emails
from sidecar import db
from sidecar.domain import dispatch
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.site_settings import update_settings
from sidecar.domain.sites import create_site
from sidecar.domain.unsubscribe import unsubscribe
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import scheduled_emails
from tests.support.smtp import SmtpServer
from tests.test_dispatch_connection import _Capped

SECRET = "ahead-secret-0123456789abc"
CONFIG = DispatchConfig(mail=MailConfig(SECRET, "http://sidecar.test", "farewell@localhost"), batch_size=5)
EMAILS = 12  # batches of 5, 5 and 2


@pytest.fixture
def prepared_ahead(monkeypatch):
    """Set once the preparing thread has prepared a batch (a spy on the real _prepare)."""
    done = threading.Event()
    real = dispatch._prepare

    def spy(*args, **kwargs):
        ready = real(*args, **kwargs)
        if threading.current_thread().name.startswith("farewell-prepare"):
            done.set()
        return ready

    monkeypatch.setattr(dispatch, "_prepare", spy)
    return done


@pytest.fixture
def switchable_smtp():
    """aiosmtpd that answers every MAIL FROM with a 421 while ``handler.cap`` is 0: down."""
    server = SmtpServer()
    handler = _Capped(server, cap=1000, drop=False)
    server.controller = Controller(handler, hostname="127.0.0.1", port=server.port)
    server.controller.start()
    yield server, handler
    server.stop()


def _seed(engine, now: datetime, step: str = "farewell", count: int = EMAILS) -> tuple[dict, list[int]]:
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    return site, seed_due_emails(engine, site["id"], count, now, step=step)


def _rows(engine) -> dict[int, dict]:
    with engine.connect() as conn:
        return {row["id"]: dict(row) for row in conn.execute(sa.select(scheduled_emails)).mappings()}


def _received(server) -> collections.Counter:
    return collections.Counter(int(m.message_id.split(".")[2].split("@")[0]) for m in server.messages())


def _at_first_message(server, prepared_ahead, then) -> list:
    """Run ``then()`` while the server holds the run's first message, once the next batch is
    prepared; returns whether it was prepared in time (a list, filled by then)."""
    seen = []

    def hook(count: int) -> None:
        if count == 1:
            seen.append(prepared_ahead.wait(20))
            then()

    server.on_accept = hook
    return seen


def test_the_next_batch_is_prepared_while_this_one_is_sent(engine, smtp, prepared_ahead):
    site, ids = _seed(engine, datetime.now(timezone.utc))
    seen = _at_first_message(smtp, prepared_ahead, lambda: None)
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert seen == [True], "the second batch was not prepared while the first one was on the wire"
    assert (report.claimed, report.sent, report.released) == (EMAILS, EMAILS, 0)
    assert _received(smtp) == {i: 1 for i in ids}
    assert {row["status"] for row in _rows(engine).values()} == {"sent"}


def test_an_unsubscribe_between_prepare_and_send_stops_the_email_prepared_ahead(engine, smtp, prepared_ahead):
    """The member of the second batch's first email unsubscribes after that batch was prepared
    (and before it is sent): the check at send time sees it."""
    site, ids = _seed(engine, datetime.now(timezone.utc))
    leaving = ids[CONFIG.batch_size]
    seen = _at_first_message(smtp, prepared_ahead, lambda: unsubscribe(
        engine, SECRET, site["id"], leaving, datetime.now(timezone.utc)))
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert seen == [True]
    assert _received(smtp) == {i: 1 for i in ids if i != leaving}
    row = _rows(engine)[leaving]
    assert (row["status"], row["skip_reason"]) == ("skipped", "unsubscribed")
    assert (report.sent, report.skipped) == (EMAILS - 1, 1)


def test_an_outage_gives_back_the_batch_prepared_ahead(engine, switchable_smtp, prepared_ahead):
    """The server goes down after the first message: the rest of the first batch and the whole
    batch prepared ahead wait out the outage pause, none of them claimed nor counted as an attempt;
    once it is back, each email reaches its member once."""
    server, handler = switchable_smtp
    now = datetime.now(timezone.utc)
    site, ids = _seed(engine, now)
    seen = _at_first_message(server, prepared_ahead, lambda: setattr(handler, "cap", 0))
    report = dispatch_due(engine, transport_from_url(server.url), CONFIG, lambda: now)
    assert seen == [True]
    assert (report.sent, report.released) == (1, 2 * CONFIG.batch_size - 1)
    rows = _rows(engine)
    waiting = [i for i in ids if rows[i]["status"] != "sent"]
    assert len(waiting) == EMAILS - 1
    assert all(rows[i]["status"] == "pending" and rows[i]["lease_token"] is None and rows[i]["attempts"] == 0
               for i in waiting), [rows[i] for i in waiting if rows[i]["status"] != "pending"]
    # Truncated to the second on MariaDB: the outage pause from now, to the second.
    assert all(rows[i]["due_at"].replace(tzinfo=timezone.utc) > now + CONFIG.outage_pause - timedelta(seconds=1)
               for i in ids[1:2 * CONFIG.batch_size])

    handler.cap = 1000
    later = now + CONFIG.outage_pause + timedelta(seconds=1)
    report = dispatch_due(engine, transport_from_url(server.url), CONFIG, lambda: later)
    assert report.sent == EMAILS - 1
    assert _received(server) == {i: 1 for i in ids}


def test_a_stop_request_gives_back_the_batch_prepared_ahead_at_once(engine, smtp, prepared_ahead):
    """The jobs process is asked to stop during the first batch: that batch is finished, the one
    prepared ahead is given back due as it was (not left claimed until its lease ends), and the
    next run sends it."""
    now = datetime.now(timezone.utc)
    site, ids = _seed(engine, now)
    stop = threading.Event()
    seen = _at_first_message(smtp, prepared_ahead, stop.set)
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: now, stop=stop)
    assert seen == [True]
    assert (report.claimed, report.sent, report.released) == (CONFIG.batch_size, CONFIG.batch_size, 0)
    rows = _rows(engine)
    rest = ids[CONFIG.batch_size:]
    assert [(rows[i]["status"], rows[i]["lease_token"], rows[i]["attempts"]) for i in rest] == [
        ("pending", None, 0)] * len(rest)
    assert all(rows[i]["due_at"].replace(tzinfo=timezone.utc) <= now for i in rest)

    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: now)
    assert report.sent == len(rest)
    assert _received(smtp) == {i: 1 for i in ids}


def test_quiet_hours_that_begin_while_a_batch_waits_hold_it(engine, smtp, prepared_ahead):
    """Feedback emails (quiet hours apply) prepared ahead at 18:59 in Paris, the clock then past
    19:00 before they go: none of them is sent, each waits for 09:00, its attempt not counted."""
    evening = datetime(2026, 12, 7, 17, 59, tzinfo=timezone.utc)  # 18:59 in Paris
    clock = [evening]
    site, ids = _seed(engine, evening, step="feedback")
    seen = _at_first_message(smtp, prepared_ahead, lambda: clock.__setitem__(0, evening + timedelta(minutes=2)))
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: clock[0])
    assert seen == [True]
    rows = _rows(engine)
    ahead = ids[CONFIG.batch_size:2 * CONFIG.batch_size]
    assert not set(_received(smtp)) & set(ahead), "an email prepared before 19:00 went out after it"
    opening = datetime(2026, 12, 8, 8, 0, tzinfo=timezone.utc)  # 09:00 in Paris
    assert [(rows[i]["status"], rows[i]["due_at"].replace(tzinfo=timezone.utc), rows[i]["attempts"])
            for i in ahead] == [("pending", opening, 0)] * len(ahead)
    assert report.sent == sum(_received(smtp).values()) and max(_received(smtp).values()) == 1


def test_a_batch_claimed_ahead_keeps_its_lease_until_it_is_sent(engine, smtp, prepared_ahead):
    """The batch prepared ahead waits for the one before it, then takes its own time: with the
    first batch taking almost a lease and the second almost another (the clock moved on), another
    dispatcher still cannot take the second over while it is being sent."""
    now = datetime.now(timezone.utc)
    clock = [now]
    site, ids = _seed(engine, now, count=2 * CONFIG.batch_size)
    seen, taken = [], []

    def hook(count: int) -> None:
        if count == 1:  # the first batch's first message: it will have taken almost a lease
            seen.append(prepared_ahead.wait(20))
            clock[0] = now + CONFIG.lease - timedelta(seconds=1)
        elif count == CONFIG.batch_size + 1:  # the second batch's: another dispatcher, almost a lease later
            taken.extend(dispatch.claim(engine, now + 2 * CONFIG.lease - timedelta(seconds=2), CONFIG)[1])

    smtp.on_accept = hook
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: clock[0])
    assert seen == [True]
    assert taken == [], "the batch prepared ahead was taken over while it was being sent"
    assert (report.sent, report.lost) == (2 * CONFIG.batch_size, 0)
    assert _received(smtp) == {i: 1 for i in ids}


def test_an_email_of_a_member_the_batch_before_sent_to_counts_that_send(engine, smtp, prepared_ahead):
    """One email per cancellation (the site's cap): a member's farewell goes in the first batch and
    the feedback of the same cancellation was prepared ahead, before the farewell was recorded. It
    is given back and prepared again, so its rules count the farewell: skipped, not sent."""
    noon = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)  # in Paris, quiet hours do not apply
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    update_settings(engine, site["id"], {"max_emails_per_cancellation": 1}, noon)
    first = seed_due_emails(engine, site["id"], CONFIG.batch_size, noon)
    member = first[0]
    with engine.begin() as conn:
        feedback = conn.execute(sa.select(sa.func.max(scheduled_emails.c.id))).scalar_one() + 1
        conn.execute(sa.insert(scheduled_emails).values(
            id=feedback, site_id=site["id"], member_id=member, cancellation_id=member, step="feedback",
            status="pending", due_at=noon - timedelta(minutes=1), attempts=0, created_at=noon, updated_at=noon))
    second = seed_due_emails(engine, site["id"], CONFIG.batch_size - 1, noon)
    seen = _at_first_message(smtp, prepared_ahead, lambda: None)
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: noon)
    assert seen == [True]
    assert _received(smtp) == {i: 1 for i in first + second}, "the member got a second email past the cap"
    row = _rows(engine)[feedback]
    assert (row["status"], row["skip_reason"], row["attempts"]) == ("skipped", "email_cap_reached", 1)
    assert (report.sent, report.skipped) == (2 * CONFIG.batch_size - 1, 1)


@pytest.fixture
def refuse_claiming(engine):
    """A real trigger that refuses to claim one email; dropped at the end (MariaDB's database is
    shared by the tests that follow, which empty its tables but keep its triggers)."""
    def refuse(email_id: int) -> None:
        with engine.begin() as conn:
            if db.is_mysql(engine):
                conn.exec_driver_sql(
                    "CREATE TRIGGER refuse_claim BEFORE UPDATE ON scheduled_emails FOR EACH ROW BEGIN "
                    f"IF NEW.id = {email_id} AND NEW.status = 'sending' THEN "
                    "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'claim refused'; END IF; END")
            else:
                conn.exec_driver_sql(
                    "CREATE TRIGGER refuse_claim BEFORE UPDATE OF status ON scheduled_emails "
                    f"WHEN NEW.id = {email_id} AND NEW.status = 'sending' BEGIN SELECT RAISE(ABORT, 'claim refused'); "
                    "END")

    yield refuse
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS refuse_claim")


def test_a_run_stopped_after_a_batch_reports_it_though_the_batch_ahead_failed(engine, smtp, refuse_claiming):
    """The next batch's claim fails (a real trigger refuses it) and the run is asked to stop during
    the first batch: the run reports the batch it sent, rather than the error of a batch it will not
    send; the refused claim changed nothing. Without a stop, the error goes up as a claim's does."""
    now = datetime.now(timezone.utc)
    site, ids = _seed(engine, now)
    refuse_claiming(ids[CONFIG.batch_size])
    stop = threading.Event()
    smtp.on_accept = lambda count: stop.set()
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: now, stop=stop)
    assert (report.claimed, report.sent) == (CONFIG.batch_size, CONFIG.batch_size)
    rows = _rows(engine)
    assert {rows[i]["status"] for i in ids[CONFIG.batch_size:]} == {"pending"}

    with pytest.raises(sa.exc.DBAPIError, match="claim refused"):
        dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: now)
