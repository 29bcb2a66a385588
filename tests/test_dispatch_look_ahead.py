"""A full batch claims, reads, decides and builds the first message of the next batch while the
server takes its last messages (between each "." and its reply; the claim in the slot of the fourth
message from the end, the first message's build in the last), rather than after the last reply,
when the server has nothing to do; and a run that stops with a batch claimed ahead gives it back at
once, untouched. Real aiosmtpd, real SQLite and MariaDB."""

from __future__ import annotations

import collections
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bench.dispatch import seed_due_emails
from sidecar.domain import offers
from sidecar.domain.compose import MailConfig
from sidecar.domain.dispatch import DispatchConfig, dispatch_due
from sidecar.domain.sites import create_site
from sidecar.mail.transports import transport_from_url
from sidecar.storage.tables import cancellations, scheduled_emails, subscriptions, survey_answers
from tests.test_dispatch_record_overlap import _refuse_the_record

CONFIG = DispatchConfig(mail=MailConfig("look-ahead-secret-0123456", "http://sidecar.test", "farewell@localhost"),
                        batch_size=5)
EMAILS = 12  # two full batches and a short one


def _seed(engine) -> list[int]:
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    return seed_due_emails(engine, site["id"], EMAILS, datetime.now(timezone.utc))


def _rows(engine, ids) -> dict[int, sa.Row]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(scheduled_emails).where(scheduled_emails.c.id.in_(ids)))
        return {row.id: row for row in rows}


def _email_id(message_id: str) -> int:
    return int(message_id.split(".")[2].split("@")[0])


def test_the_next_batch_is_claimed_in_the_slot_of_the_fourth_message_from_the_end_and_built_by_the_last(
        engine, smtp, message_builds):
    """When the server has kept the 2nd message (the first batch's fourth from the end) and not
    yet answered it, the second batch is claimed (its 5 emails sending), not before (the 1st); when
    it has kept the 5th, 6 messages are built. The server waits for that (up to 10 s): with the
    whole look-ahead in the last message's slot the claim came only at the 5th."""
    ids = _seed(engine)
    built = message_builds
    seen: dict[int, tuple] = {}

    def claimed_after(count: int) -> int:
        following = ids[count - count % CONFIG.batch_size + CONFIG.batch_size:][:CONFIG.batch_size]
        return sum(row.status == "sending" for row in _rows(engine, following).values())

    def in_the_slots(count: int) -> None:  # on_accept: the message kept, its "250" not sent yet
        if count % CONFIG.batch_size == 1:  # too early: nothing claimed ahead, however long it waits
            time.sleep(0.3)
            seen[count] = (claimed_after(count), None)
            return
        if count % CONFIG.batch_size not in (2, 0):
            return
        following = ids[count - count % CONFIG.batch_size + CONFIG.batch_size:][:CONFIG.batch_size] \
            if count % CONFIG.batch_size else ids[count:count + CONFIG.batch_size]
        deadline = time.monotonic() + 10
        while True:
            claimed = sum(row.status == "sending" for row in _rows(engine, following).values())
            done = claimed == len(following) and (count % CONFIG.batch_size or len(built) == count + 1)
            if done or time.monotonic() > deadline:
                seen[count] = (claimed, len(built) if count % CONFIG.batch_size == 0 else None)
                return
            time.sleep(0.01)

    smtp.on_accept = in_the_slots
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert seen == {1: (0, None), 2: (5, None), 5: (5, 6), 6: (0, None), 7: (2, None), 10: (2, 11), 11: (0, None),
                    12: (0, None)}
    assert (report.claimed, report.sent) == (EMAILS, EMAILS)
    assert sorted(_email_id(m.message_id) for m in smtp.messages()) == ids  # each once


def test_a_short_batch_or_a_spent_budget_claims_nothing_ahead(engine, smtp):
    """The budget spent at the first batch: that batch goes, nothing more is claimed (the others
    untouched: no attempt, no error); a short batch is the last one."""
    ids = _seed(engine)
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc),
                          time_budget=0)
    assert (report.claimed, report.sent) == (CONFIG.batch_size, CONFIG.batch_size)
    rest = _rows(engine, ids[CONFIG.batch_size:])
    assert {(row.status, row.attempts, row.last_error, row.lease_token) for row in rest.values()} \
        == {("pending", 0, None, None)}
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert (report.claimed, report.sent) == (EMAILS - CONFIG.batch_size,) * 2
    assert sorted(_email_id(m.message_id) for m in smtp.messages()) == ids


@pytest.mark.parametrize("refused", [2, CONFIG.batch_size - 1], ids=["read-not-decided", "decided"])
def test_a_run_that_stops_gives_the_batch_claimed_ahead_back_at_once(engine, smtp, refused):
    """A record of the first batch fails (a trigger refuses it) after the second batch was claimed
    ahead: the third message's, the second batch then claimed and read but not decided, or the
    last one's, the second batch decided. The run stops with that error, the second batch is put
    back untouched (pending, due now, the attempt not counted, no lease), and the next run sends it
    without waiting for a lease to end; only the first batch's unrecorded message and those after
    it wait for their lease (the unrecorded one reaches its member twice)."""
    ids = _seed(engine)
    last = ids[refused]
    _refuse_the_record(engine, last, True)
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    with pytest.raises(sa.exc.DBAPIError, match="record refused"):
        dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    _refuse_the_record(engine, last, False)
    ahead = _rows(engine, ids[CONFIG.batch_size:2 * CONFIG.batch_size])
    assert {(row.status, row.attempts, row.lease_token, row.last_error) for row in ahead.values()} \
        == {("pending", 0, None, "given back: the run stopped before sending it")}
    assert all(row.due_at.replace(tzinfo=None) >= before for row in ahead.values())
    assert [_email_id(m.message_id) for m in smtp.messages()] == ids[:refused + 1]

    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: datetime.now(timezone.utc))
    assert report.sent == EMAILS - CONFIG.batch_size
    leased = _rows(engine, ids[refused:CONFIG.batch_size])
    assert {row.status for row in leased.values()} == {"sending"}  # their lease still runs
    received = collections.Counter(_email_id(m.message_id) for m in smtp.messages())
    assert received == {i: 1 for i in ids[:refused + 1] + ids[CONFIG.batch_size:]}


def test_a_batch_claimed_ahead_asks_the_site_for_a_coupon_only_once_no_member_is_held(engine, smtp, monkeypatch):
    """The second batch's offer needs a coupon (a price-sensitive member): it is claimed while the
    server keeps the first batch's last message (on MariaDB that member's row held until the
    reply), but the site is asked only after: an HTTP request of up to 8 s must not make an
    unsubscribe wait. The offer then goes, with the fallback code (the site had no coupon)."""
    site = create_site(engine, "https://club.example.org", "Le Club", "Europe/Paris", "fr_FR")
    now = datetime.now(timezone.utc)
    ids = seed_due_emails(engine, site["id"], CONFIG.batch_size, now)
    offer = seed_due_emails(engine, site["id"], 1, now + timedelta(seconds=1), step="offer")[0]
    with engine.begin() as conn:  # the offer's member: access ended, price too high
        ended = now - timedelta(days=1)
        conn.execute(sa.update(cancellations).where(cancellations.c.id == offer).values(access_ends_at=ended))
        conn.execute(sa.update(subscriptions).where(subscriptions.c.id == offer).values(access_ends_at=ended))
        conn.execute(sa.insert(survey_answers).values(
            site_id=site["id"], member_id=offer, cancellation_id=offer, event_id=offer, definition_version=1,
            reason="too_expensive", contact_requested=False, answered_at=ended, created_at=ended, updated_at=ended))
    asked: list[int] = []

    def create_coupon(*args, **kwargs):
        asked.append(len(smtp.messages()))
        return None  # no coupon: the offer falls back

    monkeypatch.setattr(offers, "create_coupon", create_coupon)
    seen = []

    def at_the_last(count: int) -> None:  # on_accept: the first batch's last message, not answered
        if count != CONFIG.batch_size:
            return
        deadline = time.monotonic() + 10
        while _rows(engine, [offer])[offer].status != "sending" and time.monotonic() < deadline:
            time.sleep(0.01)
        seen.append((_rows(engine, [offer])[offer].status, len(asked)))

    smtp.on_accept = at_the_last
    daytime = (now + timedelta(days=1)).replace(hour=11)  # Paris: no quiet hours for the offer
    report = dispatch_due(engine, transport_from_url(smtp.url), CONFIG, lambda: daytime)
    assert seen == [("sending", 0)], "claimed ahead, the site not asked yet"
    assert asked == [CONFIG.batch_size], "asked once, after the first batch"
    assert (report.claimed, report.sent) == (CONFIG.batch_size + 1,) * 2
    assert sorted(_email_id(m.message_id) for m in smtp.messages()) == ids + [offer]
