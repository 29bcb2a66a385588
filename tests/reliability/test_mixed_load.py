"""Two sidecar web processes and two jobs processes on one MariaDB, under a mixed load.

Members cancel, some answer the survey, then each does one more thing while their sequence is
being sent: unsubscribe (POST /u/<token>), resume, subscribe again, let access expire, or
nothing. Events go to either web process at random, a quarter of them twice at once (the
bridge's retries racing). The jobs' clock runs at 86,400× (a day a second), so farewells and
feedback emails come due while all this happens. Then three `python -m jobs --once` processes
run the weekly digest at the same moment.

Invariants at the end:
- each event applied once: one events row per webhook id, one 202 per webhook id (unless that
  answer was lost on the way and the retry heard 200, already stored), each effect
  (cancellation, answer, suppression, win-back) counted once;
- each email reached the SMTP server once, and every 'sent' row did;
- no email to a member was accepted by the SMTP server after the sidecar answered their
  unsubscribe or their comeback (the dispatcher holds the member's row from its last check to
  the server's "250"; unsubscribe and comebacks take that row before recording, so an email is
  either stopped by the check or accepted before the stop is recorded);
- one digest per site and week, however many jobs processes try.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa

from sidecar import db
from sidecar.domain.digest import save_digest_settings, week_of
from sidecar.domain.sites import create_site
from sidecar.domain.survey import current_definition
from sidecar.domain.tokens import unsubscribe_token
from sidecar.storage.tables import (
    cancellations,
    digests,
    events,
    members,
    scheduled_emails,
    sites,
    suppressions,
    survey_answers,
    winbacks,
)
from tests.conftest import make_event
from tests.reliability.bridge import BridgeSender
from tests.reliability.conftest import SECRET_KEY, cancellation, iso
from tests.support.applier import wait_until_applied
from tests.support.sidecar import JobsProcess

pytestmark = pytest.mark.slow

MEMBERS = 50
ENDINGS = ("unsubscribe", "resume", "resubscribe", "expire", "nothing")
STOPPING = ("unsubscribe", "resume", "resubscribe")


def _count(conn, table, *where) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def _count_sent(engine) -> int:
    with engine.connect() as conn:
        return _count(conn, scheduled_emails, scheduled_emails.c.status == "sent")


def test_two_web_and_two_jobs_processes_keep_every_invariant(fresh_mariadb_url, sidecar_server, smtp, tmp_path,
                                                             figures):
    url = fresh_mariadb_url
    env = {"FAREWELL_SECRET_KEY": SECRET_KEY}
    web_a = sidecar_server(database_url=url, extra_env=env, serve_args=("--no-jobs",))
    web_b = sidecar_server(database_url=url, extra_env=env, serve_args=("--no-jobs",),
                           site=(web_a.site_id, web_a.secret))
    webs = [web_a.url, web_b.url]
    site_id = web_a.site_id
    engine = db.create_engine(url)
    now = datetime.now(timezone.utc)
    # Three sites whose digest is due now (Monday 00:00 of this week has passed) about last week.
    owner_of = {}
    other_sites = [create_site(engine, f"https://club{n}.example.org", f"Club {n}")["id"] for n in (2, 3)]
    with engine.begin() as conn:
        for n, each in enumerate([site_id, *other_sites]):
            owner_of[each] = f"owner{n}@example.org"
            save_digest_settings(conn, each, weekday=1, hour=0, recipients=[owner_of[each]], now=now)
            conn.execute(sa.update(sites).where(sites.c.id == each).values(created_at=now - timedelta(days=30)))
        current_definition(conn, site_id, now)  # the survey's version 1, as the bridge's first fetch makes it

    # Ticks 0.7 s apart are 0.7 of a day apart on that clock. At 1 s, each tick fell at the same hour
    # of the site's day: when that hour was in the quiet hours, every tick deferred every email,
    # and the sequences stood still until the machine's jitter moved the ticks out of the night.
    jobs_env = {**env, "FAREWELL_CLOCK_SPEED": "86400", "FAREWELL_DISPATCH_INTERVAL": "0.7",
                "FAREWELL_DISPATCH_LEASE": "10"}
    workers = [JobsProcess(url, tmp_path / f"jobs-{n}", smtp.url, extra_env=jobs_env).start() for n in (1, 2)]
    bridge = BridgeSender(web_a.url, site_id, web_a.secret, seed=8)
    rng = random.Random(8)
    lock = threading.Lock()
    final: dict[str, list[int]] = collections.defaultdict(list)  # webhook id -> final answers
    stopped_at: dict[str, float] = {}  # member address -> when the sidecar answered their stop
    ending = {m: ENDINGS[m % len(ENDINGS)] for m in range(MEMBERS)}
    answered = {m for m in range(MEMBERS) if m % 3 == 0}
    t0 = time.monotonic()

    def deliver(event: dict, webhook_id: str, twice: bool) -> None:
        targets = rng.sample(webs, 2) if twice else [rng.choice(webs)]
        with ThreadPoolExecutor(len(targets)) as pool:
            answers = list(pool.map(lambda base: bridge.deliver(event, webhook_id, base), targets))
        with lock:
            final[webhook_id] += answers

    def member_life(m: int) -> None:
        time.sleep(max(0.0, t0 + m * 0.08 - time.monotonic()))
        cancelled_at = datetime.now(timezone.utc)
        deliver(cancellation(m, cancelled_at), f"cancel-{m}", twice=m % 4 == 0)
        if m in answered:
            answer = make_event(type_="survey.submitted", occurred_at=iso(datetime.now(timezone.utc)))
            del answer["subscription"]
            answer["member"] = cancellation(m, cancelled_at)["member"]
            answer["survey"] = {"version": 1, "subscription_id": f"s{m}", "reason": "unused", "comment": "Pas le temps"}
            deliver(answer, f"answer-{m}", twice=m % 4 == 1)
        time.sleep(rng.uniform(0.2, 4.0))
        address = f"member{m}@example.org"
        at = datetime.now(timezone.utc)
        if ending[m] == "unsubscribe":
            wait_until_applied(engine, webhook_ids=[f"cancel-{m}"])  # the member is known once it is applied
            with engine.connect() as conn:
                member_id = conn.execute(sa.select(members.c.id).where(
                    members.c.site_id == site_id, members.c.external_id == f"m{m}")).scalar_one()
            token = unsubscribe_token(SECRET_KEY, site_id, member_id)
            response = requests.post(f"{rng.choice(webs)}/u/{token}", data="List-Unsubscribe=One-Click",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
            assert response.status_code == 200
            stopped_at[address] = time.time()
        elif ending[m] in ("resume", "expire"):
            event = cancellation(m, at, type_=f"subscription.{'resumed' if ending[m] == 'resume' else 'expired'}")
            event["subscription"]["status"] = "active" if ending[m] == "resume" else "expired"
            deliver(event, f"{ending[m]}-{m}", twice=m % 4 == 2)
            if ending[m] == "resume":
                # A comeback stops the emails when it is recorded: applied, moments after its 202.
                wait_until_applied(engine, webhook_ids=[f"resume-{m}"])
                stopped_at[address] = time.time()
        elif ending[m] == "resubscribe":
            event = cancellation(m, at, type_="subscription.created")
            event["subscription"].update(id=f"n{m}", status="active")
            deliver(event, f"resubscribe-{m}", twice=m % 4 == 3)
            wait_until_applied(engine, webhook_ids=[f"resubscribe-{m}"])
            stopped_at[address] = time.time()

    try:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(member_life, range(MEMBERS)))
        load_seconds = time.monotonic() - t0
        # The sequences go on: feedback emails come due for those who did nothing. Waited for, not
        # slept for: on a busy machine the jobs' accelerated clock gets there later.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _count_sent(engine) <= MEMBERS:
            time.sleep(0.5)
        digest_runs = [JobsProcess(url, tmp_path / f"digest-{n}", smtp.url, extra_env=env, args=("--once",)).start()
                       for n in range(3)]
        assert [run.wait(timeout=180) for run in digest_runs] == [0, 0, 0]
        digests_raced_at = datetime.now(timezone.utc)  # the real clock of the three --once runs
        assert all(worker.alive() for worker in workers)
    finally:
        for worker in workers:
            worker.stop()
    time.sleep(0.5)

    with engine.connect() as conn:
        counts = {
            "events": _count(conn, events),
            "cancellations": _count(conn, cancellations),
            "answers": _count(conn, survey_answers),
            "suppressions": _count(conn, suppressions),
            "winbacks": _count(conn, winbacks),
            "digests_sent": _count(conn, digests, digests.c.status == "sent"),
        }
        sent_ids = set(conn.execute(sa.select(scheduled_emails.c.id).where(scheduled_emails.c.status == "sent"))
                       .scalars())
        sent_digests = set(conn.execute(
            sa.select(digests.c.site_id, digests.c.week).where(digests.c.status == "sent")).all())
        zones = dict(conn.execute(sa.select(sites.c.id, sites.c.timezone).where(sites.c.id.in_(list(owner_of)))).all())
        statuses = dict(conn.execute(sa.select(scheduled_emails.c.status, sa.func.count())
                                     .group_by(scheduled_emails.c.status)).all())
        still_waiting = conn.execute(
            sa.select(members.c.email).join(scheduled_emails, scheduled_emails.c.member_id == members.c.id)
            .where(scheduled_emails.c.status.in_(("pending", "sending")),
                   members.c.email.in_(list(stopped_at)))).scalars().all()
    engine.dispose()
    messages = smtp.messages()
    received = collections.Counter(m.message_id for m in messages)
    digest_mail = collections.Counter(r for m in messages if "digest" in m.message_id for r in m.recipients)
    late = [(m.recipients[0], round(m.accepted_at - stopped_at[m.recipients[0]], 3)) for m in messages
            if m.recipients[0] in stopped_at and m.accepted_at >= stopped_at[m.recipients[0]]]
    sent_before_stop = [stopped_at[m.recipients[0]] - m.accepted_at for m in messages if m.recipients[0] in stopped_at]
    figures.update(members=MEMBERS, web_processes=2, jobs_processes=2, digest_processes=3,
                   events_posted=sum(len(v) for v in final.values()), webhook_ids=len(final),
                   http_answers={str(k): v for k, v in bridge.answers.items()},
                   retries=sum(bridge.attempts.values()) - sum(len(v) for v in final.values()), load_seconds=round(load_seconds, 1),
                   smtp_deliveries=len(messages), email_statuses=statuses, stops=len(stopped_at),
                   emails_to_stopped_members_before_their_stop=len(sent_before_stop),
                   closest_email_before_a_stop_seconds=round(min(sent_before_stop), 3) if sent_before_stop else None,
                   **counts)

    # Each event applied once.
    assert counts["events"] == len(final)
    # Every final answer says stored (202) or already stored (200), and one says 202, unless the
    # one 202 went to an attempt whose answer was lost on the way (a timeout on a loaded machine):
    # the retry's 200 then says the event was stored already, as the bridge reads it.
    assert all(set(answers) <= {200, 202} and answers.count(202) <= 1
               and (202 in answers or bridge.unanswered[webhook_id] > 0)
               for webhook_id, answers in final.items()), (final, dict(bridge.unanswered))
    assert counts["cancellations"] == MEMBERS
    assert counts["answers"] == len(answered)
    assert counts["suppressions"] == sum(1 for e in ending.values() if e == "unsubscribe")
    assert counts["winbacks"] == sum(1 for e in ending.values() if e in ("resume", "resubscribe"))
    # Each email sent once, and every recorded send reached the server.
    assert received.most_common(1)[0][1] == 1, received.most_common(3)
    assert {mid for mid in received if "digest" not in mid} == {f"<farewell.{site_id}.{i}@localhost>"
                                                               for i in sent_ids}
    assert statuses.get("sent", 0) > MEMBERS, "the sequences went on under the load"
    # Nothing to a member after their unsubscribe or comeback was answered; nothing left for them.
    assert not late, late
    assert not still_waiting, still_waiting
    # One digest per site and week, three processes trying at once. The accelerated jobs processes
    # also send digests, on their own clock (a day a second): how many weeks it has crossed by their
    # digest ticks depends on the machine's speed, so the digests are counted per site and week.
    raced_week = {site: str(week_of(digests_raced_at, zones[site]).previous()) for site in owner_of}
    assert sent_digests >= set(raced_week.items()), (sent_digests, raced_week)
    assert sorted(mid for mid in received if "digest" in mid) == sorted(
        f"<farewell.digest.{site}.{week}@localhost>" for site, week in sent_digests)
    assert digest_mail == {owner: sum(1 for site, _ in sent_digests if site == each)
                           for each, owner in owner_of.items()}, digest_mail
